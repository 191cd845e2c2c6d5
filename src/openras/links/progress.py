"""What every driver's interpreter keeps: how far a dial got, why it failed, and what a
program's log file got since it was last read.

A dial passes the RAS states in one order; a driver that learns of a later state (charon's
CHILD SA, pppd's IPCP) has passed the earlier ones too, and reports each of them once, in
order (:class:`Progress`, pure). A failure seen in a log is kept until a better explanation
comes: the first one, unless a later one is of a kind that explains an end better (a refused
password over the timeout it causes): :func:`keep_failure`, pure. Programs write their logs
to a file in the run directory and the driver reads what is new when it needs it
(:class:`LogTail`), never a pipe back to the daemon.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from openras.states import RasConnState

#: The order a dial goes through; a later state implies the earlier ones.
DIAL_ORDER: Final = (
    RasConnState.OpenPort,
    RasConnState.PortOpened,
    RasConnState.ConnectDevice,
    RasConnState.DeviceConnected,
    RasConnState.Authenticate,
    RasConnState.Authenticated,
    RasConnState.AuthProject,
    RasConnState.Projected,
    RasConnState.Connected,
)


class Progress:
    """The furthest state of ``order`` a dial reached."""

    def __init__(self, order: Sequence[RasConnState] = DIAL_ORDER) -> None:
        self.order = tuple(order)
        self.reached: RasConnState | None = None

    def advance(self, state: RasConnState) -> list[RasConnState]:
        """Go on to ``state``: the states passed on the way (``state`` last), in order;
        [] when it is not further than where the dial is (or not in the order)."""
        if state not in self.order:
            return []
        current = self.order.index(self.reached) if self.reached is not None else -1
        target = self.order.index(state)
        if target <= current:
            return []
        self.reached = state
        return list(self.order[current + 1 : target + 1])

    def passed(self, state: RasConnState) -> bool:
        """Whether the dial got to ``state`` or beyond."""
        return self.reached is not None and self.order.index(self.reached) >= self.order.index(
            state
        )


@dataclass(frozen=True)
class Failure:
    """A RAS code and the program's line that shows it."""

    code: int
    line: str


def keep_failure(
    current: Failure | None, code: int, line: str, sticky: Collection[int]
) -> Failure | None:
    """The failure to keep when ``code`` is seen after ``current``: the first one seen,
    unless the new one is ``sticky`` and the kept one is not."""
    if current is not None and current.code in sticky:
        return current
    if current is None or code in sticky:
        return Failure(code, line)
    return current


class Interpreter:
    """The part every driver's log interpreter shares: the dial's progress, the states a
    feed newly reached, the failure kept (``STICKY``: codes that explain an end better than
    whatever follows them), the last line."""

    STICKY: frozenset[int] = frozenset()

    def __init__(self) -> None:
        self.progress = Progress()
        self._new: list[RasConnState] = []
        self.failure: Failure | None = None
        self.last_line = ""

    @property
    def reached(self) -> RasConnState | None:
        return self.progress.reached

    def _reach(self, state: RasConnState) -> None:
        self._new += self.progress.advance(state)

    def _fail(self, code: int, line: str) -> None:
        self.failure = keep_failure(self.failure, code, line, self.STICKY)


class LogTail:
    """A program's log file, read from where the last read stopped (the program appends)."""

    def __init__(self, path: Path, offset: int = 0) -> None:
        self.path = path
        self.offset = offset
        self._partial = b""

    def read(self, limit: int = 1 << 20) -> bytes:
        """What the file got since the last read (at most ``limit`` bytes); b"" when there
        is nothing new or no file."""
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                data = fh.read(limit)
        except OSError:
            return b""
        self.offset += len(data)
        return data

    def lines(self) -> list[str]:
        """The complete lines the file got since the last read (a line still being written
        waits for its newline)."""
        *done, self._partial = (self._partial + self.read()).split(b"\n")
        return [line.decode("utf-8", "replace") for line in done]


__all__ = ["DIAL_ORDER", "Failure", "Interpreter", "LogTail", "Progress", "keep_failure"]
