"""VM benchmark (``bench/bench_vm.py``): a kernel WireGuard dial and hang-up through rasman
against the same tunnel made by hand as wg-quick makes it, alternating, to the kernel
WireGuard peer of ``test_kernel_wireguard`` in namespace A.

By hand (from a thread inside B): ``ip link add IF type wireguard``, ``wg setconf IF FILE``
(the config's wg part, a 0600 file), ``ip address add``, ``ip link set IF mtu 1420 up`` and
the AllowedIPs route, then ``wg show IF latest-handshakes`` every 2 ms until the first
handshake: connected, as openras counts it. Hang-up by hand: ``ip link del IF``, until it is
gone. The entry is a split tunnel (no policy routing on either side).

NetworkManager is the third side where it is installed (``bench/_nm.py``: a NetworkManager of
its own in a namespace joined to A, the same file imported; until the first handshake, as the
others)."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from _benchkit import POLL, DaemonLog, alternate, link_exists, openras_round, traced
from _linkkit import NsRasman
from netns import NetnsLab, NsPair, require_programs
from test_kernel_wireguard import CLIENT_IP, PORT, SERVER_IP, kernel_peer, keypair

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
from _nm import NmWireGuard, nm_missing

pytestmark = pytest.mark.vm

ENTRY = "Bench WG"


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=30)


def raw_round(conf: Path, n: int) -> tuple[float, float]:
    """wg-quick's steps by hand, inside B (the caller's thread is there): (dial, hang-up)."""
    ifname = f"orbwg{n}"
    t0 = time.perf_counter()
    _run("ip", "link", "add", ifname, "type", "wireguard")
    try:
        _run("wg", "setconf", ifname, str(conf))
        _run("ip", "address", "add", f"{CLIENT_IP}/24", "dev", ifname)
        _run("ip", "link", "set", ifname, "mtu", "1420", "up")
        deadline = time.monotonic() + 60
        while True:
            out = subprocess.run(["wg", "show", ifname, "latest-handshakes"], check=True,
                                 capture_output=True, text=True, timeout=30).stdout.split()  # fmt: skip
            if len(out) >= 2 and int(out[1]) > 0:
                break
            assert time.monotonic() < deadline, "no handshake by hand"
            time.sleep(POLL)
        dial = time.perf_counter() - t0
        t1 = time.perf_counter()
        _run("ip", "link", "del", ifname)
        while link_exists(ifname):
            assert time.monotonic() < deadline, f"{ifname} stayed"
            time.sleep(POLL)
        return dial, time.perf_counter() - t1
    finally:
        if link_exists(ifname):
            subprocess.run(["ip", "link", "del", ifname], check=False, timeout=30)


def test_bench_kernel_wireguard(
    lab: NetnsLab, pair: NsPair, rasman: NsRasman, api: None, tmp_path: Path, bench_reps: int
) -> None:
    require_programs("wg")
    cpriv, cpub = keypair()
    server_pub = kernel_peer(lab, pair.a, tmp_path, cpub)
    wg_part = (
        f"[Interface]\nPrivateKey = {cpriv}\n\n[Peer]\nPublicKey = {server_pub}\n"
        f"Endpoint = {pair.addr_a}:{PORT}\nAllowedIPs = {SERVER_IP}/32\nPersistentKeepalive = 1\n"
    )
    setconf = tmp_path / "raw-setconf.conf"
    setconf.touch(0o600)
    setconf.write_text(wg_part)
    conf = tmp_path / "office.conf"
    conf.touch(0o600)
    conf.write_text(wg_part.replace("\n\n[Peer]", f"\nAddress = {CLIENT_IP}/24\n\n[Peer]", 1))
    pbk = tmp_path / "rasphone.pbk"
    pbk.write_text(
        f"[{ENTRY}]\nEncoding=1\nType=2\nOpenRasDevice=wireguard\n"
        f"OpenRasWireGuardConfig={conf.name}\nOpenRasWireGuardImplementation=kernel\n"
        "OpenRasDialTimeoutMs=60000\n"
    )
    n = itertools.count(1)
    daemon = DaemonLog(rasman.log)

    def raw() -> tuple[float, float]:
        with lab.inside(pair.b):
            return raw_round(setconf, next(n))

    nm: NmWireGuard | None = None
    nm_round: Callable[[], tuple[float, float]] | None = None
    if nm_missing(openvpn=False):
        print(f"BENCH note no NetworkManager side: not installed: {nm_missing(openvpn=False)}")
    else:
        nm_conf = tmp_path / "nmwg.conf"  # the interface is named after the file
        nm_conf.touch(0o600)
        nm_conf.write_text(conf.read_text())
        nm = NmWireGuard(lab, pair, tmp_path / "nm", conf=nm_conf)
        nm.start()

        def nm_round() -> tuple[float, float]:
            assert nm is not None
            return nm.dial(), nm.hang_up()

    try:
        alternate(
            "wireguard",
            raw,
            lambda: traced("wireguard", daemon, lambda: openras_round(pbk, ENTRY, "", "")),
            bench_reps,
            nm=nm_round,
        )
    finally:
        if nm is not None:
            nm.cleanup()
        lab.run(pair.a, ["ip", "link", "del", "wgsrv"], check=False)
