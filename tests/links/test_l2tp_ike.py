"""L2TP/IPsec's IKE half with the real charon on both sides: the ``load-conn`` and
``load-shared`` messages openras builds (:mod:`openras.links.ppp.l2tp`) loaded over VICI by
openras's own client into a charon in namespace B, against a Windows-style L2TP/IPsec
responder (IKEv1 main mode, PSK, transport mode for UDP 1701) in namespace A. What charon
logs is fed to :func:`ike_failure`: the right key brings IKE up (the CHILD SA needs the
kernel's ESP, which this host may lack), a wrong one is 789, an address nobody answers 809.

And the certificate mode (a responder with a server certificate from a test CA that accepts
client certificates from that CA only): the right certificates bring IKE up; a client
certificate from another CA is 786, a server certificate not from the entry's CA 787, one
not naming the server dialed 835.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from netns import NetnsLab, NsPair, require_programs, wait_until
from swan_lab import (
    CHARON,
    L2TP_RESPONDER,
    PLUGINS,
    PSK,
    SwanServer,
    issue,
    l2tp_cert_responder,
    make_ca,
)

from openras.links.ikev2.settings import pem_certificates
from openras.links.ikev2.vici import ViciConnection, ViciError
from openras.links.ppp.l2tp import (
    AUTH_CERT,
    CHILD,
    CONN,
    L2tpSettings,
    ike_connection,
    ike_credentials,
    ike_failure,
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
        for command, messages in ike_credentials(settings):
            for message in messages:
                await control.request(command, message)
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


def _codes(log: Path, *, cert: bool = False) -> list[int]:
    lines = log.read_text().splitlines()
    return [c for line in lines if (c := ike_failure(line, cert=cert)) is not None]


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


@pytest.fixture
def cert_lab(
    netns_lab: NetnsLab, netns_pair: NsPair, tmp_path: Path
) -> tuple[SwanServer, tuple[Path, Path]]:
    """The responder with both halves (PSK and certificates); the lab's CA."""
    require_programs("pki", "swanctl", CHARON)
    ca = make_ca(tmp_path / "ca")
    srv = SwanServer(netns_pair, tmp_path / "responder", pool="10.97.9.0/28",
                     inside="10.96.9.1",
                     extra_conf=[L2TP_RESPONDER, l2tp_cert_responder(netns_pair.addr_a)])  # fmt: skip
    srv.start(netns_lab, ca)
    return srv, ca


def _cert_settings(server: str, remote_id: str, ca: tuple[Path, Path],
                   client: tuple[Path, Path]) -> L2tpSettings:  # fmt: skip
    return L2tpSettings(
        server=server, ipsec=True, auth=AUTH_CERT, remote_id=remote_id, reqid=79,
        cas=tuple(pem_certificates(ca[0].read_bytes())),
        certs=tuple(pem_certificates(client[0].read_bytes())),
        key=client[1].read_bytes(), key_type="ecdsa",
    )  # fmt: skip


def test_certificates_bring_ike_up(netns_lab: NetnsLab, netns_pair: NsPair, tmp_path: Path,
                                   cert_lab: tuple[SwanServer, tuple[Path, Path]]) -> None:  # fmt: skip
    _srv, ca = cert_lab
    client = issue(tmp_path / "ca", ca, "client.lab.test", ["client.lab.test"], server=False)
    vici = _client_charon(netns_lab, netns_pair, tmp_path / "client")
    addr = netns_pair.addr_a
    asyncio.run(_dial(vici, _cert_settings(addr, addr, ca, client)))
    log = tmp_path / "client" / "charon.log"
    text = log.read_text()
    assert f"IKE_SA {CONN}[1] established" in text, text[-3000:]
    assert f"authentication of '{addr}' with ECDSA" in text, text[-3000:]  # the server's
    assert _codes(log, cert=True) == [], text[-3000:]


def test_client_certificate_from_another_ca_is_786(
    netns_lab: NetnsLab, netns_pair: NsPair, tmp_path: Path,
    cert_lab: tuple[SwanServer, tuple[Path, Path]],
) -> None:  # fmt: skip
    _srv, ca = cert_lab
    other = make_ca(tmp_path / "other", "another CA")
    client = issue(tmp_path / "other", other, "client.lab.test", ["client.lab.test"],
                   server=False)  # fmt: skip
    vici = _client_charon(netns_lab, netns_pair, tmp_path / "client")
    addr = netns_pair.addr_a
    answer = asyncio.run(_dial(vici, _cert_settings(addr, addr, ca, client)))
    log = tmp_path / "client" / "charon.log"
    assert answer and "established" not in log.read_text()
    assert _codes(log, cert=True)[:1] == [786], log.read_text()[-3000:]


def test_server_certificate_not_from_the_entrys_ca_is_787(
    netns_lab: NetnsLab, netns_pair: NsPair, tmp_path: Path,
    cert_lab: tuple[SwanServer, tuple[Path, Path]],
) -> None:  # fmt: skip
    _srv, ca = cert_lab
    other = make_ca(tmp_path / "other", "another CA")
    client = issue(tmp_path / "ca", ca, "client.lab.test", ["client.lab.test"], server=False)
    vici = _client_charon(netns_lab, netns_pair, tmp_path / "client")
    addr = netns_pair.addr_a
    answer = asyncio.run(_dial(vici, _cert_settings(addr, addr, other, client)))
    log = tmp_path / "client" / "charon.log"
    assert answer and "established" not in log.read_text()
    assert _codes(log, cert=True)[:1] == [787], log.read_text()[-3000:]


def test_server_certificate_not_naming_the_server_is_835(
    netns_lab: NetnsLab, netns_pair: NsPair, tmp_path: Path,
    cert_lab: tuple[SwanServer, tuple[Path, Path]],
) -> None:  # fmt: skip
    _srv, ca = cert_lab
    client = issue(tmp_path / "ca", ca, "client.lab.test", ["client.lab.test"], server=False)
    vici = _client_charon(netns_lab, netns_pair, tmp_path / "client")
    settings = _cert_settings(netns_pair.addr_a, "other.lab.test", ca, client)
    answer = asyncio.run(_dial(vici, settings))
    log = tmp_path / "client" / "charon.log"
    assert answer and "established" not in log.read_text()
    assert _codes(log, cert=True)[:1] == [835], log.read_text()[-3000:]
