"""Run the atheris phonebook harness briefly (the property itself lives in fuzz/fuzz_pbk.py).

In CI (``CI=true``) a missing atheris is a failure, not a skip: the harness must really run.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _need_atheris() -> None:
    if importlib.util.find_spec("atheris") is not None:
        return
    if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        pytest.fail("atheris is not installed, and CI must run the phonebook fuzz harness")
    pytest.skip("atheris is not installed (CI=true makes this a failure)")


def test_fuzz_phonebook_parser_bounded(tmp_path: Path) -> None:
    _need_atheris()
    seeds = tmp_path / "seeds"
    shutil.copytree(ROOT / "tests" / "unit" / "pbk_corpus", seeds)
    for p in seeds.iterdir():
        if p.suffix != ".pbk":
            p.unlink()
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "fuzz" / "fuzz_pbk.py"),
            "-max_total_time=2",
            "-max_len=4096",
            "-rss_limit_mb=2048",
            str(seeds),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Done" in proc.stderr


def test_fuzz_missing_atheris_fails_in_ci(tmp_path: Path) -> None:
    """The CI rule itself: this file run with CI=true where atheris cannot be found."""
    (tmp_path / "sitecustomize.py").write_text(
        "import importlib.util\n"
        "_real = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda n, *a, **k: None if n == 'atheris' else _real(n, *a, **k)\n"
    )
    env = {**os.environ, "CI": "true", "PYTHONPATH": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "bounded", __file__],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
        check=False,
    )
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert "CI must run the phonebook fuzz harness" in proc.stdout
