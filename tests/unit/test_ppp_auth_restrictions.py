"""AuthRestrictions (pbk.h's AR_F_* bits) as the PPP protocols pppd may use: what an entry
forbids is refused in pppd's argv, so the password never goes out by it."""

from __future__ import annotations

from pathlib import Path

import pytest

from openras.errors import ERROR_INVALID_FUNCTION_FOR_ENTRY, ERROR_INVALID_PARAMETER, RasError
from openras.links.ppp.argv import check_vpn_auth, entry_auth, refuse_options
from openras.manager.entries import EntrySnapshot


def _entry(value: str | None) -> EntrySnapshot:
    return EntrySnapshot("x", {} if value is None else {"authrestrictions": value})


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        (None, ("pap", "chap", "mschap", "mschap-v2")),  # nothing said: all four
        ("632", ("pap", "chap", "mschap", "mschap-v2")),  # "typical", unsecured allowed
        ("608", ("chap", "mschap", "mschap-v2")),  # "typical", secure
        ("544", ("chap", "mschap-v2")),  # seen in Windows 10 exports
        ("512", ("mschap-v2",)),  # "require encrypted password"
        ("8", ("pap",)),
        ("1024", ("mschap",)),  # Windows 95's MS-CHAP is MS-CHAP
        ("2", ("chap", "mschap", "mschap-v2")),  # the old scalar "encrypted"
        ("0", ("pap", "chap", "mschap", "mschap-v2")),  # the old scalar "any"
    ],
)
def test_the_bits_are_the_protocols_allowed(value: str | None, allowed: tuple[str, ...]) -> None:
    assert entry_auth(_entry(value)) == allowed


def test_what_is_not_allowed_is_refused_to_pppd() -> None:
    assert refuse_options(entry_auth(_entry("512"))) == [
        "refuse-pap",
        "refuse-chap",
        "refuse-mschap",
    ]
    assert refuse_options(entry_auth(_entry("632"))) == []


def test_eap_mschapv2_allows_ms_chap_v2_and_other_eap_is_a_clear_error() -> None:
    # Windows' VPN exports: AuthRestrictions=128 with CustomAuthKey=26 (EAP-MSCHAPv2)
    eap_mschapv2 = EntrySnapshot("x", {"authrestrictions": "128", "customauthkey": "26"})
    assert entry_auth(eap_mschapv2) == ("mschap-v2",)
    check_vpn_auth(eap_mschapv2, "PPTP")
    eap_tls = EntrySnapshot("x", {"authrestrictions": "128", "customauthkey": "13"})
    with pytest.raises(RasError) as err:
        check_vpn_auth(eap_tls, "SSTP")
    assert err.value.code == ERROR_INVALID_FUNCTION_FOR_ENTRY


def test_eap_only_and_garbage_are_clear_errors() -> None:
    with pytest.raises(RasError) as err:
        entry_auth(_entry("128"))  # EAP of a type not named
    assert err.value.code == ERROR_INVALID_FUNCTION_FOR_ENTRY
    assert "EAP" in str(err.value.detail)
    with pytest.raises(RasError) as err:
        entry_auth(_entry("all"))
    assert err.value.code == ERROR_INVALID_PARAMETER


def test_a_vpn_entry_that_forbids_ms_chap_v2_is_refused_saying_why() -> None:
    check_vpn_auth(_entry("544"), "PPTP")  # allows MS-CHAPv2: fine
    with pytest.raises(RasError) as err:
        check_vpn_auth(_entry("40"), "PPTP")  # PAP and CHAP only
    assert err.value.code == ERROR_INVALID_FUNCTION_FOR_ENTRY
    assert "allows PAP, CHAP only" in str(err.value.detail)


def test_a_server_that_wants_a_forbidden_protocol_is_691_saying_why() -> None:
    """pppd's log when the entry refused the server's PAP and the server would take nothing
    else (recorded in the VM tier against a pppd server with require-pap)."""
    from openras.errors import ERROR_AUTHENTICATION_FAILURE
    from openras.links.ppp.interpreter import PppLog, classify_exit

    log = PppLog()
    log.feed(
        b"Connect: orppp7 <--> /dev/pts/1\n"
        b"rcvd [LCP ConfReq id=0x1 <asyncmap 0x0> <auth pap> <magic 0x18c5697b>]\n"
        b"sent [LCP ConfNak id=0x1 <auth chap MD5>]\n"
        b"rcvd [LCP ConfReq id=0x2 <asyncmap 0x0> <magic 0x18c5697b>]\n"
        b"sent [LCP ConfAck id=0x2 <asyncmap 0x0> <magic 0x18c5697b>]\n"
        b'rcvd [LCP TermReq id=0x3 "peer refused to authenticate"]\n'
        b"LCP terminated by peer (peer refused to authenticate)\n"
        b"Connection terminated.\n"
    )
    code, detail = classify_exit(log, 16, connected=False)
    assert code == ERROR_AUTHENTICATION_FAILURE
    assert "AuthRestrictions" in detail


def test_an_l2tp_entry_that_forbids_ms_chap_v2_is_780_before_anything_starts() -> None:
    from openras.links.base import DialParams, LinkSpec
    from openras.links.ppp.l2tp_link import dial_from_spec

    keys = {"device": "vpn", "vpnstrategy": "3", "dataencryption": "0", "phonenumber": "192.0.2.1"}
    for restrictions, ok in (("544", True), ("8", False)):
        spec = LinkSpec(
            handle=5,
            owner_uid=1000,
            entry=EntrySnapshot("L2TP", {**keys, "authrestrictions": restrictions}),
            params=DialParams(user="alice", password="pw"),
            run_dir=Path("/nonexistent"),
            marker="m",
        )
        if ok:
            assert dial_from_spec(spec).tunnel.server == "192.0.2.1"
        else:
            with pytest.raises(RasError) as err:
                dial_from_spec(spec)
            assert err.value.code == ERROR_INVALID_FUNCTION_FOR_ENTRY
            assert "L2TP" in str(err.value.detail)
