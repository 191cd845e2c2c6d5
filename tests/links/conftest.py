"""Fixtures for link tests (real programs in network namespaces) and the CI no-skip rule.

A links test skips when it cannot run here (not root, a program missing). Under ``CI=true``
a skip would hide that the tier never ran, so there every skip in tests/links is turned into
a failure: per test in ``pytest_runtest_makereport`` and, for module-level skips, in
``pytest_collectreport``; ``pytest_sessionfinish`` is the backstop for the exit status.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Generator, Iterator, Mapping
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _linkkit import NsRasman, hang_up_all, start_rasman
from netns import NetnsLab, NsPair, require_programs, require_root_netns

HERE = Path(__file__).resolve().parent
_ci_skips: list[str] = []


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def _under_here(path: object) -> bool:
    try:
        return Path(str(path)).resolve().is_relative_to(HERE)
    except (OSError, ValueError):
        return False


def _skip_reason(longrepr: object) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, object, None]:
    outcome = yield
    rep = outcome.get_result()  # type: ignore[attr-defined]
    if in_ci() and rep.skipped and not hasattr(rep, "wasxfail") and _under_here(item.path):
        reason = _skip_reason(rep.longrepr)
        _ci_skips.append(f"{item.nodeid}: {reason}")
        rep.outcome = "failed"
        rep.longrepr = f"links test skipped while CI=true (this tier must run in CI): {reason}"


@pytest.hookimpl(tryfirst=True)  # before the terminal reporter files it as a skip
def pytest_collectreport(report: pytest.CollectReport) -> None:
    if in_ci() and report.skipped and _under_here(report.fspath):
        reason = _skip_reason(report.longrepr)
        _ci_skips.append(f"{report.nodeid}: {reason}")
        report.outcome = "failed"
        report.longrepr = f"links module skipped while CI=true: {reason}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _ci_skips and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _ci_skips:
        terminalreporter.section("links tests skipped under CI=true (counted as failures)")
        for line in _ci_skips:
            terminalreporter.write_line(line)


@pytest.fixture
def netns_lab(tmp_path: Path) -> Iterator[NetnsLab]:
    """A lab whose processes and namespaces are all gone after the test, pass or fail."""
    require_root_netns()
    lab = NetnsLab(workdir=tmp_path)
    try:
        yield lab
    finally:
        lab.close()


@pytest.fixture
def netns_pair(netns_lab: NetnsLab) -> NsPair:
    """Namespaces ``a``/``b`` with ``addr_a``/``addr_b`` on a veth /30."""
    require_programs("ping")
    return netns_lab.create_pair()


@pytest.fixture
def rasman_b(
    netns_lab: NetnsLab, netns_pair: NsPair, tmp_path: Path
) -> Iterator[Callable[..., NsRasman]]:
    """Start a real rasman inside namespace B: ``rasman_b(env=None)`` -> NsRasman.

    Its socket lives in a short temp dir (AF_UNIX path limit). On teardown whatever is still
    dialed is hung up; the lab then stops rasman and anything left in B by pid.
    """
    sock_dir = Path(tempfile.mkdtemp(prefix="orlk-"))
    started: list[NsRasman] = []

    def start(env: Mapping[str, str] | None = None) -> NsRasman:
        n = len(started)
        rm = NsRasman(
            sock_dir / f"rasman{n}.sock", tmp_path / f"state{n}", tmp_path / f"rasman{n}.log"
        )
        started.append(rm)
        return start_rasman(netns_lab, netns_pair.b, rm, tmp_path / "config", env)

    try:
        yield start
    finally:
        for rm in started:
            if rm.proc is not None and rm.proc.poll() is None:
                hang_up_all(rm.socket)
        shutil.rmtree(sock_dir, ignore_errors=True)
