"""``python -m openras.win32ras --install-shim``: after it, ``import win32ras`` is openras's."""

from __future__ import annotations

import os
import site
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = (
    "import win32ras, pywintypes, openras.win32ras as o\n"
    "from openras import pywintypes as op\n"
    "print(win32ras.Dial is o.Dial, win32ras.error is o.error is pywintypes.error is op.error,\n"
    "      pywintypes.com_error is op.com_error, sorted(pywintypes.__all__),\n"
    "      sum(n.startswith('RASCS_') for n in dir(win32ras)), win32ras.__file__)\n"
)
PROBED = "True True True ['com_error', 'error'] 32"


def wrote(directory: Path) -> list[str]:
    """What --install-shim prints for ``directory``: every shim, win32ras first."""
    return [
        f"wrote {directory / name}"
        for name in ("win32ras.py", "pywintypes.py", "win32event.py", "win32api.py")
    ]


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "openras.win32ras", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def probe(env: dict[str, str]) -> str:
    p = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=60
    )
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def test_install_into_a_directory(tmp_path: Path):
    p = cli("--install-shim", str(tmp_path))
    assert p.returncode == 0, p.stderr
    shim = tmp_path / "win32ras.py"
    assert p.stdout.splitlines() == wrote(tmp_path)
    assert "from openras.win32ras import *" in shim.read_text()
    assert "from openras.pywintypes import *" in (tmp_path / "pywintypes.py").read_text()
    out = probe({**os.environ, "PYTHONPATH": str(tmp_path)})
    assert out == f"{PROBED} {shim}"
    assert cli("--install-shim", str(tmp_path)).returncode == 0  # ours: replaced quietly


def test_install_into_user_site_packages(tmp_path: Path):
    if not site.ENABLE_USER_SITE:
        pytest.skip("this Python does not read the user site-packages")
    env = {**os.environ, "PYTHONUSERBASE": str(tmp_path / "userbase")}
    env.pop("PYTHONNOUSERSITE", None)
    p = cli("--install-shim", env=env)
    assert p.returncode == 0, p.stderr
    target = Path(p.stdout.splitlines()[0].split(" ", 1)[1])
    assert target.is_relative_to(tmp_path / "userbase")
    assert p.stdout.splitlines() == wrote(target.parent)
    assert probe(env) == f"{PROBED} {target}"


def test_a_foreign_win32ras_is_kept_unless_forced(tmp_path: Path):
    foreign = tmp_path / "win32ras.py"
    foreign.write_text("# somebody else's module\n")
    p = cli("--install-shim", str(tmp_path))
    assert p.returncode == 1
    assert "not an openras shim" in p.stderr
    assert foreign.read_text() == "# somebody else's module\n"
    assert cli("--install-shim", str(tmp_path), "--force").returncode == 0
    assert "from openras.win32ras import *" in foreign.read_text()


def test_a_foreign_pywintypes_is_kept_and_nothing_is_written(tmp_path: Path):
    """Either file foreign: neither is written (no half-installed pair) unless forced."""
    foreign = tmp_path / "pywintypes.py"
    foreign.write_text("# the real pywin32's, say\n")
    p = cli("--install-shim", str(tmp_path))
    assert p.returncode == 1
    assert f"{foreign} exists and is not an openras shim" in p.stderr
    assert foreign.read_text() == "# the real pywin32's, say\n"
    assert not (tmp_path / "win32ras.py").exists()
    p = cli("--install-shim", str(tmp_path), "--force")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == wrote(tmp_path)
    assert "from openras.pywintypes import *" in foreign.read_text()


def test_usage_without_arguments():
    p = cli()
    assert p.returncode == 2
    assert "--install-shim" in p.stdout


DOC = Path(__file__).resolve().parents[2] / "docs" / "win32ras.md"


def test_no_empty_package_extra_pretends_to_install_the_shim():
    """An extra with no requirements installs nothing; the shim is documented instead."""
    import tomllib

    project = tomllib.loads((DOC.parents[1] / "pyproject.toml").read_text())["project"]
    extras = project.get("optional-dependencies", {})
    assert all(extras.values()), {k: v for k, v in extras.items() if not v}
    assert "--install-shim" in DOC.read_text()


def test_the_documented_directory_recipe_works(tmp_path: Path):
    """docs/win32ras.md's second recipe, run as written (with this Python and a temp DIR)."""
    text = DOC.read_text()
    install = "python3 -m openras.win32ras --install-shim ~/lib/win32ras-shim"
    run = "PYTHONPATH=~/lib/win32ras-shim python3 their_script.py"
    assert install in text
    assert run in text
    script = tmp_path / "their_script.py"
    script.write_text(PROBE)
    home = tmp_path / "home"
    env = {
        **os.environ,
        "HOME": str(home),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    shell = f"cd {tmp_path} && {install.replace('python3', sys.executable)} && " + run.replace(
        "python3", sys.executable
    )
    p = subprocess.run(["sh", "-c", shell], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    shim = home / "lib" / "win32ras-shim" / "win32ras.py"
    assert p.stdout.splitlines() == [*wrote(shim.parent), f"{PROBED} {shim}"]
