"""PPP works in the VM: two pppds over a pty pair, one per namespace, ping each other.

The proof the coming ppp driver's tests stand on: the guest kernel has PPP (``/dev/ppp``),
Debian's pppd negotiates LCP and IPCP over a pty, and a SIGTERM to one end takes both down
with their interfaces.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from _linkkit import link_pids, pid_alive
from netns import NetnsLab, NsPair, pids_in_netns, require_programs, wait_until

pytestmark = pytest.mark.vm

A_IP, B_IP = "10.236.42.1", "10.236.42.2"


def ppp_links(lab: NetnsLab, ns: str) -> list[str]:
    return [name for name in lab.links(ns) if name.startswith("ppp")]


def test_two_pppds_over_a_pty_ping_and_hang_up(lab: NetnsLab, pair: NsPair, tmp_path: Path) -> None:
    require_programs("pppd", "ping")
    subprocess.run(["modprobe", "ppp_generic", "ppp_async"], check=True, timeout=60)
    assert Path("/dev/ppp").exists()
    log_a, log_b = tmp_path / "pppd-a.log", tmp_path / "pppd-b.log"
    # Debian's /etc/ppp/options says auth, crtscts, lock, modem: noauth and local override.
    common = ["noauth", "nodetach", "local", "nodefaultroute", "debug"]
    inner = f"ip netns exec {pair.b} pppd notty {' '.join(common)} {B_IP}:{A_IP} logfile {log_b}"
    t0 = time.monotonic()
    outer = lab.spawn(
        pair.a,
        ["pppd", *common, f"{A_IP}:{B_IP}", "logfile", str(log_a), "pty", inner],
        log=tmp_path / "pppd-a.out",
    )

    def up() -> bool:
        assert outer.poll() is None, f"pppd exited {outer.returncode}: {log_a.read_text()}"
        links_a, links_b = ppp_links(lab, pair.a), ppp_links(lab, pair.b)
        return bool(links_a and links_b) and (
            A_IP in lab.addresses(pair.a, links_a[0]) and B_IP in lab.addresses(pair.b, links_b[0])
        )

    assert wait_until(up, 60, interval=0.1), f"no IPCP: {log_a.read_text()}"
    connect_s = time.monotonic() - t0
    # The far pppd and its charshunt child (notty relays stdin/stdout through one).
    inner = link_pids(pids_in_netns(pair.b), "pppd", "notty")
    assert inner
    assert lab.ping(pair.a, B_IP, count=3, wait=5)
    assert lab.ping(pair.b, A_IP, count=1, wait=5)

    t1 = time.monotonic()
    assert lab.stop(outer, grace=20) is not None
    assert wait_until(lambda: not any(map(pid_alive, inner)), 20), "the far pppd outlived the line"
    assert wait_until(lambda: not ppp_links(lab, pair.a) and not ppp_links(lab, pair.b), 20)
    hangup_s = time.monotonic() - t1
    assert "Terminating on signal" in log_a.read_text()
    print(f"\npppd over a pty: IPCP up in {connect_s:.2f} s, both ends gone {hangup_s:.2f} s")
