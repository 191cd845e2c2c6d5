"""Fixtures for the daemon tests (the daemon itself is the shared ``rasman`` fixture)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rasman_helpers import EXTRA_PBK


@pytest.fixture
def extra_pbk(tmp_path: Path) -> Path:
    """A second phonebook: SlowDial (2.5 s to connect), Redialer (redials once), Other."""
    path = tmp_path / "extra.pbk"
    path.write_text(EXTRA_PBK)
    return path


@pytest.fixture
def fresh_rasapi() -> Iterator[None]:
    """rasapi keeps one session per process: start and end each test without one."""
    from openras import rasapi

    def reset() -> None:
        with rasapi._lock:
            if rasapi._session is not None:
                rasapi._session.close()
            rasapi._session = None

    reset()
    yield
    reset()
