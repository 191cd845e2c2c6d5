"""Shared fixtures: a real rasman on a temp socket, and phonebooks of loopback entries."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

#: This run's stand-in for the machine's defaults (never the real /run/openras,
#: /var/lib/openras, /etc/openras or the user's own phonebook): see pytest_configure.
_SANDBOX = pytest.StashKey[Path]()


def pytest_configure(config: pytest.Config) -> None:
    """Point every default location at a private directory for the whole run.

    A test that forgets to isolate itself (a unit test whose rename tells the daemon about
    saved credentials, say) then talks to a socket nobody serves instead of starting, or
    editing through, the machine's real rasman. Tests that need a daemon get one from the
    ``rasman`` fixture; tests of auto-start build their own environment on top of this one.
    """
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="oras-run-"))
    root.chmod(0o755)
    config.stash[_SANDBOX] = root
    os.environ.update(
        OPENRAS_SOCKET=str(root / "nobody-serves-this.sock"),
        RUNTIME_DIRECTORY=str(root / "run"),
        STATE_DIRECTORY=str(root / "state"),
        XDG_RUNTIME_DIR=str(root / "xdg-run"),
        XDG_STATE_HOME=str(root / "xdg-state"),
        XDG_CONFIG_HOME=str(root / "xdg-config"),
        OPENRAS_SYSTEM_PHONEBOOK=str(root / "system.pbk"),
        OPENRAS_POLICY=str(root / "policy.conf"),  # none: the built-in policy
        OPENRAS_SYSTEM_SOCKET=str(root / "no-system-daemon.sock"),
        # No test daemon touches the machine's resolver; tests/links/test_dns.py sets its own.
        OPENRAS_DNS_BACKEND="none",
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop any daemon a test started in the sandbox without stopping it (by its PID), then
    remove the sandbox."""
    import shutil

    root = config.stash.get(_SANDBOX, None)
    if root is None:
        return
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            cmd = proc.info["cmdline"] or []
            if "openras.manager" in cmd and any(str(root) in part for part in cmd):
                print(f"\nstopping rasman {proc.pid} a test left running in {root}")
                proc.kill()
        except psutil.Error:
            continue
    shutil.rmtree(root, ignore_errors=True)


LOOPBACK_PBK = """\
[Demo]
Encoding=1
Type=2
PhoneNumber=loopback-demo
OpenRasDevice=loopback
OpenRasLoopbackStepMs=5
OpenRasLoopbackHangUpMs=20

[Secret]
OpenRasDevice=loopback
OpenRasLoopbackStepMs=5
OpenRasLoopbackPassword=s3cret
OpenRasLoopbackHangUpMs=20

[Dropper]
OpenRasDevice=loopback
OpenRasLoopbackStepMs=5
OpenRasLoopbackDropAfterMs=300
OpenRasLoopbackHangUpMs=20

[Slow]
OpenRasDevice=loopback
OpenRasLoopbackStepMs=5
OpenRasLoopbackHangUpMs=600

[Stubborn]
OpenRasDevice=loopback
OpenRasLoopbackStepMs=5
OpenRasLoopbackIgnoreHangUp=1
OpenRasKillDeadlineMs=300

[NoCarrier]
OpenRasDevice=loopback
OpenRasLoopbackStepMs=5
OpenRasLoopbackFailState=ConnectDevice
OpenRasLoopbackFailCode=678
"""


def wait_until(
    predicate, timeout: float = 10.0, interval: float = 0.01, what: str = "condition"
) -> None:
    """Poll ``predicate`` until true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@dataclass
class Rasman:
    """A running daemon: its socket, state dir, process, and the phonebook for tests."""

    socket: Path
    state_dir: Path
    phonebook: Path
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    def start(self) -> None:
        assert self.log is not None
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "openras.manager",
                    "--socket",
                    str(self.socket),
                    "--state-dir",
                    str(self.state_dir),
                    "--log-level",
                    "debug",
                ],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
            )
        wait_until(self.ready, 15, what="rasman to listen")

    def ready(self) -> bool:
        import socket as s

        if self.proc is not None and self.proc.poll() is not None:
            pytest.fail(
                f"rasman exited with {self.proc.returncode}: {self.log.read_text() if self.log else ''}"
            )
        sock = s.socket(s.AF_UNIX, s.SOCK_STREAM)
        try:
            sock.connect(str(self.socket))
            return True
        except OSError:
            return False
        finally:
            sock.close()

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "OPENRAS_SOCKET": str(self.socket)}

    def link_pids(self) -> list[int]:
        """Link processes this daemon's state dir spawned (marked in their environment)."""
        found = []
        for proc in psutil.process_iter(["pid", "cmdline"]):
            try:
                cmd = proc.info["cmdline"] or []
                ours = "openras.manager" not in cmd and any(
                    str(self.state_dir) in part for part in cmd
                )
                if ours and proc.status() != psutil.STATUS_ZOMBIE:
                    found.append(proc.pid)
            except psutil.Error:
                continue
        return found


@pytest.fixture
def fresh_rasapi() -> Iterator[None]:
    """rasapi keeps one session per process: start and end each in-process test without one,
    so it never talks to an earlier test's daemon."""
    from openras import rasapi

    def reset() -> None:
        with rasapi._lock:
            if rasapi._session is not None:
                rasapi._session.close()
            rasapi._session = None

    reset()
    yield
    reset()


@pytest.fixture
def phonebook(tmp_path: Path) -> Path:
    path = tmp_path / "rasphone.pbk"
    path.write_text(LOOPBACK_PBK)
    path.chmod(0o644)
    return path


@pytest.fixture
def system_phonebook(tmp_path: Path) -> Path:
    """Where the ``rasman`` fixture's daemon looks for the all-users phonebook (absent)."""
    return tmp_path / "system.pbk"


@pytest.fixture
def rasman(
    tmp_path: Path, phonebook: Path, system_phonebook: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Rasman]:
    """A real daemon on a temp socket; at the end no link process of it may be left."""
    sock_dir = Path(f"/tmp/oras-{os.getpid()}-{time.monotonic_ns()}")  # short: AF_UNIX path limit
    sock_dir.mkdir(mode=0o755)
    d = Rasman(
        socket=sock_dir / "rasman.sock",
        state_dir=tmp_path / "state",
        phonebook=phonebook,
        log=tmp_path / "rasman.log",
    )
    monkeypatch.setenv("OPENRAS_SOCKET", str(d.socket))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("OPENRAS_SYSTEM_PHONEBOOK", str(system_phonebook))
    d.start()
    try:
        yield d
    finally:
        # Hang up whatever a test left, then stop the daemon; links must not outlive that.
        leftovers: list[int] = []
        if d.proc is not None and d.proc.poll() is None:
            try:
                from openras.client import Client

                with Client(d.socket, autostart=False, timeout=10) as c:
                    for info in c.connections(include_pending=True):
                        try:
                            c.hang_up(info.handle, wait=True, timeout=15)
                        except Exception:
                            leftovers.append(info.handle)
            except Exception as exc:  # the daemon may be the thing under test; report, go on
                print(f"rasman fixture: could not hang up leftovers: {exc}")
        d.stop()
        stray = d.link_pids()
        for pid in stray:
            os.kill(pid, signal.SIGKILL)
        for p in sock_dir.iterdir():
            p.unlink()
        sock_dir.rmdir()
        assert not stray, f"link processes left behind: {stray}"
