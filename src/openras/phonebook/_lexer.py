"""Pure line lexer for ``rasphone.pbk`` text.

The lexer never rewrites anything: it only says what each physical line *is* so the model can
keep the raw text and still answer questions about keys. Only ``\\n`` and ``\\r\\n`` end a
line (``str.splitlines`` would also split on form feeds, U+2028 and friends, which would break
the byte-identical round trip).
"""

from __future__ import annotations

import re
from enum import IntEnum
from typing import Final, NamedTuple

__all__ = [
    "BLOCK_STARTERS",
    "Kind",
    "LexError",
    "Token",
    "block_kind",
    "check_text",
    "classify",
    "split_lines",
    "strip_eol",
    "tokenize",
]

#: Keys that open a sub-block inside an entry, compared case-insensitively except ``DEVICE``
#: (``Device=`` is an ordinary key of the MEDIA block, ``DEVICE=`` opens the device block).
BLOCK_STARTERS: Final = ("NETCOMPONENTS", "MEDIA", "DEVICE")

_BLANKS: Final = " \t"
# Control characters a text phonebook never holds; a bare CR is refused too (only CRLF/LF end
# lines), so binary garbage is reported instead of being half-understood.
_BAD_CHAR: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]|\r(?!\n)")
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# Line separators str.splitlines honours beyond \n and \r\n that check_text lets through.
_EXTRA_SEPARATORS: Final = ("\x85", "\u2028", "\u2029")


class Kind(IntEnum):
    """What a physical line is."""

    BLANK = 0
    COMMENT = 1
    SECTION = 2
    KEY = 3


class Token(NamedTuple):
    """One classified line. ``key`` holds the entry name for SECTION lines."""

    kind: Kind
    lineno: int
    key: str
    value: str


class LexError(ValueError):
    """A line that is not a phonebook line; ``lineno`` is 1-based."""

    def __init__(self, lineno: int, what: str) -> None:
        super().__init__(f"line {lineno}: {what}")
        self.lineno = lineno
        self.what = what


def check_text(text: str) -> None:
    """Refuse control characters (NUL, bare CR...) with the line they sit on."""
    if _CONTROL.search(text) is None and text.count("\r") == text.count("\r\n"):
        return  # fast path: a simple character class is much quicker than the look-ahead
    m = _BAD_CHAR.search(text)
    if m is not None:
        lineno = text.count("\n", 0, m.start()) + 1
        ch = m.group()
        what = "bare CR line ending" if ch == "\r" else f"control character {ch!r} (binary data?)"
        raise LexError(lineno, what)


def split_lines(text: str) -> list[str]:
    """Physical lines, each keeping its own terminator (the last one may have none).

    Assumes ``check_text`` passed (no bare CR, no other C0 line breaks)."""
    if not any(sep in text for sep in _EXTRA_SEPARATORS):
        return text.splitlines(keepends=True)
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def strip_eol(line: str) -> str:
    """``line`` without its ``\\n`` / ``\\r\\n`` terminator."""
    if line.endswith("\n"):
        return line[:-2] if line.endswith("\r\n") else line[:-1]
    return line


def _short(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


def classify(body: str, lineno: int = 0) -> tuple[Kind, str, str]:
    """Classify one line without its terminator: ``(kind, key_or_name, value)``.

    Raises LexError for lines that are none of blank, comment, ``[Entry]`` or ``Key=Value``.
    """
    s = body.strip(_BLANKS)
    if not s:
        return Kind.BLANK, "", ""
    c = s[0]
    if c == ";" or c == "#":
        return Kind.COMMENT, "", ""
    if c == "[":
        if not s.endswith("]") or len(s) < 2:
            raise LexError(lineno, f"entry header without closing ']': {_short(s)}")
        name = s[1:-1]
        if not name.strip(_BLANKS):
            raise LexError(lineno, "entry header with no name")
        return Kind.SECTION, name, ""
    eq = s.find("=")
    if eq < 0:
        raise LexError(lineno, f"expected Key=Value, comment or [Entry], found {_short(s)}")
    key = s[:eq].rstrip(_BLANKS)
    if not key:
        raise LexError(lineno, f"empty key before '=': {_short(s)}")
    return Kind.KEY, key, s[eq + 1 :].lstrip(_BLANKS)


def block_kind(key: str) -> str | None:
    """The sub-block a ``key`` line opens (``"MEDIA"``...), or None for an ordinary key."""
    if key == "DEVICE":
        return "DEVICE"
    up = key.upper()
    if up == "MEDIA" or up == "NETCOMPONENTS":
        return up
    return None


def tokenize(text: str) -> list[Token]:
    """All lines of ``text`` as tokens (for tools and tests; the model lexes lazily)."""
    check_text(text)
    out: list[Token] = []
    for n, line in enumerate(split_lines(text), 1):
        kind, key, value = classify(strip_eol(line), n)
        out.append(Token(kind, n, key, value))
    return out
