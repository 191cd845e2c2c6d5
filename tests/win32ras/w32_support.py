"""What the win32ras tests share besides fixtures (a module name no other test dir uses)."""

from __future__ import annotations

from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent / "scripts"


def lines(out: str) -> list[str]:
    return [line.rstrip() for line in out.splitlines()]
