"""VM benchmark (``bench/bench_vm.py``): an SSTP dial and hang-up through rasman against
pppd + sstpc started by hand with the same argv, alternating, against the tests' SSTP server.
(openras also checks the server's certificate itself first: part of what is compared.)"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from _benchkit import DaemonLog, alternate, openras_round, raw_pppd_round, traced
from _linkkit import NsRasman
from netns import NetnsLab, NsPair
from test_sstp import ENTRY, PASSWORD, USER, SstpLab, server, windows_export

from openras.links.ppp.argv import PppSettings

pytestmark = pytest.mark.vm
__all__ = ["server"]  # (the fixture, from the test module)


def test_bench_sstp(
    lab: NetnsLab,
    pair: NsPair,
    rasman: NsRasman,
    api: None,
    server: SstpLab,
    tmp_path: Path,
    bench_reps: int,
) -> None:
    pbk = tmp_path / "rasphone.pbk"
    pbk.write_text(windows_export(pair.addr_a, server.ca), encoding="utf-8")
    settings = PppSettings(kind="sstp", user=USER, dial_timeout=60, server=pair.addr_a)
    n = itertools.count(1)
    daemon = DaemonLog(rasman.log)
    alternate(
        "sstp",
        lambda: raw_pppd_round(
            lab,
            settings,
            pair.b,
            PASSWORD,
            tmp_path,
            next(n),
            sstpc="/usr/sbin/sstpc",
            sstp_ca=str(server.ca),
        ),
        lambda: traced("sstp", daemon, lambda: openras_round(pbk, ENTRY, USER, PASSWORD)),
        bench_reps,
    )
