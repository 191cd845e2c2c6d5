"""rasman running inside a test's network namespace, for end-to-end link tests.

The socket is a path, so a test dials through the client library (or runs a CLI) from
outside the namespace; the daemon's links live inside it. :func:`rasman_in` starts one with
a private config and phonebook environment and, at the end, hangs up whatever a test left
(so no link program outlives the test) and removes its socket directory.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
from netns import NetnsLab, pids_in_netns, wait_until

from openras.client import Client


@dataclass
class Daemon:
    lab: NetnsLab
    ns: str
    socket: Path
    state_dir: Path
    log: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = self.lab.spawn(
            self.ns,
            [sys.executable, "-m", "openras.manager", "--socket", str(self.socket),
             "--state-dir", str(self.state_dir), "--log-level", "debug"],
            log=self.log, env=self.env,
        )  # fmt: skip
        proc = self.proc
        ok = wait_until(lambda: self._answers() or proc.poll() is not None, 15)
        assert ok and proc.poll() is None, self.log.read_text()

    def _answers(self) -> bool:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            try:
                s.connect(str(self.socket))
            except OSError:
                return False
            return True

    def client(self) -> Client:
        return Client(self.socket, autostart=False, timeout=30)

    def hang_up_all(self) -> None:
        with self.client() as c:
            for info in c.connections(include_pending=True):
                c.hang_up(info.handle, wait=True, timeout=15)


@contextlib.contextmanager
def rasman_in(lab: NetnsLab, ns: str, tmp: Path, **env: str) -> Iterator[Daemon]:
    """A started rasman in ``ns`` (state, log and config under ``tmp``; ``env`` added)."""
    sock_dir = Path(f"/tmp/oras-ns-{os.getpid()}-{time.monotonic_ns()}")  # AF_UNIX path limit
    sock_dir.mkdir(mode=0o755)
    full_env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        "XDG_CONFIG_HOME": str(tmp / "config"),
        "OPENRAS_SYSTEM_PHONEBOOK": str(tmp / "system.pbk"),
        **env,
    }
    d = Daemon(lab, ns, sock_dir / "rasman.sock", tmp / "state", tmp / "rasman.log", full_env)
    try:
        d.start()
        yield d
    finally:
        if d.proc is not None and d.proc.poll() is None:
            try:
                d.hang_up_all()
            except Exception as exc:
                print(f"rasman_in: could not hang up leftovers: {exc}")
        for p in sock_dir.iterdir():
            p.unlink()
        sock_dir.rmdir()


def program_pids(ns: str, name: str) -> list[int]:
    """The live (not zombie) processes called ``name`` in namespace ``ns``."""
    out = []
    for pid in pids_in_netns(ns):
        try:
            p = psutil.Process(pid)
            if p.name() == name and p.status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.Error:
            continue
    return out
