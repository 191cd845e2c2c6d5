"""What the command-line tests share besides fixtures: the commands, a runner, a pty helper.

A module of its own (not conftest) so that test modules import it by a name no other test
directory uses.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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
