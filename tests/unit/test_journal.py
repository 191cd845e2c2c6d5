"""The teardown journal: steps written before a resource exists, replayed newest first,
each idempotent and checked against what it names (no root needed for these kinds)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from pathlib import Path

from openras.links.base import DialParams, LinkSpec
from openras.links.journal import File, Journal, Process, Rule, Socket
from openras.links.process import ProcessIdentity
from openras.links.rtnl import AddRule
from openras.links.wireguard.driver import WireGuardLink
from openras.manager.entries import EntrySnapshot


async def test_replay_undoes_newest_first_and_forgets(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    a, b = tmp_path / "a", tmp_path / "b"
    journal.note(File(str(a)))
    a.write_text("x")
    journal.note(File(str(b)))
    b.write_text("y")
    assert journal.steps() == [File(str(a)), File(str(b))]
    await journal.replay()
    assert not a.exists() and not b.exists()
    assert journal.steps() == [] and not journal.path.exists()
    await journal.replay()  # nothing left: harmless


async def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    victim = tmp_path / "v"
    victim.write_text("x")
    journal.note(File(str(victim)))
    with open(journal.path, "ab") as fh:
        fh.write(b'{"type": "file", "pa')  # a crash in the middle of a write
    assert journal.steps() == [File(str(victim))]
    await journal.replay()
    assert not victim.exists()


async def test_a_kept_journal_replays_only_the_steps_after_its_last_undone(tmp_path: Path) -> None:
    """A reused run directory keeps its journal (each replay appends Undone): the next
    link's replay undoes its own steps only, whatever an earlier link's text held."""
    journal = Journal(tmp_path)
    tricky = tmp_path / '{"type":"undone"}'  # the marker's text inside a step: JSON-escaped
    for n in range(3):
        earlier = tmp_path / f"earlier-{n}"
        journal.note(File(str(earlier)))
        await journal.replay(keep_file=True)
    journal.note(File(str(tricky)))
    tricky.write_text("x")
    mine = tmp_path / "mine"
    journal.note(File(str(mine)))
    mine.write_text("y")
    (tmp_path / "earlier-0").write_text("not this link's: kept")
    assert journal.steps() == [File(str(tricky)), File(str(mine))]
    await journal.replay(keep_file=True)
    assert not tricky.exists() and not mine.exists()
    assert (tmp_path / "earlier-0").exists()
    assert journal.path.exists() and journal.steps() == []


async def test_a_process_step_kills_only_that_very_process(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        import psutil

        ident = ProcessIdentity(proc.pid, psutil.Process(proc.pid).create_time())
        journal = Journal(tmp_path)
        journal.note(Process(ident.pid, ident.create_time + 5))  # a recycled pid: not ours
        await journal.replay()
        assert proc.poll() is None
        journal.note(Process(ident.pid, ident.create_time))
        await journal.replay()
        assert proc.wait(5) == -9
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_the_program_a_close_saw_exit_is_not_looked_for_again(tmp_path: Path) -> None:
    """``exited`` is the caller's word that this very process is gone (its pidfd said so):
    the replay skips its step and still undoes the others."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        import psutil

        step = Process(proc.pid, psutil.Process(proc.pid).create_time())
        other = tmp_path / "other"
        journal = Journal(tmp_path)
        journal.note(File(str(other)))
        other.write_text("x")
        journal.note(step)
        await journal.replay(exited=step)
        assert proc.poll() is None  # taken at its word: not signalled
        assert not other.exists() and journal.steps() == []
    finally:
        proc.kill()
        proc.wait()


async def test_a_socket_something_answers_on_is_kept(tmp_path: Path) -> None:
    live, dead = tmp_path / "live.sock", tmp_path / "dead.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(live))
    server.listen(1)
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(dead))
    stale.close()  # the file stays, nothing listens
    journal = Journal(tmp_path)
    journal.note(Socket(str(live)))
    journal.note(Socket(str(dead)))
    try:
        await asyncio.wait_for(journal.replay(), 5)
        assert live.exists() and not dead.exists()
    finally:
        server.close()


def test_a_legacy_wireguard_record_brings_its_rule_removals(tmp_path: Path) -> None:
    """A link recorded before the journal existed keeps its removals in the record; adopting
    it journals them (exact matches only: a removal by priority alone is no step)."""
    rule = AddRule(4, 32700, 51000, not_fwmark=0xCA6C)
    from openras.links.rtnl import DelRule

    record = {
        "teardown": [
            list(DelRule(rule).ip_args()),
            ["-4", "rule", "del", "priority", "32701"],
        ]
    }
    spec = LinkSpec(
        handle=9, owner_uid=0, entry=EntrySnapshot("WG", {"openrasdevice": "wireguard"}),
        params=DialParams(), run_dir=tmp_path, marker="t:9",
    )  # fmt: skip
    link = WireGuardLink(spec, lambda event: None)
    link._journal_legacy_teardown(record)
    assert link.journal.steps() == [Rule.of(rule)]
    link._journal_legacy_teardown(record)  # once only
    assert link.journal.steps() == [Rule.of(rule)]
