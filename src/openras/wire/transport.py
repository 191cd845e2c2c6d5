"""Blocking transport to rasman (no asyncio import: rasdial and the sync API start fast).

Also starts the per-user daemon on demand, like gpg-agent: when the per-user default socket
does not answer, a detached ``rasman`` is started and awaited (bounded).
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct
import sys
import time
from collections.abc import Iterator

from openras import errors, paths
from openras.wire import protocol as P
from openras.wire.codec import FrameDecoder, encode_plain

TYPE_CHECKING = False  # typing's constant, without importing typing (see openras._lazy)
if TYPE_CHECKING:  # imported where used: only the client that starts the daemon needs it
    import subprocess
    from pathlib import Path
    from typing import Any

START_TIMEOUT = 10.0
#: Beside the default socket: held by the one client that starts the daemon.


def _shown(path: str | Path) -> Path:
    """``path`` as messages name it (a Path: normalised); pathlib loads only for a failure."""
    from pathlib import Path

    return Path(path)


def check_peer(sock: socket.socket, path: str | Path) -> None:
    """Refuse a daemon that is neither root nor us: it could be anyone's trap for passwords."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, _gid = struct.unpack("3i", creds)
    if uid not in (0, os.geteuid()):
        raise errors.ManagerUnavailable(
            detail=f"{_shown(path)} is served by uid {uid} (pid {pid}), not by root or this user;"
            " refusing it"
        )


class Transport:
    """One connection (one client session) to the daemon. ``path`` may be a string: a
    command's listing connects without loading pathlib (``.path`` is a Path all the same)."""

    def __init__(self, path: str | Path, timeout: float | None = None) -> None:
        self._path = None if isinstance(path, str) else path
        self._name = os.fspath(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            # A blocking connect, bounded by SO_SNDTIMEO: the kernel queues those while the
            # daemon's backlog is full (another user flooding it), where a non-blocking one
            # (Python's settimeout) fails at once with EAGAIN.
            if timeout is not None:
                secs = max(timeout, 0.001)
                tv = struct.pack("ll", int(secs), int((secs % 1) * 1_000_000))
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
            self.sock.connect(self._name)
            self.sock.settimeout(timeout)
            check_peer(self.sock, path)
        except BaseException:
            self.sock.close()
            raise
        self.decoder = FrameDecoder()
        self.pending: list[dict[str, Any]] = []

    @property
    def path(self) -> Path:
        """The socket, as given (a str becomes a Path)."""
        if self._path is None:
            self._path = _shown(self._name)
        return self._path

    def close(self) -> None:
        self.sock.close()

    def send(self, msg: dict[str, Any]) -> None:
        self.sock.sendall(encode_plain(msg))

    def recv(self) -> dict[str, Any]:
        while not self.pending:
            data = self.sock.recv(65536)
            if not data:
                raise errors.ManagerUnavailable(
                    detail="the connection manager closed the connection"
                )
            try:
                self.pending.extend(self.decoder.feed(data))
            except errors.RemoteProtocolError as exc:
                raise errors.daemon_broke_protocol(exc) from None
        return self.pending.pop(0)

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            self.send(P.call(method, params))
            return P.raise_for_error(self.recv())
        except (ConnectionError, BrokenPipeError) as exc:
            raise errors.ManagerUnavailable(detail=str(exc)) from None

    def stream(self, method: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Replies of a ``more`` call, until the one without ``continues``."""
        try:
            self.send(P.call(method, params, more=True))
            while True:
                msg = self.recv()
                params_out = P.raise_for_error(msg)
                yield params_out
                if not msg.get("continues"):
                    return
        except (ConnectionError, BrokenPipeError) as exc:
            raise errors.ManagerUnavailable(detail=str(exc)) from None


def connect(
    path: str | Path | None = None,
    *,
    autostart: bool = True,
    timeout: float | None = None,
) -> Transport:
    """Connect to rasman: the system daemon when it answers (a user's client with no
    explicit socket), else the default instance, started when it is the user's own and
    absent. The sockets are found as strings: a connection that succeeds loads no pathlib."""
    if path is None and paths.prefers_system():
        try:
            return Transport(paths.system_socket_name(), timeout)
        except (FileNotFoundError, ConnectionRefusedError):
            pass
    target = path or paths.default_socket_name()
    paths.check_runtime_dir(target)
    try:
        return Transport(target, timeout)
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        if not may_autostart(path, target, autostart):
            raise errors.ManagerUnavailable(
                detail=f"no connection manager at {_shown(target)}: {exc.strerror}"
            ) from None
    ensure_daemon(_shown(target))
    try:
        return Transport(target, timeout)
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        raise errors.ManagerUnavailable(
            detail=f"rasman at {_shown(target)} went away: {exc.strerror}"
        ) from None


def may_autostart(path: str | Path | None, target: str | Path, autostart: bool) -> bool:
    return autostart and path is None and paths.is_default_user_socket(target)


def _answers(target: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(target))
        return True
    except (FileNotFoundError, ConnectionRefusedError):
        return False
    finally:
        probe.close()


def ensure_daemon(target: Path) -> None:
    """Start the default daemon unless one answers; many clients at once start one.

    The start lock beside the socket is held across start-and-wait, so a client that comes
    second finds the first one's daemon answering instead of starting its own.
    """
    # Root's instance is the system daemon every user talks to (SO_PEERCRED decides what each
    # may see), so its directory must be traversable, as systemd's RuntimeDirectory= makes it.
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o755 if os.geteuid() == 0 else 0o700)
    paths.check_runtime_dir(target)
    deadline = time.monotonic() + START_TIMEOUT
    # The lock is the socket's directory itself (flock works on a directory): no lock file
    # is left behind, and the directory is ours (checked above) or root's.
    fd = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise errors.ManagerUnavailable(
                        detail=f"another client is starting rasman at {target}; it never answered"
                    ) from None
                time.sleep(0.01)
        if _answers(target):
            return
        daemon = start_user_daemon(target)
        while not _answers(target):
            if daemon.poll() is not None:
                log = paths.default_state_dir() / "rasman.log"
                raise errors.ManagerUnavailable(
                    detail=f"rasman exited with status {daemon.returncode} (see {log})"
                )
            if time.monotonic() > deadline:
                raise errors.ManagerUnavailable(
                    detail=f"started rasman, but {target} never answered"
                )
            time.sleep(0.01)
    finally:
        os.close(fd)  # releases the lock


def start_user_daemon(socket_path: Path) -> subprocess.Popen[bytes]:
    """Start a detached per-user rasman that outlives this process."""
    import subprocess

    state = paths.default_state_dir()
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    log = os.open(state / "rasman.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "openras.manager",
                "--socket",
                str(socket_path),
                "--state-dir",
                str(state),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
        )
    finally:
        os.close(log)
