"""Recovery edge cases: an unreadable state file, a link the table never recorded, and the
password an adopted link's redial needs.

Handles are never reused and no link process is lost track of, whatever is left on disk.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from rasman_helpers import alive, is_gone, wait_until

from openras import Client
from openras.links.journal import File as JournalFile
from openras.links.journal import Journal
from openras.manager.persist import StateStore
from openras.states import RasConnState

REDIAL_PBK = """\
[Guarded]
OpenRasDevice=loopback
OpenRasLoopbackStepMs=5
OpenRasLoopbackHangUpMs=20
OpenRasLoopbackPassword=s3cret-redial
OpenRasLoopbackDropAfterMs=2500
RedialOnLinkFailure=1
RedialAttempts=1
RedialSeconds=0
"""


def _slot_files(state_dir: Path) -> list[Path]:
    """The table's slot files on disk (both, once two changes were written)."""
    found = [p for p in StateStore(state_dir).slots if p.exists()]
    assert found, "no table file"
    return found


def _dial_two(rasman) -> tuple[list[int], list[int]]:
    with Client(rasman.socket) as c:
        handles = [c.dial("Demo", rasman.phonebook).handle, c.dial("Slow", rasman.phonebook).handle]
    return handles, sorted(rasman.link_pids())


def _after_restart_no_link_and_handles_grow(rasman, handles: list[int]) -> None:
    with Client(rasman.socket) as c:
        for h in handles:
            assert is_gone(c, h)  # the table that knew them is gone: nothing pretends otherwise
        again = c.dial("Demo", rasman.phonebook)
        assert again.handle > max(handles), "a handle was handed out twice"
        c.hang_up(again.handle, wait=True)
    run_dirs = sorted(p.name for p in (rasman.state_dir / "links").iterdir())
    assert run_dirs == [], f"run dirs left: {run_dirs}"


@pytest.mark.parametrize(
    "garbage",
    [b"\x00\x17 not json at all", b'{"boot_id": 7, "table": {"rows": [{"handle": "x"}]}}'],
    ids=["not-json", "json-but-no-table"],
)
def test_unreadable_state_file_keeps_the_counter_and_stops_the_links(rasman, garbage):
    handles, pids = _dial_two(rasman)
    assert len(pids) == 2
    rasman.kill9()
    for slot in _slot_files(rasman.state_dir):
        slot.write_bytes(garbage)
    rasman.start()
    for pid in pids:
        wait_until(lambda pid=pid: not alive(pid), what=f"link {pid} to be stopped")
    assert (rasman.state_dir / "connections.corrupt").read_bytes()[:8] == garbage[:8]
    _after_restart_no_link_and_handles_grow(rasman, handles)


def test_truncated_state_file_without_ids_file_still_recovers(rasman):
    """Even without ids.json the counter and the instance come back from what is legible."""
    handles, pids = _dial_two(rasman)
    rasman.kill9()
    for slot in _slot_files(rasman.state_dir):
        raw = slot.read_bytes()
        slot.write_bytes(raw[: len(raw) * 2 // 3])
    (rasman.state_dir / "ids.json").unlink()
    rasman.start()
    for pid in pids:
        wait_until(lambda pid=pid: not alive(pid), what=f"link {pid} to be stopped")
    _after_restart_no_link_and_handles_grow(rasman, handles)


def test_link_never_recorded_is_stopped_and_its_run_dir_removed(rasman):
    """A crash between spawning a link and saving its record: the restart finds it by marker."""
    with Client(rasman.socket) as c:
        conn = c.dial("Demo", rasman.phonebook)
    [pid] = rasman.link_pids()
    rasman.kill9()
    store = StateStore(rasman.state_dir)
    record = store.load()
    assert record is not None
    [row] = record["table"]["rows"]
    row["link"]["record"] = None  # what is on disk while the program starts
    store.save(record)  # as the newest slot
    store.close()
    run_dir = rasman.state_dir / "links" / f"link-{conn.handle}"
    assert run_dir.is_dir()
    rasman.start()
    with Client(rasman.socket) as c:
        wait_until(lambda: is_gone(c, conn.handle), what="the unrecorded handle to end")
        assert not alive(pid)
        assert not run_dir.exists()
        [rec] = [d for d in c.history() if d.handle == conn.handle]
        assert rec.error != 0


def test_link_spawned_before_its_row_was_written_is_stopped_and_undone(rasman, tmp_path: Path):
    """A crash after the spawn and before the dial's first table write (the program starts
    first): no row on disk names the link. The restart kills its program by marker, replays
    its journal and removes its run dir, and never hands out its handle again."""
    with Client(rasman.socket) as c:
        conn = c.dial("Demo", rasman.phonebook)
    [pid] = rasman.link_pids()
    rasman.kill9()
    made = tmp_path / "made-by-the-link"
    made.write_text("")
    run_dir = rasman.state_dir / "links" / f"link-{conn.handle}"
    Journal(run_dir).note(JournalFile(str(made)))  # something outside the run dir
    store = StateStore(rasman.state_dir)
    record = store.load()
    assert record is not None
    record["table"]["rows"] = []  # what is on disk while the program starts
    record["table"]["next_handle"] = conn.handle
    store.save(record)
    store.close()
    rasman.start()
    wait_until(lambda: not alive(pid), what="the unrecorded link to be killed")
    wait_until(lambda: not run_dir.exists(), what="its run dir to go")
    assert not made.exists(), "its journal was not replayed"
    with Client(rasman.socket) as c:
        again = c.dial("Demo", rasman.phonebook)
        assert again.handle > conn.handle
        c.hang_up(again.handle, wait=True)


def test_adopted_link_redials_with_the_password_it_was_dialed_with(rasman, tmp_path: Path):
    pbk = tmp_path / "redial.pbk"
    pbk.write_text(REDIAL_PBK)
    with Client(rasman.socket) as c:
        conn = c.dial("Guarded", pbk, password="s3cret-redial")
    params = rasman.state_dir / "params" / f"{conn.handle}.json"
    assert stat.S_IMODE(params.stat().st_mode) == 0o600
    rasman.kill9()
    rasman.start()
    with Client(rasman.socket) as c:

        def redialed() -> bool:
            return any(d.handle == conn.handle and d.redialing for d in c.history())

        wait_until(redialed, 15, what="the link to drop and redial")
        wait_until(
            lambda: c.status(conn.handle).state is RasConnState.Connected,
            10,
            what="the redial to connect (a missing password fails it with 691)",
        )
        assert c.status(conn.handle).error == 0
        c.hang_up(conn.handle, wait=True)
    assert not params.exists()
    # The dial's password is in no table file and no log. (The loopback entry itself names
    # the password its program accepts, so the entry snapshot in a row holds that key; the
    # older table slot may still hold the row. That is the phonebook's text, not the dial's.)
    entry_key = b'"openrasloopbackpassword":"s3cret-redial"'
    for path in (*_slot_files(rasman.state_dir), rasman.log):
        assert b"s3cret-redial" not in path.read_bytes().replace(entry_key, b""), path
