"""The IKEv2 driver's pure parts: charon's log as states and codes, the entry as settings,
charon's configuration, the VICI codec, and which entries the driver takes."""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path

import pytest

from openras import errors
from openras.links.base import DialParams, LinkSpec
from openras.links.ikev2 import config
from openras.links.ikev2.interpreter import ORDER, CharonLog
from openras.links.ikev2.settings import pem_certificates, settings_from_spec
from openras.links.ikev2.vici import ViciConnection, ViciError, decode_packet, encode_request
from openras.links.registry import driver_name
from openras.manager.entries import EntrySnapshot
from openras.policy import Grant
from openras.states import RasConnState

# charon 5.9.8's own lines (IKE/CFG/ENC at level 1), recorded from a dial into a responder
# with a certificate and EAP-MSCHAPv2 (kernel-libipsec on both sides).
SUCCESS = """\
vici initiate CHILD_SA 'openras'
initiating IKE_SA openras[1] to 10.98.0.1
generating IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) N(HASH_ALG) N(REDIR_SUP) ]
parsed IKE_SA_INIT response 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) N(HASH_ALG) N(CHDLESS_SUP) N(MULT_AUTH) ]
selected proposal: IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048
remote host is behind NAT
sending cert request for "CN=openras test CA"
no IDi configured, fall back on IP address
establishing CHILD_SA openras{1}
generating IKE_AUTH request 1 [ IDi N(INIT_CONTACT) CERTREQ IDr CPRQ(ADDR DNS) SA TSi TSr N(MOBIKE_SUP) N(NO_ADD_ADDR) N(MULT_AUTH) N(EAP_ONLY) N(MSG_ID_SYN_SUP) ]
parsed IKE_AUTH response 1 [ IDr CERT AUTH EAP/REQ/ID ]
received end entity cert "CN=vpn.lab.test"
  using trusted ca certificate "CN=openras test CA"
authentication of '10.98.0.1' with ECDSA_WITH_SHA256_DER successful
server requested EAP_IDENTITY (id 0x00), sending 'alice'
server requested EAP_MSCHAPV2 authentication (id 0x7C)
EAP method EAP_MSCHAPV2 succeeded, MSK established
authentication of '10.98.0.2' (myself) with EAP
parsed IKE_AUTH response 5 [ AUTH CPRP(ADDR DNS) SA TSi TSr N(MOBIKE_SUP) N(NO_ADD_ADDR) ]
authentication of '10.98.0.1' with EAP successful
processing INTERNAL_IP4_ADDRESS attribute
processing INTERNAL_IP4_DNS attribute
installing DNS server 10.98.5.53 via resolvconf
installing new virtual IP 10.98.4.1
IKE_SA openras[1] established between 10.98.0.2[10.98.0.2]...10.98.0.1[10.98.0.1]
CHILD_SA openras{1} established with SPIs c5d0a1f4_i c2e0f3a8_o and TS 10.98.4.1/32 === 0.0.0.0/0
"""

WRONG_PASSWORD = """\
initiating IKE_SA openras[3] to 10.98.0.1
parsed IKE_SA_INIT response 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) N(HASH_ALG) N(CHDLESS_SUP) N(MULT_AUTH) ]
generating IKE_AUTH request 1 [ IDi N(INIT_CONTACT) CERTREQ IDr CPRQ(ADDR) SA TSi TSr N(MOBIKE_SUP) N(NO_ADD_ADDR) N(MULT_AUTH) N(EAP_ONLY) N(MSG_ID_SYN_SUP) ]
authentication of '10.98.0.1' with ECDSA_WITH_SHA256_DER successful
server requested EAP_MSCHAPV2 authentication (id 0x7C)
EAP-MS-CHAPv2 failed with error ERROR_AUTHENTICATION_FAILURE: '(null)'
EAP_MSCHAPV2 method failed
generating INFORMATIONAL request 4 [ N(AUTH_FAILED) ]
establishing CHILD_SA 'openras' failed
"""


def feed(log: CharonLog, text: str) -> list[RasConnState]:
    states: list[RasConnState] = []
    for line in text.splitlines():
        states += log.feed_event("log", {"group": "IKE", "level": "1", "msg": line})
    return states


def test_a_dial_reports_each_state_once_in_order_and_the_facts() -> None:
    log = CharonLog()
    states = [*log.reach(RasConnState.PortOpened), *feed(log, SUCCESS)]
    assert states == list(ORDER[: ORDER.index(RasConnState.Projected) + 1])
    assert log.failure is None
    f = log.facts
    assert (f.local_address, f.dns, f.eap_method) == ("10.98.4.1", ["10.98.5.53"], "EAP_MSCHAPV2")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (WRONG_PASSWORD, errors.ERROR_AUTHENTICATION_FAILURE),
        ('no issuer certificate found for "CN=vpn.lab.test"\nestablishing CHILD_SA failed',
         errors.ERROR_IPSEC_IKE_AUTH_FAIL),
        ("no trusted ECDSA public key found for '10.98.0.7'", errors.ERROR_IPSEC_IKE_AUTH_FAIL),
        ("received AUTHENTICATION_FAILED notify error", errors.ERROR_IPSEC_IKE_AUTH_FAIL),
        ("received NO_PROPOSAL_CHOSEN notify error", errors.ERROR_IPSEC_IKE_POLICY_MATCH),
        ("received TS_UNACCEPTABLE notify, no CHILD_SA built", errors.ERROR_TS_UNACCEPTABLE),
        ("received INTERNAL_ADDRESS_FAILURE notify, no CHILD_SA built",
         errors.ERROR_INTERNAL_ADDRESS_FAILURE),
        ("giving up after 3 retransmits", errors.ERROR_VPN_TIMEOUT),
    ],
)  # fmt: skip
def test_failures_carry_windows_codes(text: str, code: int) -> None:
    log = CharonLog()
    feed(log, text)
    assert log.end_reason(connected=False, default=0)[0] == code


def test_the_first_explaining_failure_wins_over_what_follows() -> None:
    log = CharonLog()
    feed(log, WRONG_PASSWORD + "giving up after 3 retransmits\n")
    assert log.end_reason(connected=False, default=0) == (
        errors.ERROR_AUTHENTICATION_FAILURE,
        "EAP-MS-CHAPv2 failed with error ERROR_AUTHENTICATION_FAILURE: '(null)'",
    )


def test_a_live_link_lost_to_silence_is_829_and_to_a_delete_629() -> None:
    for line, code in (
        ("giving up after 3 retransmits", errors.ERROR_LINK_FAILURE),
        ("received DELETE for IKE_SA openras[1]", errors.ERROR_REMOTE_DISCONNECTION),
    ):
        log = CharonLog()
        feed(log, SUCCESS)
        log.feed_event("child-updown", {"up": "yes", "openras": {"state": "ESTABLISHED"}})
        assert log.child_up
        feed(log, "sending DPD request\n" + line)
        log.feed_event("ike-updown", {"openras": {"state": "DELETING"}})
        assert log.went_down and not log.child_up
        assert log.end_reason(connected=True, default=0)[0] == code


def test_sa_facts_from_list_sas() -> None:
    log = CharonLog()
    log.take_sa({
        "state": "ESTABLISHED", "remote-host": "10.98.0.1", "local-vips": ["10.98.4.1"],
        "nat-remote": "yes", "encr-alg": "AES_CBC", "encr-keysize": "256",
        "child-sas": {"openras-1": {"local-ts": ["10.98.4.1/32"], "remote-ts": ["10.98.5.0/24"]}},
    })  # fmt: skip
    f = log.facts
    assert (f.server_address, f.local_address, f.encryption) == ("10.98.0.1", "10.98.4.1",
                                                                 "AES_CBC-256")  # fmt: skip
    assert f.server_behind_nat and f.remote_ts == ["10.98.5.0/24"]


# -- the entry ---------------------------------------------------------------------------------


SECRET = "pw"


def spec(tmp_path: Path, keys: dict[str, str], *, user: str = "alice", password: str = SECRET,
         grant: Grant | None = None, phone: str = "") -> LinkSpec:  # fmt: skip
    base = {"vpnstrategy": "7", "phonenumber": "vpn.example.test"}
    entry = EntrySnapshot("Work", {**base, **{k.lower(): v for k, v in keys.items()}},
                          device_type="vpn")  # fmt: skip
    return LinkSpec(
        handle=7, owner_uid=0, entry=entry, run_dir=tmp_path / "run", marker="m",
        params=DialParams(user=user, password=password, phone_number=phone),
        phonebook=tmp_path / "rasphone.pbk", grant=grant or Grant(),
    )  # fmt: skip


CA = b"-----BEGIN CERTIFICATE-----\nMIIBfake0123456789abcdef==\n-----END CERTIFICATE-----\n"


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    path.write_bytes(b"junk before\n" + CA + CA)
    return path


def test_a_windows_entry_is_eap_mschapv2_full_tunnel_checking_the_name(
    tmp_path: Path, ca_file: Path
) -> None:
    s = settings_from_spec(spec(tmp_path, {"OpenRasIkev2Ca": str(ca_file)}))
    assert (s.server, s.remote_id, s.auth, s.user, s.eap_type) == (
        "vpn.example.test", "vpn.example.test", "eap", "alice", 26)  # fmt: skip
    assert s.full_tunnel and s.mobike and len(s.cas) == 2
    conn = config.connection(s)[config.CONN]
    assert conn["remote-1"] == {"auth": "pubkey", "id": "vpn.example.test"}
    assert conn["local-1"] == {"auth": "eap-mschapv2", "eap_id": "alice"}
    assert conn["children"][config.CHILD]["remote_ts"] == ["0.0.0.0/0"]
    assert config.shared_secret(s) == {"id": "openras-eap", "type": "EAP", "data": "pw",
                                       "owners": ["alice"]}  # fmt: skip


def test_entry_keys_change_what_is_checked_and_asked(tmp_path: Path, ca_file: Path) -> None:
    ca = {"OpenRasIkev2Ca": str(ca_file)}
    s = settings_from_spec(
        spec(
            tmp_path,
            {
                **ca,
                "DisableIKENameEkuCheck": "1",
                "DisableMobility": "1",
                "IpPrioritizeRemote": "0",
            },
        )
    )
    assert (s.remote_id, s.mobike, s.full_tunnel) == ("%any", False, False)
    # The administrator's saved credentials: the name is always checked, the number fixed.
    admin = Grant(admin_credentials=True)
    s = settings_from_spec(spec(tmp_path, {**ca, "DisableIKENameEkuCheck": "1"}, grant=admin))
    assert s.remote_id == "vpn.example.test"
    with pytest.raises(errors.RasError) as exc:
        settings_from_spec(spec(tmp_path, ca, grant=admin, phone="evil.example.test"))
    assert exc.value.code == errors.ERROR_ACCESS_DENIED
    s = settings_from_spec(spec(tmp_path, {**ca, "OpenRasOptions2": str(0x800000)}, user=""))
    assert s.auth == "psk" and config.shared_secret(s) == {"id": "openras-psk", "type": "IKE",
                                                           "data": "pw"}  # fmt: skip
    with pytest.raises(errors.RasError) as exc:
        settings_from_spec(spec(tmp_path, {**ca, "OpenRasOptions2": str(0x400000)}))
    assert exc.value.code == errors.ERROR_IPSEC_IKE_NO_CERT
    with pytest.raises(errors.RasError) as exc:
        settings_from_spec(spec(tmp_path, {**ca, "CustomAuthKey": "13"}))
    assert "EAP-TLS" in str(exc.value)
    no_full = Grant(full_tunnel=False, full_tunnel_rule="policy.conf:3: full-tunnel = no")
    with pytest.raises(errors.RasError) as exc:
        settings_from_spec(spec(tmp_path, ca, grant=no_full))
    assert exc.value.code == errors.ERROR_ACCESS_DENIED and "policy.conf:3" in str(exc.value)


def test_bad_servers_and_missing_users_are_refused(tmp_path: Path, ca_file: Path) -> None:
    ca = {"OpenRasIkev2Ca": str(ca_file)}
    for bad in ("-oProxyCommand=x", "a b", "host..x", ""):
        with pytest.raises(errors.RasError):
            settings_from_spec(spec(tmp_path, {**ca, "PhoneNumber": bad}))
    with pytest.raises(errors.RasError) as exc:
        settings_from_spec(spec(tmp_path, ca, user=""))
    assert exc.value.code == errors.ERROR_AUTHENTICATION_FAILURE
    assert exc.value.needs == errors.NEEDS_CREDENTIALS  # a client asks the user, dials again
    assert settings_from_spec(spec(tmp_path, {**ca, "PhoneNumber": "[2001:db8::1]"})).server == (
        "2001:db8::1"
    )


def test_strongswan_conf_holds_no_entry_text(tmp_path: Path) -> None:
    text = config.strongswan_conf(
        run_dir=tmp_path, vici_socket=tmp_path / "v", log_file=tmp_path / "l",
        table=0x6F720007, priority=24015, resolv_file=tmp_path / "resolv.conf",
    )  # fmt: skip
    assert "routing_table = 1869742087" in text and "routing_table_prio = 24015" in text
    assert "include" not in text and "kernel-libipsec kernel-netlink" in text
    # DNS is reported in charon's log, never written where it counts: strongSwan 5.9.8's
    # resolve plugin rewrites its file when there is no /sbin/resolvconf.
    assert f"resolve {{ file = {tmp_path / 'resolv.conf'} }}" in text
    assert "/etc/resolv.conf" not in text


def test_pem_certificates_finds_each_block() -> None:
    assert pem_certificates(b"x\n" + CA + b"y\n" + CA) == [CA, CA]
    assert pem_certificates(b"-----BEGIN CERTIFICATE-----\nno end") == []


# -- which driver ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "driver"),
    [
        ({"vpnstrategy": "7"}, "ikev2"),
        ({"vpnstrategy": "8"}, "attempts"),  # IKEv2 first, then PPTP: a list
        ({"vpnstrategy": "14"}, "attempts"),  # IKEv2, then SSTP: a list
        ({"preferreddevice": "WAN Miniport (IKEv2)"}, "ikev2"),
        ({"openrasdevice": "openvpn", "vpnstrategy": "7"}, "openvpn"),
    ],
)
def test_windows_keys_choose_the_ikev2_driver(keys: dict[str, str], driver: str) -> None:
    assert driver_name(EntrySnapshot("e", keys, device_type="vpn")) == driver


def test_l2tp_goes_to_the_l2tp_driver_and_a_strategy_list_with_it_to_attempts() -> None:
    assert driver_name(EntrySnapshot("e", {"vpnstrategy": "3"}, device_type="vpn")) == "l2tp"
    assert driver_name(EntrySnapshot("e", {"vpnstrategy": "4"}, device_type="vpn")) == "attempts"


# -- VICI ----------------------------------------------------------------------------------


def test_vici_codec_round_trip() -> None:
    from vici.protocol import Message, Packet

    framed = encode_request("load-conn", {"c": {"version": "2", "remote_addrs": ["a", "b"]}})
    (length,) = struct.unpack("!I", framed[:4])
    assert length == len(framed) - 4 and framed[4] == Packet.CMD_REQUEST
    assert framed[5:15] == bytes([9]) + b"load-conn"
    body = {"sa": {"state": b"ESTABLISHED", "local-vips": [b"10.0.0.1"]}, "n": b"1"}
    kind, name, got = decode_packet(bytes([Packet.CMD_RESPONSE]) + Message.serialize(body))
    assert (kind, name) == (Packet.CMD_RESPONSE, "")
    assert got == {"sa": {"state": "ESTABLISHED", "local-vips": ["10.0.0.1"]}, "n": "1"}


def test_vici_request_streams_events_and_raises_on_failure() -> None:
    """Against a fake charon over a socketpair: events before the answer reach on_event,
    ``success = no`` is a ViciError."""
    from vici.protocol import Message, Packet

    def frame(kind: int, body: dict[str, object], name: str = "") -> bytes:
        head = bytes([kind]) + (bytes([len(name)]) + name.encode() if name else b"")
        payload = head + Message.serialize(body)
        return struct.pack("!I", len(payload)) + payload

    async def main() -> None:
        import socket

        a, b = socket.socketpair()
        reader, writer = await asyncio.open_connection(sock=a)
        conn = ViciConnection(reader, writer)
        b.setblocking(False)
        loop = asyncio.get_running_loop()
        seen: list[tuple[str, dict[str, object]]] = []

        async def serve(replies: list[bytes]) -> None:
            for reply in replies:
                await loop.sock_recv(b, 65536)
                await loop.sock_sendall(b, reply)

        server = asyncio.create_task(serve([
            frame(Packet.EVENT_CONFIRM, {}),
            frame(Packet.EVENT, {"msg": "initiating IKE_SA"}, "control-log")
            + frame(Packet.CMD_RESPONSE, {"success": "no", "errmsg": "establishing failed"}),
            frame(Packet.EVENT_CONFIRM, {}),
        ]))  # fmt: skip
        with pytest.raises(ViciError, match="establishing failed"):
            await conn.request("initiate", {"child": "x"}, stream="control-log",
                               on_event=lambda n, m: seen.append((n, m)))  # fmt: skip
        await server
        assert seen == [("control-log", {"msg": "initiating IKE_SA"})]
        conn.close()
        b.close()

    asyncio.run(main())


def test_vici_pipeline_sends_all_then_reads_every_answer_in_order() -> None:
    """A CA bundle's load-certs go in one write; each answer is matched to its command, a
    refused one by its errmsg, and none is lost when they arrive in pieces."""
    from vici.protocol import Message, Packet

    def frame(body: dict[str, object]) -> bytes:
        payload = bytes([Packet.CMD_RESPONSE]) + Message.serialize(body)
        return struct.pack("!I", len(payload)) + payload

    async def main() -> None:
        import socket

        a, b = socket.socketpair()
        reader, writer = await asyncio.open_connection(sock=a)
        conn = ViciConnection(reader, writer)
        b.setblocking(False)
        loop = asyncio.get_running_loop()
        messages = [{"type": "x509", "flag": "CA", "data": f"ca{i}"} for i in range(3)]

        async def serve() -> int:
            got = b""
            expected = sum(len(encode_request("load-cert", m)) for m in messages)
            while len(got) < expected:
                got += await loop.sock_recv(b, 65536)
            replies = (
                frame({"success": "yes"})
                + frame({"success": "no", "errmsg": "parsing failed"})
                + frame({"success": "yes"})
            )
            for i in range(0, len(replies), 7):  # in pieces
                await loop.sock_sendall(b, replies[i : i + 7])
            return len(got)

        server = asyncio.create_task(serve())
        assert await conn.pipeline("load-cert", messages) == ["", "parsing failed", ""]
        assert await server == sum(len(encode_request("load-cert", m)) for m in messages)
        conn.close()
        b.close()

    asyncio.run(main())


def test_retransmissions_fit_the_dial_timeout() -> None:
    from openras.links.ikev2.config import retransmit_tries

    def total(tries: int) -> float:
        return sum(1.6**i for i in range(tries + 1))

    assert retransmit_tries(15) == 3  # the default dial timeout: about 9 s of tries
    for timeout in (16.0, 30.0, 60.0, 90.0):
        n = retransmit_tries(timeout)
        assert total(n) <= timeout < total(n + 1), (timeout, n)
    assert retransmit_tries(1) == 3  # never fewer (a short timeout ends the dial itself)
    assert retransmit_tries(10_000) == 8  # nor more than charon's DPD should wait


def test_ike_update_moves_the_outer_addresses() -> None:
    """MOBIKE: charon's ``ike-update`` gives the new addresses at its top level, and the SA
    as it was in its section."""
    log = CharonLog()
    log.feed_event(
        "child-updown",
        {"up": "yes", "openras": {"local-host": "10.0.0.2", "remote-host": "192.0.2.1",
                                  "local-vips": ["10.97.0.1"]}},
    )  # fmt: skip
    assert (log.facts.local_host, log.facts.server_address) == ("10.0.0.2", "192.0.2.1")
    log.feed_event(
        "ike-update",
        {"local-host": "10.0.9.2", "local-port": "4500", "remote-host": "192.0.2.1",
         "remote-port": "4500", "openras": {"local-host": "10.0.0.2", "remote-host": "192.0.2.1"}},
    )  # fmt: skip
    assert log.facts.local_host == "10.0.9.2" and log.facts.server_address == "192.0.2.1"
    assert log.facts.local_address == "10.97.0.1"  # the virtual IP does not move
    assert log.child_up and not log.went_down
