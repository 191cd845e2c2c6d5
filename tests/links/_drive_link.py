"""Run one link driver outside pytest, the way a daemon would (used by link tests).

Line 1 on stdin is a JSON spec (driver "module:Class", handle, entry, params, run_dir,
marker, phonebook, optional "adopt" record). Events go to stdout as JSON lines. Later stdin
lines are commands: ``stats``, ``projection``, ``record``, ``hangup`` (request_stop, then
wait_closed, then exit), ``kill``. The runner can be SIGKILLed at any moment to play a
daemon crash; the link program lives on in its own session.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import json
import sys
import threading
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


class _Entry:
    def __init__(self, name: str, values: dict[str, str]) -> None:
        self._name = name
        self._values = {k.lower(): v for k, v in values.items()}

    @property
    def name(self) -> str:
        return self._name

    def get(self, key: str, default: str | None = None) -> str | None:
        return self._values.get(key.lower(), default)


def out(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def on_event(event: LinkEvent) -> None:
    if isinstance(event, StateReached):
        out({"event": "state", "state": int(event.state), "name": event.state.name})
    elif isinstance(event, LinkFailed):
        out({"event": "failed", "error": event.error, "detail": event.detail})
    elif isinstance(event, LinkLost):
        out({"event": "dropped", "error": event.error, "detail": event.detail})


async def main() -> int:
    loop = asyncio.get_running_loop()
    spec_line = sys.stdin.readline()
    raw = json.loads(spec_line)
    module, _, cls_name = raw["driver"].partition(":")
    cls: type[Link] = getattr(importlib.import_module(module), cls_name)
    spec = LinkSpec(
        handle=raw["handle"],
        owner_uid=raw["owner_uid"],
        entry=_Entry(raw["entry_name"], raw["entry"]),
        params=DialParams(
            entry_name=raw["entry_name"],
            phone_number=raw.get("phone", ""),
            user=raw.get("user", ""),
            password=raw.get("password", ""),
        ),
        run_dir=Path(raw["run_dir"]),
        marker=raw["marker"],
        phonebook=Path(raw["phonebook"]) if raw.get("phonebook") else None,
    )
    commands: asyncio.Queue[str] = asyncio.Queue()

    def read_stdin() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(commands.put_nowait, line.strip())
        loop.call_soon_threadsafe(commands.put_nowait, "eof")

    threading.Thread(target=read_stdin, daemon=True).start()
    link: Link | None
    try:
        if raw.get("adopt") is not None:
            link = await cls.adopt(spec, raw["adopt"], on_event)
            if link is None:
                out({"event": "adopt-none"})
                return 0
        else:
            cls.validate(spec)
            link = cls(spec, on_event)
            await link.start()
    except RasError as exc:
        out({"event": "error", "error": exc.code, "detail": exc.detail or ""})
        return 1
    out({"event": "started", "record": link.record()})
    while True:
        cmd = await commands.get()
        if cmd == "stats":
            out({"event": "stats", "stats": dataclasses.asdict(await link.statistics())})
        elif cmd == "projection":
            proj = await link.projection()
            out({"event": "projection", "projection": dataclasses.asdict(proj) if proj else None})
        elif cmd == "record":
            out({"event": "record", "record": link.record()})
        elif cmd in ("hangup", "eof"):
            link.request_stop()
            try:
                await asyncio.wait_for(link.wait_closed(), link.kill_deadline)
            except TimeoutError:
                link.kill()
                await link.wait_closed()
            out({"event": "closed"})
            return 0
        elif cmd == "kill":
            link.kill()
            await link.wait_closed()
            out({"event": "closed"})
            return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
