"""Terminal output for ``openras``: colour, a one-line spinner, tables, sizes and durations.

Plain ANSI rather than rich: it keeps ``openras`` start-up light and the output predictable
under test. Colour and animation happen only on a terminal, and colour never with
``NO_COLOR`` set (https://no-color.org).
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Sequence

TYPE_CHECKING = False  # typing's constant, without importing typing (see openras._lazy)
if TYPE_CHECKING:
    from typing import Final, TextIO

_CODES: Final = {
    "bold": "1",
    "dim": "2",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "cyan": "36",
}
_FRAMES_UTF8: Final = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_FRAMES_ASCII: Final = "|/-\\"


def is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def use_colour(stream: TextIO) -> bool:
    return is_tty(stream) and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


class Style:
    """Colours text for one stream, or leaves it alone when that stream must stay plain."""

    def __init__(self, stream: TextIO) -> None:
        self.enabled = use_colour(stream)

    def __call__(self, text: str, *styles: str) -> str:
        if not self.enabled or not styles:
            return text
        codes = ";".join(_CODES[s] for s in styles)
        return f"\x1b[{codes}m{text}\x1b[0m"


def state_colour(phase: str) -> str:
    return {
        "connected": "green",
        "dialing": "yellow",
        "failed": "red",
        "disconnecting": "dim",
    }.get(phase, "")


def ask_line(prompt: str) -> str | None:
    """A line typed at the terminal after ``prompt`` (on stderr: stdout stays the command's
    output), without its newline; None at end of input."""
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline()
    return line.rstrip("\r\n") if line else None


class Spinner:
    """One status line that redraws in place on a terminal; elsewhere each change is a line.

    ``update`` sets the text (printing it at once when not on a terminal); ``tick`` only
    advances the animation and elapsed time; ``done`` clears the line for the final message.
    """

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.live = is_tty(stream)
        enc = (getattr(stream, "encoding", "") or "").lower().replace("-", "")
        self.frames = _FRAMES_UTF8 if enc == "utf8" else _FRAMES_ASCII
        self.start = time.monotonic()
        self.text = ""
        self._n = 0
        self._shown = False

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def update(self, text: str) -> None:
        self.text = text
        if self.live:
            self._draw()
        else:
            self.stream.write(f"{self.elapsed():6.2f}s  {text}\n")
            self.stream.flush()

    def tick(self) -> None:
        if self.live:
            self._n += 1
            self._draw()

    def _draw(self) -> None:
        frame = self.frames[self._n % len(self.frames)]
        self.stream.write(f"\r\x1b[2K{frame} {self.text}  ({self.elapsed():.1f}s)")
        self.stream.flush()
        self._shown = True

    def done(self) -> None:
        if self.live and self._shown:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self._shown = False


_ESCAPE: Final = re.compile(r"\x1b\[[0-9;]*m")


def visible_len(text: str) -> int:
    """How many columns ``text`` takes: its length without colour escapes."""
    return len(_ESCAPE.sub("", text))


def _pad(text: str, width: int) -> str:
    return text + " " * (width - visible_len(text))


def table(rows: Sequence[Sequence[str]], header: Sequence[str], style: Style | None = None) -> str:
    """Left-aligned columns separated by two spaces; the header bold on a terminal.

    Cells may already be coloured: widths count what is visible, not the escape codes.
    """
    widths = [visible_len(h) for h in header]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], visible_len(cell))
    lines = []
    head = "  ".join(_pad(h, widths[i]) for i, h in enumerate(header)).rstrip()
    lines.append(style(head, "bold") if style else head)
    lines += ["  ".join(_pad(c, widths[i]) for i, c in enumerate(row)).rstrip() for row in rows]
    return "\n".join(lines)


def duration(seconds: float | None) -> str:
    """``1:02:03`` style, or ``-`` when there is none."""
    if seconds is None or seconds < 0:
        return "-"
    s = int(seconds)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def size(n: int) -> str:
    """Bytes in binary units, short enough for a table cell."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover - loop always returns


def when(epoch: float | None) -> str:
    """A wall-clock time as local ``YYYY-MM-DD HH:MM:SS``."""
    if not epoch:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))
