"""Helpers for the daemon tests: polling with deadlines, a raw wire client, event capture."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from openras import Client, errors
from openras.wire import protocol as P
from openras.wire.codec import FrameDecoder, encode
from openras.wire.transport import Transport

#: More loopback entries than the shared book has (written to their own phonebook file).
EXTRA_PBK = """\
[SlowDial]
OpenRasDevice=loopback
OpenRasLoopbackStepMs=250
OpenRasLoopbackHangUpMs=400

[Redialer]
OpenRasDevice=loopback
OpenRasLoopbackStepMs=5
OpenRasLoopbackDropAfterMs=250
OpenRasLoopbackHangUpMs=20
RedialOnLinkFailure=1
RedialAttempts=1
RedialSeconds=0

[PatientRedialer]
OpenRasDevice=loopback
OpenRasLoopbackStepMs=5
OpenRasLoopbackDropAfterMs=250
OpenRasLoopbackHangUpMs=20
RedialOnLinkFailure=1
RedialAttempts=1
RedialSeconds=1

[Other]
OpenRasDevice=loopback
OpenRasLoopbackStepMs=5
OpenRasLoopbackHangUpMs=20
"""

#: Bytes one heartbeat of the loopback program carries (program.PAYLOAD).
HEARTBEAT = len(b"openras-loopback-heartbeat-0123456789abcdef")


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something true; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


def is_gone(client: Client, handle: int) -> bool:
    try:
        client.status(handle)
    except errors.InvalidHandle:
        return True
    return False


def handles(infos: list[Any]) -> list[int]:
    return [i.handle for i in infos]


def pending(client: Client, entry: str) -> int:
    """The handle of ``entry``'s attempt once the daemon lists it (include_pending), else 0."""
    for info in client.connections(include_pending=True):
        if info.entry == entry and info.phase == "dialing":
            return info.handle
    return 0


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class Raw:
    """A client that speaks the wire by hand (to send what no real client would)."""

    def __init__(self, path: Path, timeout: float = 10.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.decoder = FrameDecoder()
        self.inbox: list[dict[str, Any]] = []

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def recv(self) -> dict[str, Any] | None:
        """The next message, or None when the daemon closed the connection."""
        while not self.inbox:
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                return None
            if not data:
                return None
            self.inbox.extend(self.decoder.feed(data))
        return self.inbox.pop(0)

    def call(self, method: str, params: Any = None, **extra: Any) -> dict[str, Any] | None:
        msg = {"method": method, "parameters": {} if params is None else params, **extra}
        self.send(encode(msg))
        return self.recv()

    def closed_by_peer(self) -> bool:
        """True once the daemon has closed its end (EOF or reset), after whatever it sent
        before closing (an error reply, say); False if it stays open (the socket's timeout)."""
        try:
            return any(self.sock.recv(65536) == b"" for _ in range(64))
        except ConnectionResetError:
            return True


class Events:
    """A Subscribe stream collected on a thread; subscribed before the constructor returns."""

    def __init__(self, path: Path, handle: int | None = None) -> None:
        self.t = Transport(path, timeout=None)
        self.stream = self.t.stream(P.SUBSCRIBE, {} if handle is None else {"handle": handle})
        first = next(self.stream)
        assert first == {"event": "subscribed"}
        self.items: list[dict[str, Any]] = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for msg in self.stream:
                with self.cond:
                    self.items.append(msg)
                    self.cond.notify_all()
        except (errors.RasError, OSError, ValueError):
            pass

    def wait_for(
        self, pred: Callable[[dict[str, Any]], bool], timeout: float = 10.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for item in self.items:
                    if pred(item):
                        return item
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"no matching event in {timeout}s; got {self.items}")
                self.cond.wait(left)

    def of(self, handle: int) -> list[dict[str, Any]]:
        with self.cond:
            return [e for e in self.items if e.get("handle") == handle]

    def close(self) -> None:
        import contextlib

        with contextlib.suppress(OSError):
            self.t.sock.shutdown(socket.SHUT_RDWR)
        self.t.close()
        self.thread.join(5)


def pids_matching(pred: Callable[[list[str]], bool]) -> list[int]:
    """Live (not zombie) processes whose command line satisfies ``pred``."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if pred(proc.info["cmdline"] or []) and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc.pid)
        except psutil.Error:
            continue
    return found


def rasman_pids(state_dir: Path) -> list[int]:
    """Live rasman processes serving ``state_dir`` (found by their command line)."""
    return pids_matching(lambda cmd: "openras.manager" in cmd and str(state_dir) in cmd)


def terminate(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM ``pid``, SIGKILL it if it is still there after ``timeout``."""
    import signal

    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    try:
        psutil.Process(pid).wait(timeout)
    except psutil.TimeoutExpired:
        os.kill(pid, signal.SIGKILL)
    except psutil.NoSuchProcess:
        pass


def state_dir_of(root: Path) -> Path:
    """The default state dir inside a :func:`default_env` root (root's or a user's)."""
    return root / "state" if os.geteuid() == 0 else root / "xdg-state" / "openras"


def default_env(root: Path) -> dict[str, str]:
    """An environment whose *default* socket and state dir live under ``root`` (no override).

    As root the defaults come from RUNTIME_DIRECTORY/STATE_DIRECTORY (systemd's names), as a
    user from the XDG variables; both are set so the test means the same either way.
    """
    env = {k: v for k, v in os.environ.items() if k != "OPENRAS_SOCKET"}
    env.update(
        RUNTIME_DIRECTORY=str(root / "run"),
        STATE_DIRECTORY=str(root / "state"),
        XDG_RUNTIME_DIR=str(root / "xdg-run"),
        XDG_STATE_HOME=str(root / "xdg-state"),
        XDG_CONFIG_HOME=str(root / "config"),
        OPENRAS_SYSTEM_PHONEBOOK=str(root / "system.pbk"),
    )
    return env


def python_for(uid: int, gid: int) -> str | None:
    """A python3 the other user may execute (the test venv may live under /root)."""
    for candidate in (sys.executable, "/usr/bin/python3", shutil.which("python3") or ""):
        if not candidate:
            continue
        probe = subprocess.run(
            [
                "setpriv",
                f"--reuid={uid}",
                f"--regid={gid}",
                "--clear-groups",
                candidate,
                "-c",
                "print(1)",
            ],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == "1":
            return candidate
    return None


@contextlib.asynccontextmanager
async def in_process_daemon(state_dir: Path, tag: str) -> AsyncIterator[tuple[Any, Any, Path]]:
    """A Manager and Server in this event loop on a short temp socket: (manager, server, sock)."""
    from openras.manager.server import Server
    from openras.manager.service import Manager

    sock = Path(f"/tmp/oras-{tag}-{os.getpid()}-{time.monotonic_ns()}.sock")
    manager = Manager(state_dir)
    await manager.start()
    server = Server(manager, sock)
    await server.start()
    try:
        yield manager, server, sock
    finally:
        await server.close()
        await manager.shutdown()  # links outlive the daemon by design: none may be left
        stray = pids_matching(lambda cmd: any(str(state_dir) in part for part in cmd))
        for pid in stray:
            os.kill(pid, 9)
        assert not stray, f"link processes left behind: {stray}"
