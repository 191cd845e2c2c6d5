"""Options of the chaos soak: how long it runs and with which seed.

The default is the short run CI does (a bounded number of steps, well under a minute on a
2-core machine); ``--soak-minutes N`` runs the long one by hand, and ``--soak-seed S`` (or
``OPENRAS_SOAK_SEED``) replays a failing run's choices. The pytest timeout of a soak test
grows with ``--soak-minutes`` so that a long run is not cut short by the global one.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
# The daemon tests' helpers (polling, pid lookup) and the namespace lab, reused as they are.
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "daemon"))
sys.path.insert(0, str(HERE.parent / "links"))


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("soak", "the chaos soak (tests/soak)")
    group.addoption(
        "--soak-minutes",
        type=float,
        default=None,
        help="run the chaos soak for this many minutes (default: the short CI run)",
    )
    group.addoption(
        "--soak-seed",
        type=int,
        default=None,
        help="the soak's random seed (default: OPENRAS_SOAK_SEED, else a fresh one, printed)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    minutes = config.getoption("--soak-minutes", default=None)
    if not minutes:
        return
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.timeout(int(minutes * 60) + 300))
