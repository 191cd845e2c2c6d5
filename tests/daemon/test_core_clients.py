"""The Pythonic clients end to end: event streams, hang-up timeouts, import weight, bad
phonebooks through the daemon, and the README's first command (``python -m openras.demo``)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest
from rasman_helpers import default_env, wait_until

from openras import AsyncClient, Client, errors
from openras.records import Event
from openras.states import DIAL_SEQUENCE, RasConnState
from openras.wire import protocol as P


def subscribers(c: Client) -> int:
    return int(c.call(P.PING)["subscribers"])


def test_client_events_stream_created_states_disconnected(rasman) -> None:
    got: list[Event] = []
    done = threading.Event()

    def follow() -> None:
        with Client(rasman.socket) as watcher:
            for ev in watcher.events():
                got.append(ev)
                if ev.kind == "disconnected":
                    break
        done.set()

    with Client(rasman.socket) as c:
        before = subscribers(c)
        thread = threading.Thread(target=follow, daemon=True)
        thread.start()
        wait_until(lambda: subscribers(c) == before + 1, what="the subscription")
        conn = c.dial("Dropper", rasman.phonebook)  # drops by itself with 629
        assert done.wait(10), f"no disconnected event; got {got}"
        thread.join(5)
        assert (got[0].kind, got[0].handle, got[0].state) == (
            "created",
            conn.handle,
            RasConnState.OpenPort,
        )
        states = [e.state for e in got if e.kind == "state"]
        assert states[: len(DIAL_SEQUENCE) - 1] == list(DIAL_SEQUENCE[1:])
        assert got[-1].kind == "disconnected" and got[-1].error == errors.ERROR_REMOTE_DISCONNECTION
        # closing the iterator ended the daemon's side of the stream
        wait_until(lambda: subscribers(c) == before, what="the stream to end")


async def test_async_events_and_hang_up_timeout(rasman) -> None:
    async with AsyncClient(rasman.socket, autostart=False) as c:
        events: list[Event] = []

        async def follow() -> None:
            async for ev in c.events():
                events.append(ev)
                if ev.kind == "disconnected":
                    return

        before = (await c.transport.call(P.PING))["subscribers"]
        task = asyncio.create_task(follow())
        while (await c.transport.call(P.PING))["subscribers"] == before:
            await asyncio.sleep(0.01)
        first = await c.dial("Demo", rasman.phonebook)
        second = await c.dial("Demo", rasman.phonebook)  # joins: two references
        assert second.handle == first.handle
        # one reference goes, the other keeps the link up: the wait times out with 638
        with pytest.raises(errors.RasError) as info:
            await first.hang_up(wait=True, timeout=0.5)
        assert info.value.code == errors.ERROR_REQUEST_TIMEOUT
        assert (await c.status(first.handle)).state is RasConnState.Connected
        await second.hang_up(wait=True, timeout=15)
        with pytest.raises(errors.InvalidHandle):
            await c.status(first.handle)
        await asyncio.wait_for(task, 10)
        kinds = [e.kind for e in events]
        assert kinds[0] == "created" and kinds[-1] == "disconnected"
        assert all(e.handle == first.handle for e in events)


def test_blocking_hang_up_timeout_leaves_the_session_usable(rasman) -> None:
    """The wait is one call on the client's own session; a timed-out one must not leave its
    late reply to answer the next call."""
    with Client(rasman.socket, autostart=False) as c:
        first = c.dial("Demo", rasman.phonebook)
        second = c.dial("Demo", rasman.phonebook)  # joins: two references
        assert second.handle == first.handle
        with pytest.raises(errors.RasError) as info:
            first.hang_up(wait=True, timeout=0.5)  # the other reference keeps it up
        assert info.value.code == errors.ERROR_REQUEST_TIMEOUT
        status = c.status(first.handle)  # answered by its own reply, not the late one
        assert status.state is RasConnState.Connected
        assert status.refs == 1  # the timed-out hang-up did take one reference
        second.hang_up(wait=True, timeout=15)
        with pytest.raises(errors.InvalidHandle):
            c.status(first.handle)
        assert c.connections(include_pending=True) == []


@pytest.mark.parametrize(
    "statement", ["import openras.client", "from openras import Client", "import openras.rasapi"]
)
def test_blocking_apis_import_no_asyncio(statement: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", f"{statement}\nimport sys\nprint('asyncio' in sys.modules)"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert out.stdout.strip() == "False"


def test_malformed_phonebook_through_the_daemon(rasman, tmp_path: Path) -> None:
    bad = tmp_path / "bad.pbk"
    bad.write_text("[Good]\nOpenRasDevice=loopback\n\nthis line has no equals sign\n")
    with Client(rasman.socket) as c:
        with pytest.raises(errors.RasError) as info:
            c.dial("Good", bad)
        assert info.value.code == errors.ERROR_CORRUPT_PHONEBOOK
        assert info.value.handle == 0  # nothing to hang up
        assert f"{bad}:4" in str(info.value)
        assert c.connections(include_pending=True) == []
    assert "Traceback" not in rasman.log.read_text()


def test_demo_runs_on_the_default_per_user_daemon(default_root: Path) -> None:
    """README's first command ends in ``python -m openras.demo``: it must work from nothing."""
    env = default_env(default_root)
    out = subprocess.run(
        [sys.executable, "-m", "openras.demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    for state in DIAL_SEQUENCE:
        assert state.rascs_name in text, f"{state.rascs_name} not printed:\n{text}"
    assert text.index("RASCS_OpenPort") < text.index("RASCS_Connected")
    assert "RasEnumConnections -> 0, 1 connection(s)" in text
    assert "ERROR_INVALID_HANDLE" in text and "the link is gone" in text
    assert "RasHangUp" in text
    # it says which daemon served it and how to stop it, and leaves no start lock behind
    pid = int(text.split("rasman pid ")[1].split()[0])
    assert f"kill {pid}" in text and psutil.pid_exists(pid)
    run_dir = Path(text.split(" on ")[-1].split(";")[0]).parent
    assert sorted(p.name for p in run_dir.iterdir()) == ["rasman.sock"]
