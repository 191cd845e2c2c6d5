"""IKEv2 on the kernel's ESP: the data path the host's kernel (no ESP) cannot take.

The responder in namespace A is ``swan_lab``'s charon without ``kernel-libipsec`` (so the
kernel's ESP there too), the client is the session's rasman in B, and the entry is a
Windows 10 export plus the CA to trust (``OpenRasIkev2Ca``: this rasman was not started with
the test CA as its store). The driver's ``auto`` choice must take the kernel path: the
virtual IP on the link's own XFRM interface ``orik<slot>``, the kernel's SAs and policies
tagged with its ``if_id``, no TUN, the full tunnel routed by the policy slot's table and
rules. Then traffic crosses, a rasman killed with SIGKILL is replaced by one that adopts
the link, the statistics count the traffic, and at 6 nothing is left: interface, SAs,
policies, rules, charon. A charon killed with SIGKILL (no DELETE, no clean-up of its
own) ends the link with a reason, and the teardown journal's purge removes the kernel state
it left behind.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _linkkit import NsRasman, pid_alive, rules
from _vmkit import crash_and_restart
from netns import NetnsLab, NsPair, pids_in_netns, require_programs, wait_until
from swan_lab import KERNEL_PLUGINS, PASSWORD, USER, SwanServer, make_ca, windows_entry

from openras import rasapi
from openras.client import Client
from openras.errors import ERROR_INVALID_HANDLE
from openras.links.rtnl import DAEMON_TABLES
from openras.states import RasConnState

pytestmark = pytest.mark.vm

POOL, INSIDE = "10.236.45.0/28", "10.236.46.1"
ENTRY = "Contoso VPN"


@pytest.fixture
def server(lab: NetnsLab, pair: NsPair, tmp_path: Path) -> Iterator[SwanServer]:
    """The responder in A on the kernel's ESP, its pool routed toward B (its policies then
    encrypt what goes there)."""
    require_programs("pki", "swanctl", "unshare", "ping")
    if not Path("/usr/lib/ipsec/charon").exists():
        pytest.skip("strongSwan's charon is not installed")
    srv = SwanServer(pair, tmp_path / "responder", pool=POOL, inside=INSIDE,
                     plugins=KERNEL_PLUGINS)  # fmt: skip
    srv.start(lab, make_ca(tmp_path / "ca"))
    lab.run(pair.a, ["ip", "route", "replace", POOL, "dev", pair.if_a])
    try:
        yield srv
    finally:
        if srv.proc is not None:
            lab.stop(srv.proc, grace=10)
        lab.run(pair.a, ["ip", "route", "del", POOL, "dev", pair.if_a], check=False)
        lab.run(pair.a, ["ip", "addr", "del", f"{INSIDE}/32", "dev", "lo"], check=False)
        lab.run(pair.a, ["ip", "xfrm", "state", "flush"], check=False)
        lab.run(pair.a, ["ip", "xfrm", "policy", "flush"], check=False)


def phonebook(tmp_path: Path, server: SwanServer, **extra: str) -> Path:
    assert server.ca is not None
    pbk = tmp_path / "rasphone.pbk"
    text = windows_entry(ENTRY, server.pair.addr_a, OpenRasIkev2Ca=str(server.ca[0]),
                         OpenRasDialTimeoutMs="90000", **extra)  # fmt: skip
    pbk.write_text(text, encoding="utf-8")
    return pbk


def xfrm(lab: NetnsLab, ns: str, what: str) -> str:
    return lab.run(ns, ["ip", "xfrm", what, "list"]).stdout


def daemon_rules(ns: str) -> list[object]:
    return [
        r for r in rules(ns) if r.get("table", "").isdigit() and int(r["table"]) in DAEMON_TABLES
    ]


def charons(ns: str) -> list[int]:
    out = []
    for pid in pids_in_netns(ns):
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            continue
        if exe.endswith("/charon") and pid_alive(pid):
            out.append(pid)
    return out


def wait_gone(h: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while rasapi.RasGetConnectStatus(h)[0] != ERROR_INVALID_HANDLE:
        assert time.monotonic() < deadline, "status never answered 6"
        time.sleep(0.05)


def nothing_left(lab: NetnsLab, pair: NsPair, ifname: str) -> None:
    assert ifname not in lab.links(pair.b)
    assert xfrm(lab, pair.b, "state").strip() == ""
    assert xfrm(lab, pair.b, "policy").strip() == ""
    assert daemon_rules(pair.b) == []
    assert "suppress_prefixlength" not in lab.run(pair.b, ["ip", "rule"]).stdout
    assert wait_until(lambda: not charons(pair.b), 10)


def dial(pbk: Path) -> int:
    params = rasapi.RASDIALPARAMS(szEntryName=ENTRY, szUserName=USER, szPassword=PASSWORD)
    code, h = rasapi.RasDial(None, str(pbk), params)
    assert code == 0, f"{code}: {rasapi.RasGetErrorString(code)}"
    return h


def test_kernel_esp_dials_pings_and_leaves_nothing(
    lab: NetnsLab, pair: NsPair, rasman: NsRasman, api: None, server: SwanServer, tmp_path: Path
) -> None:
    pbk = phonebook(tmp_path, server)
    t0 = time.monotonic()
    h = dial(pbk)
    dial_s = time.monotonic() - t0
    code, status = rasapi.RasGetConnectStatus(h)
    assert code == 0 and status is not None and status.rasconnstate == RasConnState.Connected
    with Client(rasman.socket, autostart=False, timeout=60) as ras:
        proj = ras.projection(h)
    ifname = proj.interface
    assert ifname.startswith("orik"), proj
    links = lab.links(pair.b)
    assert ifname in links and not [n for n in links if n.startswith("ipsec")]
    detail = lab.run(pair.b, ["ip", "-d", "link", "show", "dev", ifname]).stdout
    assert "xfrm" in detail and "if_id" in detail, detail
    assert proj.local_address in lab.addresses(pair.b, ifname)
    states, policies = xfrm(lab, pair.b, "state"), xfrm(lab, pair.b, "policy")
    assert states.count("proto esp") == 2 and "if_id" in states, states
    assert "if_id" in policies, policies
    # The slot's pair: not fwmark -> the link's table; main without its default route.
    assert len(daemon_rules(pair.b)) == 1
    assert "suppress_prefixlength 0" in lab.run(pair.b, ["ip", "rule"]).stdout

    assert lab.ping(pair.b, INSIDE, count=3, wait=5)

    # rasman SIGKILLed and started again: it adopts the link (charon by pid and start time,
    # the SA over VICI, the kernel path from its record), and the link still carries traffic.
    [charon] = charons(pair.b)
    restart_s = crash_and_restart(lab, pair, rasman)
    code, status = rasapi.RasGetConnectStatus(h)
    assert code == 0 and status is not None and status.rasconnstate == RasConnState.Connected
    assert charons(pair.b) == [charon]
    with Client(rasman.socket, autostart=False, timeout=60) as ras:
        assert ras.projection(h).interface == ifname
    assert lab.ping(pair.b, INSIDE, count=2, wait=5)

    code, stats = rasapi.RasGetConnectionStatistics(h)
    assert code == 0 and stats is not None
    assert stats.dwBytesXmited > 0 and stats.dwBytesRcved > 0
    code, info = rasapi.RasGetProjectionInfoEx(h)
    assert code == 0 and info is not None and info.ikev2 is not None
    assert info.ikev2.ipv4Address == proj.local_address

    t1 = time.monotonic()
    assert rasapi.RasHangUp(h) == 0
    wait_gone(h, 60)
    hangup_s = time.monotonic() - t1
    nothing_left(lab, pair, ifname)
    assert not lab.ping(pair.b, INSIDE)
    print(
        f"\nIKEv2 kernel ESP via rasman: dial {dial_s:.2f} s, hang-up until 6 {hangup_s:.2f} s,"
        f" rasman restart (adoption) {restart_s:.1f} s"
    )


def test_a_killed_charon_fails_the_link_and_its_kernel_state_is_purged(
    lab: NetnsLab, pair: NsPair, rasman: NsRasman, api: None, server: SwanServer, tmp_path: Path
) -> None:
    h = dial(phonebook(tmp_path, server, RedialOnLinkFailure="0"))
    with Client(rasman.socket, autostart=False, timeout=60) as ras:
        ifname = ras.projection(h).interface
    [charon] = charons(pair.b)
    assert "if_id" in xfrm(lab, pair.b, "state")
    os.kill(charon, signal.SIGKILL)  # no DELETE, no clean-up of charon's own

    def ended() -> bool:
        # A dropped link without redial leaves the table (6), or shows Disconnected with
        # its error until it is hung up.
        code, status = rasapi.RasGetConnectStatus(h, endpoints=False)
        if code == ERROR_INVALID_HANDLE:
            return True
        assert code == 0 and status is not None, code
        return status.rasconnstate == RasConnState.Disconnected

    assert wait_until(ended, 60, interval=0.05), "the link never noticed charon's death"
    rasapi.RasHangUp(h)  # 0, or 6 when the drop already ended it
    wait_gone(h, 60)
    nothing_left(lab, pair, ifname)
