"""Crash tests: SIGKILL the daemon (connected, dialing, tearing down) or a link program.

"Killing the daemon with SIGKILL at any moment loses no connection and leaks no process"
(DESIGN.md §5): a restart on the same state dir adopts the live links with their handles,
states and owners; dead ones end with a reason; handles keep growing.
"""

from __future__ import annotations

import os
import signal
import threading

import pytest
from rasman_helpers import HEARTBEAT, alive, handles, is_gone, pending, wait_until

from openras import Client, errors
from openras.states import RasConnState


def test_kill9_while_connected_then_restart_adopts(rasman):
    with Client(rasman.socket) as c:
        conn = c.dial("Demo", rasman.phonebook)
        before = c.status(conn.handle)
        bytes_before = conn.statistics().bytes_received
    [pid] = rasman.link_pids()
    rasman.kill9()
    assert alive(pid)  # the link outlives the daemon
    rasman.start()
    with Client(rasman.socket) as c:
        st = c.status(conn.handle)
        assert (st.handle, st.state, st.phase, st.owner) == (
            before.handle,
            RasConnState.Connected,
            "connected",
            0,
        )
        assert (st.entry, st.connected_at) == ("Demo", before.connected_at)
        assert handles(c.connections()) == [conn.handle]
        assert rasman.link_pids() == [pid]  # the same process, adopted
        # the adopted control channel works: statistics still move
        wait_until(
            lambda: c.statistics(conn.handle).bytes_received > bytes_before + HEARTBEAT,
            what="traffic",
        )
        c.hang_up(conn.handle, wait=True)
        assert is_gone(c, conn.handle)
    assert not alive(pid)
    assert rasman.link_pids() == []


def test_kill9_while_dialing(rasman, extra_pbk):
    """The attempt goes on in its program; the restarted daemon adopts it mid-dial."""
    errors_seen: list[BaseException] = []

    def dial() -> None:
        with Client(rasman.socket) as d:
            try:
                d.dial("SlowDial", extra_pbk)
            except errors.RasError as exc:
                errors_seen.append(exc)

    thread = threading.Thread(target=dial)
    thread.start()
    with Client(rasman.socket) as c:
        h = wait_until(lambda: pending(c, "SlowDial"), what="the attempt")
        wait_until(lambda: c.status(h).state >= RasConnState.PortOpened, what="a first state")
    wait_until(lambda: rasman.link_pids(), what="the link program")
    [pid] = rasman.link_pids()
    rasman.kill9()
    thread.join(10)
    assert isinstance(errors_seen[0], errors.ManagerUnavailable)  # the dialer lost its daemon
    rasman.start()
    with Client(rasman.socket) as c:
        st = c.status(h)
        assert st.phase in ("dialing", "connected") and st.owner == 0
        wait_until(
            lambda: c.status(h).state is RasConnState.Connected,
            10,
            what="the adopted attempt to connect",
        )
        assert rasman.link_pids() == [pid]
        assert handles(c.connections()) == [h]
        c.hang_up(h, wait=True)
        assert is_gone(c, h)
    assert rasman.link_pids() == []


def test_kill9_during_teardown(rasman):
    with Client(rasman.socket) as c:
        conn = c.dial("Slow", rasman.phonebook)
        [pid] = rasman.link_pids()
        c.hang_up(conn.handle, wait=False)
        assert c.status(conn.handle).phase == "disconnecting"
    rasman.kill9()
    rasman.start()
    with Client(rasman.socket) as c:
        try:
            st = c.status(conn.handle)
            assert (st.phase, st.state) == ("disconnecting", RasConnState.Disconnected)
        except errors.InvalidHandle:
            pass  # it finished while the daemon was starting: fine too
        c.wait_gone(conn.handle, timeout=10)
        assert is_gone(c, conn.handle)
        assert not alive(pid)
        # the entry can be dialed again at once
        again = c.dial("Slow", rasman.phonebook)
        assert again.handle > conn.handle
        c.hang_up(again.handle, wait=True)
    assert rasman.link_pids() == []


def test_kill9_of_the_link_process(rasman):
    with Client(rasman.socket) as c:
        conn = c.dial("Demo", rasman.phonebook)
        [pid] = rasman.link_pids()
        os.kill(pid, signal.SIGKILL)
        c.wait_gone(conn.handle, timeout=10)
        assert is_gone(c, conn.handle)
        [rec] = [d for d in c.history() if d.handle == conn.handle]
        assert rec.error == errors.ERROR_DISCONNECTION  # 628, the reason is kept
        assert rasman.link_pids() == []
        # and the daemon is fine
        again = c.dial("Demo", rasman.phonebook)
        assert again.handle > conn.handle
        again.hang_up()


def test_link_dead_while_daemon_down_ends_with_a_reason(rasman):
    with Client(rasman.socket) as c:
        conn = c.dial("Demo", rasman.phonebook)
    [pid] = rasman.link_pids()
    rasman.kill9()
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not alive(pid), what="the link to die")
    rasman.start()
    with Client(rasman.socket) as c:
        assert is_gone(c, conn.handle)
        [rec] = [d for d in c.history() if d.handle == conn.handle]
        assert rec.error == errors.ERROR_DISCONNECTION
        assert c.connections(include_pending=True) == []


def test_handles_grow_across_restarts(rasman):
    seen: list[int] = []
    with Client(rasman.socket) as c:
        for _ in range(2):
            conn = c.dial("Demo", rasman.phonebook)
            seen.append(conn.handle)
            conn.hang_up()
    rasman.stop()  # a clean stop...
    rasman.start()
    with Client(rasman.socket) as c:
        kept = c.dial("Demo", rasman.phonebook)
        assert kept.handle > max(seen)
        seen.append(kept.handle)
    rasman.kill9()  # ...and a crash with a connection up
    rasman.start()
    with Client(rasman.socket) as c:
        assert c.status(kept.handle).state is RasConnState.Connected
        new = c.dial("Secret", rasman.phonebook, password="s3cret")
        assert new.handle > max(seen)
        for h in seen[:-1]:
            assert is_gone(c, h)  # a stale handle never reaches a newer connection
        c.hang_up(new.handle, wait=True)
        c.hang_up(kept.handle, wait=True)


def test_references_survive_a_crash(rasman):
    """A hang-up that only drops a reference is persisted too."""
    with Client(rasman.socket) as a, Client(rasman.socket) as b:
        h = a.dial("Demo", rasman.phonebook).handle
        assert b.dial("Demo", rasman.phonebook).handle == h
        a.hang_up(h, wait=False)
        assert a.status(h).refs == 1
    rasman.kill9()
    rasman.start()
    with Client(rasman.socket) as c:
        assert c.status(h).refs == 1
        c.hang_up(h, wait=True)  # the last reference: torn down
        assert is_gone(c, h)


def test_failed_handle_survives_a_crash(rasman):
    with Client(rasman.socket) as c, pytest.raises(errors.AuthenticationFailure) as exc:
        c.dial("Secret", rasman.phonebook, password="bad")
    h = exc.value.handle
    rasman.kill9()
    rasman.start()
    with Client(rasman.socket) as c:
        st = c.status(h)
        assert (st.phase, st.state, st.error) == ("failed", RasConnState.Authenticate, 691)
        c.hang_up(h, wait=True)
        assert is_gone(c, h)
    assert rasman.link_pids() == []
