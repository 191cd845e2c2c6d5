"""Guest-tier helpers shared by its conftest and tests: how the session's rasman is run."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path

import psutil
from _linkkit import NsRasman
from netns import NetnsLab, NsPair, wait_until

#: rasman's start under TCG measured 10-30 s; the deadline leaves room for a loaded host.
RASMAN_START_S = 120.0


def rasman_argv(rm: NsRasman) -> list[str]:
    return [sys.executable, "-m", "openras.manager", "--socket", str(rm.socket),
            "--state-dir", str(rm.state_dir), "--log-level", "debug"]  # fmt: skip


def rasman_env(rm: NsRasman) -> dict[str, str]:
    """The session's rasman: its own config home, and the machine's dialing location at
    :func:`location_file` (absent unless a test writes it)."""
    return {
        **os.environ,
        "XDG_CONFIG_HOME": str(rm.state_dir.parent / "config"),
        "OPENRAS_LOCATION": str(location_file(rm)),
    }


def location_file(rm: NsRasman) -> Path:
    """Where the session's rasman reads its dialing location (/etc/openras/location.conf)."""
    return rm.state_dir.parent / "location.conf"


def crash_and_restart(lab: NetnsLab, pair: NsPair, rm: NsRasman) -> float:
    """SIGKILL rasman, start a new one on the same state; seconds until it answers."""
    assert rm.proc is not None
    rm.proc.kill()
    rm.proc.wait(30)
    t0 = time.monotonic()
    rm.proc = lab.spawn(pair.b, rasman_argv(rm), log=rm.log, env=rasman_env(rm))
    assert wait_until(rm.ready, RASMAN_START_S, interval=0.05), "rasman did not restart"
    return time.monotonic() - t0


def cmdlines_of(pids: set[int]) -> dict[int, list[str]]:
    """The command lines of those of ``pids`` still running (pppd's ip-up script, /bin/true,
    comes and goes)."""
    out = {}
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            out[pid] = psutil.Process(pid).cmdline()
    return out
