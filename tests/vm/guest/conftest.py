"""Guest-side fixtures: one pair of namespaces and one rasman for the whole guest session.

These tests run only inside the VM (``tests/vm/guest_run.sh`` sets ``OPENRAS_VM_GUEST=1``);
anywhere else they are skipped (the host's session does not even collect them). Under TCG
Python runs 5-10x slower and rasman takes 10-30 s to start, so rasman is started as soon as
the session begins (in namespace B) and tests that need it wait for it then.

The guest kernel loads what it has on demand, except character devices no udev creates:
``/dev/net/tun`` appears only after ``modprobe tun`` (so wireguard-go and openvpn fail with 797
until then), ``/dev/ppp`` after ``modprobe ppp_generic``.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "links"))

from _linkkit import NsRasman, hang_up_all
from _vmkit import RASMAN_START_S, rasman_argv, rasman_env
from netns import NetnsLab, NsPair

IN_GUEST = os.environ.get("OPENRAS_VM_GUEST") == "1"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--bench-reps", type=int, default=5,
        help="rounds per side of the VM benchmarks (bench_*.py; bench/bench_vm.py passes it)",
    )  # fmt: skip


@pytest.fixture
def bench_reps(request: pytest.FixtureRequest) -> int:
    return int(request.config.getoption("--bench-reps"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """In the VM: tests that do not need rasman first, while it starts. Elsewhere: skip."""
    if IN_GUEST:
        items.sort(key=lambda item: "rasman" in getattr(item, "fixturenames", ()))
        return
    skip = pytest.mark.skip(reason="needs the VM's kernel: run tests/vm/test_tier.py")
    here = Path(__file__).resolve().parent
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Generator[None, Any, None]:
    """A failing test that used rasman carries the end of rasman's log (junit's system-out
    takes sections named "Captured stdout ...", so the host shows it with the failure)."""
    outcome = yield
    rep = outcome.get_result()
    rm = getattr(item, "funcargs", {}).get("rasman")
    if rep.failed and isinstance(rm, NsRasman) and rm.log.exists():
        tail = rm.log.read_text(errors="replace").splitlines()[-80:]
        rep.sections.append(("Captured stdout rasman.log (last 80 lines)", "\n".join(tail)))


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
    rm.proc = lab.spawn(pair.b, rasman_argv(rm), log=rm.log, env=rasman_env(rm))
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


@pytest.fixture
def api(rasman: NsRasman, monkeypatch: pytest.MonkeyPatch, fresh_rasapi: None) -> None:
    """The Win32-shaped API (rasapi's process-wide session) pointed at the session's rasman,
    with no session of an earlier test's before it or after it."""
    monkeypatch.setenv("OPENRAS_SOCKET", str(rasman.socket))
