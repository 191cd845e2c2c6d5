"""Bytes <-> text for phonebooks, chosen so that decode followed by encode gives the input back.

Windows writes UTF-8 (optionally with a BOM) on current systems and the ANSI code page on old
ones; UTF-16 with a BOM is accepted as well. Text that is not valid UTF-8 is read in the legacy
code page with ``surrogateescape``, so even bytes the code page leaves undefined survive a round
trip. The code page is cp1252 (Western) unless ``$OPENRAS_PBK_CODEPAGE`` names another one
(``cp1251``, ``cp1250``, ``cp932``...) for books exported from a non-Western Windows.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Mapping
from typing import Final, NamedTuple

__all__ = [
    "CODEPAGE_ENV",
    "LEGACY",
    "Decoded",
    "EncodingLoss",
    "decode",
    "encode",
    "errors_for",
    "legacy_codepage",
]

_BOMS: Final = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_UNICODE: Final = frozenset(enc for _, enc in _BOMS)
LEGACY: Final = "cp1252"
CODEPAGE_ENV: Final = "OPENRAS_PBK_CODEPAGE"
# Bytes Python's cp1252 leaves undefined; Windows (and WHATWG) read them as the C1 controls of
# the same number, so that is what they become when a cp1252 book has to turn into UTF-8.
_CP1252_HOLES: Final = {0xDC00 + b: chr(b) for b in (0x81, 0x8D, 0x8F, 0x90, 0x9D)}


class Decoded(NamedTuple):
    text: str
    encoding: str
    bom: bytes


class EncodingLoss(ValueError):
    """The text cannot be written in any encoding without changing some of it."""

    def __init__(self, lineno: int, what: str) -> None:
        super().__init__(f"line {lineno}: {what}")
        self.lineno = lineno
        self.what = what


def legacy_codepage(environ: Mapping[str, str] | None = None) -> str:
    """The ANSI code page for non-UTF-8 books: ``$OPENRAS_PBK_CODEPAGE`` or cp1252.

    ValueError (naming the variable) for a name Python has no codec for, or a non-ASCII-based
    one that could not hold a phonebook's ``[``, ``=`` and line ends.
    """
    env = os.environ if environ is None else environ
    name = env.get(CODEPAGE_ENV, "").strip()
    if not name:
        return LEGACY
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise ValueError(f"{CODEPAGE_ENV}={name!r} is not a known code page") from None
    if info.name in _UNICODE or info.name.startswith(("utf-", "utf_")):
        raise ValueError(f"{CODEPAGE_ENV}={name!r}: UTF books are detected by themselves")
    try:
        ascii_ok = b"[A]\r\nK=v\n".decode(info.name) == "[A]\r\nK=v\n"
    except UnicodeDecodeError:
        ascii_ok = False
    if not ascii_ok:
        raise ValueError(f"{CODEPAGE_ENV}={name!r} is not an ASCII-compatible code page")
    return info.name


def errors_for(encoding: str) -> str:
    """The codec error handler a book in ``encoding`` is read and written with."""
    return "strict" if encoding in _UNICODE else "surrogateescape"


def decode(data: bytes, codepage: str | None = None) -> Decoded:
    """Text, encoding and BOM of ``data``; raises UnicodeDecodeError only for a bad BOM file.

    A legacy code page that would not give the same bytes back (some multi-byte code pages
    have duplicate characters) yields to cp1252, which always does.
    """
    for bom, enc in _BOMS:
        if data.startswith(bom):
            n = len(bom)
            try:
                return Decoded(data[n:].decode(enc), enc, bom)
            except UnicodeDecodeError as exc:  # report offsets in the whole file
                raise UnicodeDecodeError(
                    enc, data, exc.start + n, exc.end + n, exc.reason
                ) from None
    try:
        return Decoded(data.decode("utf-8"), "utf-8", b"")
    except UnicodeDecodeError:
        pass
    cp = codepage or legacy_codepage()
    if cp != LEGACY:
        text = data.decode(cp, "surrogateescape")
        try:
            if text.encode(cp, "surrogateescape") == data:
                return Decoded(text, cp, b"")
        except UnicodeEncodeError:
            pass
    return Decoded(data.decode(LEGACY, "surrogateescape"), LEGACY, b"")


def _lineno(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def encode(text: str, encoding: str, bom: bytes) -> tuple[bytes, str]:
    """``(bytes, encoding used)``; a legacy book that gains characters its code page lacks
    becomes UTF-8 (Windows reads UTF-8 books), never ``?`` in place of the user's text.

    Bytes the legacy read kept as escapes must then become real characters: cp1252's five
    undefined bytes become the C1 controls Windows reads them as; in any other code page such a
    byte has no meaning we know, so EncodingLoss (naming its line) refuses the write instead
    of writing invalid UTF-8 or dropping the byte.
    """
    errors = errors_for(encoding)
    try:
        return bom + text.encode(encoding, errors), encoding
    except UnicodeEncodeError as exc:
        if errors == "strict":  # a lone surrogate in a UTF book: no encoding can hold it
            raise EncodingLoss(_lineno(text, exc.start), f"{exc.reason} in {encoding}") from None
    if encoding == LEGACY:
        text = text.translate(_CP1252_HOLES)
    for i, ch in enumerate(text):
        if "\udc80" <= ch <= "\udcff":
            raise EncodingLoss(
                _lineno(text, i),
                f"byte 0x{ord(ch) - 0xDC00:02X} has no meaning in {encoding}, and the new text "
                f"needs UTF-8; fix that byte or set {CODEPAGE_ENV} to the book's code page",
            )
    return text.encode("utf-8"), "utf-8"
