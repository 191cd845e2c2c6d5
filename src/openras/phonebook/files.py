"""Reading and writing phonebook files safely: the bytes, the writer lock, the atomic write.

Readers take no lock: writers replace the file atomically (temp file in the same directory,
fsync, ``os.replace``, fsync of the directory), so a reader sees the old or the new book, never
half of one, even if the writer is killed. Writers serialise on ``flock`` of the phonebook's
directory (never the phonebook itself, whose inode is replaced on every save; and no sidecar
lock file, which would be left beside the user's phonebook for good), and ``model.edit``
re-reads the book under that lock so concurrent editors lose nothing. Nothing here knows the
book's content: ``load``, ``save`` and ``edit`` are the model's (:mod:`.model`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from os import PathLike
from pathlib import Path
from typing import Final

from openras.errors import (
    ERROR_CANNOT_LOAD_PHONEBOOK,
    ERROR_CANNOT_OPEN_PHONEBOOK,
    ERROR_CANNOT_WRITE_PHONEBOOK,
    PhonebookError,
)

__all__ = ["MAX_PHONEBOOK_BYTES", "StrPath", "atomic_write", "lock_path", "locked", "read_bytes"]

#: Refuse bigger files. A full Windows 10/11 export is ~2.8 KB an entry, so 10,000 such
#: entries are ~28 MB; 32 MiB leaves room for that and still refuses a 50 MB file.
MAX_PHONEBOOK_BYTES: Final = 32 * 1024 * 1024

StrPath = str | PathLike[str]


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def read_bytes(path: StrPath, limit: int = MAX_PHONEBOOK_BYTES) -> bytes:
    """The file's bytes; PhonebookError 621 if it cannot be opened (missing, vanished,
    unreadable, not a regular file), 622 if it is larger than ``limit``."""
    from openras import asuser

    p = os.fspath(path)
    try:
        return asuser.read_fd(os.open(p, asuser.READ_FLAGS), limit)
    except asuser.TooLarge:
        raise PhonebookError(
            ERROR_CANNOT_LOAD_PHONEBOOK, f"{p}: larger than {limit} bytes; refusing to load"
        ) from None
    except asuser.NotRegular:
        raise PhonebookError(ERROR_CANNOT_OPEN_PHONEBOOK, f"{p}: not a regular file") from None
    except OSError as exc:
        raise PhonebookError(ERROR_CANNOT_OPEN_PHONEBOOK, f"{p}: {_why(exc)}") from None


def lock_path(path: StrPath) -> Path:
    """What writers of ``path`` lock: its directory (writers of the books in one directory
    take turns, which costs nothing and leaves no file behind)."""
    return Path(path).parent


@contextlib.contextmanager
def locked(path: StrPath) -> Iterator[None]:
    """Hold the exclusive writer lock of ``path`` (creating its directory if needed)."""
    lp = lock_path(_target(path))
    try:
        lp.mkdir(parents=True, exist_ok=True)
        fd = os.open(lp, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise PhonebookError(ERROR_CANNOT_WRITE_PHONEBOOK, f"{lp}: {_why(exc)}") from None
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                break
            except InterruptedError:  # pragma: no cover - PEP 475 retries already
                continue
        yield
    finally:
        os.close(fd)  # releases the flock


def _target(path: StrPath) -> Path:
    """Where bytes really go: a symlinked phonebook is written through, not replaced."""
    p = Path(path)
    return Path(os.path.realpath(p)) if p.is_symlink() else p


def _umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def _stale_temps(target: Path) -> list[Path]:
    pattern = re.compile(re.escape(f".{target.name}.") + r"[A-Za-z0-9_]{6,}\.tmp\Z")
    try:
        return [p for p in target.parent.iterdir() if pattern.match(p.name)]
    except OSError:
        return []


def atomic_write(path: StrPath, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically, keeping its mode and (when allowed) owner.

    Call with the lock held. Temp files a killed writer left behind are removed first.
    """
    target = _target(path)
    d = target.parent
    try:
        d.mkdir(parents=True, exist_ok=True)
        for stale in _stale_temps(target):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
        try:
            st: os.stat_result | None = os.stat(target)
        except FileNotFoundError:
            st = None
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=d)
    except OSError as exc:
        raise PhonebookError(ERROR_CANNOT_WRITE_PHONEBOOK, f"{target}: {_why(exc)}") from None
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fchmod(fd, stat.S_IMODE(st.st_mode) if st else 0o644 & ~_umask())
            if st is not None and (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
                # Not root: the new file is ours, as any editor would leave it.
                with contextlib.suppress(PermissionError):
                    os.fchown(fd, st.st_uid, st.st_gid)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise PhonebookError(ERROR_CANNOT_WRITE_PHONEBOOK, f"{target}: {_why(exc)}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    try:
        dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:  # pragma: no cover - directory vanished under us
        return
    try:
        os.fsync(dfd)
    except OSError as exc:  # pragma: no cover - some filesystems refuse directory fsync
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise PhonebookError(ERROR_CANNOT_WRITE_PHONEBOOK, f"{d}: {_why(exc)}") from None
    finally:
        os.close(dfd)
