"""Spawning and watching link programs so that they outlive the daemon.

A link program is started in its own session with no pipe back to the daemon and is watched
through a pidfd (one of the descriptors of the loop's :class:`Watcher`), which works the same for our own children and for
processes adopted after a restart; identity is (pid, create time) so a recycled pid is never
mistaken for the link.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import select
import shutil
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from openras.errors import ERROR_CONNECTING_DEVICE_NOT_FOUND, from_os_error

MARKER_ENV = "OPENRAS_LINK"


@dataclass(frozen=True)
class ProcessIdentity:
    """A process as it can be recognised again: pid plus kernel start time."""

    pid: int
    create_time: float

    def to_record(self) -> dict[str, Any]:
        return {"pid": self.pid, "create_time": self.create_time}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ProcessIdentity:
        return cls(int(record["pid"]), float(record["create_time"]))

    def alive(self) -> bool:
        """True if this very process still runs (a zombie counts as gone)."""
        found = proc_start(self.pid)
        if found is None or abs(found[0] - self.create_time) > 0.01:
            return False
        return found[1] not in ("Z", "X")


_BOOT_TIME: float | None = None


def _boot_time() -> float:
    """``btime`` of /proc/stat, read once a daemon life (psutil reads it on every call)."""
    global _BOOT_TIME
    if _BOOT_TIME is None:
        with open("/proc/stat", "rb") as fh:
            for line in fh:
                if line.startswith(b"btime"):
                    _BOOT_TIME = float(line.split()[1])
                    break
            else:  # pragma: no cover - every Linux has it
                raise OSError("no btime in /proc/stat")
    return _BOOT_TIME


def proc_start(pid: int) -> tuple[float, str] | None:
    """(create time, state letter) of ``pid`` from one read of /proc/PID/stat; None if gone.

    The create time is psutil's (start ticks / CLK_TCK + boot time), so identities recorded
    by earlier versions still match; a psutil.Process took a millisecond of the daemon's
    CPU per dial and per hang-up.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
    except OSError:
        return None
    fields = raw.rpartition(b")")[2].split()
    if len(fields) < 20:
        return None
    return int(fields[19]) / _CLOCK_TICKS + _boot_time(), fields[0].decode()


_CLOCK_TICKS: float = os.sysconf("SC_CLK_TCK")
_NS_PER_TICK: Final = 10**9 // int(_CLOCK_TICKS)
#: Python ignores SIGPIPE (and SIGXFSZ); an ignored signal stays ignored across exec, so a
#: link program gets them back at their defaults (as Popen's restore_signals did).
_RESET_SIGNALS: Final = (signal.SIGPIPE, signal.SIGXFSZ)


_INHERITED_CLOSED = False


def _close_inherited() -> None:
    """Mark close-on-exec every descriptor above stderr this process inherited (whoever
    started the daemon may have left some open), once: a spawn passes only what it names,
    and Python opens everything else close-on-exec."""
    global _INHERITED_CLOSED
    if _INHERITED_CLOSED:
        return
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2:
            with contextlib.suppress(OSError):  # the listing's own, closed by now
                os.set_inheritable(fd, False)
    _INHERITED_CLOSED = True


def _executable(program: str, env: Mapping[str, str]) -> str:
    """``program``'s path: as given when it has a slash, else found in ``env``'s PATH (as
    Popen did; posix_spawnp would search the daemon's own)."""
    if "/" in program:
        return program
    found = shutil.which(program, path=env.get("PATH", os.defpath))
    if found is None:
        raise FileNotFoundError(errno.ENOENT, "not found in PATH", program)
    return found


def _spawned_at(pid: int, before_ns: int, after_ns: int) -> float:
    """``pid``'s create time as ``proc_start`` gives it, for a child spawned between two
    CLOCK_BOOTTIME readings: the kernel stamps a new task with that clock and /proc shows
    it in whole ticks, so when both readings fall in the same tick that tick is the answer,
    with no read of /proc/PID/stat (which waits while the child execs). Across a tick
    boundary (a spawn takes a fraction of one): /proc."""
    tick = before_ns // _NS_PER_TICK
    if tick == after_ns // _NS_PER_TICK:
        return tick / _CLOCK_TICKS + _boot_time()
    found = proc_start(pid)
    return found[0] if found is not None else 0.0


class Watcher:
    """Readiness of many descriptors through one reader of the loop: an epoll set of our
    own, so that a link's descriptors (its program's pidfd, a control socket) cost a dict
    entry each instead of a reader handle and selector key each (about 350 bytes). A
    callback must consume what made its descriptor ready (or ``remove`` it), as with
    ``loop.add_reader``; a descriptor must be removed before it is closed."""

    __slots__ = ("_callbacks", "_epoll")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._epoll = select.epoll()
        self._callbacks: dict[int, Callable[[], None]] = {}
        loop.add_reader(self._epoll.fileno(), self._ready)

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop | None = None) -> Watcher:
        """The running loop's watcher (made with the first descriptor)."""
        loop = loop or asyncio.get_running_loop()
        watcher: Watcher | None = getattr(loop, "_openras_watcher", None)
        if watcher is None:
            watcher = cls(loop)
            setattr(loop, "_openras_watcher", watcher)  # noqa: B010 - the loop has no slot for it
        return watcher

    def add(self, fd: int, callback: Callable[[], None]) -> None:
        self._epoll.register(fd, select.EPOLLIN)
        self._callbacks[fd] = callback

    def remove(self, fd: int) -> None:
        if self._callbacks.pop(fd, None) is not None:
            with contextlib.suppress(OSError):
                self._epoll.unregister(fd)

    def _ready(self) -> None:
        for fd, _ in self._epoll.poll(0):
            callback = self._callbacks.get(fd)
            if callback is not None:
                callback()


class LinkProcess:
    """One running link program, ours or adopted.

    Its exit is watched by the loop itself (the pidfd is one of its readers): nothing waits
    in a task or an event per link while the program runs; a waiter's future, or an exit
    callback, is made only when somebody asks for one.
    """

    __slots__ = (
        "_child",
        "_exited",
        "_on_exit_cbs",
        "_pidfd",
        "_waiters",
        "identity",
        "returncode",
    )

    def __init__(self, identity: ProcessIdentity, *, child: bool = False):
        self.identity = identity
        self._child = child
        self._pidfd: int | None = None
        self.returncode: int | None = None
        self._exited = False
        self._waiters: list[asyncio.Future[None]] | None = None
        self._on_exit_cbs: list[Callable[[int | None], None]] | None = None

    @property
    def pid(self) -> int:
        return self.identity.pid

    @property
    def pidfd(self) -> int | None:
        """The pidfd the daemon watches the program by (None once it exited)."""
        return self._pidfd

    @classmethod
    def spawn(
        cls,
        argv: Sequence[str],
        *,
        marker: str,
        log_path: Path | None,
        env: Mapping[str, str] | None = None,
        pass_fds: Sequence[int] = (),
    ) -> LinkProcess:
        """Start ``argv`` detached from the daemon; raise RasError(797) if it cannot run.

        Its output goes to ``log_path``; None: to /dev/null (a program that opens its own
        log, so that the daemon creates no file for it). It inherits stdin (/dev/null),
        stdout, stderr and ``pass_fds``, nothing else: every other descriptor of the daemon
        is close-on-exec (Python makes its own so; ``_close_inherited`` marks those the
        daemon itself inherited, once).

        ``posix_spawn``, not Popen: the daemon sleeps once (until the child has exec'd) and
        reads nothing of the child's afterwards. Popen then read its error pipe and we read
        /proc/PID/stat, each of which can wait for the exec to finish; the exec wakes the
        daemon on its own CPU, behind the program's start, and the daemon's loop stood still
        3-5 ms per spawn while the other CPU idled (``sched_switch`` traces, bench_links).
        """
        full_env = dict(env if env is not None else _base_env())
        full_env[MARKER_ENV] = marker
        _close_inherited()
        log = os.open(
            log_path if log_path is not None else os.devnull,
            os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC,
            0o600,
        )
        actions: list[tuple[Any, ...]] = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, log, 1),
            (os.POSIX_SPAWN_DUP2, log, 2),
        ]
        # A descriptor dup2'd onto itself loses close-on-exec in the child only (glibc).
        actions += [(os.POSIX_SPAWN_DUP2, fd, fd) for fd in pass_fds]
        try:
            before = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
            pid = os.posix_spawn(
                _executable(argv[0], full_env), list(argv), full_env,
                file_actions=actions, setsid=True, setsigmask=(), setsigdef=_RESET_SIGNALS,
            )  # fmt: skip
            after = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
        except OSError as exc:
            raise from_os_error(
                exc, ERROR_CONNECTING_DEVICE_NOT_FOUND, f"cannot start {argv[0]}"
            ) from None
        finally:
            os.close(log)
        proc = cls(ProcessIdentity(pid, _spawned_at(pid, before, after)), child=True)
        proc._watch()
        return proc

    @classmethod
    def adopt(cls, identity: ProcessIdentity) -> LinkProcess | None:
        """Watch a process we did not start in this daemon's life; None if it is gone.
        The pidfd is taken first and the identity checked after: the pidfd then names the
        very process that matched, never one that took its pid in between."""
        try:
            fd = os.pidfd_open(identity.pid)
        except OSError:  # gone
            return None
        if not identity.alive():
            os.close(fd)
            return None
        proc = cls(identity)
        proc._pidfd = fd
        Watcher.of().add(fd, proc._on_exit)
        return proc

    def _watch(self) -> None:
        self._pidfd = os.pidfd_open(self.pid)
        Watcher.of().add(self._pidfd, self._on_exit)

    def _on_exit(self) -> None:
        loop = asyncio.get_running_loop()
        if self._pidfd is not None:
            Watcher.of(loop).remove(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
        if self._child:
            self._child = False
            with contextlib.suppress(ChildProcessError):
                self.returncode = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        self._exited = True
        waiters, self._waiters = self._waiters, None
        for fut in waiters or ():
            if not fut.done():
                fut.set_result(None)
        callbacks, self._on_exit_cbs = self._on_exit_cbs, None
        for callback in callbacks or ():
            # A loop turn later, as a task awaiting the exit would see it: what the program
            # wrote on its way out (its control socket may be read in this very turn) first.
            loop.call_soon(callback, self.returncode)

    def on_exit(self, callback: Callable[[int | None], None]) -> None:
        """Call ``callback(returncode)`` once the program has exited (soon, if it has)."""
        if self._exited:
            asyncio.get_running_loop().call_soon(callback, self.returncode)
            return
        if self._on_exit_cbs is None:
            self._on_exit_cbs = []
        self._on_exit_cbs.append(callback)

    @property
    def exited(self) -> bool:
        return self._exited

    async def wait(self) -> int | None:
        """Wait for the exit; the return code when the process was our child."""
        if not self._exited:
            fut = asyncio.get_running_loop().create_future()
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(fut)
            try:
                await fut
            finally:
                if self._waiters is not None and fut in self._waiters:
                    self._waiters.remove(fut)
        return self.returncode

    def signal(self, sig: int) -> None:
        if self._exited:
            return
        if self._pidfd is not None:
            with contextlib.suppress(ProcessLookupError, OSError):
                signal.pidfd_send_signal(self._pidfd, sig)
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.signal(signal.SIGTERM)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)


def _base_env() -> dict[str, str]:
    """A minimal, predictable environment for link programs (nothing of the caller's)."""
    return {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
    }


def find_marked(marker_prefix: str) -> list[ProcessIdentity]:
    """Processes whose ``OPENRAS_LINK`` starts with ``marker_prefix`` (readable ones only)."""
    return marked_processes(lambda marker: marker.startswith(marker_prefix))


_MARKER_KEY: Final = MARKER_ENV.encode() + b"="


async def kill_and_wait(identity: ProcessIdentity, grace: float) -> None:
    """SIGKILL the process ``identity`` names, if it still runs, and wait (at most
    ``grace`` seconds) until it is gone: through its pidfd (:meth:`LinkProcess.adopt`), so never
    another process that took its pid; one of another parent is waited for, not reaped."""
    proc = LinkProcess.adopt(identity)
    if proc is None:
        return
    proc.kill()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), grace)


def marker_of(pid: int) -> str | None:
    """``pid``'s ``OPENRAS_LINK`` (None: none, or gone, or not readable)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    for item in data.split(b"\0"):
        if item.startswith(_MARKER_KEY):
            return item[len(_MARKER_KEY) :].decode("utf-8", "replace")
    return None


def marked_processes(accept: Callable[[str], bool]) -> list[ProcessIdentity]:
    """Live (not zombie) processes whose ``OPENRAS_LINK`` value ``accept`` takes: one read of
    /proc/PID/environ per process (a psutil scan cost several times more, and a close waits
    on it)."""
    found: list[ProcessIdentity] = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        marker = marker_of(pid)
        if marker is None or not accept(marker):
            continue
        start = proc_start(pid)
        if start is not None and start[1] != "Z":
            found.append(ProcessIdentity(pid, start[0]))
    return found
