"""A hypothesis state machine over the connection table (DESIGN.md §7).

Rules: dial, hang-up, link events (state, failed, dropped, gone), session closed, time passing
(tick) and a daemon restart (to_record -> JSON -> from_record + restored). A small model of the
link programs follows the table's StartLink/StopLink actions, the way the I/O layer does.

Invariants: handles are unique and never reused (even across restarts); every hung-up handle is
deleted once its link is gone; the persisted table equals memory; a non-root caller never sees
another user's rows; and the phase/state/error shapes of the contract table hold for every row.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from openras import errors
from openras.manager.table import (
    Deleted,
    DialRequest,
    DialStarted,
    MustWait,
    Phase,
    StartLink,
    StopLink,
    Table,
)
from openras.states import DIAL_SEQUENCE, RasConnState

USERS = (0, 1000, 1001)
KEYS = ("pb\0a", "pb\0b", "pb\0c")
SESSIONS = (0, 11, 12)
OPENABLE = SESSIONS[1:]
RUNNING_STATES = [s for s in DIAL_SEQUENCE if s is not RasConnState.Connected]


class TableMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.table = Table()
        self.now = 0.0
        #: every handle the table ever handed out (joins excluded), in order
        self.issued: list[int] = []
        #: link programs the model runs: handle -> stop requested
        self.links: dict[int, bool] = {}
        #: handles whose last reference was hung up (they must end deleted)
        self.hung_up: set[int] = set()
        self.deleted: set[int] = set()

    # ------------------------------------------------------------------ applying actions

    def apply(self, actions: list[Any]) -> None:
        for action in actions:
            if isinstance(action, StartLink):
                assert action.handle not in self.links, "a second program for one handle"
                assert action.handle in self.table.rows
                self.links[action.handle] = False
            elif isinstance(action, StopLink):
                if action.handle in self.links:
                    self.links[action.handle] = True
            elif isinstance(action, Deleted):
                assert action.handle not in self.table.rows
                assert action.handle not in self.links, "deleted while its program still runs"
                self.deleted.add(action.handle)

    def live_handles(self) -> list[int]:
        return sorted(self.table.rows)

    # ------------------------------------------------------------------ rules

    @rule(
        key=st.sampled_from(KEYS),
        owner=st.sampled_from(USERS),
        session=st.sampled_from(SESSIONS),
        redials=st.integers(0, 2),
        redial_s=st.sampled_from([0.0, 1.0, 30.0]),
    )
    def dial(self, key: str, owner: int, session: int, redials: int, redial_s: float) -> None:
        before = self.table.next_handle
        request = DialRequest(
            owner=owner,
            key=key,
            entry_name=key[3:],
            phonebook="pb",
            phone_number="",
            device_type="loopback",
            device_name="lb",
            driver="loopback",
            session=session,
            redial_attempts=redials,
            redial_seconds=redial_s,
        )
        try:
            result = self.table.dial(request, self.now)
        except errors.RasError as exc:
            assert exc.code in (
                errors.ERROR_DIAL_ALREADY_IN_PROGRESS,
                errors.ERROR_PORT_NOT_AVAILABLE,
            )
            live = [
                c for c in self.table.rows.values() if c.key == key and c.phase is not Phase.FAILED
            ]
            assert live
            if exc.code == errors.ERROR_DIAL_ALREADY_IN_PROGRESS:
                assert any(c.phase is Phase.DIALING for c in live)
            else:
                assert owner != 0 and any(c.owner != owner for c in live)
            assert self.table.next_handle == before
            return
        if isinstance(result, MustWait):
            assert self.table.rows[result.handle].phase is Phase.DISCONNECTING
            assert self.table.next_handle == before
            return
        assert isinstance(result, DialStarted)
        if result.joined:
            assert result.conn.phase is Phase.CONNECTED and result.conn.handle in self.issued
            assert self.table.next_handle == before
        else:
            handle = result.conn.handle
            assert handle > 0
            assert handle not in self.issued, f"handle {handle} reused"
            assert all(handle > h for h in self.issued)
            self.issued.append(handle)
        self.apply(result.actions)

    @precondition(lambda self: bool(self.issued))
    @rule(data=st.data(), uid=st.sampled_from(USERS))
    def hang_up(self, data: st.DataObject, uid: int) -> None:
        handle = data.draw(st.sampled_from(self.issued))
        conn = self.table.rows.get(handle)
        may = conn is not None and (uid == 0 or conn.owner == uid)
        try:
            actions = self.table.hang_up(handle, uid, self.now)
        except errors.InvalidHandle:
            assert not may
            return
        assert may
        self.apply(actions)
        row = self.table.rows.get(handle)
        if row is None or row.phase is Phase.DISCONNECTING:
            self.hung_up.add(handle)
            assert handle not in self.links or self.links[handle], "teardown without a stop request"
        else:
            # one reference fewer; the connection (up, or redialing after a drop) stays
            assert row.phase is Phase.CONNECTED or row.connected_at is not None
            assert row.refs >= 1

    @precondition(lambda self: bool(self.links))
    @rule(
        data=st.data(),
        state=st.sampled_from([*RUNNING_STATES, RasConnState.Connected, RasConnState.Disconnected]),
    )
    def link_state(self, data: st.DataObject, state: RasConnState) -> None:
        handle = data.draw(st.sampled_from(sorted(self.links)))
        self.apply(self.table.link_state(handle, state, self.now))

    @precondition(lambda self: bool(self.links))
    @rule(data=st.data(), error=st.sampled_from([0, 678, 691, 718]))
    def link_failed(self, data: st.DataObject, error: int) -> None:
        handle = data.draw(st.sampled_from(sorted(self.links)))
        self.apply(self.table.link_failed(handle, error, self.now))
        row = self.table.rows.get(handle)
        if row is not None and row.phase is Phase.FAILED:
            assert row.error != 0

    @precondition(lambda self: bool(self.links))
    @rule(data=st.data(), error=st.sampled_from([0, 628, 629, 829]))
    def link_dropped(self, data: st.DataObject, error: int) -> None:
        handle = data.draw(st.sampled_from(sorted(self.links)))
        self.apply(self.table.link_dropped(handle, error, self.now))

    @precondition(lambda self: bool(self.links))
    @rule(data=st.data())
    def link_gone(self, data: st.DataObject) -> None:
        handle = data.draw(st.sampled_from(sorted(self.links)))
        del self.links[handle]
        was = self.table.rows.get(handle)
        hung = was is not None and was.phase is Phase.DISCONNECTING
        self.apply(self.table.link_gone(handle, self.now))
        if hung:
            assert handle not in self.table.rows, "a torn-down row outlived its link"

    @rule(session=st.sampled_from(OPENABLE))
    def session_opened(self, session: int) -> None:
        if session not in self.table.live_sessions:  # the server calls it on the first connection
            self.table.session_opened(session)

    @rule(session=st.sampled_from(OPENABLE))
    def session_closed(self, session: int) -> None:
        if session in self.table.live_sessions:  # ...and this when the last one closes
            self.apply(self.table.session_closed(session, self.now))

    @rule(dt=st.sampled_from([0.0, 0.5, 1.0, 5.0, 30.0, 61.0, 120.0]))
    def tick(self, dt: float) -> None:
        self.now += dt
        deadline = self.table.next_deadline()
        actions = self.table.tick(self.now)
        if deadline is None or deadline > self.now:
            assert actions == [], "tick acted before any deadline"
        self.apply(actions)

    @rule()
    def restart(self) -> None:
        """The daemon dies and starts again: links outlive it and are adopted."""
        record = json.loads(json.dumps(self.table.to_record()))
        self.table = Table.from_record(record)
        self.table.restored(self.now)
        assert self.table.live_sessions == set()

    # ------------------------------------------------------------------ invariants

    @invariant()
    def handles_never_reused(self) -> None:
        assert self.table.next_handle > max(self.issued, default=0)
        assert set(self.table.rows) <= set(self.issued)
        assert not (set(self.table.rows) & self.deleted)

    @invariant()
    def persisted_equals_memory(self) -> None:
        record = json.loads(json.dumps(self.table.to_record()))
        again = Table.from_record(record)
        assert again.rows == self.table.rows
        assert again.next_handle == self.table.next_handle
        assert list(again.history) == list(self.table.history)

    @invariant()
    def non_root_sees_only_own(self) -> None:
        for uid in USERS[1:]:
            for conn in self.table.listing(uid, include_pending=True):
                assert conn.owner == uid
            for handle, conn in self.table.rows.items():
                assert (self.table.visible(handle, uid) is not None) == (conn.owner == uid)
        assert len(self.table.listing(0, include_pending=True)) == len(self.table.rows)

    @invariant()
    def rows_keep_the_contract_shapes(self) -> None:
        per_key: dict[str, int] = {}
        for handle, conn in self.table.rows.items():
            assert conn.handle == handle and conn.refs >= 1
            if conn.phase in (Phase.DIALING, Phase.CONNECTED):
                per_key[conn.key] = per_key.get(conn.key, 0) + 1
            if conn.phase is Phase.CONNECTED:
                assert conn.state is RasConnState.Connected and conn.error == 0
            if conn.phase is Phase.DISCONNECTING:
                assert conn.state is RasConnState.Disconnected
                assert conn.link_running, "nothing left to wait for, yet not deleted"
            if conn.phase is Phase.FAILED:
                assert conn.error != 0
            if conn.reap_at is not None:
                assert conn.phase is Phase.FAILED
            if conn.phase is Phase.FAILED:
                # on the reaper's clock exactly when the process that dialed it is gone
                assert (conn.reap_at is None) == (conn.session in self.table.live_sessions)
            if conn.phase is Phase.DIALING and conn.connected_at is None:
                assert conn.refs == 1  # only a connection that was up (and redials) is shared
            # the model's programs and the table's view agree
            assert conn.link_running == (handle in self.links)
        # (a hung-up failed row may tear down beside a newer attempt of its entry)
        assert all(n == 1 for n in per_key.values()), "two attempts of one entry"
        assert set(self.links) <= set(self.table.rows)

    @invariant()
    def hung_up_handles_are_on_their_way_out(self) -> None:
        for handle in self.hung_up:
            conn = self.table.rows.get(handle)
            assert conn is None or conn.phase is Phase.DISCONNECTING

    def teardown(self) -> None:
        """Hang up everything, let every program exit: nothing may be left."""
        for _ in range(10):
            for handle in list(self.table.rows):
                for _ in range(5):
                    conn = self.table.rows.get(handle)
                    if conn is None or conn.phase is Phase.DISCONNECTING:
                        break
                    self.apply(self.table.hang_up(handle, 0, self.now))
            for handle in list(self.links):
                del self.links[handle]
                self.apply(self.table.link_gone(handle, self.now))
            self.now += 1000
            self.apply(self.table.tick(self.now))
            if not self.table.rows:
                break
        assert self.table.rows == {}
        assert self.hung_up <= self.deleted


TableMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_table_machine = TableMachine.TestCase


@pytest.mark.parametrize("seed_steps", [0])
def test_machine_smoke(seed_steps: int) -> None:
    """A fixed run of the machine (fast feedback if hypothesis' search is cut short)."""
    m = TableMachine()
    m.dial("pb\0a", 1000, 11, 1, 0.0)
    h = m.issued[0]
    m.apply(m.table.link_state(h, RasConnState.Connected, 0))
    m.dial("pb\0a", 0, 12, 0, 0.0)  # root joins
    assert m.table.rows[h].refs == 2
    m.restart()
    m.apply(m.table.link_dropped(h, 629, 1))
    assert m.table.rows[h].phase is Phase.DIALING  # redialing
    m.persisted_equals_memory()
    m.rows_keep_the_contract_shapes()
    m.teardown()
