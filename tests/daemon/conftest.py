"""Fixtures for the daemon tests (the daemon itself is the shared ``rasman`` fixture)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rasman_helpers import EXTRA_PBK, pids_matching, rasman_pids, state_dir_of, terminate


@pytest.fixture
def extra_pbk(tmp_path: Path) -> Path:
    """A second phonebook: SlowDial (2.5 s to connect), Redialer (redials once), Other."""
    path = tmp_path / "extra.pbk"
    path.write_text(EXTRA_PBK)
    return path


@pytest.fixture
def other_user() -> Iterator[tuple[int, int]]:
    if os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("setpriv"):
        pytest.skip("needs root, useradd and setpriv")
    name = f"orastest{os.getpid() % 100000}"
    subprocess.run(
        ["useradd", "-M", "-r", "-s", "/usr/sbin/nologin", name], check=True, capture_output=True
    )
    try:
        out = subprocess.run(["id", "-u", name], capture_output=True, text=True, check=True)
        uid = int(out.stdout)
        gid = int(
            subprocess.run(["id", "-g", name], capture_output=True, text=True, check=True).stdout
        )
        yield uid, gid
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)


@pytest.fixture
def default_root() -> Iterator[Path]:
    """A short temp root (AF_UNIX path limit) for a default-path daemon; kills it at the end."""
    root = Path(f"/tmp/orasd-{os.getpid()}-{time.monotonic_ns()}")
    root.mkdir(mode=0o700)
    try:
        yield root
    finally:
        for pid in rasman_pids(state_dir_of(root)):
            terminate(pid)
        stray = pids_matching(lambda cmd: any(str(root) in part for part in cmd))
        for pid in stray:
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)
        assert not stray, f"link processes left behind: {stray}"
