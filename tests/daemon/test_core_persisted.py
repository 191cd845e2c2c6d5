"""The manager's persisted table equals its memory whenever no write is on its way.

DESIGN.md §7 asks for "persisted table equals memory"; tests/unit/test_table_machine.py checks
the pure Table's round trip. Here the real Manager runs in this process with real loopback
links, a watcher compares the table on disk with ``table.to_record()`` between every pair of
callbacks, and a random sequence of dials, hang-ups, session opens/closes and link drops runs.
The table is written once the callbacks that changed it are done (a burst is one write), so
between a change and its write the two may differ, but only while the manager says a write
is pending. Any change that skips persisting (a reaper
clock cleared on reconnect, a link exit noted in memory only) shows up as a difference with
nothing pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest
from rasman_helpers import in_process_daemon

from openras import AsyncClient, errors
from openras.manager import table as table_module
from openras.manager.persist import StateStore
from openras.manager.service import Manager

ENTRIES = ("Demo", "Dropper", "NoCarrier", "Slow")


def persisted(manager: Manager) -> Any:
    record = StateStore(manager.state_dir).load()  # read afresh, as a restart would
    assert record is not None
    return record["table"]


def in_memory(manager: Manager) -> Any:
    return json.loads(msgspec.json.encode(manager.table.to_record()))


class Watcher:
    """Checks the invariant on every loop iteration (a task that yields with sleep(0)):
    disk equals memory, unless a write is pending."""

    def __init__(self, manager: Manager) -> None:
        self.manager = manager
        self.checks = 0
        self.pending_seen = 0
        self.diff: tuple[Any, Any] | None = None
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while self.diff is None:
            pending = self.manager.persist_pending
            disk, mem = persisted(self.manager), in_memory(self.manager)
            if disk != mem and not pending and not self.manager.persist_pending:
                self.diff = (disk, mem)
            self.checks += 1
            self.pending_seen += pending
            await asyncio.sleep(0)

    def assert_equal(self) -> None:
        assert self.diff is None, f"persisted table differs from memory:\n{self.diff}"

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


async def _op(rng: random.Random, clients: list[AsyncClient], sock: Path, pb: Path) -> None:
    kind = rng.choice(["dial", "dial", "hang_up", "hang_up_nowait", "reconnect", "pause"])
    c = clients[0]
    if kind == "dial":
        with contextlib.suppress(errors.RasError):  # a failed dial keeps its handle
            await c.dial(rng.choice(ENTRIES), pb)
    elif kind in ("hang_up", "hang_up_nowait"):
        infos = await c.connections(include_pending=True)
        if infos:
            h = rng.choice(infos).handle
            # it may have gone meanwhile; a joined one keeps its other reference (638)
            with contextlib.suppress(errors.InvalidHandle, errors.RasError):
                await c.hang_up(h, wait=kind == "hang_up", timeout=2)
    elif kind == "reconnect":
        # the process's last connection closes (reaper clock starts), then it comes back
        for old in clients:
            await old.close()
        clients[:] = [await AsyncClient(sock, autostart=False).connect()]
    else:
        await asyncio.sleep(rng.uniform(0.0, 0.4))


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_persisted_table_equals_memory_through_random_operations(
    tmp_path: Path, phonebook: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    monkeypatch.setattr(table_module, "REAP_GRACE", 0.3)
    monkeypatch.setenv("OPENRAS_SYSTEM_PHONEBOOK", str(tmp_path / "none.pbk"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    issued: set[int] = set()
    async with in_process_daemon(tmp_path / "state", "pers") as (manager, _server, sock):
        await _random_run(manager, sock, phonebook, seed, issued)
    # a daemon restart on the same state never hands out an old handle again
    again = Manager(tmp_path / "state")
    await again.start()
    try:
        assert again.table.next_handle > max(issued | {manager.table.next_handle - 1})
    finally:
        await again.shutdown()


async def _random_run(
    manager: Manager, sock: Path, phonebook: Path, seed: int, issued: set[int]
) -> None:
    watcher = Watcher(manager)
    rng = random.Random(seed)
    clients = [await AsyncClient(sock, autostart=False).connect()]
    try:
        for _ in range(14):
            await _op(rng, clients, sock, phonebook)
            issued |= set(manager.table.rows)
            watcher.assert_equal()
        for info in await clients[0].connections(include_pending=True):
            for _ in range(info.refs):
                with contextlib.suppress(errors.RasError):
                    await clients[0].hang_up(info.handle, wait=False)
        for info in await clients[0].connections(include_pending=True):
            await clients[0].wait_gone(info.handle, timeout=15)
        watcher.assert_equal()
        assert watcher.checks > 100  # it really looked, many times
        assert watcher.pending_seen > 0  # and saw writes on their way
        manager.flush()
        assert not manager.persist_pending
        assert persisted(manager) == in_memory(manager)
    finally:
        await watcher.stop()
        for c in clients:
            await c.close()


async def test_reconnect_of_a_dialer_persists_its_reprieve(
    tmp_path: Path, phonebook: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """session_opened clears reap_at of the process's failed handles: that is saved too."""
    monkeypatch.setenv("OPENRAS_SYSTEM_PHONEBOOK", str(tmp_path / "none.pbk"))
    async with in_process_daemon(tmp_path / "state", "rep") as (manager, _server, sock):
        c = await AsyncClient(sock, autostart=False).connect()
        with pytest.raises(errors.RasError) as exc:
            await c.dial("NoCarrier", phonebook)
        h = exc.value.handle
        await c.close()
        deadline = time.monotonic() + 10
        while manager.table.rows[h].reap_at is None:
            assert time.monotonic() < deadline, "the reaper clock never started"
            await asyncio.sleep(0.01)
        manager.flush()
        assert persisted(manager)["rows"][0]["reap_at"] is not None
        c = await AsyncClient(sock, autostart=False).connect()
        await c.status(h)  # the server has seen the session by now
        assert manager.table.rows[h].reap_at is None
        manager.flush()
        assert persisted(manager)["rows"][0]["reap_at"] is None
        await c.hang_up(h, wait=True)
        await c.close()
