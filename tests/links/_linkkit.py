"""Helpers for driver tests that run a Link directly (no daemon): entries, event recording,
and a driver-runner subprocess (``_drive_link.py``) for daemon-crash and non-root cases."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openras.errors import RasError
from openras.links.base import (
    DialParams,
    Link,
    LinkEvent,
    LinkFailed,
    LinkLost,
    LinkSpec,
    StateReached,
)
from openras.states import RasConnState

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "_drive_link.py"

# rasman's event stream collector, shared with the daemon tests.
sys.path.insert(0, str(HERE.parent / "daemon"))
from rasman_helpers import Events  # noqa: E402


class Entry:
    """A phonebook entry as a driver sees it (case-insensitive keys)."""

    def __init__(self, name: str, values: Mapping[str, str]) -> None:
        self._name = name
        self._values = {k.lower(): v for k, v in values.items()}

    @property
    def name(self) -> str:
        return self._name

    def get(self, key: str, default: str | None = None) -> str | None:
        return self._values.get(key.lower(), default)


def make_spec(
    tmp: Path,
    entry: Mapping[str, str],
    *,
    handle: int,
    name: str = "test",
    user: str = "",
    password: str = "",
    owner_uid: int | None = None,
    phone: str = "",
) -> LinkSpec:
    run_dir = tmp / f"run-{handle}"
    return LinkSpec(
        handle=handle,
        owner_uid=os.geteuid() if owner_uid is None else owner_uid,
        entry=Entry(name, entry),
        params=DialParams(entry_name=name, phone_number=phone, user=user, password=password),
        run_dir=run_dir,
        marker=f"test-{os.getpid()}-{handle}",
        phonebook=tmp / "rasphone.pbk",
    )


@dataclass
class Recorder:
    """Collects a link's events and waits for them (bounded, never a bare sleep)."""

    events: list[LinkEvent] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def __call__(self, event: LinkEvent) -> None:
        self.events.append(event)
        self.times.append(time.monotonic())
        self._changed.set()

    async def wait_for(self, predicate: Callable[[LinkEvent], bool], timeout: float) -> LinkEvent:
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for event in self.events[seen:]:
                if predicate(event):
                    return event
            seen = len(self.events)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out after {timeout} s; events: {self.events}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def connected(self, timeout: float) -> None:
        event = await self.wait_for(
            lambda e: (
                isinstance(e, LinkFailed | LinkLost)
                or (isinstance(e, StateReached) and e.state == RasConnState.Connected)
            ),
            timeout,
        )
        assert isinstance(event, StateReached), f"dial failed: {event}"

    @property
    def states(self) -> list[RasConnState]:
        return [e.state for e in self.events if isinstance(e, StateReached)]


async def wait_until_async(
    predicate: Callable[[], Any], timeout: float, interval: float = 0.02
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        await asyncio.sleep(interval)


async def stop_during_start(link: Link) -> RasError:
    """Request a stop while ``start()`` waits at its first await (reading the entry's files,
    as when the manager hangs up mid-dial); the RasError start() raised. The link is closed."""
    import pytest

    starting = asyncio.ensure_future(link.start())
    await asyncio.sleep(0)
    link.request_stop()
    with pytest.raises(RasError) as info:
        await asyncio.wait_for(starting, 5)
    await asyncio.wait_for(link.wait_closed(), 2)
    return info.value


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("State:"):
                    return line.split()[1] not in ("Z", "X")
    except OSError:
        return False
    return False


def ip_json(ns: str, *args: str) -> Any:
    res = subprocess.run(
        ["ip", "-n", ns, "-j", *args], capture_output=True, text=True, timeout=10, check=False
    )
    return json.loads(res.stdout or "[]") if res.returncode == 0 else []


def routes_via(ns: str, ifname: str, *, family: str = "-4", table: str = "all") -> list[Any]:
    res = subprocess.run(
        ["ip", "-n", ns, family, "-j", "route", "show", "table", table],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    return [r for r in json.loads(res.stdout or "[]") if r.get("dev") == ifname]


def rules(ns: str, family: str = "-4") -> list[Any]:
    res = subprocess.run(
        ["ip", "-n", ns, family, "-j", "rule", "show"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    return list(json.loads(res.stdout or "[]"))


# -- the driver runner in a subprocess -------------------------------------------------------


class Runner:
    """``_drive_link.py`` as a child: spec in on stdin, events out as JSON lines."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[dict[str, Any]] = []

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def read_until(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float
    ) -> dict[str, Any]:
        """Read lines until one matches (bounded by ``timeout`` via select)."""
        import select

        assert self.proc.stdout is not None
        for line in self.lines:
            if predicate(line):
                return line
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"runner: timed out; saw {self.lines}")
            ready, _, _ = select.select([self.proc.stdout], [], [], remaining)
            if not ready:
                continue
            raw = self.proc.stdout.readline()
            if not raw:
                raise AssertionError(f"runner exited ({self.proc.wait(5)}); saw {self.lines}")
            item: dict[str, Any] = json.loads(raw)
            self.lines.append(item)
            if predicate(item):
                return item


@contextlib.contextmanager
def run_driver(
    driver: str,
    spec: LinkSpec,
    *,
    ns: str | None = None,
    adopt: Mapping[str, Any] | None = None,
    prefix: Sequence[str] = (),
    python: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[Runner]:
    """Run ``driver`` ("module:Class") for ``spec`` in a child (inside ``ns`` if given)."""
    payload = {
        "driver": driver,
        "handle": spec.handle,
        "owner_uid": spec.owner_uid,
        "entry_name": spec.entry.name,
        "entry": dict(getattr(spec.entry, "_values", {})),
        "user": spec.params.user,
        "password": spec.params.password,
        "phone": spec.params.phone_number,
        "run_dir": str(spec.run_dir),
        "marker": spec.marker,
        "phonebook": str(spec.phonebook) if spec.phonebook else None,
        "adopt": adopt,
    }
    argv = [*prefix, python or sys.executable, str(RUNNER)]
    if ns is not None:
        argv = ["ip", "netns", "exec", ns, *argv]
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=dict(env) if env is not None else None,
        start_new_session=True,
    )
    runner = Runner(proc)
    try:
        runner.send(json.dumps(payload))
        yield runner
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


# -- a real rasman inside a namespace --------------------------------------------------------


@dataclass
class NsRasman:
    """``rasman`` running inside a namespace (the lab tracks and stops it by pid)."""

    socket: Path
    state_dir: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def ready(self) -> bool:
        import socket as s

        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"rasman exited: {self.log.read_text()}")
        with s.socket(s.AF_UNIX, s.SOCK_STREAM) as sock:
            try:
                sock.connect(str(self.socket))
            except OSError:
                return False
        return True


def start_rasman(
    lab: Any, ns: str, rm: NsRasman, config_home: Path, env: Mapping[str, str] | None = None
) -> NsRasman:
    """(Re)start ``rm`` inside ``ns`` and wait (bounded) until it answers."""
    env = {**os.environ, "XDG_CONFIG_HOME": str(config_home), **(env or {})}
    argv = [sys.executable, "-m", "openras.manager", "--socket", str(rm.socket),
            "--state-dir", str(rm.state_dir), "--log-level", "debug"]  # fmt: skip
    rm.proc = lab.spawn(ns, argv, log=rm.log, env=env)
    deadline = time.monotonic() + 15
    while not rm.ready():
        assert time.monotonic() < deadline, "rasman did not start"
        time.sleep(0.02)
    return rm


def link_pids(ns_pids: Sequence[int], program: str, arg: str) -> list[int]:
    """Pids (found, never killed, by name) of ``program`` whose argv holds ``arg``."""
    import psutil

    found = []
    for pid in ns_pids:
        try:
            cmd = psutil.Process(pid).cmdline()
        except psutil.Error:
            continue
        if cmd and os.path.basename(cmd[0]) == program and arg in cmd and pid_alive(pid):
            found.append(pid)
    return found


def hang_up_all(socket_path: Path) -> None:
    """Hang up whatever a test left dialed (fixture cleanup; the lab then kills by pid)."""
    from openras.client import Client

    try:
        with Client(socket_path, autostart=False, timeout=20) as c:
            for info in c.connections(include_pending=True):
                with contextlib.suppress(Exception):
                    c.hang_up(info.handle, wait=True, timeout=15)
    except Exception as exc:  # the daemon may be dead (a crash test): the lab cleans up
        print(f"could not hang up leftovers: {exc}")


def check_redial(
    events: Events, handle: int, *, drop: set[int], down: set[int], timeout: float
) -> list[dict[str, Any]]:
    """Wait until the link of ``handle`` dropped (an error in ``drop``), redialed at least
    once into a server that is down (an error in ``down``); returns the redial events."""
    first = events.wait_for(lambda e: e.get("handle") == handle and bool(e.get("redial")), timeout)
    assert first["error"] in drop, f"drop reason {first['error']}, wanted one of {drop}"
    assert first["phase"] == "dialing"
    events.wait_for(
        lambda e: e.get("handle") == handle and bool(e.get("redial")) and e.get("error") in down,
        timeout,
    )
    return [e for e in events.of(handle) if e.get("redial")]


def wait_reconnected(events: Events, handle: int, timeout: float) -> None:
    """Wait for Connected after the last redial event of ``handle``."""
    from openras.states import RasConnState

    def reconnected(_: dict[str, Any]) -> bool:
        mine = events.of(handle)
        last = max((i for i, e in enumerate(mine) if e.get("redial")), default=None)
        return last is not None and any(
            e["event"] == "state" and e["state"] == RasConnState.Connected for e in mine[last + 1 :]
        )

    events.wait_for(reconnected, timeout)
