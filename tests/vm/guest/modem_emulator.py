"""A Hayes modem on a pty, for the modem tests: the far end of a dial-up line, in one thread.

The emulator owns the master of a pty whose slave (:attr:`ModemEmulator.port`) is what the
entry's ``OpenRasSerialPort`` names. In command mode it answers AT commands as a modem with
echo on does: ``OK`` to ``AT...`` (``ATZ``, ``ATE0``, ``AT&F``...), and to ``ATDT<number>``
what the test's :class:`Behaviour` says. Answered, it says ``CONNECT 57600`` and relays
bytes, both ways, to the master of a second pty whose slave is the server's line, handed to
the test's ``answer`` callback, which starts the server (a ``pppd`` in another namespace) on
it and returns the server's pid.

A pty has no modem control lines, so the two hang-ups a line knows are modelled:

* the caller drops DTR: its side of the pty closes (the master reads EIO, polls HUP). The
  emulator ends the call and closes the server's line, which the server's pppd sees as the
  line hanging up (``Modem hangup``);
* the far end goes away (the server's process ends): the emulator hangs up the caller's line
  (``TIOCVHANGUP`` on the slave: what a serial driver does when carrier drops), so the
  caller's pppd sees its line hang up too. (No ``NO CARRIER`` text: a hung-up pty keeps
  unread input, and the next dial's chat would read it as that call's answer.)

The number dialed must be :attr:`ModemEmulator.number` (spaces and dashes aside): another
number is a call nobody answers (``NO CARRIER``). Every number dialed is in :attr:`dialed`.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import fcntl
import os
import select
import threading
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass, field

TIOCVHANGUP = 0x5437
#: Seconds a call "rings" before NO CARRIER (a number nobody answers).
RING_S = 1.0
#: How often an idle emulator looks again at a port nobody has open (a closed pty slave
#: makes the master poll HUP at once, so it cannot simply wait for it).
_IDLE_POLL_MS = 20


class Behaviour(enum.Enum):
    """What the modem does with ``ATDT<number>``."""

    ANSWER = "answer"  # CONNECT 57600, then the line is the server's
    BUSY = "busy"  # BUSY at once
    NO_DIALTONE = "no dialtone"  # NO DIALTONE at once (no line plugged in)
    NO_CARRIER = "no carrier"  # rings, nobody answers: NO CARRIER
    SILENT = "silent"  # a modem switched off: no answer to anything, not even ATZ


@dataclass
class Call:
    """One answered call: the server's line (its pty master) and the server's pid."""

    master: int
    slave: int
    server_pid: int
    pidfd: int
    ended_by: str = ""


@dataclass
class ModemEmulator:
    """The modem on a pty; :meth:`start` runs it in a thread, :meth:`close` ends it."""

    number: str
    answer: Callable[[str], int]
    behaviour: Behaviour = Behaviour.ANSWER
    dialed: list[str] = field(default_factory=list)
    #: Every call that was answered, in order (``ended_by``: "caller" or "server").
    calls: list[Call] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._master, slave = os.openpty()
        self.port = os.ttyname(slave)
        tty.setraw(slave)  # no echo or line editing by the pty itself: the modem echoes
        os.close(slave)  # the caller opens it (pppd); until then the master polls HUP
        os.set_blocking(self._master, False)
        self._wake_r, self._wake_w = os.pipe()
        self._stop = False
        self._command = b""
        self._call: Call | None = None
        self._ring_deadline: float | None = None
        self._thread = threading.Thread(target=self._run, name="modem", daemon=True)

    def start(self) -> ModemEmulator:
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop the thread, end a call (the server's line hangs up), close the port."""
        self._stop = True
        os.write(self._wake_w, b"x")
        self._thread.join(10)
        if self._call is not None:
            self._end_call("test")
        for fd in (self._master, self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    @property
    def in_call(self) -> bool:
        return self._call is not None

    # -- the loop ---------------------------------------------------------------------------

    def _run(self) -> None:
        caller_gone = True  # nobody has the port open yet
        while not self._stop:
            poller = select.poll()
            poller.register(self._wake_r, select.POLLIN)
            if not caller_gone:
                poller.register(self._master, select.POLLIN)
            if self._call is not None:
                poller.register(self._call.master, select.POLLIN)
                poller.register(self._call.pidfd, select.POLLIN)
            timeout: int | None = None
            if caller_gone or self._ring_deadline is not None:
                timeout = _IDLE_POLL_MS
            try:
                ready = dict(poller.poll(timeout))
            except InterruptedError:
                continue
            if self._wake_r in ready:
                break
            if caller_gone:
                caller_gone = self._caller_absent()
                if caller_gone:
                    self._command = b""
                    if self._call is not None:
                        self._end_call("caller")  # DTR dropped: the modem hangs up
                    self._ring_deadline = None
                    continue
            try:
                self._step(ready)
            except OSError as exc:
                if exc.errno != errno.EIO:
                    self.errors.append(repr(exc))
                caller_gone = True
                if self._call is not None:
                    self._end_call("caller")

    def _caller_absent(self) -> bool:
        """True while the port's slave side is closed (the master polls HUP)."""
        poller = select.poll()
        poller.register(self._master, select.POLLIN)
        return any(ev & select.POLLHUP for _, ev in poller.poll(0))

    def _step(self, ready: dict[int, int]) -> None:
        call = self._call
        caller = ready.get(self._master, 0)
        if caller & (select.POLLHUP | select.POLLERR) and not caller & select.POLLIN:
            raise OSError(errno.EIO, "the caller closed the port")  # checked before the server
        if call is not None and call.pidfd in ready:
            self._end_call("server")
            self._hang_up_caller()
            return
        if call is not None and call.master in ready:
            try:
                data = os.read(call.master, 65536)
            except OSError:
                data = b""
            _write(self._master, data)
        if caller & select.POLLIN:
            data = os.read(self._master, 65536)
            if self._call is not None:
                _write(self._call.master, data)
            else:
                self._commands(data)
        if self._ring_deadline is not None and _now() >= self._ring_deadline:
            self._ring_deadline = None
            self._send(b"\r\nNO CARRIER\r\n")

    def _send(self, data: bytes) -> None:
        _write(self._master, data)

    # -- command mode -----------------------------------------------------------------------

    def _commands(self, data: bytes) -> None:
        if self.behaviour is Behaviour.SILENT:
            return
        self._send(data)  # echo (E1, a modem's default)
        self._command += data
        while b"\r" in self._command:
            line, _, self._command = self._command.partition(b"\r")
            self._command = self._command.lstrip(b"\n")
            reply = self._reply(line.decode("ascii", "replace").strip().upper())
            if reply:
                self._send(b"\r\n" + reply + b"\r\n")

    def _reply(self, command: str) -> bytes:
        if not command:
            return b""
        if not command.startswith("AT"):
            return b"ERROR"
        if not command.startswith(("ATD", "ATDT", "ATDP")):
            return b"OK"
        number = command.removeprefix("ATD").lstrip("TP")
        self.dialed.append(number)
        if self.behaviour is Behaviour.BUSY:
            return b"BUSY"
        if self.behaviour is Behaviour.NO_DIALTONE:
            return b"NO DIALTONE"
        if self.behaviour is Behaviour.NO_CARRIER or number != _digits(self.number):
            self._ring_deadline = _now() + RING_S
            return b""
        self._answer()
        return b"CONNECT 57600"

    def _answer(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        # Our fd on the server's slave stays open for the call: the master then never polls
        # HUP while the server's pppd has not opened its line yet; the server's end is its
        # process's end (a pidfd).
        pid = self.answer(os.ttyname(slave))
        self._call = Call(master, slave, pid, os.pidfd_open(pid))
        self.calls.append(self._call)

    def _end_call(self, by: str) -> None:
        """Hang up the server's line: closing its master hangs up its slave (pppd's tty)."""
        call = self._call
        assert call is not None
        self._call = None
        call.ended_by = by
        for fd in (call.master, call.slave, call.pidfd):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _hang_up_caller(self) -> None:
        """Carrier lost: the caller's line hangs up (its open files read EOF/EIO, its session
        gets SIGHUP), as a serial driver does it; the port can be opened again after."""
        try:
            fd = os.open(self.port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError as exc:
            self.errors.append(f"open {self.port}: {exc}")
            return
        try:
            fcntl.ioctl(fd, TIOCVHANGUP)
        except OSError as exc:
            self.errors.append(f"TIOCVHANGUP: {exc}")
        finally:
            os.close(fd)


def _write(fd: int, data: bytes) -> None:
    """Write what fits: a line whose far side does not read drops bytes (PPP retransmits)."""
    with contextlib.suppress(BlockingIOError):
        os.write(fd, data)


def _digits(number: str) -> str:
    return "".join(c for c in number if c not in " ()-")


def _now() -> float:
    return time.monotonic()


__all__ = ["Behaviour", "Call", "ModemEmulator"]
