"""L2TP/IPsec, the pure parts: which entries dial L2TP and with what encryption, charon's
IKEv1 transport-mode messages, xl2tpd's and pppd's files, charon's failure lines as the
codes Windows gives, and the kernel check's verdicts."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from openras.errors import ERROR_BAD_PHONE_NUMBER, ERROR_CONNECTING_DEVICE_NOT_FOUND, RasError
from openras.links.base import DialParams, LinkSpec
from openras.links.ppp import l2tp as L

SERVER = "10.231.244.1"
#: The keys of a Windows 10 L2TP/IPsec export that matter here (ras-api.md 7.3).
EXPORT = {
    "Type": "2",
    "VpnStrategy": "3",
    "DataEncryption": "256",
    "PreferredDevice": "WAN Miniport (L2TP)",
    "DEVICE": "vpn",
    "PhoneNumber": SERVER,
}


class _Entry:
    def __init__(self, keys: dict[str, str]) -> None:
        self._keys = {k.lower(): v for k, v in keys.items()}
        self.name = "L2TP Lab"

    def get(self, key: str, default: str | None = None) -> str | None:
        return self._keys.get(key.lower(), default)


@pytest.mark.parametrize(
    ("strategy", "device", "l2tp"),
    [
        ("3", "", True),
        ("4", "", True),
        ("13", "", True),
        ("1", "WAN Miniport (L2TP)", False),  # the strategy decides when there is one
        ("7", "", False),
        ("0", "WAN Miniport (L2TP)", True),
        ("", "WAN Miniport (L2TP)", True),
        ("0", "WAN Miniport (PPTP)", False),
    ],
)
def test_which_entries_dial_l2tp(strategy: str, device: str, l2tp: bool) -> None:
    entry = _Entry({**EXPORT, "VpnStrategy": strategy, "PreferredDevice": device})
    assert L.is_l2tp(entry) is l2tp


@pytest.mark.parametrize(
    ("code", "ipsec"), [(None, True), ("256", True), ("512", True), ("8", True), ("0", False)]
)
def test_ipsec_follows_data_encryption(code: str | None, ipsec: bool) -> None:
    keys = dict(EXPORT)
    keys.pop("DataEncryption")
    if code is not None:
        keys["DataEncryption"] = code
    assert L.entry_ipsec(_Entry(keys)) is ipsec


def test_bad_data_encryption_is_named() -> None:
    with pytest.raises(RasError, match="DataEncryption"):
        L.entry_ipsec(_Entry({**EXPORT, "DataEncryption": "x"}))


def test_psk_is_required_for_ipsec_and_the_error_says_how() -> None:
    with pytest.raises(RasError) as exc:
        L.check_psk("")
    assert exc.value.code == 766
    assert "RASCM_PreSharedKey" in str(exc.value) and "DataEncryption=0" in str(exc.value)
    with pytest.raises(RasError):
        L.check_psk("a\0b")
    with pytest.raises(RasError):
        L.check_psk("k" * 257)
    assert L.check_psk("k" * 256) == "k" * 256


def test_psk_never_in_repr() -> None:
    settings = L.L2tpSettings(server=SERVER, ipsec=True, psk="s3cret-psk")
    assert "s3cret-psk" not in repr(settings)


def test_ike_connection_is_ikev1_transport_for_l2tp_only() -> None:
    settings = L.L2tpSettings(server=SERVER, ipsec=True, psk="k", reqid=4242)
    conn = L.ike_connection(settings, fwmark=0x1234)[L.CONN]
    assert conn["version"] == "1" and conn["aggressive"] == "no"
    assert conn["remote_addrs"] == [SERVER]
    assert conn["local-1"] == {"auth": "psk"} and conn["remote-1"] == {"auth": "psk"}
    child = conn["children"][L.CHILD]
    assert child["mode"] == "transport"
    assert child["remote_ts"] == ["dynamic[udp/1701]"]  # only L2TP to the server is protected
    assert child["local_ts"] == ["dynamic[udp]"]
    assert child["reqid"] == "4242" and child["set_mark_out"] == "0x1234"
    assert "vips" not in conn  # no virtual IP: PPP's IPCP gives the address
    plain = L.ike_connection(L.L2tpSettings(server=SERVER, ipsec=True, psk="k"))[L.CONN]
    assert "reqid" not in plain["children"][L.CHILD]
    assert "set_mark_out" not in plain["children"][L.CHILD]
    secret = L.ike_secret(settings)
    assert secret == {"id": "openras-l2tp-psk", "type": "IKE", "data": "k"}


@pytest.mark.parametrize(
    ("line", "code"),
    [
        # charon 5.9.8 initiating IKEv1 main mode against a responder with another PSK
        ("received INVALID_ID_INFORMATION error notify", 789),
        ("message verification failed", 789),
        ("received AUTHENTICATION_FAILED error notify", 789),
        ("received NO_PROPOSAL_CHOSEN error notify", 789),
        ("giving up after 3 retransmits", 809),
        ("establishing CHILD_SA l2tp{1}", None),
    ],
)
def test_ike_failures_are_windows_codes(line: str, code: int | None) -> None:
    assert L.ike_failure(line) == code


def test_xl2tpd_conf_has_only_the_server_and_daemon_paths(tmp_path: Path) -> None:
    opts = tmp_path / "options.l2tp"
    text = L.xl2tpd_conf(L.L2tpSettings(server=SERVER, ipsec=True), options_file=opts)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert "[lac openras]" in lines
    assert f"lns = {SERVER}" in lines
    assert f"pppoptfile = {opts}" in lines
    assert "autodial = no" in lines and "redial = no" in lines
    assert "port = 0" in lines  # one xl2tpd per link: none holds 1701 for the others


def test_pppd_options_quote_the_user_and_keep_the_password_out(tmp_path: Path) -> None:
    text = L.pppd_options(
        user='DOM\\al "x"', ifname="orppp7", linkname="openras-7",
        logfile=tmp_path / "pppd.log", no_script="/bin/true", password_fd=5,
    )  # fmt: skip
    lines = text.splitlines()
    # pppd's tokenizer reads a quoted word with \\ and \" escapes: shlex's posix mode agrees
    user_line = next(line for line in lines if line.startswith("user "))
    assert shlex.split(user_line) == ["user", 'DOM\\al "x"']
    assert "plugin passwordfd.so passwordfd 5" in lines
    assert "nomppe" in lines and "refuse-pap" in lines and "noauth" in lines
    assert 'ifname "orppp7"' in lines
    with pytest.raises(RasError):
        L.pppd_options(
            user="a\nplugin evil.so", ifname="orppp7", linkname="openras-7",
            logfile=tmp_path / "pppd.log", no_script="/bin/true", password_fd=None,
        )  # fmt: skip


def test_kernel_gaps_name_each_missing_part() -> None:
    listed = "kernel/net/l2tp/l2tp_core.ko:\nkernel/net/l2tp/l2tp_ppp.ko: l2tp_core.ko\n"
    full = dict(ppp=True, esp=True, loaded=(), modules_listed=listed)
    assert L.kernel_gaps(ipsec=True, **full) == []  # type: ignore[arg-type]
    assert L.kernel_gaps(ipsec=True, ppp=True, esp=True, loaded=("l2tp_core", "l2tp_ppp"),
                         modules_listed="") == []  # fmt: skip
    gaps = L.kernel_gaps(ipsec=True, ppp=False, esp=False, loaded=(), modules_listed="")
    assert gaps[0].startswith("PPP") and gaps[1] == "L2TP (l2tp_core, l2tp_ppp)"
    assert gaps[2].startswith("IPsec ESP")
    # L2TP alone (DataEncryption=0) does not need ESP
    assert L.kernel_gaps(ipsec=False, ppp=True, esp=False, loaded=(), modules_listed=listed) == []


def test_check_kernel_here_refuses_with_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    """This host's kernel: either it has everything (nothing to check) or the error names
    each missing part and the config options."""
    try:
        L.check_kernel(True)
    except RasError as exc:
        assert exc.code == ERROR_CONNECTING_DEVICE_NOT_FOUND
        assert "CONFIG_L2TP" in str(exc) and "CONFIG_INET_ESP" in str(exc)
    monkeypatch.setattr("openras.links.xfrm.kernel_esp", lambda: False)
    with pytest.raises(RasError, match="IPsec ESP"):
        L.check_kernel(True)


# -- the driver's model (links/ppp/l2tp_link.py) ------------------------------------------------


def _spec(keys: dict[str, str], *, handle: int = 7, psk: str = "", phone: str = "",
          admin: bool = False) -> LinkSpec:  # fmt: skip
    from dataclasses import replace

    params = DialParams(entry_name="L2TP Lab", user="alice", password="pw", psk=psk,
                        phone_number=phone, domain="CORP")  # fmt: skip
    spec = LinkSpec(handle=handle, owner_uid=1000, entry=_Entry(keys), params=params,  # type: ignore[arg-type]
                    run_dir=Path("/nonexistent"), marker="m")  # fmt: skip
    return replace(spec, grant=replace(spec.grant, admin_credentials=admin)) if admin else spec


def test_a_dial_is_the_checked_server_ipsec_the_key_and_a_reqid_of_the_link() -> None:
    from openras.links.ppp.l2tp_link import dial_from_spec

    dial = dial_from_spec(_spec(EXPORT, psk="k3y"))
    assert dial.tunnel.server == SERVER and dial.tunnel.ipsec and dial.tunnel.psk == "k3y"
    assert L.reqid_for(7) == L.REQID_BASE + 7  # (the link sets it: checks run before a handle)
    assert dial.user == "CORP\\alice"  # MS-CHAP's DOMAIN\user, as Windows sends it
    assert L.reqid_for(7 + (1 << 24)) != L.reqid_for(8)  # (the low 24 bits of growing handles)
    plain = dial_from_spec(_spec({**EXPORT, "DataEncryption": "0"}))
    assert not plain.tunnel.ipsec and plain.tunnel.psk == ""  # L2TP alone needs no key
    with pytest.raises(RasError) as exc:
        dial_from_spec(_spec(EXPORT))  # IPsec required, no key saved
    assert exc.value.code == 766


@pytest.mark.parametrize(
    "number", ["-oProxyCommand=x", "a b", "10.0.0.1;reboot", "::1", "host\nname", ""]
)
def test_a_server_that_is_not_a_plain_name_or_address_is_refused(number: str) -> None:
    from openras.links.ppp.l2tp_link import dial_from_spec

    with pytest.raises(RasError) as exc:
        dial_from_spec(_spec({**EXPORT, "PhoneNumber": number}, psk="k"))
    assert exc.value.code == ERROR_BAD_PHONE_NUMBER
    assert "L2TP" in str(exc.value) or "not a host name" in str(exc.value)


def test_the_administrators_key_and_password_go_to_the_entrys_server_only() -> None:
    from openras.links.ppp.l2tp_link import dial_from_spec

    with pytest.raises(RasError) as exc:
        dial_from_spec(_spec(EXPORT, psk="k", phone="192.0.2.9", admin=True))
    assert exc.value.code == 5
    assert dial_from_spec(_spec(EXPORT, psk="k", phone=SERVER, admin=True)).tunnel.server == SERVER


def test_charons_conf_is_the_kernels_esp_with_no_route_and_no_virtual_ip(tmp_path: Path) -> None:
    conf = L.strongswan_conf(vici_socket=tmp_path / "v", log_file=tmp_path / "l",
                             dial_timeout=15.0)  # fmt: skip
    assert "kernel-libipsec" not in conf and "kernel-netlink" in conf
    assert "install_routes = no" in conf and "install_virtual_ip = no" in conf
    assert f"unix://{tmp_path / 'v'}" in conf and "include" not in conf
    assert L.initiate(2500) == {"child": L.CHILD, "ike": L.CONN, "timeout": "2500", "loglevel": "0"}


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("Maximum retries exceeded for tunnel 12345.  Closing.", 809),
        ("xl2tpd[1]: Unable to bind socket: Address already in use", 711),
        ("Connecting to host 10.0.0.1, port 1701", None),
    ],
)
def test_xl2tpd_lines_that_end_a_dial(line: str, code: int | None) -> None:
    from openras.links.ppp.l2tp_link import xl2tpd_failure

    assert xl2tpd_failure(line) == code


# -- certificate mode (IpSecFlags=0) ------------------------------------------------------------

_CERT = b"-----BEGIN CERTIFICATE-----\nMIIBmachine\n-----END CERTIFICATE-----\n"
_CA = b"-----BEGIN CERTIFICATE-----\nMIIBlabca\n-----END CERTIFICATE-----\n"
_KEY = b"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIkey\n-----END EC PRIVATE KEY-----\n"


def _cert_files(d: Path) -> dict[str, str]:
    (d / "m.crt").write_bytes(_CERT)
    (d / "m.key").write_bytes(_KEY)
    (d / "ca.crt").write_bytes(_CA)
    return {"IpSecFlags": "0", "OpenRasL2tpCert": str(d / "m.crt"),
            "OpenRasL2tpKey": str(d / "m.key"), "OpenRasL2tpCa": str(d / "ca.crt")}  # fmt: skip


def _own_spec(keys: dict[str, str], **kw: object) -> LinkSpec:
    """A spec whose owner is this process's user (the files are read as the owner)."""
    import os
    from dataclasses import replace

    return replace(_spec(keys, **kw), owner_uid=os.geteuid())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("keys", "auth"),
    [
        ({"IpSecFlags": "1"}, "psk"),  # RASEO2_UsePreSharedKey: the L2TP entries of an export
        ({"IpSecFlags": "0"}, "cert"),
        ({}, "psk"),  # openras's own entries before the key was read
        ({"OpenRasL2tpCert": "/c.pem"}, "cert"),
        ({"IpSecFlags": "1", "OpenRasL2tpCert": "/c.pem"}, "psk"),  # the Windows key wins
    ],
)
def test_ipsecflags_chooses_the_pre_shared_key_or_certificates(keys: dict[str, str],
                                                               auth: str) -> None:  # fmt: skip
    assert L.entry_auth(_Entry({**EXPORT, **keys})) == auth


def test_a_bad_ipsecflags_is_refused_naming_it() -> None:
    with pytest.raises(RasError, match="IpSecFlags"):
        L.entry_auth(_Entry({**EXPORT, "IpSecFlags": "yes"}))


def test_raseo2_usepresharedkey_is_the_pbks_ipsecflags(tmp_path: Path) -> None:
    """RasSetEntryProperties writes the bit as the key Windows exports; a clear bit on a new
    entry writes nothing (the driver's default, the PSK, stays)."""
    from openras import _rasentry as x
    from openras.phonebook import load

    path = tmp_path / "r.pbk"
    props = x.RASENTRY(szLocalPhoneNumber=SERVER, szDeviceType="vpn",
                       szDeviceName="WAN Miniport (L2TP)", dwVpnStrategy=3, dwfOptions2=0x10)  # fmt: skip
    assert x.RasSetEntryProperties(str(path), "A", props) == 0
    props.dwfOptions2 = 0
    assert x.RasSetEntryProperties(str(path), "B", props) == 0
    book = load(path)
    assert book["A"].get("IpSecFlags") == "1" and book["B"].get("IpSecFlags") is None
    assert book["A"].get("OpenRasOptions2") in (None, "0")
    code, back = x.RasGetEntryProperties(str(path), "A")
    assert code == 0 and back is not None and back.dwfOptions2 & 0x10


def test_a_certificate_dial_reads_the_entrys_files_and_checks_the_server(tmp_path: Path) -> None:
    from openras.links.ppp.l2tp_link import dial_from_spec

    dial = dial_from_spec(_own_spec({**EXPORT, **_cert_files(tmp_path)}))
    t = dial.tunnel
    assert t.cert and t.auth == L.AUTH_CERT and t.psk == ""  # no pre-shared key needed
    assert t.certs == (_CERT,) and t.cas == (_CA,) and t.key == _KEY and t.key_type == "ecdsa"
    assert t.remote_id == SERVER  # the server's certificate must name the server dialed
    assert _KEY.decode() not in repr(dial) and "MIIB" not in repr(dial)
    relaxed = {**EXPORT, **_cert_files(tmp_path), "DisableIKENameEkuCheck": "1"}
    assert dial_from_spec(_own_spec(relaxed)).tunnel.remote_id == "%any"
    with pytest.raises(RasError) as exc:  # not for the administrator's saved credentials
        dial_from_spec(_own_spec(relaxed, admin=True))
    assert exc.value.code == 5


@pytest.mark.parametrize(
    ("drop", "change", "code", "says"),
    [
        ("OpenRasL2tpCert", {}, 766, "IpSecFlags=1"),
        ("OpenRasL2tpKey", {}, 766, "OpenRasL2tpKey="),
        ("", {"m.crt": b"not a certificate"}, 766, "no PEM certificate"),
        ("", {"m.key": _KEY.replace(b"EC ", b"ENCRYPTED ")}, 766, "encrypted"),
        ("", {"ca.crt": b""}, 87, "OpenRasL2tpCa"),
    ],
)
def test_a_certificate_dial_without_a_usable_certificate_says_what_to_set(
    tmp_path: Path, drop: str, change: dict[str, bytes], code: int, says: str
) -> None:
    from openras.links.ppp.l2tp_link import dial_from_spec

    keys = {**EXPORT, **_cert_files(tmp_path)}
    keys.pop(drop, None)
    for name, data in change.items():
        (tmp_path / name).write_bytes(data)
    with pytest.raises(RasError) as exc:
        dial_from_spec(_own_spec(keys))
    assert exc.value.code == code and says in str(exc.value), str(exc.value)


def test_without_a_ca_key_the_system_bundle_checks_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from openras.links.ppp.l2tp_link import dial_from_spec

    keys = {**EXPORT, **_cert_files(tmp_path)}
    del keys["OpenRasL2tpCa"]
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(_CA + _CERT)
    monkeypatch.setenv("OPENRAS_CA_BUNDLE", str(bundle))
    assert dial_from_spec(_own_spec(keys)).tunnel.cas == (_CA, _CERT)
    bundle.write_bytes(b"")
    with pytest.raises(RasError, match="OpenRasL2tpCa="):
        dial_from_spec(_own_spec(keys))


def test_the_certificate_connection_is_pubkey_both_ways_with_the_servers_identity() -> None:
    settings = L.L2tpSettings(server=SERVER, ipsec=True, auth=L.AUTH_CERT, remote_id=SERVER,
                              cas=(_CA,), certs=(_CERT, _CA), key=_KEY, key_type="ecdsa",
                              reqid=9)  # fmt: skip
    conn = L.ike_connection(settings)[L.CONN]
    assert conn["version"] == "1" and conn["send_cert"] == "always"
    assert conn["local-1"] == {"auth": "pubkey", "certs": [_CERT.decode()]}
    assert conn["remote-1"] == {"auth": "pubkey", "id": SERVER}
    assert conn["children"][L.CHILD]["mode"] == "transport"
    assert L.ike_credentials(settings) == [
        ("load-cert", [{"type": "x509", "flag": "CA", "data": _CA}]),
        ("load-key", [{"type": "ecdsa", "data": _KEY}]),
        ("load-cert", [{"type": "x509", "flag": "NONE", "data": _CERT},
                       {"type": "x509", "flag": "NONE", "data": _CA}]),
    ]  # fmt: skip
    psk = L.L2tpSettings(server=SERVER, ipsec=True, psk="k")
    assert L.ike_credentials(psk) == [("load-shared", [L.ike_secret(psk)])]
    assert "send_cert" not in L.ike_connection(psk)[L.CONN]


@pytest.mark.parametrize(
    ("line", "code"),
    [
        # charon 5.9.8's lines against tests/links' certificate responder (test_l2tp_ike)
        ("received AUTHENTICATION_FAILED error notify", 786),  # our certificate refused
        ('no issuer certificate found for "CN=vpn.lab.test"', 787),  # not from the CA
        ("no trusted ECDSA public key found for '10.0.0.1'", 835),  # not naming the server
        ("IDir '10.0.0.1' does not match to 'other.lab.test'", 835),
        ("received NO_PROPOSAL_CHOSEN error notify", 789),
        ("giving up after 3 retransmits", 809),
        ("establishing CHILD_SA l2tp{1}", None),
    ],
)
def test_certificate_failures_are_windows_codes(line: str, code: int | None) -> None:
    assert L.ike_failure(line, cert=True) == code
    if code in (786, 787, 835):
        assert L.ike_failure(line) in (789, None)  # a PSK dial's reading is unchanged
