"""Guest-tier helpers shared by its conftest and tests: how the session's rasman is run, and
the PPP-framed VPNs' (PPTP, SSTP, L2TP) dial, hang-up and nothing-left checks."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from _linkkit import NsRasman, pid_alive
from netns import NetnsLab, NsPair, pids_in_netns, wait_until

from openras import rasapi
from openras.errors import ERROR_INVALID_HANDLE

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


# -- the PPP-framed VPNs' guest tests (PPTP, SSTP, L2TP): dial, hang up, nothing left --------


def tail(path: Path, size: int = 3000) -> str:
    """The end of a log, for an assertion's message."""
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return "(no log)"


def live_pids(ns: str) -> set[int]:
    return {p for p in pids_in_netns(ns) if pid_alive(p)}


def orppp_links(lab: NetnsLab, ns: str) -> list[str]:
    return [name for name in lab.links(ns) if name.startswith("orppp")]


def xfrm(lab: NetnsLab, ns: str, what: str) -> str:
    """``ip xfrm state|policy list`` in ``ns``."""
    return lab.run(ns, ["ip", "xfrm", what, "list"]).stdout


@dataclass(frozen=True)
class PppDialKit:
    """One test file's dial, hang-up and "nothing left" checks, bound to its entry and user,
    the codes status may answer before 6 (a failed dial keeps its code until then), and
    whether IPsec is part of the link (then no SA or policy may be left either)."""

    entry: str
    user: str
    codes: tuple[int, ...]
    ipsec: bool = False

    def dial(self, pbk: Path, password: str) -> tuple[int, int, float]:
        """RasDial (synchronous) -> (code, handle, seconds)."""
        t0 = time.monotonic()
        params = rasapi.RASDIALPARAMS(
            szEntryName=self.entry, szUserName=self.user, szPassword=password
        )
        code, h = rasapi.RasDial(None, str(pbk), params)
        return code, h, time.monotonic() - t0

    def wait_gone(self, h: int, timeout: float) -> float:
        """Seconds until RasGetConnectStatus answers 6 for ``h`` (fails after ``timeout``)."""
        t0 = time.monotonic()
        while (code := rasapi.RasGetConnectStatus(h)[0]) != ERROR_INVALID_HANDLE:
            assert code in self.codes, code
            assert time.monotonic() - t0 < timeout, "status never answered 6"
            time.sleep(0.05)
        return time.monotonic() - t0

    def nothing_left(
        self, lab: NetnsLab, pair: NsPair, rasman: NsRasman, *, settle: float = 0
    ) -> None:
        """B runs rasman alone and has no ppp interface (nor SA or policy, with IPsec):
        checked at once after status answered 6, which it may only answer once all of that
        is gone (``settle``: a bounded wait, for a failed dial that left no handle)."""
        assert rasman.proc is not None
        only = {rasman.proc.pid}

        def clean() -> bool:
            return (
                live_pids(pair.b) == only
                and not orppp_links(lab, pair.b)
                and not (self.ipsec and xfrm(lab, pair.b, "state").strip())
            )

        wait_until(clean, settle)
        left = live_pids(pair.b) - only
        assert not left, [psutil.Process(p).cmdline() for p in left if pid_alive(p)]
        assert orppp_links(lab, pair.b) == []
        if self.ipsec:
            assert xfrm(lab, pair.b, "state").strip() == ""
            assert xfrm(lab, pair.b, "policy").strip() == ""

    def end(self, lab: NetnsLab, pair: NsPair, rasman: NsRasman, h: int) -> None:
        """Whatever a failed dial left of its handle hung up until 6, then nothing left."""
        if h:
            assert rasapi.RasHangUp(h) == 0
            self.wait_gone(h, 60)
        self.nothing_left(lab, pair, rasman, settle=0 if h else 20)
