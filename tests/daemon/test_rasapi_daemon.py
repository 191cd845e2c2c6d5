"""openras.rasapi against a real rasman: Win32 shapes, codes returned, notifiers, events."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from rasman_helpers import wait_until

from openras import errors
from openras import rasapi as r
from openras.states import DIAL_SEQUENCE, RasConnState

pytestmark = pytest.mark.usefixtures("fresh_rasapi")


def gone(h: int) -> bool:
    return r.RasGetConnectStatus(h)[0] == r.ERROR_INVALID_HANDLE


def test_sync_dial_status_enum_hang_up(rasman):
    code, h = r.RasDial(None, str(rasman.phonebook), r.RASDIALPARAMS(szEntryName="Demo"))
    assert (code, h > 0) == (0, True)
    code, st = r.RasGetConnectStatus(h)
    assert code == 0 and st is not None
    assert (st.rasconnstate, st.dwError) == (r.RASCS_Connected, 0)
    # Windows reports the entry's device (a Type=2 entry: RASDT_Vpn), the driver apart.
    assert (st.szDeviceType, st.szPhoneNumber) == ("vpn", "loopback-demo")
    assert st.szOpenRasDriver == "loopback"
    code, conns = r.RasEnumConnections()
    assert code == 0
    [rc] = conns
    assert (rc.hrasconn, rc.szEntryName, rc.szPhonebook) == (h, "Demo", str(rasman.phonebook))
    assert rc.dwFlags & r.RASCF_OwnerKnown and rc.dwFlags & r.RASCF_OwnerMatch
    assert not rc.dwFlags & r.RASCF_AllUsers
    code, stats = r.RasGetConnectionStatistics(h)
    assert code == 0 and stats is not None and stats.dwConnectDuration >= 0
    code, proj = r.RasGetProjectionInfoEx(h)
    # Windows 7's RAS_PROJECTION_INFO: a tunnel without PPP reports the IKEv2 member.
    assert code == 0 and proj is not None and proj.version == r.RASAPIVERSION_601
    assert (proj.type, proj.ppp) == (r.PROJECTION_INFO_TYPE_IKEv2, None)
    assert proj.ikev2 is not None and proj.ikev2.ipv4Address == "127.0.0.1"
    assert r.RasHangUp(h) == 0
    wait_until(lambda: gone(h), what="6")
    assert r.RasHangUp(h) == r.ERROR_INVALID_HANDLE
    assert r.RasEnumConnections() == (0, [])
    assert rasman.link_pids() == []


def test_sync_dial_failure_returns_code_and_handle(rasman):
    code, h = r.RasDial(None, str(rasman.phonebook), r.RASDIALPARAMS("Secret", szPassword="wrong"))
    assert code == r.ERROR_AUTHENTICATION_FAILURE and h > 0  # must still be hung up
    code, st = r.RasGetConnectStatus(h)
    assert code == 0 and st is not None
    assert (st.rasconnstate, st.dwError) == (r.RASCS_Authenticate, 691)
    assert r.RasEnumConnections() == (0, [])
    assert r.RasHangUp(h) == 0
    wait_until(lambda: gone(h), what="6")
    code, h = r.RasDial(None, str(rasman.phonebook), r.RASDIALPARAMS("NoCarrier"))
    assert code == r.ERROR_NO_ANSWER and h > 0
    assert r.RasGetConnectStatus(h)[1].rasconnstate == r.RASCS_ConnectDevice
    assert r.RasHangUp(h) == 0


def test_dial_codes_without_a_handle(rasman):
    pb = str(rasman.phonebook)
    assert r.RasDial(None, pb, r.RASDIALPARAMS("Nope")) == (r.ERROR_CANNOT_FIND_PHONEBOOK_ENTRY, 0)
    assert r.RasDial(None, pb, r.RASDIALPARAMS("x" * 257)) == (r.ERROR_INVALID_PARAMETER, 0)
    assert r.RasDial(None, pb, r.RASDIALPARAMS("Demo", szPhoneNumber="1" * 129)) == (87, 0)
    assert r.RasDial(None, pb, r.RASDIALPARAMS("Demo", szDomain="d" * 16)) == (87, 0)
    assert r.RasDial(None, pb, ("Demo",)) == (87, 0)
    assert r.RasDial(None, pb, r.RASDIALPARAMS("Demo"), 7, lambda *a: None) == (87, 0)
    code, h = r.RasDial(None, "/nonexistent/x.pbk", r.RASDIALPARAMS("Demo"))
    assert code in (r.ERROR_CANNOT_OPEN_PHONEBOOK, r.ERROR_CANNOT_LOAD_PHONEBOOK) and h == 0
    assert r.RasEnumConnections() == (0, [])


class Recorder:
    """Collects notifier calls; ``done`` is set on Connected or on an error."""

    def __init__(self, kind: int, ret: Any = 1) -> None:
        self.kind = kind
        self.ret = ret
        self.calls: list[tuple[Any, ...]] = []
        self.done = threading.Event()

    def __call__(self, *args: Any) -> Any:
        self.calls.append(args)
        state, error = args[-3:-1] if self.kind else args[1:3]
        if state == r.RASCS_Connected or error:
            self.done.set()
        return self.ret

    def states(self) -> list[int]:
        return [c[-3] if self.kind else c[1] for c in self.calls]


@pytest.mark.parametrize("kind", [0, 1, 2])
def test_async_dial_notifier_gets_each_state(rasman, kind):
    rec = Recorder(kind)
    params = r.RASDIALPARAMS("Demo", dwCallbackId=0xBEEF)
    code, h = r.RasDial(None, str(rasman.phonebook), params, kind, rec)
    assert code == 0 and h > 0
    assert rec.done.wait(10)
    states = rec.states()
    assert states == [int(s) for s in DIAL_SEQUENCE]  # each state once, in order
    for call in rec.calls:
        if kind == 0:
            assert call[0] == r.WM_RASDIALEVENT and len(call) == 3
        elif kind == 1:
            assert call[:2] == (h, r.WM_RASDIALEVENT) and len(call) == 5
        else:
            assert call[:4] == (0xBEEF, 1, h, r.WM_RASDIALEVENT) and len(call) == 7
    assert r.RasHangUp(h) == 0
    wait_until(lambda: gone(h), what="6")


def test_async_dial_failure_notifies_the_failing_state_with_its_error(rasman):
    rec = Recorder(1)
    code, h = r.RasDial(
        None, str(rasman.phonebook), r.RASDIALPARAMS("Secret", szPassword="no"), 1, rec
    )
    assert code == 0
    assert rec.done.wait(10)
    last = rec.calls[-1]
    assert last == (h, r.WM_RASDIALEVENT, r.RASCS_Authenticate, r.ERROR_AUTHENTICATION_FAILURE, 0)
    assert all(c[3] == 0 for c in rec.calls[:-1])
    assert r.RasGetConnectStatus(h)[1].dwError == 691
    assert r.RasHangUp(h) == 0


def test_notifier2_returning_zero_stops_notifications(rasman):
    rec = Recorder(2, ret=0)
    code, h = r.RasDial(None, str(rasman.phonebook), r.RASDIALPARAMS("Demo"), 2, rec)
    assert code == 0
    wait_until(
        lambda: r.RasGetConnectStatus(h)[1].rasconnstate == r.RASCS_Connected, what="Connected"
    )
    assert len(rec.calls) == 1  # the dial itself went on
    assert r.RasHangUp(h) == 0


def test_handler_may_hang_up_and_read_status(rasman, extra_pbk):
    """RasHangUp inside the handler works, and notifications stop there (ras-api.md §1.3 (c))."""
    seen: dict[str, Any] = {}
    calls: list[tuple[int, int]] = []

    def handler(hconn: int, msg: int, state: int, error: int, ext: int) -> None:
        calls.append((state, error))
        if state == r.RASCS_PortOpened and not error and "hangup" not in seen:
            seen["status_before"] = r.RasGetConnectStatus(hconn)
            seen["hangup"] = r.RasHangUp(hconn)
            seen["status_after"] = r.RasGetConnectStatus(hconn)

    code, h = r.RasDial(None, str(extra_pbk), r.RASDIALPARAMS("SlowDial"), 1, handler)
    assert code == 0
    wait_until(lambda: gone(h), what="6")
    wait_until(lambda: not notifier_threads(h), what="the notifier thread to end")
    assert (
        seen["status_before"][0] == 0
        and seen["status_before"][1].rasconnstate == r.RASCS_PortOpened
    )
    assert seen["hangup"] == 0
    assert seen["status_after"][1].rasconnstate == r.RASCS_Disconnected
    assert calls == [(r.RASCS_OpenPort, 0), (r.RASCS_PortOpened, 0)]  # nothing after the hang-up
    assert rasman.link_pids() == []


def notifier_threads(h: int) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"RasDial-{h}" and t.is_alive()]


def test_rasman_dying_mid_dial_still_ends_the_notifications(rasman, extra_pbk):
    """The stream breaks (rasman killed): the notifier gets a last call with an error."""
    rec = Recorder(1)
    code, h = r.RasDial(None, str(extra_pbk), r.RASDIALPARAMS("SlowDial"), 1, rec)
    assert code == 0
    wait_until(lambda: len(rec.calls) >= 2, what="the first states")
    rasman.kill9()
    assert rec.done.wait(10), "no final notification after the daemon died"
    state, error = rec.calls[-1][2:4]
    assert error != 0 and state == rec.calls[-2][2]  # the state it was in, with an error
    assert all(c[3] == 0 for c in rec.calls[:-1])
    rasman.start()  # adopts the link; hang it up so nothing is left
    assert r.RasHangUp(h) == 0
    wait_until(lambda: gone(h), what="6")


def test_win32ras_script_waiting_on_an_event_is_woken_when_rasman_dies(rasman, extra_pbk):
    """The classic pywin32 script: Dial with a callback, Event.wait() for Connected or error."""
    from openras import win32ras

    finished = threading.Event()
    last: list[tuple[int, int]] = []

    def callback(hras: int, msg: int, state: int, error: int, exterror: int) -> None:
        last.append((state, error))
        if error or state == win32ras.RASCS_Connected:
            finished.set()

    handle, rc = win32ras.Dial(None, str(extra_pbk), ("SlowDial",), callback)
    assert rc == 0 and handle
    wait_until(lambda: last, what="a first state")
    rasman.kill9()
    assert finished.wait(10)
    assert last[-1][1] != 0
    rasman.start()
    win32ras.HangUp(handle)
    wait_until(lambda: gone(handle), what="6")


def test_connection_notification_with_events(rasman):
    on_connect = threading.Event()
    assert r.RasConnectionNotification(r.INVALID_HANDLE_VALUE, on_connect, r.RASCN_Connection) == 0
    code, h = r.RasDial(None, str(rasman.phonebook), r.RASDIALPARAMS("Demo"))
    assert code == 0
    assert on_connect.wait(5)
    on_disconnect = threading.Event()
    assert r.RasConnectionNotification(h, on_disconnect, r.RASCN_Disconnection) == 0
    assert not on_disconnect.is_set()
    assert r.RasHangUp(h) == 0
    assert on_disconnect.wait(10)
    assert gone(h)  # the event fires when the connection is deleted
    # argument checks
    assert (
        r.RasConnectionNotification(h, threading.Event(), r.RASCN_Disconnection)
        == r.ERROR_INVALID_HANDLE
    )
    assert r.RasConnectionNotification(r.INVALID_HANDLE_VALUE, object(), r.RASCN_Connection) == 87
    assert r.RasConnectionNotification(r.INVALID_HANDLE_VALUE, threading.Event(), 0) == 87


def test_one_handle_notification_ends_with_its_handle(rasman):
    """Without RASCN_Disconnection the watch of one handle still ends when the handle does."""
    code, h = r.RasDial(None, str(rasman.phonebook), r.RASDIALPARAMS("Demo"))
    assert code == 0
    event = threading.Event()
    assert r.RasConnectionNotification(h, event, r.RASCN_Connection) == 0
    name = f"RasConnectionNotification-{h}"
    assert [t for t in threading.enumerate() if t.name == name]
    assert r.RasHangUp(h) == 0
    wait_until(lambda: gone(h), what="6")
    wait_until(
        lambda: not [t for t in threading.enumerate() if t.name == name],
        what="the watch thread (and its socket) to end",
    )
    assert not event.is_set()  # it was a connection already: no RASCN_Connection for it


def test_all_users_phonebook_flag(rasman, monkeypatch):
    """An entry of the all-users phonebook enumerates with RASCF_AllUsers."""
    import os

    system = os.environ["OPENRAS_SYSTEM_PHONEBOOK"]
    with open(system, "w", encoding="utf-8") as fh:
        fh.write(rasman.phonebook.read_text())
    code, h = r.RasDial(None, None, r.RASDIALPARAMS("Demo"))
    assert code == 0
    [rc] = r.RasEnumConnections()[1]
    assert rc.hrasconn == h and rc.dwFlags & r.RASCF_AllUsers and rc.szPhonebook == system
    assert r.RasHangUp(h) == 0
    wait_until(lambda: gone(h), what="6")


def test_error_strings(rasman):
    assert r.RasGetErrorString(691) == (0, errors.message(691))
    assert r.RasGetErrorString(6) == (r.ERROR_INVALID_PARAMETER, "")  # not in RasError.h
    assert r.RasGetErrorString(123456)[0] == r.ERROR_INVALID_PARAMETER
    assert r.RasGetErrorString("691")[0] == r.ERROR_INVALID_PARAMETER  # type: ignore[arg-type]


def test_reconnects_after_daemon_restart(rasman):
    """One session per process: it reconnects once when the daemon came back."""
    code, h = r.RasDial(None, str(rasman.phonebook), r.RASDIALPARAMS("Demo"))
    assert r.RasGetConnectStatus(h)[0] == 0  # opens the process session
    rasman.kill9()
    rasman.start()
    code, st = r.RasGetConnectStatus(h)
    assert code == 0 and st.rasconnstate == RasConnState.Connected
    assert r.RasHangUp(h) == 0
    wait_until(lambda: gone(h), what="6")


def test_one_link_per_connection_is_sub_entry_1(rasman):
    """openras dials one link per connection: sub-entry 1's handle is the connection's own
    (hanging it up ends the connection), its counters are the connection's; no other
    sub-entry is connected (618), and a bad handle is 6."""
    code, h = r.RasDial(None, str(rasman.phonebook), r.RASDIALPARAMS(szEntryName="Demo"))
    assert code == 0
    assert r.RasGetSubEntryHandle(h, 1) == (0, h)
    assert r.RasGetSubEntryHandle(h, 2) == (r.ERROR_PORT_NOT_OPEN, 0)
    code, link = r.RasGetLinkStatistics(h, 1)
    assert code == 0 and link is not None and link.dwConnectDuration >= 0
    assert r.RasGetLinkStatistics(h, 2) == (r.ERROR_INVALID_PARAMETER, None)
    _, sub = r.RasGetSubEntryHandle(h, 1)
    assert r.RasHangUp(sub) == 0
    wait_until(lambda: gone(h), what="6")
    assert r.RasGetSubEntryHandle(h, 1) == (r.ERROR_INVALID_HANDLE, 0)
    assert r.RasGetLinkStatistics(h, 1)[0] == r.ERROR_INVALID_HANDLE
