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
import fcntl
import os
from collections.abc import Iterator
from os import PathLike
from pathlib import Path
from typing import Final

from openras import atomic
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


def atomic_write(path: StrPath, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (:func:`openras.atomic.atomic_write`),
    keeping its mode and (when allowed) owner; a failure is PhonebookError 624 naming it.

    Call with the lock held. Temp files a killed writer left behind are removed first.
    """
    target = _target(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic.atomic_write(target, data, sweep=True)
    except OSError as exc:
        raise PhonebookError(ERROR_CANNOT_WRITE_PHONEBOOK, f"{target}: {_why(exc)}") from None
