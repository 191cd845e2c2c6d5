"""The lifecycle contract (DESIGN.md §2) against a real rasman and real loopback link processes."""

from __future__ import annotations

import itertools
import threading
import time

import pytest
from rasman_helpers import HEARTBEAT, Events, Raw, alive, handles, is_gone, pending, wait_until

from openras import AsyncClient, Client, errors
from openras.client import dial_parameters
from openras.states import DIAL_SEQUENCE, RasConnState
from openras.wire import protocol as P
from openras.wire.codec import encode


def test_failed_dial_keeps_handle_and_error_until_hung_up(rasman):
    """691 at Authenticate: the handle stays readable with its error until RasHangUp."""
    with Client(rasman.socket) as c:
        with pytest.raises(errors.AuthenticationFailure) as exc:
            c.dial("Secret", rasman.phonebook, password="wrong")
        h = exc.value.handle
        assert h > 0 and exc.value.code == 691
        wait_until(lambda: rasman.link_pids() == [], what="the failed attempt's program to exit")
        st = c.status(h)  # the program is gone, the handle is not
        assert (st.phase, st.state, st.error) == ("failed", RasConnState.Authenticate, 691)
        assert h not in handles(c.connections())
        assert h in handles(c.connections(include_pending=True))
        # a new attempt of the same entry gets a new handle; the failed one stays as it was
        ok = c.dial("Secret", rasman.phonebook, password="s3cret")
        assert ok.handle > h
        assert c.status(h).error == 691
        c.hang_up(h, wait=False)
        c.wait_gone(h)
        with pytest.raises(errors.InvalidHandle):
            c.status(h)
        assert c.status(ok.handle).state is RasConnState.Connected
        ok.hang_up()


def test_no_carrier_fails_at_connect_device(rasman):
    with Client(rasman.socket) as c:
        with pytest.raises(errors.RasError) as exc:
            c.dial("NoCarrier", rasman.phonebook)
        assert exc.value.code == errors.ERROR_NO_ANSWER
        st = c.status(exc.value.handle)
        assert (st.state, st.error, st.phase) == (RasConnState.ConnectDevice, 678, "failed")
        c.hang_up(exc.value.handle)
        assert is_gone(c, exc.value.handle)


def test_hang_up_returns_at_once_and_status_reads_disconnected_during_teardown(rasman):
    with Client(rasman.socket) as c:
        conn = c.dial("Slow", rasman.phonebook)
        [pid] = rasman.link_pids()
        t0 = time.monotonic()
        c.hang_up(conn.handle, wait=False)
        assert time.monotonic() - t0 < 0.3  # the program takes 600 ms to stop
        st = c.status(conn.handle)
        assert (st.state, st.phase, st.error) == (RasConnState.Disconnected, "disconnecting", 0)
        assert alive(pid)
        assert conn.handle not in handles(c.connections())
        # idempotent while tearing down
        c.hang_up(conn.handle, wait=False)
        c.hang_up(conn.handle, wait=False)
        assert c.status(conn.handle).phase == "disconnecting"
        c.wait_gone(conn.handle)
        assert time.monotonic() - t0 >= 0.5  # it waited for the graceful stop
        # the promise: 6 means nothing of the link is left
        assert not alive(pid)
        assert rasman.link_pids() == []
        with pytest.raises(errors.InvalidHandle):
            c.status(conn.handle)
        with pytest.raises(errors.InvalidHandle):
            c.hang_up(conn.handle, wait=False)


def test_hang_up_while_dialing_aborts(rasman, extra_pbk):
    outcome: dict[str, BaseException] = {}

    def dial() -> None:
        with Client(rasman.socket) as d:
            try:
                d.dial("SlowDial", extra_pbk)
            except errors.RasError as exc:
                outcome["exc"] = exc

    thread = threading.Thread(target=dial)
    thread.start()
    with Client(rasman.socket) as c:
        h = wait_until(lambda: pending(c, "SlowDial"), what="the attempt to appear")
        wait_until(lambda: c.status(h).state >= RasConnState.PortOpened, what="the program to run")
        st = c.status(h)
        assert st.phase == "dialing" and st.state is not RasConnState.Connected and st.error == 0
        assert h not in handles(c.connections())  # DIALING is not enumerated
        with pytest.raises(errors.DialInProgress):
            c.dial("SlowDial", extra_pbk)
        c.hang_up(h, wait=False)
        assert c.status(h).state is RasConnState.Disconnected
        thread.join(10)
        assert not thread.is_alive()
        exc = outcome["exc"]
        assert isinstance(exc, errors.RasError)
        assert (exc.code, exc.handle) == (errors.ERROR_USER_DISCONNECTION, h)
        c.wait_gone(h)
        assert is_gone(c, h)
        assert rasman.link_pids() == []
        [rec] = [d for d in c.history() if d.handle == h]
        assert rec.connected_at is None  # it never got there


def test_hang_up_before_the_program_even_started(rasman, extra_pbk):
    """The earliest hang-up: right after the handle exists. Nothing may be left behind."""
    dialer = Raw(rasman.socket)
    dialer.send(encode(P.call(P.DIAL, dial_parameters("SlowDial", extra_pbk), more=True)))
    first = dialer.recv()
    assert first is not None and first["continues"] and first["parameters"]["phase"] == "dialing"
    h = first["parameters"]["handle"]
    with Client(rasman.socket) as c:
        c.hang_up(h, wait=True)
        assert is_gone(c, h)
        assert rasman.link_pids() == []  # 6 means nothing of the link is left
    replies = [first]
    while replies[-1].get("continues"):
        replies.append(dialer.recv())
    last = replies[-1]["parameters"]
    assert (last["handle"], last["error"]) == (h, errors.ERROR_USER_DISCONNECTION)
    dialer.close()


@pytest.mark.parametrize("handle", [999_999, 0, -1, 2**40])
def test_unknown_handle_answers_6(rasman, handle):
    with Client(rasman.socket) as c:
        for call in (c.status, c.statistics, c.projection, lambda h: c.hang_up(h, wait=False)):
            with pytest.raises(errors.InvalidHandle):
                call(handle)


def test_dialing_a_connected_entry_joins_and_needs_two_hang_ups(rasman):
    with Client(rasman.socket) as a, Client(rasman.socket) as b:
        first = a.dial("Demo", rasman.phonebook)
        [pid] = rasman.link_pids()
        second = b.dial("Demo", rasman.phonebook)
        assert second.handle == first.handle
        assert a.status(first.handle).refs == 2
        assert rasman.link_pids() == [pid]
        a.hang_up(first.handle, wait=False)
        st = a.status(first.handle)
        assert (st.state, st.refs) == (RasConnState.Connected, 1)
        assert first.handle in handles(a.connections())
        assert alive(pid)
        b.hang_up(first.handle, wait=True)
        assert is_gone(a, first.handle)
        assert not alive(pid)


def test_dialing_an_entry_still_tearing_down_waits_and_gets_a_new_handle(rasman):
    with Client(rasman.socket) as c:
        old = c.dial("Slow", rasman.phonebook)
        [old_pid] = rasman.link_pids()
        c.hang_up(old.handle, wait=False)
        t0 = time.monotonic()
        new = c.dial("Slow", rasman.phonebook)
        waited = time.monotonic() - t0
        assert new.handle > old.handle
        assert waited >= 0.3  # the old one took ~600 ms to stop
        assert is_gone(c, old.handle)  # deleted before the new attempt started
        assert not alive(old_pid)
        assert c.status(new.handle).state is RasConnState.Connected
        new.hang_up()


def test_stubborn_link_is_killed_after_its_deadline(rasman):
    with Client(rasman.socket) as c:
        conn = c.dial("Stubborn", rasman.phonebook)
        [pid] = rasman.link_pids()
        t0 = time.monotonic()
        c.hang_up(conn.handle, wait=False)
        assert c.status(conn.handle).state is RasConnState.Disconnected
        c.wait_gone(conn.handle, timeout=10)
        took = time.monotonic() - t0
        assert 0.25 <= took < 5  # OpenRasKillDeadlineMs=300
        assert not alive(pid)
        assert is_gone(c, conn.handle)
    assert "ignored the stop request" in rasman.log.read_text()


def test_link_that_drops_by_itself_is_torn_down_with_629(rasman):
    events = Events(rasman.socket)
    try:
        with Client(rasman.socket) as c:
            conn = c.dial("Dropper", rasman.phonebook)
            ev = events.wait_for(
                lambda e: e.get("event") == "disconnected" and e["handle"] == conn.handle
            )
            assert ev["error"] == errors.ERROR_REMOTE_DISCONNECTION
            assert is_gone(c, conn.handle)
            assert rasman.link_pids() == []
            [rec] = [d for d in c.history() if d.handle == conn.handle]
            assert (rec.error, rec.entry, rec.redialing) == (629, "Dropper", False)
            assert rec.connected_at is not None
            # the phase passed through DISCONNECTING with the reason kept
            states = [
                (e["phase"], e["error"]) for e in events.of(conn.handle) if e["event"] == "state"
            ]
            assert ("disconnecting", 629) in states
    finally:
        events.close()


def test_redial_on_link_failure(rasman, extra_pbk):
    """RedialOnLinkFailure=1, RedialAttempts=1: one redial on the same handle, then torn down."""
    events = Events(rasman.socket)
    try:
        with Client(rasman.socket) as c:
            conn = c.dial("Redialer", extra_pbk)
            events.wait_for(
                lambda e: e.get("handle") == conn.handle and e.get("event") == "disconnected", 15
            )
            mine = events.of(conn.handle)
            redials = [i for i, e in enumerate(mine) if e.get("redial")]
            assert len(redials) == 1 and mine[redials[0]]["error"] == 629
            assert mine[redials[0]]["phase"] == "dialing"
            connected = [
                i
                for i, e in enumerate(mine)
                if e["event"] == "state" and e["state"] == RasConnState.Connected
            ]
            assert len(connected) == 2  # first dial and the redial
            assert connected[0] < redials[0] < connected[1]
            assert [e["event"] for e in mine].count("created") == 1  # one connection all along
            recs = [(d.redialing, d.error) for d in c.history() if d.handle == conn.handle]
            assert recs == [(True, 629), (False, 629)]
            assert is_gone(c, conn.handle)
            assert rasman.link_pids() == []
    finally:
        events.close()


def test_redial_waits_redial_seconds_after_the_old_link_is_gone(rasman, extra_pbk):
    """RedialSeconds=1: the old program is gone well before the second is up, and nothing
    else happens meanwhile; the redial must still start when its time comes."""
    events = Events(rasman.socket)
    try:
        with Client(rasman.socket) as c:
            conn = c.dial("PatientRedialer", extra_pbk)
            events.wait_for(
                lambda e: e.get("handle") == conn.handle and e.get("event") == "disconnected", 20
            )
            mine = events.of(conn.handle)
            connected = [
                e for e in mine if e["event"] == "state" and e["state"] == RasConnState.Connected
            ]
            assert len(connected) == 2  # the dial and the redial
            assert [d.redialing for d in c.history() if d.handle == conn.handle] == [True, False]
            assert is_gone(c, conn.handle)
    finally:
        events.close()


def test_event_stream_created_states_disconnected(rasman):
    events = Events(rasman.socket)
    try:
        with Client(rasman.socket) as c:
            conn = c.dial("Demo", rasman.phonebook)
            c.hang_up(conn.handle, wait=True)
            events.wait_for(
                lambda e: e.get("event") == "disconnected" and e["handle"] == conn.handle
            )
            mine = events.of(conn.handle)
        kinds = [e["event"] for e in mine]
        assert kinds[0] == "created" and kinds[-1] == "disconnected"
        assert set(kinds[1:-1]) == {"state"}
        states = [RasConnState(e["state"]) for e in mine[1:-1]]
        assert states[-1] is RasConnState.Disconnected
        reached = states[:-1]
        assert reached == [s for s in DIAL_SEQUENCE if s in reached]  # in order
        assert reached[-1] is RasConnState.Connected
        assert RasConnState.Authenticate in reached
        # each state event names the state it left
        for prev, ev in itertools.pairwise(mine[1:-1]):
            assert ev["old_state"] == prev["state"]
        assert all(e["owner"] == 0 and e["entry"] == "Demo" for e in mine)
    finally:
        events.close()


def test_statistics_are_real_and_increase(rasman):
    with Client(rasman.socket) as c:
        conn = c.dial("Demo", rasman.phonebook)
        s1 = conn.statistics()
        s2 = wait_until(
            lambda: (
                (s := conn.statistics()).bytes_received >= s1.bytes_received + 3 * HEARTBEAT and s
            ),
            what="traffic",
        )
        assert s2.bytes_sent > s1.bytes_sent and s2.frames_received > s1.frames_received
        assert s2.bytes_sent == s2.frames_sent * HEARTBEAT  # what the program really sent
        assert s2.duration_ms > s1.duration_ms >= 0
        proj = conn.projection()
        assert (proj.interface, proj.local_address) == ("lo", "127.0.0.1")
        conn.hang_up()
        with pytest.raises(errors.InvalidHandle):
            c.statistics(conn.handle)


def test_status_fields(rasman):
    with Client(rasman.socket) as c:
        conn = c.dial("demo", rasman.phonebook)  # entry names are case-insensitive
        st = conn.status()
        assert st.entry == "Demo" and st.phone_number == "loopback-demo"
        assert (st.device_type, st.device_name) == ("loopback", "openras loopback")
        assert st.phonebook == str(rasman.phonebook) and st.owner == 0
        conn.hang_up()


async def test_async_client_dial_events_hang_up(rasman):
    async with AsyncClient(rasman.socket, autostart=False) as c:
        seen: list[RasConnState] = []
        conn = await c.dial("Demo", rasman.phonebook, on_state=lambda e: seen.append(e.state))
        assert seen[0] is RasConnState.OpenPort and seen[-1] is RasConnState.Connected
        assert [i.handle for i in await c.connections()] == [conn.handle]
        await conn.hang_up()
        with pytest.raises(errors.InvalidHandle):
            await c.status(conn.handle)
        with pytest.raises(errors.AuthenticationFailure) as exc:
            await c.dial("Secret", rasman.phonebook, password="nope")
        assert (await c.status(exc.value.handle)).error == 691
        await c.hang_up(exc.value.handle)


def test_the_links_own_reason_reaches_the_caller(rasman):
    """A failure's detail (the link program's words) travels with the code: in the dial's
    exception, the failed handle's status, and the history after the hang-up."""
    with Client(rasman.socket) as c:
        with pytest.raises(errors.AuthenticationFailure) as info:
            c.dial("Secret", rasman.phonebook, user="u", password="wrong")
        assert info.value.detail == "the password is not the entry's OpenRasLoopbackPassword"
        handle = info.value.handle
        assert c.status(handle).detail == info.value.detail
        c.hang_up(handle, wait=True)
        [last] = [d for d in c.history() if d.handle == handle]
        assert (
            last.error == errors.ERROR_AUTHENTICATION_FAILURE and last.detail == info.value.detail
        )


def test_statistics_give_live_rates(rasman):
    """The loopback link's heartbeats are real traffic: the rate is measured between two
    statistics calls (and is the lifetime average on the first)."""
    with Client(rasman.socket) as c:
        conn = c.dial("Demo", rasman.phonebook)
        wait_until(lambda: c.statistics(conn.handle).bytes_received > 3 * HEARTBEAT, what="traffic")
        first = c.statistics(conn.handle)
        assert first.receive_bps > 0 and first.bps >= first.receive_bps
        wait_until(
            lambda: c.statistics(conn.handle).bytes_received > first.bytes_received + HEARTBEAT,
            what="more traffic",
        )
        assert c.statistics(conn.handle).receive_bps > 0
        conn.hang_up()
