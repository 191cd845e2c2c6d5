"""L2TP/IPsec's IKE half with the real charon on both sides: the ``load-conn`` and
``load-shared`` messages openras builds (:mod:`openras.links.ppp.l2tp`) loaded over VICI by
openras's own client into a charon in namespace B, against a Windows-style L2TP/IPsec
responder (IKEv1 main mode, PSK, transport mode for UDP 1701) in namespace A. What charon
logs is fed to :func:`ike_failure`: the right key brings IKE up (the CHILD SA needs the
kernel's ESP, which this host may lack), a wrong one is 789, an address nobody answers 809.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from netns import NetnsLab, NsPair, require_programs, wait_until
from swan_lab import CHARON, L2TP_RESPONDER, PLUGINS, PSK, SwanServer, make_ca

from openras.links.ikev2.vici import ViciConnection, ViciError
from openras.links.ppp.l2tp import (
    CHILD,
    CONN,
    L2tpSettings,
    ike_connection,
    ike_failure,
    ike_secret,
)


def _client_charon(lab: NetnsLab, pair: NsPair, workdir: Path) -> Path:
    """A charon in B with a private /run, as openras runs one per link; its VICI socket."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "run").mkdir(exist_ok=True)
    vici = workdir / "charon.vici"
    (workdir / "strongswan.conf").write_text(
        "charon {\n  load_modular = no\n"
        f"  load = {PLUGINS}\n  port = 0\n  port_nat_t = 0\n"
        "  retransmit_tries = 2\n  retransmit_timeout = 0.5\n  retransmit_base = 1.4\n"
        "  plugins { vici { socket = unix://" + str(vici) + " }\n"
        "            openssl { load_legacy = yes } }\n"
        "  filelog { lab { path = " + str(workdir / "charon.log") + "\n"
        "    default = 1\n    flush_line = yes } }\n"
        "  syslog { daemon { default = -1 } }\n}\n"
    )
    proc = lab.spawn(
        pair.b,
        ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         'mount --bind -- "$0" /run && exec "$@"', str(workdir / "run"), CHARON],
        log=workdir / "charon.out",
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
             "STRONGSWAN_CONF": str(workdir / "strongswan.conf")},
    )  # fmt: skip
    assert wait_until(lambda: vici.exists() or proc.poll() is not None, 15), "no client charon"
    assert proc.poll() is None, (workdir / "charon.out").read_text()
    return vici


async def _dial(vici: Path, settings: L2tpSettings) -> str:
    """Load and initiate as the driver does; charon's answer ('' when it succeeded)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            control = await ViciConnection.open(vici)
            break
        except OSError:
            assert time.monotonic() < deadline, "VICI did not answer"
            await asyncio.sleep(0.05)
    try:
        await control.request("load-shared", ike_secret(settings))
        await control.request("load-conn", ike_connection(settings, fwmark=0x42))
        try:
            await control.request(
                "initiate", {"child": CHILD, "ike": CONN, "timeout": "8000", "loglevel": "0"}
            )
        except ViciError as exc:
            return str(exc) or "failed"
        return ""
    finally:
        control.close()


def _codes(log: Path) -> list[int]:
    return [c for line in log.read_text().splitlines() if (c := ike_failure(line)) is not None]


@pytest.fixture
def responder(netns_lab: NetnsLab, netns_pair: NsPair, tmp_path: Path) -> SwanServer:
    require_programs("pki", "swanctl", CHARON)
    srv = SwanServer(netns_pair, tmp_path / "responder", pool="10.97.9.0/28",
                     inside="10.96.9.1", extra_conf=[L2TP_RESPONDER])  # fmt: skip
    srv.start(netns_lab, make_ca(tmp_path / "ca"))
    return srv


def test_right_psk_brings_ike_up(netns_lab: NetnsLab, netns_pair: NsPair, tmp_path: Path,
                                 responder: SwanServer) -> None:  # fmt: skip
    vici = _client_charon(netns_lab, netns_pair, tmp_path / "client")
    settings = L2tpSettings(server=netns_pair.addr_a, ipsec=True, psk=PSK, reqid=77)
    asyncio.run(_dial(vici, settings))
    log = (tmp_path / "client" / "charon.log").read_text()
    assert f"IKE_SA {CONN}[1] established" in log, log[-3000:]
    assert 789 not in _codes(tmp_path / "client" / "charon.log")


def test_wrong_psk_is_789(netns_lab: NetnsLab, netns_pair: NsPair, tmp_path: Path,
                          responder: SwanServer) -> None:  # fmt: skip
    vici = _client_charon(netns_lab, netns_pair, tmp_path / "client")
    settings = L2tpSettings(server=netns_pair.addr_a, ipsec=True, psk="not-the-key", reqid=78)
    answer = asyncio.run(_dial(vici, settings))
    log = tmp_path / "client" / "charon.log"
    assert answer, "initiate succeeded with a wrong key"
    assert "established" not in log.read_text()
    assert _codes(log)[:1] == [789], log.read_text()[-3000:]


def test_nobody_answering_is_809(netns_lab: NetnsLab, netns_pair: NsPair, tmp_path: Path) -> None:
    require_programs(CHARON)
    vici = _client_charon(netns_lab, netns_pair, tmp_path / "client")
    settings = L2tpSettings(server=netns_pair.addr_a, ipsec=True, psk=PSK)  # no charon in A
    answer = asyncio.run(_dial(vici, settings))
    log = tmp_path / "client" / "charon.log"
    assert answer
    assert _codes(log) == [809], log.read_text()[-3000:]
