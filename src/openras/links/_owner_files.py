"""Reading and appending files *as the connection's owner*, not as the daemon.

The system daemon runs as root but dials for ordinary users. Every path a user's phonebook
names (a WireGuard config, an SSH identity, a known_hosts file) must be opened with that
user's rights, or a user could make root read ``/etc/wireguard/wg0.conf`` or
``/root/.ssh/id_ed25519`` and dial with root's keys. When the daemon already is the owner
(or the owner is root) the file is opened directly; otherwise a tiny helper process runs with
the owner's uid, gid and groups (``subprocess`` ``user=``/``group=``/``extra_groups=``), so the
kernel, not our own permission logic, decides what the owner may read or write.

These are blocking calls (a few ms); call them from coroutines through ``asyncio.to_thread``.
"""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
from pathlib import Path

from openras.errors import RasError

#: Larger files than this are refused (configs and keys are tiny).
DEFAULT_LIMIT = 1 << 20
_HELPER_TIMEOUT = 5.0
_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}


def _direct(owner_uid: int) -> bool:
    euid = os.geteuid()
    return euid == owner_uid or (euid == 0 and owner_uid == 0)


def _owner_ids(owner_uid: int, code: int) -> tuple[int, list[int]]:
    try:
        pw = pwd.getpwuid(owner_uid)
    except KeyError:
        raise RasError(code, f"uid {owner_uid} has no account to read files as") from None
    return pw.pw_gid, os.getgrouplist(pw.pw_name, pw.pw_gid)


def read_owner_file(
    path: Path, owner_uid: int, *, code: int, what: str = "file", limit: int = DEFAULT_LIMIT
) -> bytes:
    """The contents of ``path`` as ``owner_uid`` may read it; RasError(code) if it cannot."""
    if _direct(owner_uid):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOCTTY | os.O_CLOEXEC | os.O_NONBLOCK)
        except OSError as exc:
            raise RasError(code, f"{what} {path}: {exc.strerror}") from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise RasError(code, f"{what} {path}: not a regular file")
            chunks: list[bytes] = []
            size = 0
            while size <= limit:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        finally:
            os.close(fd)
        data = b"".join(chunks)
    elif os.geteuid() == 0:
        gid, groups = _owner_ids(owner_uid, code)
        try:
            res = subprocess.run(
                ["head", "-c", str(limit + 1), "--", str(path)],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                env=_ENV,
                user=owner_uid,
                group=gid,
                extra_groups=groups,
                timeout=_HELPER_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise RasError(code, f"{what} {path}: reading it timed out") from None
        if res.returncode != 0:
            reason = res.stderr.decode("utf-8", "replace").strip().rsplit(": ", 1)[-1]
            raise RasError(
                code, f"{what} {path}: {reason or 'cannot be read'} (as uid {owner_uid})"
            )
        data = res.stdout
    else:
        raise RasError(5, f"{what} {path}: cannot read files of uid {owner_uid}")
    if len(data) > limit:
        raise RasError(code, f"{what} {path}: larger than {limit} bytes")
    return data


def read_owner_file_if_exists(
    path: Path, owner_uid: int, *, code: int, what: str = "file", limit: int = DEFAULT_LIMIT
) -> bytes | None:
    """Like :func:`read_owner_file`, but None when ``path`` does not exist."""
    try:
        return read_owner_file(path, owner_uid, code=code, what=what, limit=limit)
    except RasError as exc:
        if exc.detail and exc.detail.endswith(
            ("No such file or directory", f"No such file or directory (as uid {owner_uid})")
        ):
            return None
        raise


def append_owner_file(path: Path, owner_uid: int, data: bytes, *, code: int) -> None:
    """Append ``data`` to ``path`` (created 0600, parents 0700) with the owner's rights."""
    if _direct(owner_uid):
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(
                path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
            )
        except OSError as exc:
            raise RasError(code, f"{path}: {exc.strerror}") from None
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        return
    if os.geteuid() != 0:
        raise RasError(5, f"{path}: cannot write files of uid {owner_uid}")
    gid, groups = _owner_ids(owner_uid, code)
    script = 'umask 077 && mkdir -p -- "$(dirname -- "$1")" && cat >> "$1"'
    try:
        res = subprocess.run(
            ["sh", "-c", script, "sh", str(path)],
            input=data,
            capture_output=True,
            env=_ENV,
            user=owner_uid,
            group=gid,
            extra_groups=groups,
            timeout=_HELPER_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RasError(code, f"{path}: writing it timed out") from None
    if res.returncode != 0:
        reason = res.stderr.decode("utf-8", "replace").strip()
        raise RasError(code, f"{path}: {reason or 'cannot be written'} (as uid {owner_uid})")


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
