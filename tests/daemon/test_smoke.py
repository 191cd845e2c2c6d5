"""The lifecycle contract in its simplest form, end to end against a real rasman."""

from __future__ import annotations

import pytest

from openras import Client, errors
from openras.states import RasConnState


def test_dial_status_hang_up(rasman):
    """Dial reaches Connected, is listed, and after hang-up the handle answers 6."""
    with Client(rasman.socket) as c:
        seen = []
        conn = c.dial("Demo", rasman.phonebook, on_state=lambda e: seen.append(e.state))
        assert seen[0] is RasConnState.OpenPort
        assert seen[-1] is RasConnState.Connected
        assert [i.handle for i in c.connections()] == [conn.handle]
        conn.hang_up(wait=True)
        with pytest.raises(errors.InvalidHandle):
            c.status(conn.handle)
        assert rasman.link_pids() == []


def test_varlink_introspection(rasman):
    """GetInfo and GetInterfaceDescription answer, so varlinkctl can introspect rasman."""
    from openras.wire.transport import connect

    t = connect(rasman.socket, autostart=False)
    try:
        info = t.call("org.varlink.service.GetInfo")
        assert "org.openras.Manager" in info["interfaces"]
        desc = t.call(
            "org.varlink.service.GetInterfaceDescription", {"interface": "org.openras.Manager"}
        )
        assert desc["description"].startswith("# The openras connection manager")
        assert "method Dial(" in desc["description"]
        with pytest.raises(errors.InvalidParameter):
            t.call("org.varlink.service.GetInterfaceDescription", {"interface": "nope"})
    finally:
        t.close()
