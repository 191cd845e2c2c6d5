"""Event queues are bounded: a subscriber that stops reading is cut off, memory stays flat."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from rasman_helpers import Raw, in_process_daemon

from openras.manager import service
from openras.wire import protocol as P


def _event(i: int) -> dict[str, object]:
    return {"event": "state", "handle": i, "owner": 0, "entry": "x", "phase": "dialing",
            "state": 0, "error": 0}  # fmt: skip


async def until(pred: object, what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


async def subscribed(manager: service.Manager, sock: Path) -> tuple[Raw, service.Subscriber]:
    """A raw client with a Subscribe stream open, and the daemon's Subscriber for it."""
    raw = await asyncio.to_thread(Raw, sock)
    reply = await asyncio.to_thread(raw.call, P.SUBSCRIBE, {}, more=True)
    assert reply is not None and reply["parameters"] == {"event": "subscribed"}
    await until(lambda: manager.subscribers, "the subscriber")
    [sub] = manager.subscribers
    return raw, sub


@pytest.fixture
async def daemon(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[service.Manager, Any, Path]]:
    """An in-process daemon whose subscriber queues hold 8 events."""
    monkeypatch.setattr(service, "SUBSCRIBER_QUEUE", 8)
    async with in_process_daemon(tmp_path / "state", "subq") as running:
        yield running


async def test_stalled_subscriber_is_dropped_and_disconnected(daemon) -> None:
    manager, server, sock = daemon
    stalled, sub = await subscribed(manager, sock)
    # Without yielding to the loop the stream cannot drain: the queue fills up.
    for i in range(8):
        manager._publish(_event(i))
    assert sub.queue.qsize() == 8 and sub in manager.subscribers
    manager._publish(_event(8))
    assert sub.dropped and sub not in manager.subscribers
    left = [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]
    assert left in ([], [None])  # no event kept: at most the wake-up of its reader

    # ... and its client is disconnected, not left hanging on a dead stream
    def eof() -> bool:
        while stalled.recv() is not None:
            continue  # what was in flight before the cut
        return True

    assert await asyncio.wait_for(asyncio.to_thread(eof), 5)
    stalled.close()
    await until(lambda: not server._sessions, "the dropped session to end")


async def test_a_reading_subscriber_is_never_dropped(daemon) -> None:
    manager, _server, sock = daemon
    reader, sub = await subscribed(manager, sock)
    got = 0
    for i in range(40):  # five times the bound, in small bursts the stream keeps up with
        manager._publish(_event(i))
        if i % 4 == 3:
            await until(lambda: not sub.queue.qsize(), "the stream to drain")
    while got < 40:
        msg = await asyncio.to_thread(reader.recv)
        assert msg is not None
        got += 1
    assert not sub.dropped and sub in manager.subscribers
    reader.close()
