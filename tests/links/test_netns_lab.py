"""The namespace lab itself: pairs come up, ping works, and everything is gone afterwards."""

from __future__ import annotations

import os
import subprocess

import pytest
from netns import NetnsLab, NsPair, pids_in_netns, wait_until

pytestmark = [pytest.mark.netns, pytest.mark.root]


def test_pair_pings_and_cleans_up(netns_lab: NetnsLab, netns_pair: NsPair) -> None:
    assert netns_lab.ping(netns_pair.b, netns_pair.addr_a)
    assert netns_lab.ping(netns_pair.a, netns_pair.addr_b)
    assert netns_pair.if_b in netns_lab.links(netns_pair.b)
    # A program left running in its own session is found and killed by pid on close.
    proc = netns_lab.spawn(netns_pair.b, ["sleep", "60"])
    stray = subprocess.Popen(  # not tracked by the lab: only the namespace scan finds it
        ["ip", "netns", "exec", netns_pair.b, "sleep", "60"], start_new_session=True
    )
    assert wait_until(lambda: stray.pid in pids_in_netns(netns_pair.b), 5)
    netns_lab.close()
    assert proc.poll() is not None
    assert wait_until(lambda: stray.poll() is not None, 5)
    assert not os.path.exists(f"/run/netns/{netns_pair.a}")
    assert not os.path.exists(f"/run/netns/{netns_pair.b}")


def test_inside_moves_only_for_the_block(netns_lab: NetnsLab, netns_pair: NsPair) -> None:
    before = os.stat("/proc/thread-self/ns/net").st_ino
    with netns_lab.inside(netns_pair.b):
        assert (
            os.stat("/proc/thread-self/ns/net").st_ino
            == os.stat(f"/run/netns/{netns_pair.b}").st_ino
        )
        out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True)
        assert netns_pair.if_b in out.stdout
    assert os.stat("/proc/thread-self/ns/net").st_ino == before
