"""The links tier must run in CI: under ``CI=true`` a skipped links test fails the run.

A real pytest run in a child process over throwaway test files placed under tests/links
(in a dot-directory, which normal collection never enters), so the real conftest applies.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

PROBES = {
    "test_skips.py": (
        "import pytest\n\n"
        "def test_passes():\n    assert True\n\n"
        "def test_skips():\n    pytest.skip('program not installed')\n"
    ),
    "test_module_skip.py": (
        "import pytest\n\npytest.skip('not root', allow_module_level=True)\n\n"
        "def test_never():\n    assert False\n"
    ),
}


@pytest.fixture
def probe_dir() -> Iterator[Path]:
    d = HERE / f".ci-probe-{os.getpid()}"
    d.mkdir()
    try:
        for name, text in PROBES.items():
            (d / name).write_text(text)
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _pytest(d: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.pop("CI", None)
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(d)],
        cwd=HERE.parents[1], env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_skips_fail_the_run_under_ci(probe_dir: Path) -> None:
    res = _pytest(probe_dir, "true")
    out = res.stdout + res.stderr
    assert res.returncode == pytest.ExitCode.TESTS_FAILED, out
    assert "links test skipped while CI=true" in out, out
    assert "links module skipped while CI=true" in out, out
    assert "program not installed" in out and "not root" in out, out
    assert "1 passed" in out, out


def test_skips_are_skips_outside_ci(probe_dir: Path) -> None:
    res = _pytest(probe_dir, None)
    out = res.stdout + res.stderr
    assert res.returncode == pytest.ExitCode.OK, out
    assert "1 passed, 2 skipped" in out, out
