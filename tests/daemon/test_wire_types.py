"""The typed interface (wire/messages.py) against the real daemon: every reply of a dial's
life converts to its declared reply type (so the interface description, generated from
those types, says what the daemon really sends), and the description the daemon serves
names every method and every field of the types."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from rasman_helpers import Raw

from openras.client import Client
from openras.wire import messages as wm
from openras.wire import protocol as P


def typed(kind: type[Any], reply: dict[str, Any]) -> Any:
    """``reply`` as ``kind``; any field of the wrong type, or a required one missing, fails."""
    try:
        return msgspec.convert(reply, kind, strict=True)
    except msgspec.ValidationError as exc:  # pragma: no cover - the failure message
        pytest.fail(f"{kind.__name__}: {exc}: {reply}")


def test_every_reply_has_its_declared_type(rasman) -> None:
    events: list[dict[str, Any]] = []
    raw = Raw(rasman.socket)
    first = raw.call(P.DIAL, {"entry": "Demo", "phonebook": str(rasman.phonebook)}, more=True)
    assert first is not None
    dial = typed(wm.DialOut, first["parameters"])
    while True:
        msg = raw.recv()
        assert msg is not None
        events.append(msg["parameters"])
        if not msg.get("continues"):
            break
    assert [typed(wm.EventOut, e).event for e in events] and events[-1]["state"] == 0x2000
    h = dial.handle
    with Client(rasman.socket) as c:
        assert typed(wm.Connection, c.call(P.GET_STATUS, {"handle": h})).handle == h
        [row] = typed(wm.EnumOut, c.call(P.ENUM, {})).connections
        assert row.entry == "Demo"
        assert typed(wm.StatisticsOut, c.call(P.STATISTICS, {"handle": h})).duration_ms >= 0
        assert typed(wm.ProjectionOut, c.call(P.PROJECTION, {"handle": h})).interface == "lo"
        assert typed(wm.PingOut, c.call(P.PING)).uid == 0
        saved = c.call(P.GET_CREDENTIALS, {"entry": "Demo", "phonebook": str(rasman.phonebook)})
        assert typed(wm.CredentialsOut, saved).has_password is False
        assert typed(wm.Empty, c.call(P.HANG_UP, {"handle": h, "wait": True})) == wm.Empty()
        assert typed(wm.HistoryOut, c.call(P.HISTORY)).disconnects
    raw.close()


def test_the_served_description_is_the_generated_one(rasman) -> None:
    with Client(rasman.socket) as c:
        served = c.call("org.varlink.service.GetInterfaceDescription",
                        {"interface": P.INTERFACE})["description"]  # fmt: skip
    assert served == wm.interface_description(P.INTERFACE)
    for name, (params, reply, _doc) in wm.METHODS.items():
        assert f"method {name}(" in served
        for field in (*params.__struct_fields__, *reply.__struct_fields__):
            assert f"{field}: " in served, (name, field)
    # What the hand-written description had wrong: the projection's IPv6 and extra fields.
    assert "local_address_v6: string" in served and "extra: [string]string" in served


def test_a_wrong_field_is_named_in_the_refusal(rasman) -> None:
    raw = Raw(rasman.socket)
    reply = raw.call(P.HANG_UP, {"handle": 1, "wait": "yes"})
    assert reply is not None and reply["parameters"]["code"] == 87
    assert "$.wait" in reply["parameters"]["detail"]
    raw.close()
