"""TableWriter: the table file written off the loop, in order, bursts coalesced."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from pathlib import Path

import pytest

from openras.manager.persist import StateStore, TableWriter


class SlowStore(StateStore):
    """Records every write; each one waits until the test lets it through."""

    def __init__(self, state_dir: Path) -> None:
        super().__init__(state_dir)
        self.writes: list[bytes] = []
        self.gate = threading.Event()
        self.fail = False

    def write_table(self, data: bytes) -> None:
        assert self.gate.wait(10), "the test never opened the gate"
        if self.fail:
            raise OSError(28, "No space left on device")
        super().write_table(data)
        self.writes.append(data)


def _table(n: int) -> bytes:
    return json.dumps({"n": n}).encode()


async def test_a_burst_is_written_newest_last_and_coalesced(tmp_path: Path) -> None:
    store = SlowStore(tmp_path)
    writer = TableWriter(store)
    try:
        for n in range(1, 51):
            writer.submit(_table(n))
        assert writer.pending
        store.gate.set()
        await asyncio.wait_for(writer.wait(), 10)
        assert not writer.pending
        assert json.loads(store.path.read_bytes()) == {"n": 50}
        # the first write took what was there; the rest of the burst became one more write
        assert [json.loads(w)["n"] for w in store.writes] == [1, 50]
    finally:
        writer.close()


async def test_wait_returns_only_once_what_was_handed_in_is_on_disk(tmp_path: Path) -> None:
    store = SlowStore(tmp_path)
    writer = TableWriter(store)
    try:
        writer.submit(_table(1))
        waiter = asyncio.ensure_future(writer.wait())
        await asyncio.sleep(0.05)
        assert not waiter.done()  # the write is held at the gate
        assert not store.path.exists()
        store.gate.set()
        await asyncio.wait_for(waiter, 10)
        assert json.loads(store.path.read_bytes()) == {"n": 1}
        await asyncio.wait_for(writer.wait(), 1)  # nothing pending: at once
    finally:
        writer.close()


async def test_a_failed_write_is_logged_and_does_not_stall_waiters(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SlowStore(tmp_path)
    store.fail = True
    store.gate.set()
    writer = TableWriter(store)
    try:
        with caplog.at_level(logging.ERROR, logger="openras.rasman"):
            writer.submit(_table(1))
            await asyncio.wait_for(writer.wait(), 10)
        assert "No space left on device" in caplog.text
        store.fail = False
        writer.submit(_table(2))
        await asyncio.wait_for(writer.wait(), 10)
        assert json.loads(store.path.read_bytes()) == {"n": 2}
    finally:
        writer.close()
