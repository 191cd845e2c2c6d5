"""The connection table's lifecycle, decided purely (DESIGN.md §2, the contract table).

Every test drives :class:`Table` with explicit ``now`` values and link events the way the
I/O layer would, and checks what each call answers in each phase.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from openras import errors
from openras.manager import table as T
from openras.manager.table import (
    REAP_GRACE,
    Conn,
    Deleted,
    DialRequest,
    DialStarted,
    MustWait,
    Phase,
    Publish,
    StartLink,
    StopLink,
    Table,
)
from openras.states import RasConnState

ROOT = 0
ALICE = 1000
BOB = 1001


def req(key: str = "pb\0demo", owner: int = ROOT, session: int = 1, **kw: Any) -> DialRequest:
    return DialRequest(
        owner=owner,
        key=key,
        entry_name=key.split("\0")[-1],
        phonebook="pb",
        phone_number="loopback-demo",
        device_type="loopback",
        device_name="openras loopback",
        driver="loopback",
        session=session,
        **kw,
    )


def events(actions: list[Any], kind: str | None = None) -> list[dict[str, Any]]:
    return [
        a.event
        for a in actions
        if isinstance(a, Publish) and (kind is None or a.event["event"] == kind)
    ]


def started(result: DialStarted | MustWait) -> DialStarted:
    assert isinstance(result, DialStarted), result
    return result


# ---------------------------------------------------------------------------- putting a row in a phase


def dialing(t: Table, now: float = 0.0, **kw: Any) -> Conn:
    result = started(t.dial(req(**kw), now))
    assert StartLink(result.conn.handle) in result.actions
    t.link_state(result.conn.handle, RasConnState.PortOpened, now)
    return result.conn


def connected(t: Table, now: float = 0.0, **kw: Any) -> Conn:
    conn = dialing(t, now, **kw)
    t.link_state(conn.handle, RasConnState.Connected, now)
    assert conn.phase is Phase.CONNECTED
    return conn


def failed(t: Table, now: float = 0.0, **kw: Any) -> Conn:
    conn = dialing(t, now, **kw)
    t.link_state(conn.handle, RasConnState.Authenticate, now)
    t.link_failed(conn.handle, errors.ERROR_AUTHENTICATION_FAILURE, now)
    assert conn.phase is Phase.FAILED
    return conn


def disconnecting(t: Table, now: float = 0.0, **kw: Any) -> Conn:
    conn = connected(t, now, **kw)
    t.hang_up(conn.handle, ROOT, now)
    assert conn.phase is Phase.DISCONNECTING
    return conn


def deleted(t: Table, now: float = 0.0, **kw: Any) -> Conn:
    conn = disconnecting(t, now, **kw)
    t.link_gone(conn.handle, now)
    assert conn.handle not in t.rows
    return conn


MAKERS = {
    "dialing": dialing,
    "connected": connected,
    "failed": failed,
    "disconnecting": disconnecting,
    "deleted": deleted,
}


# ---------------------------------------------------------------------------- the contract table


# phase -> (status: (state, error) or None for 6, listed by enum, listed with include_pending)
STATUS = {
    "dialing": ((RasConnState.PortOpened, 0), False, True),
    "connected": ((RasConnState.Connected, 0), True, True),
    "failed": ((RasConnState.Authenticate, errors.ERROR_AUTHENTICATION_FAILURE), False, True),
    "disconnecting": ((RasConnState.Disconnected, 0), False, True),
    "deleted": (None, False, False),
}


@pytest.mark.parametrize("phase", list(MAKERS))
def test_status_and_enumeration_per_phase(phase: str) -> None:
    """GetConnectStatus and EnumConnections answer as the contract table says in each phase."""
    t = Table()
    conn = MAKERS[phase](t)
    expect, listed, listed_pending = STATUS[phase]
    row = t.visible(conn.handle, ROOT)
    if expect is None:
        assert row is None  # the I/O layer answers 6
    else:
        assert row is not None
        assert (row.state, row.error) == expect
    assert (conn.handle in [c.handle for c in t.listing(ROOT)]) is listed
    assert (
        conn.handle in [c.handle for c in t.listing(ROOT, include_pending=True)]
    ) is listed_pending


@pytest.mark.parametrize("phase", list(MAKERS))
def test_hang_up_per_phase(phase: str) -> None:
    """Hang-up returns at once in every live phase and moves the row to DISCONNECTING; 6 once deleted."""
    t = Table()
    conn = MAKERS[phase](t)
    if phase == "deleted":
        with pytest.raises(errors.InvalidHandle):
            t.hang_up(conn.handle, ROOT, 1.0)
        return
    was_running = conn.link_running
    actions = t.hang_up(conn.handle, ROOT, 1.0)
    if phase == "disconnecting":
        assert actions == []  # idempotent
    elif was_running:
        assert StopLink(conn.handle) in actions
    if conn.handle in t.rows:
        assert conn.phase is Phase.DISCONNECTING
        assert conn.state is RasConnState.Disconnected
        # ...and only the link going away deletes it
        gone = t.link_gone(conn.handle, 2.0)
        assert Deleted(conn.handle) in gone
    assert t.visible(conn.handle, ROOT) is None
    with pytest.raises(errors.InvalidHandle):
        t.hang_up(conn.handle, ROOT, 3.0)


def test_hang_up_while_dialing_aborts_the_attempt() -> None:
    t = Table()
    conn = dialing(t)
    actions = t.hang_up(conn.handle, ROOT, 1.0)
    assert actions[0] == StopLink(conn.handle)
    assert conn.error == errors.ERROR_USER_DISCONNECTION
    # the program may still report progress; the aborted attempt ignores it
    assert t.link_state(conn.handle, RasConnState.Connected, 1.1) == []
    assert conn.phase is Phase.DISCONNECTING
    assert conn.handle not in [c.handle for c in t.listing(ROOT)]


def test_hang_up_of_failed_keeps_the_failure_reason() -> None:
    t = Table()
    conn = failed(t)
    t.hang_up(conn.handle, ROOT, 1.0)
    assert (conn.phase, conn.state, conn.error) == (
        Phase.DISCONNECTING,
        RasConnState.Disconnected,
        691,
    )


@pytest.mark.parametrize("phase", list(MAKERS))
def test_dial_same_entry_per_phase(phase: str) -> None:
    """Dialing the entry again: 756 / join / new handle / wait / new handle."""
    t = Table()
    conn = MAKERS[phase](t)
    if phase == "dialing":
        with pytest.raises(errors.DialInProgress) as exc:
            t.dial(req(), 1.0)
        assert exc.value.code == errors.ERROR_DIAL_ALREADY_IN_PROGRESS
        return
    result = t.dial(req(), 1.0)
    if phase == "connected":
        r = started(result)
        assert r.joined and r.conn is conn and r.actions == [] and conn.refs == 2
    elif phase == "disconnecting":
        assert result == MustWait(conn.handle)
        t.link_gone(conn.handle, 2.0)
        r = started(t.dial(req(), 2.0))
        assert not r.joined and r.conn.handle > conn.handle
    else:  # failed, deleted
        r = started(result)
        assert not r.joined and r.conn.handle > conn.handle
        assert StartLink(r.conn.handle) in r.actions
        if phase == "failed":
            assert t.rows[conn.handle].phase is Phase.FAILED  # the failed one stays readable


# ---------------------------------------------------------------------------- references


def test_dial_of_connected_entry_joins_and_last_hang_up_drops() -> None:
    t = Table()
    conn = connected(t)
    joined = started(t.dial(req(session=7), 1.0))
    assert joined.joined and joined.conn.handle == conn.handle and conn.refs == 2
    assert t.hang_up(conn.handle, ROOT, 2.0) == []
    assert conn.phase is Phase.CONNECTED and conn.refs == 1
    actions = t.hang_up(conn.handle, ROOT, 3.0)
    assert StopLink(conn.handle) in actions
    assert conn.phase is Phase.DISCONNECTING


def test_other_user_cannot_join_or_see() -> None:
    t = Table()
    conn = connected(t, owner=ALICE)
    with pytest.raises(errors.RasError) as exc:
        t.dial(req(owner=BOB), 1.0)
    assert exc.value.code == errors.ERROR_PORT_NOT_AVAILABLE
    assert t.visible(conn.handle, BOB) is None
    assert t.listing(BOB, include_pending=True) == []
    with pytest.raises(errors.InvalidHandle):
        t.hang_up(conn.handle, BOB, 1.0)
    assert conn.phase is Phase.CONNECTED
    # root sees and may join or hang up anyone's
    assert t.visible(conn.handle, ROOT) is conn
    assert started(t.dial(req(owner=ROOT), 1.0)).joined
    assert [c.handle for c in t.listing(ALICE)] == [conn.handle]


# ---------------------------------------------------------------------------- drops, failures


def test_link_drop_tears_down_and_keeps_reason() -> None:
    t = Table()
    conn = connected(t)
    actions = t.link_dropped(conn.handle, errors.ERROR_REMOTE_DISCONNECTION, 5.0)
    assert StopLink(conn.handle) in actions
    assert (conn.phase, conn.state, conn.error) == (
        Phase.DISCONNECTING,
        RasConnState.Disconnected,
        629,
    )
    gone = t.link_gone(conn.handle, 6.0)
    [ev] = events(gone, "disconnected")
    assert ev["error"] == 629 and ev["handle"] == conn.handle
    assert t.history[-1]["error"] == 629 and t.history[-1]["handle"] == conn.handle
    assert t.history[-1]["redialing"] is False


def test_link_gone_while_connected_is_a_drop_with_628() -> None:
    t = Table()
    conn = connected(t)
    actions = t.link_gone(conn.handle, 1.0)
    assert Deleted(conn.handle) in actions
    assert t.history[-1]["error"] == errors.ERROR_DISCONNECTION


def test_link_gone_while_dialing_fails_the_attempt() -> None:
    t = Table()
    conn = dialing(t)
    t.link_gone(conn.handle, 1.0)
    assert (conn.phase, conn.error) == (Phase.FAILED, errors.ERROR_DISCONNECTION)
    assert not conn.link_running
    # a failed row whose link is gone is deleted at once by the hang-up
    actions = t.hang_up(conn.handle, ROOT, 2.0)
    assert Deleted(conn.handle) in actions and StopLink(conn.handle) not in actions


def test_failure_stops_the_link_but_keeps_the_row() -> None:
    t = Table()
    conn = dialing(t)
    actions = t.link_failed(conn.handle, errors.ERROR_NO_ANSWER, 1.0)
    assert StopLink(conn.handle) in actions
    [ev] = events(actions, "state")
    assert (ev["phase"], ev["error"], ev["state"]) == ("failed", 678, int(RasConnState.PortOpened))
    assert t.link_gone(conn.handle, 2.0) == []
    assert t.rows[conn.handle].error == 678


def test_state_disconnected_while_dialing_is_a_failure() -> None:
    t = Table()
    conn = dialing(t)
    t.link_state(conn.handle, RasConnState.Disconnected, 1.0)
    assert conn.phase is Phase.FAILED and conn.error == errors.ERROR_DISCONNECTION


def test_events_for_unknown_handles_are_ignored() -> None:
    t = Table()
    assert t.link_state(42, RasConnState.Connected, 0) == []
    assert t.link_failed(42, 691, 0) == []
    assert t.link_dropped(42, 629, 0) == []
    assert t.link_gone(42, 0) == []


# ---------------------------------------------------------------------------- reaping


def test_abandoned_failed_handle_reaped_after_grace() -> None:
    t = Table()
    t.session_opened(5)
    conn = failed(t, session=5)
    t.link_gone(conn.handle, 0.5)
    assert conn.reap_at is None  # its session is alive: it waits for the hang-up
    assert t.next_deadline() is None
    assert t.tick(1000.0) == []
    t.session_closed(5, 10.0)
    assert conn.reap_at == 10.0 + REAP_GRACE
    assert t.next_deadline() == 10.0 + REAP_GRACE
    assert t.tick(10.0 + REAP_GRACE - 0.001) == []
    assert t.rows[conn.handle].error == 691
    actions = t.tick(10.0 + REAP_GRACE)
    assert Deleted(conn.handle) in actions
    assert conn.handle not in t.rows
    assert t.next_deadline() is None


def test_failed_without_session_starts_its_grace_at_failure() -> None:
    t = Table()
    conn = failed(t, now=3.0, session=0)
    assert conn.reap_at == 3.0 + REAP_GRACE
    actions = t.tick(3.0 + REAP_GRACE)
    assert StopLink(conn.handle) in actions  # link still running: stopped, then deleted
    assert conn.phase is Phase.DISCONNECTING
    assert Deleted(conn.handle) in t.link_gone(conn.handle, 3.0 + REAP_GRACE + 1)


def test_session_coming_back_stops_the_clock() -> None:
    """A process that reconnects (rasapi does after a daemon restart) still owns its failure."""
    t = Table()
    t.session_opened(5)
    conn = failed(t, session=5)
    t.session_closed(5, 1.0)
    assert conn.reap_at == 1.0 + REAP_GRACE
    t.session_opened(5)
    assert conn.reap_at is None and t.next_deadline() is None
    assert t.tick(1.0 + 2 * REAP_GRACE) == []
    assert t.rows[conn.handle].phase is Phase.FAILED


def test_failure_after_the_dialer_left_starts_the_clock_at_once() -> None:
    t = Table()
    t.session_opened(5)
    conn = dialing(t, session=5)
    t.session_closed(5, 1.0)
    assert conn.reap_at is None  # nothing failed yet
    t.link_failed(conn.handle, 691, 2.0)
    assert conn.reap_at == 2.0 + REAP_GRACE


def test_session_close_does_not_touch_live_connections() -> None:
    t = Table()
    t.session_opened(5)
    conn = connected(t, session=5)
    t.session_closed(5, 1.0)
    assert conn.reap_at is None
    t.tick(1.0 + 10 * REAP_GRACE)
    assert conn.phase is Phase.CONNECTED


def test_hung_up_failed_handle_is_not_reaped_twice() -> None:
    t = Table()
    conn = failed(t, session=0)
    t.hang_up(conn.handle, ROOT, 1.0)
    assert conn.reap_at is None
    assert t.tick(1.0 + REAP_GRACE) == []


def test_restored_table_starts_the_grace_of_failed_rows() -> None:
    t = Table()
    t.session_opened(9)
    conn = failed(t, session=9)
    assert conn.reap_at is None
    t2 = Table.from_record(json.loads(json.dumps(t.to_record())))
    t2.restored(50.0)
    row = t2.rows[conn.handle]
    assert t2.live_sessions == set()  # no client survives a daemon restart
    assert row.reap_at == 50.0 + REAP_GRACE


# ---------------------------------------------------------------------------- redial on link failure


def test_redial_on_link_failure_uses_attempts_then_tears_down() -> None:
    t = Table()
    conn = connected(t, redial_attempts=2, redial_seconds=5.0)
    h = conn.handle
    # first drop: a redial, same handle
    actions = t.link_dropped(h, 629, 10.0)
    [ev] = events(actions, "state")
    assert ev["redial"] is True and ev["phase"] == "dialing"
    assert StopLink(h) in actions
    assert (conn.phase, conn.state, conn.redial_left, conn.redial_at) == (
        Phase.DIALING,
        RasConnState.OpenPort,
        1,
        15.0,
    )
    assert t.history[-1]["redialing"] is True and t.history[-1]["error"] == 629
    assert t.link_gone(h, 11.0) == []  # old program gone; the redial waits for its time
    assert t.next_deadline() == 15.0
    assert t.tick(14.9) == []
    assert t.tick(15.0) == [StartLink(h)]
    assert conn.link_running and conn.redial_at is None
    t.link_state(h, RasConnState.Connected, 16.0)
    assert conn.phase is Phase.CONNECTED and conn.error == 0 and conn.connected_at == 16.0
    # second drop: the last attempt, and it fails while redialing
    t.link_dropped(h, 629, 20.0)
    t.link_gone(h, 20.5)
    assert t.tick(25.0) == [StartLink(h)]
    assert conn.redial_left == 0
    t.link_failed(h, errors.ERROR_NO_ANSWER, 26.0)
    assert conn.phase is Phase.FAILED and conn.error == 678
    # no attempts left: a drop of a connected entry without redials tears down
    t2 = Table()
    c2 = connected(t2, redial_attempts=0)
    t2.link_dropped(c2.handle, 629, 1.0)
    assert c2.phase is Phase.DISCONNECTING


def test_redial_starts_at_once_when_the_old_link_is_gone_late() -> None:
    t = Table()
    conn = connected(t, redial_attempts=1, redial_seconds=0.0)
    t.link_dropped(conn.handle, 629, 1.0)
    # the redial time has come but the old program still runs: nothing to do until it exits
    assert t.tick(1.0) == []
    assert t.link_gone(conn.handle, 2.0) == [StartLink(conn.handle)]


def test_pending_redial_is_no_deadline_while_old_link_runs() -> None:
    """The I/O layer re-arms one timer at next_deadline(): a redial that can only start when
    the old program has exited must not be a deadline, or the timer would fire in a loop."""
    t = Table()
    conn = connected(t, redial_attempts=1, redial_seconds=0.0)
    t.link_dropped(conn.handle, 629, 1.0)
    assert conn.link_running
    assert t.next_deadline() is None
    t.link_gone(conn.handle, 1.5)
    assert conn.link_running  # restarted at once


def test_hang_up_during_redial_wait_deletes() -> None:
    t = Table()
    conn = connected(t, redial_attempts=1, redial_seconds=30.0)
    t.link_dropped(conn.handle, 629, 1.0)
    t.link_gone(conn.handle, 2.0)
    actions = t.hang_up(conn.handle, ROOT, 3.0)
    assert Deleted(conn.handle) in actions
    assert t.tick(100.0) == []


# ---------------------------------------------------------------------------- handles, persistence


def test_handles_are_positive_increasing_and_never_reused() -> None:
    t = Table()
    seen = []
    for i in range(5):
        conn = connected(t, key=f"pb\0e{i}")
        seen.append(conn.handle)
        t.hang_up(conn.handle, ROOT, 1.0)
        t.link_gone(conn.handle, 1.0)
    assert seen == sorted(seen) and len(set(seen)) == 5 and seen[0] >= 1
    assert t.rows == {}
    t2 = Table.from_record(t.to_record())
    assert started(t2.dial(req(), 2.0)).conn.handle > max(seen)


def test_from_record_never_goes_below_persisted_rows() -> None:
    t = Table()
    conn = connected(t)
    rec = t.to_record()
    rec["next_handle"] = 1  # a damaged counter must not reuse a live handle
    t2 = Table.from_record(rec)
    assert started(t2.dial(req(key="pb\0other"), 0)).conn.handle > conn.handle


def test_record_round_trip_equals_memory() -> None:
    t = Table()
    connected(t, key="pb\0a", owner=ALICE)
    failed(t, key="pb\0b", session=0)
    disconnecting(t, key="pb\0c")
    dialing(t, key="pb\0d")
    t.link_dropped(connected(t, key="pb\0e").handle, 629, 3.0)
    rec = json.loads(json.dumps(t.to_record()))
    t2 = Table.from_record(rec)
    assert t2.rows == t.rows
    assert t2.next_handle == t.next_handle
    assert list(t2.history) == list(t.history)
    assert t2.to_record() == t.to_record()


def test_encodable_table_is_the_record_on_disk() -> None:
    """The daemon writes ``to_encodable()`` (rows as dataclasses) for speed: the bytes must
    be exactly those of ``to_record()``, which adoption reads back."""
    t = Table()
    connected(t, key="pb\0a", owner=ALICE)
    failed(t, key="pb\0b", session=0)
    t.link_recorded(dialing(t, key="pb\0d").handle, {"record": {"pid": 7}, "entry": {}})
    t.link_dropped(connected(t, key="pb\0e").handle, 629, 3.0)
    assert msgspec.json.encode(t.to_encodable()) == msgspec.json.encode(t.to_record())


def test_display_name_without_entry() -> None:
    conn = Conn(1, 0, "k", "", "", "5551234", "modem", "m", "ppp")
    assert conn.display_name == ".5551234"


def test_history_is_bounded() -> None:
    t = Table()
    for i in range(T.HISTORY_SIZE + 10):
        c = connected(t, key=f"pb\0e{i}")
        t.link_gone(c.handle, float(i))
    assert len(t.history) == T.HISTORY_SIZE
    assert t.history[-1]["entry"] == f"e{T.HISTORY_SIZE + 9}"


def test_the_number_a_link_dials_is_shown_and_announced() -> None:
    """RASCONNSTATUS's szPhoneNumber is what the link dials (an alternate, the dialing rules
    applied); the state events carry it so the dialer can promote an alternate; the number
    asked for stays the row's identity (``.number`` rows, redial checks)."""
    from openras.manager.rows import record

    t = Table()
    conn = dialing(t)
    assert "dialed_number" not in events(t.link_state(conn.handle, RasConnState.ConnectDevice, 0))
    t.changed = False
    t.link_number(conn.handle, "*70,9,14255550100")
    assert t.changed  # persisted: a restarted daemon still shows it
    assert record(conn)["dialed_number"] == "*70,9,14255550100"
    assert record(conn)["phone_number"] == "loopback-demo"
    [ev] = events(t.link_state(conn.handle, RasConnState.Connected, 1.0), "state")
    assert ev["dialed_number"] == "*70,9,14255550100"
    again = Conn.from_record(json.loads(msgspec.json.encode(conn.to_record())))
    assert again.dialed_number == "*70,9,14255550100"
    t.link_number(99999, "5550100")  # a handle that is gone: nothing happens
