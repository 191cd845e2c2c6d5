"""The phonebook the rasphone tests dial (the daemon is the shared ``rasman`` fixture)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_support import BOOK


@pytest.fixture
def book(tmp_path: Path) -> Path:
    path = tmp_path / "book.pbk"
    path.write_text(BOOK)
    return path
