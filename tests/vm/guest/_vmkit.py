"""Guest-tier helpers shared by its conftest and tests: how the session's rasman is run."""

from __future__ import annotations

import os
import sys

from _linkkit import NsRasman

#: rasman's start under TCG measured 10-30 s; the deadline leaves room for a loaded host.
RASMAN_START_S = 120.0


def rasman_argv(rm: NsRasman) -> list[str]:
    return [sys.executable, "-m", "openras.manager", "--socket", str(rm.socket),
            "--state-dir", str(rm.state_dir), "--log-level", "debug"]  # fmt: skip


def rasman_env(rm: NsRasman) -> dict[str, str]:
    return {**os.environ, "XDG_CONFIG_HOME": str(rm.state_dir.parent / "config")}
