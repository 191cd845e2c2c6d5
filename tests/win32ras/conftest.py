"""Fixtures for win32ras: the ``win32ras`` shim on PYTHONPATH and a runner for Windows-style
scripts, each a subprocess talking to the test's real rasman."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from w32_support import SCRIPTS

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def shim_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the ``win32ras.py`` shim, written by the documented one-liner."""
    d = tmp_path_factory.mktemp("shim")
    subprocess.run(
        [sys.executable, "-m", "openras.win32ras", "--install-shim", str(d)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return d


@pytest.fixture
def user_book(rasman) -> Path:
    """The fixture phonebook copied to the user's default phonebook (fileName None finds it)."""
    from openras import paths

    dest = paths.user_phonebook()
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(rasman.phonebook, dest)
    return dest


@pytest.fixture
def script_env(rasman, shim_dir: Path) -> dict[str, str]:
    env = dict(rasman.env)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(shim_dir), env.get("PYTHONPATH")) if p)
    return env


@pytest.fixture
def run(script_env: dict[str, str]) -> Run:
    """``run("script.py", *args)``: the script's CompletedProcess (stdin not a terminal)."""

    def run(script: str, *args: object, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(SCRIPTS / script), *map(str, args)],
            env=script_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    return run
