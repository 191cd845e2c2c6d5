"""Replacing a file atomically: the one way openras writes a file that others read.

The bytes go to a temp file beside the target (the same directory, so the rename is atomic)
and ``os.replace`` puts it in place: a reader sees the old bytes or the new, never a mix, even
if the writer is killed mid-write. ``durable`` also fsyncs the file and its directory, so the
new bytes outlive a machine crash, not only the process. Errors are the OS's (``OSError``);
each caller says them in its own terms (a phonebook's are 624, :mod:`openras.phonebook.files`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile
from os import PathLike
from pathlib import Path

__all__ = ["atomic_write", "stale_temps"]


def stale_temps(target: Path) -> list[Path]:
    """The temp files a killed writer of ``target`` left beside it."""
    pattern = re.compile(re.escape(f".{target.name}.") + r"[A-Za-z0-9_]{6,}\.tmp\Z")
    try:
        return [p for p in target.parent.iterdir() if pattern.match(p.name)]
    except OSError:
        return []


def atomic_write(
    path: str | PathLike[str],
    data: bytes,
    mode: int | None = None,
    *,
    durable: bool = True,
    sweep: bool = False,
) -> None:
    """Replace ``path`` with ``data``: readers see the old bytes or the new, never a mix.

    ``mode`` is the new file's mode; None keeps the mode and (when allowed: as root, or for
    our own file) the owner of the file replaced, and gives a new file 0644 less the umask.
    ``durable`` fsyncs the file and its directory. ``sweep`` first removes the temp files a
    killed writer left; only for a caller holding a lock that keeps other writers out.
    """
    target = Path(path)
    if sweep:
        for stale in stale_temps(target):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
    st: os.stat_result | None = None
    if mode is None:
        with contextlib.suppress(FileNotFoundError):
            st = os.stat(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if mode is not None:
                os.fchmod(fd, mode)
            else:
                os.fchmod(fd, stat.S_IMODE(st.st_mode) if st else 0o644 & ~_umask())
                if st is not None and (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
                    # Not root: the new file is ours, as any editor would leave it.
                    with contextlib.suppress(PermissionError):
                        os.fchown(fd, st.st_uid, st.st_gid)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        _fsync_dir(target.parent)


def _fsync_dir(directory: Path) -> None:
    try:
        dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:  # pragma: no cover - the directory vanished under us
        return
    try:
        os.fsync(dfd)
    except OSError as exc:  # pragma: no cover - some filesystems refuse directory fsync
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(dfd)


def _umask() -> int:
    """The process's umask, read without changing it (``os.umask`` would, for all threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022
