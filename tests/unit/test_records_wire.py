"""``ConnectionInfo.from_wire`` builds the record without its dataclass __init__ (speed):
it must give exactly what the constructor gives, and a record that behaves the same."""

from __future__ import annotations

import dataclasses

import pytest

from openras.records import ConnectionInfo
from openras.states import RasConnState
from openras.wire import fields

FULL = {
    "handle": 7, "entry": "Office", "state": 8192, "phase": "connected", "error": 0,
    "entry_name": "Office", "phonebook": "/home/u/rasphone.pbk", "phone_number": "vpn.example",
    "device_type": "vpn", "device_name": "OpenVPN", "guid": "{0}", "all_users": True,
    "owner": 1000, "refs": 2, "created": 1.5, "connected_at": 2.5, "detail": None,
    "driver": "openvpn", "ras_device_type": "vpn", "ras_device_name": "WAN Miniport (OpenVPN)",
    "correlation_id": "ab" * 16, "dialed_number": None,
}  # fmt: skip


@pytest.mark.parametrize(
    "wire",
    [
        FULL,
        {"handle": 1, "state": 0},  # OpenPort is 0 (falsy) and every other field defaults
        {"handle": "3", "state": "14", "error": "691", "created": 4},  # loosely typed
        {**FULL, "state": 8193},
    ],
)
def test_from_wire_equals_the_constructor(wire: dict[str, object]) -> None:
    made = ConnectionInfo(**fields.connection(wire))
    got = ConnectionInfo.from_wire(wire)
    assert got == made and hash(got) == hash(made) and repr(got) == repr(made)
    assert type(got.state) is RasConnState and got.state == made.state
    assert dataclasses.replace(got, refs=5).refs == 5
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.handle = 9  # type: ignore[misc]


def test_an_unknown_state_is_refused_as_before() -> None:
    with pytest.raises(ValueError):
        ConnectionInfo.from_wire({"handle": 1, "state": 12345})
