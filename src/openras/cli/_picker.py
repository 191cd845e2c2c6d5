"""``openras hangup`` on a terminal without a target: list what may be ended, pick one.

The list is what the caller may hang up (its own connections; root's are everyone's) in any
phase, dialing and failed attempts included, since those hold resources too. The user
moves a marker with the arrow keys (or j/k) and presses Enter, or types the row's number
and Enter; q or Esc cancels. Keys are read one at a time (cbreak mode, Ctrl-C still
interrupts) and the rows are redrawn in place; number entry works on any terminal.

:class:`Choice` is the pure part: it takes decoded keys and says what happened, so the
rules are tested without a terminal; :func:`pick` does the terminal I/O around it.
"""

from __future__ import annotations

import os
import select
import sys
import time
from dataclasses import dataclass, field
from typing import Final

from openras import errors
from openras.cli import _term
from openras.cli._common import CliError, integer
from openras.cli.rasdial_output import exit_status
from openras.client import Client
from openras.records import ConnectionInfo

UP: Final = "up"
DOWN: Final = "down"
HOME: Final = "home"
END: Final = "end"
ENTER: Final = "enter"
CANCEL: Final = "cancel"
BACKSPACE: Final = "backspace"

_ESCAPES: Final = {
    "[A": UP, "OA": UP, "[B": DOWN, "OB": DOWN, "[H": HOME, "OH": HOME, "[1~": HOME,
    "[F": END, "OF": END, "[4~": END,
}  # fmt: skip
_ESC_WAIT: Final = 0.05  # a lone Esc versus the start of an arrow key's sequence


@dataclass
class Choice:
    """Which of ``count`` rows is chosen, from keys: arrows, digits, Enter, cancel."""

    count: int
    current: int = 0
    typed: str = ""
    message: str = ""
    done: bool = field(default=False, init=False)
    chosen: int | None = field(default=None, init=False)

    @property
    def choices(self) -> str:
        return "1" if self.count == 1 else f"1-{self.count}"

    def feed(self, key: str) -> bool:
        """Apply one key (a name above, or one printable character); true once decided."""
        self.message = ""
        if key == CANCEL or (key in ("q", "Q") and not self.typed):
            self.done = True
        elif key in (UP, "k"):
            self.typed, self.current = "", (self.current - 1) % self.count
        elif key in (DOWN, "j"):
            self.typed, self.current = "", (self.current + 1) % self.count
        elif key == HOME:
            self.typed, self.current = "", 0
        elif key == END:
            self.typed, self.current = "", self.count - 1
        elif key == BACKSPACE:
            self.typed = self.typed[:-1]
        elif key == ENTER:
            self._enter()
        elif len(key) == 1 and key.isprintable():
            self.typed += key
            number = integer(self.typed)
            if number is not None and 1 <= number <= self.count:
                self.current = number - 1
        return self.done

    def _enter(self) -> None:
        if not self.typed:
            self.done, self.chosen = True, self.current
            return
        number = integer(self.typed)
        if number is not None and 1 <= number <= self.count:
            self.done, self.chosen = True, number - 1
        elif self.typed.strip().lower() in ("q", "quit"):
            self.done = True
        else:
            self.message = f"Please type a number from {self.choices}, or q."
        self.typed = ""


def decode(data: str) -> list[str]:
    """Keys in what the terminal sent: escape sequences named, other characters as they are."""
    keys: list[str] = []
    i = 0
    while i < len(data):
        ch = data[i]
        if ch == "\x1b":
            for seq, name in _ESCAPES.items():
                if data.startswith(seq, i + 1):
                    keys.append(name)
                    i += 1 + len(seq)
                    break
            else:
                if data.startswith("[", i + 1):  # some other sequence: skip it whole
                    j = i + 2
                    while j < len(data) and not ("@" <= data[j] <= "~"):
                        j += 1
                    i = j + 1
                else:
                    keys.append(CANCEL)
                    i += 1
            continue
        keys.append(
            {"\r": ENTER, "\n": ENTER, "\x7f": BACKSPACE, "\b": BACKSPACE, "\x04": CANCEL}.get(
                ch, ch
            )
        )
        i += 1
    return keys


def _row(info: ConnectionInfo, client: Client, now: float, style: _term.Style) -> list[str]:
    traffic = "-"
    if info.phase == "connected":
        try:
            stats = client.statistics(info.handle)
            traffic = f"{_term.size(stats.bytes_sent)} / {_term.size(stats.bytes_received)}"
        except errors.RasError:
            pass
    since = now - info.connected_at if info.connected_at and info.phase == "connected" else None
    state = info.state.name if not info.error else f"{info.state.name} (error {info.error})"
    return [
        info.entry_name or info.phone_number or info.entry,
        info.device_name or info.device_type or "-",
        style(state, _term.state_colour(info.phase)) if style.enabled else state,
        _term.duration(since),
        traffic,
    ]


class _Screen:
    """The rows, hint and prompt, redrawn in place after each key."""

    def __init__(self, rows: list[list[str]], style: _term.Style) -> None:
        self.rows = rows
        self.style = style
        utf8 = (getattr(sys.stdout, "encoding", "") or "").lower().replace("-", "") == "utf8"
        self.marker = ">"
        self.hint = (
            "Move with ↑/↓ and press Enter, or type a number."
            if utf8
            else ("Move with the arrow keys and press Enter, or type a number.")
        )
        self.drawn = 0  # lines below the header written by the last draw

    def draw(self, choice: Choice) -> None:
        header = ["", "#", "ENTRY", "DEVICE", "STATE", "DURATION", "SENT / RECEIVED"]
        cells = [
            [self.style(self.marker, "bold") if n == choice.current else "", str(n + 1), *row]
            for n, row in enumerate(self.rows)
        ]
        lines = _term.table(cells, header, self.style).split("\n")
        out = []
        if self.drawn:
            out.append(f"\r\x1b[{self.drawn}F\x1b[J")  # back to the first row; clear below
        else:
            out.append(lines[0] + "\n")
        body = [*lines[1:], self.hint]
        if choice.message:
            body.append(choice.message)
        out.append("\n".join(body) + "\n")
        out.append(f"Hang up which connection? [{choice.choices}, q to cancel]: {choice.typed}")
        self.drawn = len(body)
        sys.stdout.write("".join(out))
        sys.stdout.flush()


def _read_keys(fd: int) -> list[str]:
    data = os.read(fd, 64)
    if not data:
        return [CANCEL]
    # An Esc alone may be the start of an arrow key whose rest is still on its way.
    if data.endswith(b"\x1b") and select.select([fd], [], [], _ESC_WAIT)[0]:
        data += os.read(fd, 64)
    return decode(data.decode("utf-8", "replace"))


def pick(client: Client) -> ConnectionInfo | None:
    """Show the caller's connections and return the one chosen (``None``: nothing chosen)."""
    import termios
    import tty

    conns = sorted(client.connections(include_pending=True), key=lambda c: c.handle)
    if not conns:
        raise CliError("no connections to hang up", exit_status(errors.ERROR_NO_CONNECTION))
    style = _term.Style(sys.stdout)
    now = time.time()
    screen = _Screen([_row(info, client, now, style) for info in conns], style)
    choice = Choice(len(conns))
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)  # keys one at a time, no echo; Ctrl-C still interrupts
        screen.draw(choice)
        done = False
        while not done:
            done = any(choice.feed(key) for key in _read_keys(fd))  # stops at the deciding key
            screen.draw(choice)
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        sys.stdout.write("\n")
    if choice.chosen is None:
        print("Nothing was hung up.")
        return None
    return conns[choice.chosen]
