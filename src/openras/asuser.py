"""Opening files with a caller's credentials inside the root daemon: the kernel decides.

A root daemon that reads a file a user named (phonebook, profile, key, known_hosts) must
read it only if that user could. Emulating the permission check (stat the file and its
parents, then open as root) is wrong twice over: symlinks, ACLs and mount options are not
what the emulation sees, and the file can be swapped between the check and the open. So the
open itself happens with the user's identity, and the kernel makes every decision.

Linux keeps credentials per thread, and the raw ``setfsuid``/``setfsgid``/``setgroups`` system
calls change only the calling thread (glibc's wrappers, and so Python's ``os.setgroups``,
broadcast to every thread). A non-zero fsuid also drops the file capabilities
(``CAP_DAC_OVERRIDE``, ``CAP_DAC_READ_SEARCH``, ...) from that thread. A small pool of
dedicated threads does nothing but: take the caller's identity, open (or mkdir), take root's
back. The descriptor it returns is then read as usual: access was decided at open.

Measured here (reference/privilege.md): about 70 µs a file through the pool, against 1-2 ms
for the ``head`` helper process this replaces. On an architecture whose system call numbers
we do not know, a helper process running as the user opens the file and passes the
descriptor back over a socket pair (SCM_RIGHTS): slower, same decision by the kernel.
"""

from __future__ import annotations

import ctypes
import errno
import os
import pwd
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar

T = TypeVar("T")

#: (setgroups, setfsuid, setfsgid) per machine: the 32-bit-id variants where there are two.
_SYSCALLS: Final[dict[str, tuple[int, int, int]]] = {
    "x86_64": (116, 122, 123),
    "aarch64": (159, 151, 152),
    "riscv64": (159, 151, 152),
    "loongarch64": (159, 151, 152),
    "ppc64le": (81, 138, 139),
    "s390x": (206, 215, 216),
}
_NUMBERS = _SYSCALLS.get(os.uname().machine)
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

#: Threads that only ever switch identity, open, and switch back.
_WORKERS: Final = 4
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_root_groups: tuple[int, ...] = ()

#: Flags of every read open: no controlling tty, no blocking on a FIFO nobody writes.
READ_FLAGS: Final = os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK


class IdentityError(OSError):
    """The thread could not take (or give back) an identity: nothing was opened."""


@dataclass(frozen=True)
class Identity:
    """Whose rights a file operation runs with: uid, primary gid, supplementary groups."""

    uid: int
    gid: int
    groups: tuple[int, ...]

    @classmethod
    def of(cls, uid: int) -> Identity:
        """The account's identity as a login would have it (its groups from the group
        database), looked up at most every IDENTITY_TTL seconds (the lookup costs more than
        the open). An unknown uid gets no groups and the nobody group."""
        import time

        now = time.monotonic()
        hit = _IDENTITIES.get(uid)
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            pw = pwd.getpwuid(uid)
            who = cls(uid, pw.pw_gid, tuple(os.getgrouplist(pw.pw_name, pw.pw_gid)))
        except KeyError:
            who = cls(uid, 65534, ())
        if len(_IDENTITIES) > 4096:
            _IDENTITIES.clear()
        _IDENTITIES[uid] = (now + IDENTITY_TTL, who)
        return who


#: How long an account's groups are reused (a group change reaches file access this late).
IDENTITY_TTL: Final = 5.0
_IDENTITIES: dict[int, tuple[float, Identity]] = {}


def needs_switch(uid: int) -> bool:
    """Whether files of ``uid`` must be opened under a switched identity (we are root, they
    are not); when we are that user already, a plain open is theirs."""
    return os.geteuid() == 0 and uid != 0


def _sys(number: int, *args: int | ctypes.Array[ctypes.c_uint]) -> int:
    return int(_libc.syscall(number, *args))


def syscall(number: int, *args: int) -> int:
    """A system call Python's os module lacks, by number: its result, or OSError (errno)."""
    result = _sys(number, *args)
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def _take(who: Identity) -> None:
    assert _NUMBERS is not None
    sg, fsu, fsg = _NUMBERS
    arr = (ctypes.c_uint * max(1, len(who.groups)))(*who.groups)
    if _sys(sg, len(who.groups), arr) != 0:
        raise IdentityError(ctypes.get_errno(), "setgroups failed")
    _sys(fsg, who.gid)
    _sys(fsu, who.uid)
    # setfsuid/setfsgid answer the *previous* id, never an error: ask again to know.
    if _sys(fsu, -1 & 0xFFFFFFFF) != who.uid or _sys(fsg, -1 & 0xFFFFFFFF) != who.gid:
        raise IdentityError(errno.EPERM, "setfsuid/setfsgid did not take")


def _give_back() -> None:
    assert _NUMBERS is not None
    sg, fsu, fsg = _NUMBERS
    _sys(fsu, 0)
    _sys(fsg, 0)
    arr = (ctypes.c_uint * max(1, len(_root_groups)))(*_root_groups)
    ok = _sys(sg, len(_root_groups), arr) == 0
    if not ok or _sys(fsu, -1 & 0xFFFFFFFF) != 0 or _sys(fsg, -1 & 0xFFFFFFFF) != 0:
        # A worker left with someone else's identity must never run another job.
        sys.stderr.write("openras: a file worker could not return to root; exiting\n")
        os._exit(70)


def _as(who: Identity, fn: Callable[[], T]) -> T:
    """Run ``fn`` in a worker thread under ``who``'s file identity."""

    def job() -> T:
        try:
            _take(who)
            return fn()
        finally:
            _give_back()

    global _pool, _root_groups
    with _pool_lock:
        if _pool is None:
            _root_groups = tuple(os.getgroups())
            _pool = ThreadPoolExecutor(_WORKERS, thread_name_prefix="openras-asuser")
        pool = _pool
    return pool.submit(job).result()


def open_as(
    uid: int, path: str | os.PathLike[str], flags: int = READ_FLAGS, mode: int = 0o600
) -> int:
    """``os.open(path, flags, mode)`` with ``uid``'s rights; OSError as the kernel said."""
    if not needs_switch(uid):
        return os.open(path, flags, mode)
    if _NUMBERS is None:
        return _open_via_helper(uid, os.fspath(path), flags, mode)
    return _as(Identity.of(uid), lambda: os.open(path, flags, mode))


def makedirs_as(uid: int, path: Path, mode: int = 0o700) -> None:
    """``path.mkdir(parents=True, exist_ok=True)`` with ``uid``'s rights (theirs, then)."""
    if not needs_switch(uid):
        path.mkdir(mode=mode, parents=True, exist_ok=True)
        return
    if _NUMBERS is None:
        subprocess.run(
            ["mkdir", "-p", "-m", f"{mode:o}", "--", str(path)],
            user=uid, group=Identity.of(uid).gid, extra_groups=list(Identity.of(uid).groups),
            check=True, capture_output=True, timeout=5, env={"PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        return
    _as(Identity.of(uid), lambda: path.mkdir(mode=mode, parents=True, exist_ok=True))


class TooLarge(Exception):
    """The file is larger than the reader's limit."""


def read_fd(fd: int, limit: int) -> bytes:
    """A regular file's bytes from ``fd`` (closed here); TooLarge past ``limit``, OSError
    EINVAL-like ``NotRegular`` for a FIFO, device or directory."""
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegular(errno.EINVAL, "not a regular file")
        if st.st_size > limit:
            raise TooLarge(limit)
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise TooLarge(limit)
        return b"".join(chunks)
    finally:
        os.close(fd)


class NotRegular(OSError):
    """Not a regular file (a FIFO, device, socket or directory): never read."""


def read_as(uid: int, path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of ``path`` if ``uid`` may read it (OSError as the kernel said; NotRegular;
    TooLarge)."""
    return read_fd(open_as(uid, path), limit)


def _open_via_helper(uid: int, path: str, flags: int, mode: int) -> int:
    """Fallback: a child running as ``uid`` opens ``path`` and sends the descriptor back."""
    who = Identity.of(uid)
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    code = (
        "import os, socket, sys\n"
        "s = socket.socket(fileno=int(sys.argv[4]))\n"
        "try:\n"
        "    fd = os.open(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))\n"
        "except OSError as e:\n"
        "    s.sendall(str(e.errno).encode()); sys.exit(0)\n"
        "socket.send_fds(s, [b'0'], [fd])\n"
    )
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-c", code, path, str(flags), str(mode), str(child.fileno())],
            user=uid, group=who.gid, extra_groups=list(who.groups), pass_fds=(child.fileno(),),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={"PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        child.close()
        parent.settimeout(5)
        msg, fds, _flags, _addr = socket.recv_fds(parent, 32, 1)
        proc.wait(5)
    finally:
        parent.close()
    if fds:
        return fds[0]
    err = int(msg or errno.EIO)
    raise OSError(err, os.strerror(err), path)
