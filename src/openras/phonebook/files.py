"""Reading and writing phonebook files safely.

Readers take no lock: writers replace the file atomically (temp file in the same directory,
fsync, ``os.replace``, fsync of the directory), so a reader sees the old or the new book, never
half of one, even if the writer is killed. Writers serialise on ``flock`` of the phonebook's
directory (never the phonebook itself, whose inode is replaced on every save; and no sidecar
lock file, which would be left beside the user's phonebook for good), and ``edit`` re-reads
the book under that lock so concurrent editors lose nothing.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterator
from os import PathLike
from pathlib import Path
from typing import Final, TypeVar, overload

from openras.errors import (
    ERROR_CANNOT_LOAD_PHONEBOOK,
    ERROR_CANNOT_OPEN_PHONEBOOK,
    ERROR_CANNOT_WRITE_PHONEBOOK,
    PhonebookError,
)
from openras.phonebook.model import Phonebook, parse

__all__ = [
    "MAX_PHONEBOOK_BYTES",
    "atomic_write",
    "edit",
    "load",
    "lock_path",
    "locked",
    "read_bytes",
    "save",
]

#: Refuse bigger files. A full Windows 10/11 export is ~2.8 KB an entry, so 10,000 such
#: entries are ~28 MB; 32 MiB leaves room for that and still refuses a 50 MB file.
MAX_PHONEBOOK_BYTES: Final = 32 * 1024 * 1024

T = TypeVar("T")
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


def load(path: StrPath) -> Phonebook:
    """Read and parse a phonebook (621 cannot open, 622 too big, 625 corrupt at file:line)."""
    return parse(read_bytes(path), path)


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


def save(pb: Phonebook, path: StrPath | None = None) -> None:
    """Write ``pb`` to ``path`` (default ``pb.path``, which is updated) under the lock.

    This overwrites whatever is on disk; use ``edit`` to merge with concurrent writers.
    """
    dest = Path(path) if path is not None else pb.path
    if dest is None:
        raise PhonebookError(ERROR_CANNOT_WRITE_PHONEBOOK, "phonebook has no path")
    data = pb.dumps()
    with locked(dest):
        atomic_write(dest, data)
    pb.path = dest


@contextlib.contextmanager
def _editing(path: StrPath, create: bool) -> Iterator[Phonebook]:
    with locked(path):
        try:
            before = read_bytes(path)
        except PhonebookError as exc:
            if not create or exc.code != ERROR_CANNOT_OPEN_PHONEBOOK or os.path.lexists(path):
                raise
            before = b""
        pb = parse(before, path)
        yield pb
        after = pb.dumps()
        if after != before:
            atomic_write(path, after)


@overload
def edit(
    path: StrPath, fn: None = None, *, create: bool = True
) -> contextlib.AbstractContextManager[Phonebook]: ...
@overload
def edit(path: StrPath, fn: Callable[[Phonebook], T], *, create: bool = True) -> T: ...
def edit(
    path: StrPath, fn: Callable[[Phonebook], T] | None = None, *, create: bool = True
) -> T | contextlib.AbstractContextManager[Phonebook]:
    """Read-modify-write under the lock: ``edit(p, fn)`` returns ``fn(pb)``; ``with edit(p)
    as pb:`` saves on a clean exit. The file is rewritten only if its bytes change; a
    missing file starts empty when ``create`` is true."""
    if fn is None:
        return _editing(path, create)
    with _editing(path, create) as pb:
        return fn(pb)
