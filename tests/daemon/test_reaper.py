"""The reaper of abandoned failed handles, with the manager in this process (grace shortened).

A failed handle is kept until its owner hangs it up; once every connection of the process that
dialed it is closed, it is reaped after REAP_GRACE. The grace is 60 s in production; here it is
patched to a fraction of a second and the table is read directly (a new client connection from
this process would count as the dialer coming back and stop the clock).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from rasman_helpers import in_process_daemon

from openras import AsyncClient, errors
from openras.manager import table as table_module
from openras.manager.table import Phase


async def wait_for(pred, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


async def test_abandoned_failed_handle_is_reaped_after_grace(
    tmp_path: Path, phonebook: Path, monkeypatch
):
    monkeypatch.setattr(table_module, "REAP_GRACE", 0.4)
    monkeypatch.setenv("OPENRAS_SYSTEM_PHONEBOOK", str(tmp_path / "none.pbk"))
    async with in_process_daemon(tmp_path / "state", "reap") as (manager, server, sock):
        c = AsyncClient(sock, autostart=False)
        await c.connect()
        with pytest.raises(errors.AuthenticationFailure) as exc:
            await c.dial("Secret", phonebook, password="wrong")
        h = exc.value.handle
        await wait_for(lambda: not manager.table.rows[h].link_running, what="the program to exit")
        row = manager.table.rows[h]
        assert row.phase is Phase.FAILED and row.reap_at is None  # its dialer is still connected
        assert (await c.status(h)).error == 691
        await c.close()  # the dialer is gone: the clock starts, with nothing else happening
        t0 = time.monotonic()
        await wait_for(lambda: not server._sessions, what="the server to see the client leave")
        assert manager.table.rows[h].reap_at is not None
        await wait_for(lambda: h not in manager.table.rows, 5, what="the reaper")
        assert time.monotonic() - t0 >= 0.3
        assert manager.table.history[-1]["handle"] == h
        manager.flush()
        assert manager.store.load()["table"]["rows"] == []  # persisted too
