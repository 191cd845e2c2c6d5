"""Run the atheris phonebook harness briefly (the property itself lives in fuzz/fuzz_pbk.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_fuzz_phonebook_parser_bounded(tmp_path: Path) -> None:
    pytest.importorskip("atheris")
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
