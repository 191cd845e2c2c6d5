"""Fixtures for the command-line tests: the shared ``rasman`` daemon, run the commands.

The shared fixture (tests/conftest.py) starts rasman on a temp socket, sets OPENRAS_SOCKET
and XDG_CONFIG_HOME, and checks at teardown that no link process is left. Here the phonebook
is placed where the user's own phonebook lives under that XDG_CONFIG_HOME, so commands find
entries exactly as a user's would, without /PHONEBOOK: or --phonebook.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cli_support import CLI_PBK, Cli


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


@pytest.fixture
def cli(rasman: Any) -> Cli:
    return Cli(rasman)
