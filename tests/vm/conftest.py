"""The VM tier's outer side: keep the guest tests out of the host's session; report timings.

``tests/vm/guest`` needs the VM's kernel (PPP, WireGuard modules), so the host's session never
collects it; ``test_tier.py`` boots the VM once and runs it there (``guest_run.sh`` sets
``OPENRAS_VM_GUEST=1``, which lets the guest session collect it).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import vmrun

collect_ignore = [] if os.environ.get("OPENRAS_VM_GUEST") == "1" else ["guest"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for run in vmrun.RUNS:
        terminalreporter.section("VM tier")
        terminalreporter.write_line(run.summary())
