"""Reading and appending files *as the connection's owner*, not as the daemon.

The system daemon runs as root but dials for ordinary users. Every path a user's phonebook
names (a WireGuard config, an SSH identity, a known_hosts file) is opened with that user's
own credentials (:mod:`openras.asuser`: a worker thread that takes the user's fsuid, fsgid and
groups for the open), so the kernel, not our own permission logic, decides what the owner
may read or write: symlinks, parent directories, ACLs and races included. Error details name
the path and the kernel's reason, never the file's content.

These are blocking calls (microseconds; a file system may still stall): call them from
coroutines through ``asyncio.to_thread``.
"""

from __future__ import annotations

import errno
import os
import pwd
from pathlib import Path

from openras import asuser
from openras.errors import ERROR_ACCESS_DENIED, RasError, from_os_error

#: Larger files than this are refused (configs and keys are tiny).
DEFAULT_LIMIT = 1 << 20


def _usable(owner_uid: int) -> None:
    euid = os.geteuid()
    if euid != 0 and euid != owner_uid:
        raise RasError(ERROR_ACCESS_DENIED, f"cannot act on files of uid {owner_uid}")


def read_owner_file(
    path: Path, owner_uid: int, *, code: int, what: str = "file", limit: int = DEFAULT_LIMIT
) -> bytes:
    """The contents of ``path`` as ``owner_uid`` may read it; RasError(code) if it cannot."""
    _usable(owner_uid)
    as_whom = f" (as uid {owner_uid})" if asuser.needs_switch(owner_uid) else ""
    try:
        return asuser.read_as(owner_uid, path, limit)
    except asuser.TooLarge:
        raise RasError(code, f"{what} {path}: larger than {limit} bytes") from None
    except asuser.NotRegular:
        raise RasError(code, f"{what} {path}: not a regular file") from None
    except OSError as exc:
        raise from_os_error(exc, code, f"{what} {path}", suffix=as_whom) from None


def read_owner_file_if_exists(
    path: Path, owner_uid: int, *, code: int, what: str = "file", limit: int = DEFAULT_LIMIT
) -> bytes | None:
    """Like :func:`read_owner_file`, but None when ``path`` does not exist."""
    try:
        return read_owner_file(path, owner_uid, code=code, what=what, limit=limit)
    except RasError as exc:
        if exc.os_errno == errno.ENOENT:
            return None
        raise


def append_owner_file(path: Path, owner_uid: int, data: bytes, *, code: int) -> None:
    """Append ``data`` to ``path`` (created 0600, parents 0700) with the owner's rights."""
    _usable(owner_uid)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NOCTTY
    try:
        asuser.makedirs_as(owner_uid, path.parent)
        fd = asuser.open_as(owner_uid, path, flags, 0o600)
    except OSError as exc:
        raise from_os_error(exc, code, str(path)) from None
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def owner_config_dir(owner_uid: int) -> Path:
    """The owner's XDG config directory (``$XDG_CONFIG_HOME`` only when we are the owner)."""
    if os.geteuid() == owner_uid:
        xdg = os.environ.get("XDG_CONFIG_HOME", "")
        if xdg.startswith("/"):
            return Path(xdg)
    try:
        home = pwd.getpwuid(owner_uid).pw_dir
    except KeyError:
        home = "/nonexistent"
    return Path(home) / ".config"


def write_private(path: Path, data: bytes) -> None:
    """Create ``path`` 0600 (never following or reusing an existing file) with ``data``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
