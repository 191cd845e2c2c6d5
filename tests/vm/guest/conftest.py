"""Guest-side fixtures: one pair of namespaces and one rasman for the whole guest session.

These tests run only inside the VM (``tests/vm/guest_run.sh`` sets ``OPENRAS_VM_GUEST=1``);
anywhere else they are skipped (the host's session does not even collect them). Under TCG
Python runs 5-10x slower and rasman takes 10-30 s to start, so rasman is started as soon as
the session begins (in namespace B) and tests that need it wait for it then.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "links"))

from _linkkit import NsRasman, hang_up_all
from netns import NetnsLab, NsPair

IN_GUEST = os.environ.get("OPENRAS_VM_GUEST") == "1"

#: rasman's start under TCG measured 10-30 s; the deadline leaves room for a loaded host.
RASMAN_START_S = 120.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if IN_GUEST:
        return
    skip = pytest.mark.skip(reason="needs the VM's kernel: run tests/vm/test_tier.py")
    here = Path(__file__).resolve().parent
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetnsLab]:
    """A lab whose processes and namespaces are gone at the end of the guest session."""
    lab = NetnsLab(workdir=tmp_path_factory.mktemp("lab"))
    try:
        yield lab
    finally:
        lab.close()


@pytest.fixture(scope="session")
def pair(lab: NetnsLab) -> NsPair:
    """Namespaces ``a`` (servers) and ``b`` (rasman, clients) on one veth /30."""
    return lab.create_pair()


@pytest.fixture(scope="session", autouse=True)
def rasman_started(
    lab: NetnsLab, pair: NsPair, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NsRasman]:
    """rasman in B, started at once and not waited for here (see :func:`rasman`)."""
    sock_dir = Path(tempfile.mkdtemp(prefix="orvm-"))  # short: AF_UNIX path limit
    base = tmp_path_factory.mktemp("rasman")
    rm = NsRasman(sock_dir / "rasman.sock", base / "state", base / "rasman.log")
    env = {**os.environ, "XDG_CONFIG_HOME": str(base / "config")}
    argv = [sys.executable, "-m", "openras.manager", "--socket", str(rm.socket),
            "--state-dir", str(rm.state_dir), "--log-level", "debug"]  # fmt: skip
    rm.proc = lab.spawn(pair.b, argv, log=rm.log, env=env)
    try:
        yield rm
    finally:
        if rm.proc.poll() is None:
            hang_up_all(rm.socket)
        shutil.rmtree(sock_dir, ignore_errors=True)


@pytest.fixture
def rasman(rasman_started: NsRasman) -> NsRasman:
    """The session's rasman once it answers (bounded wait; it fails if rasman exited)."""
    deadline = time.monotonic() + RASMAN_START_S
    while not rasman_started.ready():
        assert time.monotonic() < deadline, f"rasman did not answer in {RASMAN_START_S:.0f} s"
        time.sleep(0.05)
    return rasman_started
