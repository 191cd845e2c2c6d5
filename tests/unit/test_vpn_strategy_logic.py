"""Windows' VPN strategies: the order of tunnel types, which failures move on, which driver
an entry gets, and what a list that failed answers."""

from __future__ import annotations

import pytest

from openras import errors
from openras.links import strategy as S
from openras.links.attempts import Overridden, _all_failed
from openras.links.registry import attempts_for, driver_name, vpn_attempts
from openras.manager.entries import EntrySnapshot


def vpn(strategy: str | None = None, device: str = "") -> EntrySnapshot:
    keys = {"type": "2"}
    if strategy is not None:
        keys["vpnstrategy"] = strategy
    if device:
        keys["preferreddevice"] = device
    return EntrySnapshot(name="Office", keys=keys, device_type="vpn")


@pytest.mark.parametrize(
    ("strategy", "order"),
    [
        ("1", ("PPTP",)),
        ("2", ("PPTP", "IKEv2", "SSTP", "L2TP")),
        ("3", ("L2TP",)),
        ("4", ("L2TP", "IKEv2", "PPTP", "SSTP")),
        ("6", ("SSTP", "IKEv2", "PPTP", "L2TP")),
        ("7", ("IKEv2",)),
        ("8", ("IKEv2", "PPTP", "SSTP", "L2TP")),
        ("12", ("PPTP", "SSTP")),
        ("13", ("L2TP", "SSTP")),
        ("14", ("IKEv2", "SSTP")),
        ("0", ("SSTP", "IKEv2", "PPTP", "L2TP")),
        ("9", ()),  # GRE only: no such type here
        ("15", ()),  # a Windows 10 profile's protocol list: not in a pbk entry's keys
    ],
)
def test_windows_order_for_each_strategy(strategy: str, order: tuple[str, ...]) -> None:
    assert S.attempt_order(strategy, "") == order


def test_automatic_tries_the_miniport_that_last_connected_first() -> None:
    assert S.attempt_order("0", "WAN Miniport (PPTP)") == ("PPTP", "SSTP", "IKEv2", "L2TP")
    # No strategy at all and a miniport named: that type only (the minimal scripted entry).
    assert S.attempt_order(None, "WAN Miniport (IKEv2)") == ("IKEv2",)
    assert S.attempt_order(None, "") == S.ORDER["0"]
    # A list strategy is not reordered by the device.
    assert S.attempt_order("8", "WAN Miniport (PPTP)") == S.ORDER["8"]


@pytest.mark.parametrize(
    ("code", "moves_on"),
    [
        (809, True),  # no answer
        (807, True),
        (806, True),  # GRE blocked
        (789, True),  # L2TP security layer
        (797, True),  # no such device here (no kernel PPP)
        (13801, True),  # IKE: certificate
        (691, False),  # a wrong password fails every type, and counts against lockouts
        (868, False),  # the name does not resolve for any type
        (631, False),  # the user hung up
        (5, False),  # the policy refused it
        (1, False),
    ],
)
def test_which_failures_move_on(code: int, moves_on: bool) -> None:
    assert S.worth_next(code) is moves_on


def test_driver_is_the_list_only_when_several_types_run_here() -> None:
    assert driver_name(vpn("7")) == "ikev2"
    assert driver_name(vpn("1")) == "ppp"
    assert driver_name(vpn("5")) == "ppp"  # SSTP alone: pppd with sstpc
    assert driver_name(vpn("2")) == "attempts"  # PPTP, then IKEv2, then SSTP
    assert vpn_attempts(vpn("2"))[:3] == [("PPTP", "ppp"), ("IKEv2", "ikev2"), ("SSTP", "ppp")]
    assert driver_name(vpn("8")) == "attempts"
    assert driver_name(vpn("14")) == "attempts"  # IKEv2, then SSTP
    assert driver_name(vpn("12")) == "attempts"  # PPTP, then SSTP
    assert driver_name(vpn("0")) == "attempts"
    assert driver_name(vpn(None, "WAN Miniport (IKEv2)")) == "ikev2"
    assert driver_name(vpn("3")) == "l2tp"  # L2TP alone: charon, xl2tpd and pppd
    with pytest.raises(errors.RasError):  # a list is never named by hand
        driver_name(EntrySnapshot(name="x", keys={"openrasdevice": "attempts"}))


def test_an_attempt_sees_the_entry_as_its_type_only() -> None:
    entry = vpn("2", "WAN Miniport (PPTP)")
    seen = Overridden(entry, {"VpnStrategy": S.ONLY["IKEv2"]})
    assert seen.get("VpnStrategy") == "7" and seen.get("vpnstrategy") == "7"
    assert seen.get("PreferredDevice") == "WAN Miniport (PPTP)"
    assert seen.name == "Office" and seen.device_type == "vpn"
    assert driver_name(seen) == "ikev2"
    assert driver_name(Overridden(entry, {"VpnStrategy": S.ONLY["PPTP"]})) == "ppp"


def test_what_a_failed_list_answers() -> None:
    one = _all_failed([("IKEv2", 809, "no answer")])
    assert (one.code, one.detail) == (809, "no answer")
    several = _all_failed([("PPTP", 797, "no kernel PPP"), ("IKEv2", 809, "")])
    assert several.code == errors.ERROR_AUTOMATIC_VPN_FAILED
    assert "PPTP 797 (no kernel PPP)" in str(several) and "IKEv2 809" in str(several)
    final = _all_failed([("PPTP", 797, "no kernel PPP"), ("IKEv2", 691, "bad password")])
    assert final.code == 691 and "IKEv2: bad password" in str(final)


def test_a_modem_entry_tries_its_alternate_numbers_when_it_says_so() -> None:
    from openras.manager.entries import snapshot
    from openras.phonebook.model import parse

    book = parse(
        b"[Dial-up]\nType=1\n\nMEDIA=serial\nPort=COM1\nDevice=Standard 56000 bps Modem\n\n"
        b"DEVICE=modem\nPhoneNumber=555 0100\nTryNextAlternateOnFail=1\n\n"
        b"DEVICE=modem\nPhoneNumber=555 0199\nTryNextAlternateOnFail=1\n"
    )
    entry = snapshot(book.find("Dial-up"), __import__("pathlib").Path("/x.pbk"), False)
    assert entry.alternates == ("555 0199",)
    assert EntrySnapshot.from_record(entry.to_record()) == entry  # survives the journal
    assert attempts_for(entry) == [
        ("555 0100", "ppp", {"phonenumber": "555 0100"}),
        ("555 0199", "ppp", {"phonenumber": "555 0199"}),
    ]
    assert driver_name(entry) == "attempts"
    seen = Overridden(entry, {"phonenumber": "555 0199"})
    assert seen.get("PhoneNumber") == "555 0199" and seen.alternates == ("555 0199",)
    # Without TryNextAlternateOnFail=1 the alternates are not dialed: the ppp driver alone.
    off = EntrySnapshot(name="m", keys={"phonenumber": "1", "trynextalternateonfail": "0"},
                        device_type="modem", alternates=("2",))  # fmt: skip
    assert driver_name(off) == "ppp" and len(attempts_for(off)) == 1
