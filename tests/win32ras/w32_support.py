"""What the win32ras tests share besides fixtures (a module name no other test dir uses)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent / "scripts"


def lines(out: str) -> list[str]:
    return [line.rstrip() for line in out.splitlines()]


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "it") -> None:
    """Poll ``predicate`` (a state the daemon reaches by itself) until true; fail after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)
