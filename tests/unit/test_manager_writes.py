"""The manager's table writes: a burst of changes is one write, made after the callback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from openras.manager.persist import StateStore
from openras.manager.service import Manager


def _on_disk(manager: Manager) -> dict[str, Any]:
    record = StateStore(manager.state_dir).load()
    assert record is not None
    return record


@pytest.fixture
async def counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Manager, list[bytes]]]:
    """A started manager, and every table write it makes from then on."""
    manager = Manager(tmp_path / "state")
    await manager.start()
    writes: list[bytes] = []
    real = StateStore._write_slot  # what every table write ends in (header and JSON)

    def counting(self: StateStore, pieces: Any) -> None:
        writes.append(b"".join(bytes(piece) for piece in pieces))
        real(self, pieces)

    monkeypatch.setattr(StateStore, "_write_slot", counting)
    try:
        yield manager, writes
    finally:
        await manager.shutdown()


async def test_a_burst_of_changes_is_one_write_after_the_callback(
    counted: tuple[Manager, list[bytes]],
) -> None:
    manager, writes = counted
    assert not manager.persist_pending
    for _ in range(10):
        manager.table.next_handle += 1  # a change, as the table's own would be
        manager._persist()
    assert manager.persist_pending
    assert writes == []  # nothing yet: the write waits for the callback to end
    await asyncio.sleep(0)
    assert len(writes) == 1
    assert not manager.persist_pending
    on_disk = _on_disk(manager)["table"]
    assert on_disk["next_handle"] == manager.table.next_handle


async def test_flush_writes_at_once_and_only_what_changed(
    counted: tuple[Manager, list[bytes]],
) -> None:
    manager, writes = counted
    manager.flush()
    assert writes == []  # nothing changed
    manager.table.next_handle += 5
    manager._persist()
    manager.flush()
    assert len(writes) == 1
    assert _on_disk(manager)["table"]["next_handle"] == manager.table.next_handle
    # the ids file is ahead of the table before the table names a new handle
    ids = json.loads(manager.store.ids_path.read_bytes())
    assert ids["next_handle"] >= manager.table.next_handle
    await asyncio.sleep(0)
    assert len(writes) == 1  # the scheduled write found nothing left to do
