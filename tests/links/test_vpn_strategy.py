"""A Windows entry whose VpnStrategy is a list dials its types in Windows' order.

"PPTP first" (``VpnStrategy=2``: PPTP, IKEv2, SSTP, L2TP) through rasman on this host, into
the strongSwan responder of ``swan_lab`` in namespace A: PPTP cannot run here (no kernel
PPP), SSTP and L2TP have no driver, so the dial moves on to IKEv2 and connects; the
projection says which type connected; a rasman killed while connected adopts the IKEv2
link through the list's record. With the responder gone, every type fails and the dial
answers 800 with each type's error, leaving nothing behind.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from netns import NetnsLab, NsPair, require_programs, wait_until
from rasman_ns import Daemon, program_pids, rasman_in
from swan_lab import PASSWORD, USER, SwanServer, make_ca, windows_entry

from openras import errors
from openras.states import RasConnState

pytestmark = [pytest.mark.netns, pytest.mark.root, pytest.mark.timeout(90)]

ENTRY = "Contoso VPN"


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    require_programs("pki", "swanctl", "unshare", "ping")
    if not Path("/usr/lib/ipsec/charon").exists():
        pytest.skip("strongSwan's charon is not installed")
    return make_ca(tmp_path_factory.mktemp("strategy-pki") / "ca")


@pytest.fixture
def server(
    netns_lab: NetnsLab, netns_pair: NsPair, tmp_path: Path, ca: tuple[Path, Path]
) -> SwanServer:
    third = netns_pair.addr_a.split(".")[2]
    srv = SwanServer(netns_pair, tmp_path / "responder", pool=f"10.97.{third}.0/28",
                     inside=f"10.96.{third}.1")  # fmt: skip
    srv.start(netns_lab, ca)
    return srv


@pytest.fixture
def daemon(
    netns_lab: NetnsLab, netns_pair: NsPair, tmp_path: Path, ca: tuple[Path, Path]
) -> Iterator[Daemon]:
    with rasman_in(netns_lab, netns_pair.b, tmp_path, OPENRAS_CA_BUNDLE=str(ca[0])) as d:
        yield d


def pptp_first(tmp_path: Path, server_addr: str, **extra: str) -> Path:
    """The IKEv2 export with the strategy "PPTP first" (as the VPN type drop-down writes)."""
    pbk = tmp_path / "rasphone.pbk"
    text = windows_entry(ENTRY, server_addr, VpnStrategy="2", **extra)
    pbk.write_text(text.replace("PreferredDevice=WAN Miniport (IKEv2)",
                                "PreferredDevice=WAN Miniport (PPTP)"), encoding="utf-8")  # fmt: skip
    return pbk


def test_pptp_first_moves_on_to_ikev2_and_is_adopted(
    daemon: Daemon, netns_lab: NetnsLab, netns_pair: NsPair, server: SwanServer, tmp_path: Path
) -> None:
    seen: list[RasConnState] = []
    with daemon.client() as c:
        conn = c.dial(ENTRY, pptp_first(tmp_path, server.pair.addr_a), user=USER,
                      password=PASSWORD, on_state=lambda ev: seen.append(ev.state))  # fmt: skip
        assert conn.status().state is RasConnState.Connected
        assert seen == sorted(seen) and len(seen) == len(set(seen))  # forward, each once
        proj = conn.projection()
        assert proj.extra["vpn_protocol"] == "IKEv2"
        assert proj.extra["vpn_failed_before"].startswith("PPTP 797")
        assert proj.local_address.startswith(server.pool.rsplit(".", 1)[0] + ".")
        assert netns_lab.ping(netns_pair.b, server.inside, count=2)
        handle = conn.handle
    assert "PPTP failed with 797" in daemon.log.read_text(), "the PPTP attempt came first"
    [charon] = program_pids(netns_pair.b, "charon")
    assert daemon.proc is not None
    daemon.proc.send_signal(signal.SIGKILL)
    daemon.proc.wait(5)
    assert psutil.pid_exists(charon), "the link outlives the daemon"
    daemon.start()
    with daemon.client() as c:
        assert c.status(handle).state is RasConnState.Connected
        assert c.projection(handle).extra["vpn_protocol"] == "IKEv2"
        assert netns_lab.ping(netns_pair.b, server.inside)
        c.hang_up(handle, wait=True, timeout=15)
        with pytest.raises(errors.InvalidHandle):
            c.status(handle)
    assert not program_pids(netns_pair.b, "charon")


def test_every_type_failing_is_800_naming_each_and_leaves_nothing(
    daemon: Daemon, netns_pair: NsPair, tmp_path: Path
) -> None:
    # Nobody answers IKE at this address: IKEv2 times out after PPTP could not run.
    pbk = pptp_first(tmp_path, netns_pair.addr_a, OpenRasDialTimeoutMs="4000")
    with daemon.client() as c:
        with pytest.raises(errors.RasError) as info:
            c.dial(ENTRY, pbk, user=USER, password=PASSWORD)
        assert info.value.code == errors.ERROR_AUTOMATIC_VPN_FAILED, info.value
        assert "PPTP 797" in str(info.value) and "IKEv2" in str(info.value), str(info.value)
        handle = info.value.handle
        assert handle  # a failed dial still has its handle
        c.hang_up(handle, wait=True, timeout=15)
    assert wait_until(lambda: not program_pids(netns_pair.b, "charon"), 5)
    assert not any((tmp_path / "state").glob(f"links/{handle}"))
