"""VM benchmark (``bench/bench_vm.py``): a PPPoE dial and hang-up through rasman against
pppd started by hand with the same argv, alternating, against the same ``pppoe-server``.

Each round also prints its wire timeline (``_wiretap``: the PPPoE and PPP control frames on
the server's veth, by the kernel's timestamps), so a gap between the sides shows its phase:
before the first PADI (starting pppd), in discovery, LCP, authentication or IPCP, or after
IPCP (seeing that the link is up)."""

from __future__ import annotations

import itertools
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from _benchkit import DaemonLog, alternate, openras_round, raw_pppd_round
from _linkkit import NsRasman
from _wiretap import WireTap, compact, phases
from netns import NetnsLab, NsPair, kill_pids, require_programs
from test_ppp_driver import ENTRY, PASSWORD, USER, live_pids, pppoe_server

from openras.links.ppp.argv import PppSettings

pytestmark = pytest.mark.vm


def test_bench_pppoe(
    lab: NetnsLab,
    pair: NsPair,
    rasman: NsRasman,
    api: None,
    tmp_path: Path,
    bench_reps: int,
) -> None:
    require_programs("pppd", "pppoe-server")
    subprocess.run(["modprobe", "-a", "ppp_async", "pppoe"], check=True, timeout=60)
    pbk = tmp_path / "rasphone.pbk"
    pbk.write_text(
        f"[{ENTRY}]\nEncoding=1\nType=5\nOpenRasDialTimeoutMs=90000\n"
        "MEDIA=rastapi\nPort=PPPoE5-0\nDevice=WAN Miniport (PPPOE)\n\nDEVICE=PPPoE\n",
        encoding="utf-8",
    )
    settings = PppSettings(kind="pppoe", user=USER, dial_timeout=90, pppoe_interface=pair.if_b)
    before = live_pids(pair.a)
    server, _log = pppoe_server(lab, pair, tmp_path)
    n = itertools.count(1)
    tap = WireTap(lab, pair.a, pair.if_a)

    daemon = DaemonLog(rasman.log)

    def timed(side: str, fn: Callable[[], tuple[float, float]]) -> tuple[float, float]:
        start = time.time()
        dial, hang = fn()
        marks = tap.between(start, time.time())
        if side == "openras":  # the daemon's log lines of this round, on the same clock
            for line in daemon.lines_since(start):
                print(f"BENCH wire pppoe rasman {line}", flush=True)
        ph = " ".join(f"{k}={v:.0f}" for k, v in phases(marks, start).items())
        print(f"BENCH phases pppoe {side} dial={dial * 1e3:.0f} {ph}", flush=True)
        print(f"BENCH wire pppoe {side} {compact(marks, start)}", flush=True)
        return dial, hang

    try:
        with tap.running():
            alternate(
                "pppoe",
                lambda: timed(
                    "raw",
                    lambda: raw_pppd_round(lab, settings, pair.b, PASSWORD, tmp_path, next(n)),
                ),
                lambda: timed("openras", lambda: openras_round(pbk, ENTRY, USER, PASSWORD)),
                bench_reps,
            )
    finally:
        lab.stop(server, grace=10)
        kill_pids(sorted(live_pids(pair.a) - before))
