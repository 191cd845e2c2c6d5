"""Fixtures for the command-line tests: the shared ``rasman`` daemon, run the commands.

The shared fixture (tests/conftest.py) starts rasman on a temp socket, sets OPENRAS_SOCKET
and XDG_CONFIG_HOME, and checks at teardown that no link process is left. Here the phonebook
is placed where the user's own phonebook lives under that XDG_CONFIG_HOME, so commands find
entries exactly as a user's would, without /PHONEBOOK: or --phonebook.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

#: Extra entries the CLI tests need (the shared book has Demo, Secret, Dropper, Slow, ...).
CLI_PBK = """
[Plodding]
OpenRasDevice=loopback
OpenRasLoopbackStepMs=150
OpenRasLoopbackHangUpMs=20

[Second]
OpenRasDevice=loopback
OpenRasLoopbackStepMs=5
OpenRasLoopbackHangUpMs=20
"""

TIMEOUT = 60


def command(name: str, module: str) -> list[str]:
    """The installed console script next to this Python, else ``python -m module``."""
    found = shutil.which(name, path=os.path.dirname(sys.executable))
    return [found] if found else [sys.executable, "-m", module]


RASDIAL = command("rasdial", "openras.cli.rasdial")
OPENRAS = command("openras", "openras.cli.openras")


@pytest.fixture
def phonebook(phonebook: Path, tmp_path: Path) -> Path:
    """The shared loopback entries (and a few more) as the user's own phonebook.

    Requests the shared fixture of the same name for its entries; the daemon fixture sets
    XDG_CONFIG_HOME to ``tmp_path/config``.
    """
    path = tmp_path / "config" / "openras" / "rasphone.pbk"
    path.parent.mkdir(parents=True)
    path.write_text(phonebook.read_text() + CLI_PBK)
    path.chmod(0o644)
    return path


@dataclass
class Cli:
    """Runs ``rasdial`` and ``openras`` as subprocesses against the test's daemon."""

    daemon: Any  # tests/conftest.py's Rasman

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("NO_COLOR", None)
        env["OPENRAS_SOCKET"] = str(self.daemon.socket)
        return env

    def run(
        self, argv: Sequence[str], *, input: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            list(argv),
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            env=env or self.env,
            timeout=TIMEOUT,
            check=False,
        )
        assert "Traceback" not in result.stderr, result.stderr
        return result

    def rasdial(self, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
        return self.run([*RASDIAL, *args], **kw)  # type: ignore[arg-type]

    def openras(self, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
        return self.run([*OPENRAS, *args], **kw)  # type: ignore[arg-type]


@pytest.fixture
def cli(rasman: Any) -> Cli:
    return Cli(rasman)


def on_pty(cli: Cli, *args: str, env: dict[str, str] | None = None) -> tuple[int | None, str]:
    """Run ``openras ARGS`` on a pseudo-terminal to the end: (exit status, all it wrote)."""
    import io

    import pexpect

    transcript = io.StringIO()
    child = pexpect.spawn(
        OPENRAS[0], [*OPENRAS[1:], *args], env=env or cli.env, encoding="utf-8", timeout=TIMEOUT
    )
    child.logfile_read = transcript
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus, transcript.getvalue()


def lines(text: str) -> list[str]:
    """Output split into lines without terminators."""
    return text.splitlines()
