"""Small helpers the real-program drivers share: entry keys, paths, short helper commands."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shutil
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openras.errors import (
    ERROR_CONNECTING_DEVICE_NOT_FOUND,
    ERROR_INVALID_PARAMETER,
    RasError,
)
from openras.links.base import EntryView, LinkSpec, LinkStats
from openras.links.rtnl import Rtnl, if_index

#: ``OpenRasDialTimeoutMs`` when the entry does not set it.
DEFAULT_DIAL_TIMEOUT_MS = 15000
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HELPER_ENV = {"PATH": SYSTEM_PATH, "LANG": "C"}
#: Where the daemon looks for link programs (openvpn, wireguard-go, wg, ssh). Set by whoever
#: starts the daemon (an admin with programs in /opt, or a test that hides one); never read
#: from a phonebook, and the daemon's own PATH is not used, so a caller cannot choose them.
PROGRAM_PATH_ENV = "OPENRAS_LINK_PATH"


def program_path() -> str:
    """The directories link programs are looked up in (``OPENRAS_LINK_PATH`` or the system's)."""
    return os.environ.get(PROGRAM_PATH_ENV) or SYSTEM_PATH


def find_program(name: str) -> str:
    """The absolute path of link program ``name``; RasError(797) naming it when missing."""
    found = shutil.which(name, path=program_path())
    if found is None:
        raise RasError(
            ERROR_CONNECTING_DEVICE_NOT_FOUND,
            f"{name} is not installed (looked in {program_path()})",
        )
    return os.path.abspath(found)


def password_fd(user: str, password: str) -> int | None:
    """pppd's password for its ``passwordfd`` plugin: a memfd holding it (never a file or
    argv), or None when the dial has neither user name nor password. The caller closes it
    once the program that inherits it has started."""
    if not (user or password):
        return None
    fd = os.memfd_create("openras-ppp-password", 0)
    os.write(fd, password.encode())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def no_op_program() -> str:
    """``true``'s path: what pppd runs as its ip-up/ip-down scripts (the system's do not run)."""
    return next((p for p in ("/bin/true", "/usr/bin/true") if os.access(p, os.X_OK)), "/bin/true")


def link_exists(name: str) -> bool:
    """Whether interface ``name`` exists in the calling thread's network namespace, by
    rtnetlink (:func:`~openras.links.rtnl.if_index`: not ``if_nametoindex``, which as root
    makes the kernel run modprobe for every name it does not know)."""
    return if_index(name) is not None


def unix_socket_answers(path: Path) -> bool:
    """Whether something accepts on the Unix socket ``path``; never blocks (a listener with a
    full backlog counts as not answering yet), so the event loop can call it directly."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.setblocking(False)
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


def entry_int(
    entry: EntryView, key: str, default: int, *, minimum: int = 0, maximum: int = 2**31 - 1
) -> int:
    """An integer entry key; RasError(87) naming the key when it is not a number in range."""
    raw = entry.get(key)
    if raw is None or not raw.strip():
        return default
    text = raw.strip()
    if not text.isdigit() or not minimum <= int(text) <= maximum:
        raise RasError(
            ERROR_INVALID_PARAMETER, f"{key}={text!r}: expected a number {minimum}..{maximum}"
        )
    return int(text)


def entry_bool(entry: EntryView, key: str, default: bool = False) -> bool:
    """A 0/1 entry key (Windows phonebooks write booleans as 0 and 1)."""
    raw = entry.get(key)
    if raw is None or not raw.strip():
        return default
    text = raw.strip().lower()
    if text in ("1", "yes", "true", "on"):
        return True
    if text in ("0", "no", "false", "off"):
        return False
    raise RasError(ERROR_INVALID_PARAMETER, f"{key}={raw.strip()!r}: expected 0 or 1")


def dial_timeout(entry: EntryView) -> float:
    """``OpenRasDialTimeoutMs`` in seconds (default 15 s)."""
    return entry_int(entry, "OpenRasDialTimeoutMs", DEFAULT_DIAL_TIMEOUT_MS, minimum=100) / 1000.0


def resolve_entry_path(spec: LinkSpec, key: str, value: str) -> Path:
    """A path from the entry: absolute, ``~/``-relative to the owner, or relative to the
    phonebook's directory."""
    text = value.strip()
    if not text:
        raise RasError(ERROR_INVALID_PARAMETER, f"{key} is empty")
    path = Path(text)
    if path.is_absolute():
        return path
    if spec.phonebook is None:
        raise RasError(ERROR_INVALID_PARAMETER, f"{key}={text!r} is relative but no phonebook")
    return spec.phonebook.parent / path


@dataclass(frozen=True)
class CmdResult:
    returncode: int
    stdout: str
    stderr: str


async def run_cmd(
    argv: Sequence[str], *, input_data: bytes | None = None, time_limit: float = 10.0
) -> CmdResult:
    """Run a short helper command (``ip``, ``wg``, ``ssh -O``) to completion, bounded.

    A helper that overruns ``time_limit`` is killed (by its pid) and reported as rc 124.
    """
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if input_data is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=HELPER_ENV,
        )
    except OSError as exc:
        return CmdResult(127, "", f"{argv[0]}: {exc.strerror}")
    try:
        out, err = await asyncio.wait_for(proc.communicate(input_data), time_limit)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        return CmdResult(124, "", f"{argv[0]}: timed out after {time_limit:g} s")
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        raise
    rc = proc.returncode if proc.returncode is not None else -1
    return CmdResult(rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))


def tail_text(path: Path, max_bytes: int = 4096) -> str:
    """The end of a log file (the program's own output), decoded leniently."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def interface_stats(ifname: str) -> LinkStats | None:
    """``ifname``'s counters over rtnetlink (in this thread's network namespace); None when
    there is no such interface."""
    try:
        with Rtnl() as rtnl:
            c = rtnl.counters(ifname)
    except OSError:
        return None
    if c is None:
        return None
    return LinkStats(
        bytes_sent=c.tx_bytes, bytes_received=c.rx_bytes, frames_sent=c.tx_packets,
        frames_received=c.rx_packets, errors=c.errors,
    )  # fmt: skip


def remove_quietly(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


_SEALS = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE


def sealed_memfd(name: str, data: bytes) -> int:
    """``data`` in a memory file (memfd), mode 0600 and sealed against any change, for a
    program that inherits it and opens it as ``/proc/self/fd/N``: a key never reaches the
    disk, and there is no file to create or delete (on a busy disk each such step took
    0.3-1 ms of a dial or hang-up). The caller closes it once the program has started."""
    fd = os.memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, _SEALS)
    except BaseException:
        os.close(fd)
        raise
    return fd


_IN_MODIFY = 0x2
_IN_MOVED_TO = 0x80
_IN_CREATE = 0x100
_IN_ONLYDIR = 0x01000000
_EVENT = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len (then the name)


class _Inotify:
    """The event loop's one inotify instance, kept for its life: closing an instance that
    held a watch waits for an RCU grace period (8-28 ms measured), which would stall the
    loop, while removing a watch takes microseconds."""

    def __init__(self, loop: asyncio.AbstractEventLoop, libc: Any, fd: int) -> None:
        self.loop = loop
        self.libc = libc
        self.fd = fd
        self.watches: dict[int, set[DirWatch]] = {}
        loop.add_reader(fd, self._read)

    def _read(self) -> None:
        woken: set[int] = set()
        with contextlib.suppress(OSError):  # BlockingIOError: drained
            while data := os.read(self.fd, 65536):
                offset = 0
                while offset + _EVENT.size <= len(data):
                    wd, _mask, _cookie, length = _EVENT.unpack_from(data, offset)
                    woken.add(wd)
                    offset += _EVENT.size + length
        for wd in woken:
            for watch in list(self.watches.get(wd, ())):
                watch.wake()


_inotify: dict[asyncio.AbstractEventLoop, _Inotify] = {}


def _loop_inotify() -> _Inotify | None:
    """The running loop's inotify instance (made on first use); None without inotify."""
    loop = asyncio.get_running_loop()
    found = _inotify.get(loop)
    if found is not None:
        return found
    for ended in [old for old in _inotify if old.is_closed()]:  # tests run a loop each
        gone = _inotify.pop(ended)
        os.close(gone.fd)
        gone.fd = -1
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    if fd < 0:
        return None
    _inotify[loop] = made = _Inotify(loop, libc, fd)
    return made


class DirWatch:
    """Wakes a waiting coroutine when a name appears in a directory or a file in it is
    written (inotify). Waiting for a program's socket then costs a wake-up per line of its
    log instead of a poll every fraction of a millisecond, each of which took the CPU from
    the program being waited for (a woken poller tends to run on the CPU of the program that
    woke it)."""

    def __init__(self, inotify: _Inotify, wd: int, directory: bytes = b"") -> None:
        self._inotify = inotify
        self._wd = wd
        self._directory = directory
        self._loop = inotify.loop
        self._waiter: asyncio.Future[None] | None = None
        self._seen = False
        self._closed = False
        inotify.watches.setdefault(wd, set()).add(self)

    @classmethod
    def open(cls, directory: Path, *, writes: bool = True) -> DirWatch | None:
        """A watch on ``directory``; None where inotify cannot watch it (the caller polls).
        ``writes=False``: only new names wake it, until :meth:`watch_writes`."""
        inotify = _loop_inotify()
        if inotify is None:
            return None
        path = os.fsencode(directory)
        mask = _IN_CREATE | _IN_MOVED_TO | _IN_ONLYDIR | (_IN_MODIFY if writes else 0)
        wd = inotify.libc.inotify_add_watch(inotify.fd, path, mask)
        if wd < 0:
            return None
        return cls(inotify, wd, path)

    def watch_writes(self) -> None:
        """From now on a write to a file in the directory wakes it too (a program that logs
        once it is ready: a line written before this call is not seen, so look once more
        before the next wait)."""
        mask = _IN_CREATE | _IN_MOVED_TO | _IN_MODIFY | _IN_ONLYDIR
        self._inotify.libc.inotify_add_watch(self._inotify.fd, self._directory, mask)

    def wake(self) -> None:
        """End the current (or next) wait now: something else worth a look happened."""
        self._seen = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def wait(self, at_most: float) -> None:
        """Until something happened in the directory (or :meth:`wake`) since the last wait,
        or ``at_most`` seconds."""
        if not self._seen:
            self._waiter = self._loop.create_future()
            timer = self._loop.call_later(at_most, self.wake)
            try:
                await self._waiter
            finally:
                timer.cancel()
                self._waiter = None
        self._seen = False

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        inotify = self._inotify
        same = inotify.watches.get(self._wd)
        if same is not None:
            same.discard(self)
            if not same:  # the directory's last watcher
                del inotify.watches[self._wd]
                if inotify.fd >= 0:
                    inotify.libc.inotify_rm_watch(inotify.fd, self._wd)

    def __enter__(self) -> DirWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
