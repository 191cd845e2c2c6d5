"""What a list of attempts takes from the phonebook never reaches a program unchecked: an
alternate number goes through the same check as the entry's own number (only dial
characters reach the chat script the daemon writes), and an attempt's changed keys are the
daemon's own values, never the entry's text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from openras import errors
from openras.links import strategy
from openras.links.attempts import Overridden
from openras.links.base import DialParams, LinkSpec
from openras.links.ppp.argv import PppSettings
from openras.links.registry import attempts_for, driver_name
from openras.manager.entries import EntrySnapshot

MODEM = {"phonenumber": "555 0100", "trynextalternateonfail": "1",
         "openrasserialport": "/dev/ttyS0"}  # fmt: skip


def _settings(entry: object) -> PppSettings:
    spec = LinkSpec(handle=7, owner_uid=1000, entry=entry,  # type: ignore[arg-type]
                    params=DialParams(entry_name="Dial-up", user="alice", password="pw"),
                    run_dir=Path("/nonexistent"), marker="test:7")  # fmt: skip
    return PppSettings.from_spec(spec)


@pytest.mark.parametrize(
    "alternate", ["555$(reboot)", "555`id`", "555;ATH", "555\\nATZ", "555'\"0", "+1 555 0199 OK"]
)
def test_an_alternate_number_with_more_than_dial_characters_is_refused(alternate: str) -> None:
    entry = EntrySnapshot(name="Dial-up", keys=MODEM, device_type="modem", alternates=(alternate,))
    assert driver_name(entry) == "attempts"
    (_, _, first), (_, _, second) = attempts_for(entry)
    assert _settings(Overridden(entry, first)).number  # the entry's own number dials
    with pytest.raises(errors.RasError) as info:
        _settings(Overridden(entry, second))
    assert info.value.code == errors.ERROR_BAD_PHONE_NUMBER


def test_an_attempts_changed_keys_are_the_daemons_own_values() -> None:
    # Whatever the entry's text says, an attempt sees only the strategy table's values.
    for text in ("7;rm -rf /", "2 8", "0x2", "-1"):
        entry = EntrySnapshot(name="v", keys={"vpnstrategy": text}, device_type="vpn")
        for _, driver, overrides in attempts_for(entry):
            assert driver in ("ikev2", "ppp")
            assert overrides["vpnstrategy"] in strategy.ONLY.values()
    # A strategy Windows does not define dials nothing.
    with pytest.raises(errors.RasError) as info:
        driver_name(EntrySnapshot(name="v", keys={"vpnstrategy": "7;rm"}, device_type="vpn"))
    assert info.value.code == errors.ERROR_DEVICETYPE_DOES_NOT_EXIST


def test_the_policy_judges_each_driver_a_list_would_run(tmp_path: Path) -> None:
    """A list runs other drivers: the policy must allow each of them, and a refusal names
    the real one ("attempts" is no device an administrator writes)."""
    from types import SimpleNamespace

    from openras import policy
    from openras.manager.service import Manager

    manager = Manager(tmp_path / "state")
    pptp_first = EntrySnapshot(name="v", keys={"vpnstrategy": "2"}, device_type="vpn")
    params = DialParams(entry_name="v")
    nobody = 65534

    def allow(devices: str) -> None:
        text = f"[default]\nentries = own all-users\ndevices = {devices}\n"
        manager.policy = SimpleNamespace(current=lambda: policy.parse(text, "p.conf"))  # type: ignore[assignment]

    allow("loopback ikev2")
    with pytest.raises(errors.RasError) as info:
        manager.grant(nobody, pptp_first, params, "attempts")
    assert info.value.code == errors.ERROR_ACCESS_DENIED
    # (the first of the list's drivers the policy does not name)
    assert re.search(r"\((ppp|l2tp) links of your own are not allowed", str(info.value))
    allow("attempts")  # naming the list itself allows nothing
    with pytest.raises(errors.RasError):
        manager.grant(nobody, pptp_first, params, "attempts")
    allow("ppp ikev2 l2tp")
    assert manager.grant(nobody, pptp_first, params, "attempts").full_tunnel is False
