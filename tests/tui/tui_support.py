"""Helpers for the rasphone tests: waiting on the app, reading what the screen shows."""

from __future__ import annotations

import asyncio
import html
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from textual.app import App
from textual.pilot import Pilot

from openras.client import Client
from openras.tui.app import RasphoneApp

BOOK = """\
[Demo]
OpenRasDevice=loopback
OpenRasLoopbackStepMs=10

[Slow]
OpenRasDevice=loopback
OpenRasLoopbackStepMs=10
OpenRasLoopbackHangUpMs=1500

[Secret]
OpenRasDevice=loopback
OpenRasLoopbackStepMs=10
OpenRasLoopbackPassword=secret

[Drop]
OpenRasDevice=loopback
OpenRasLoopbackStepMs=10
OpenRasLoopbackDropAfterMs=1500

[Crawl]
OpenRasDevice=loopback
OpenRasLoopbackStepMs=250
"""


class Rasman(Protocol):
    """What these tests use of the shared ``rasman`` fixture (tests/conftest.py)."""

    socket: Path
    state_dir: Path

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def kill9(self) -> None: ...
    @property
    def env(self) -> dict[str, str]: ...


def client_of(ras: Rasman) -> Client:
    return Client(ras.socket, autostart=False, timeout=30.0)


_TEXT = re.compile(
    r'<text [^>]*x="([0-9.]+)"[^>]*clip-path="url\(#[\w-]+-line-(\d+)\)"[^>]*>(.*?)</text>'
)
#: Cell width of Rich's SVG export (20 px characters at the default 0.61 aspect ratio).
CELL = 20 * 0.61


async def until(
    pilot: Pilot[Any], cond: Callable[[], object], what: str, timeout: float = 15.0
) -> None:
    """Let the app run until ``cond()`` is true; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await pilot.pause(0.02)


async def shows(pilot: Pilot[Any], *texts: str, timeout: float = 15.0) -> None:
    """Wait until the screen shows every text (the screen repaints on a timer)."""
    await until(
        pilot,
        lambda: all(t in screen_text(pilot.app) for t in texts),
        f"the screen to show {texts}",
        timeout,
    )


def svg_lines(svg: str) -> list[str]:
    """The terminal text of a Textual SVG screenshot, one string per row (trailing blanks cut)."""
    rows: dict[int, dict[int, str]] = {}
    for x, line, text in _TEXT.findall(svg):
        col = round(float(x) / CELL)
        row = rows.setdefault(int(line), {})
        for i, ch in enumerate(html.unescape(text).replace("\xa0", " ")):
            row[col + i] = ch
    height = max(rows, default=-1) + 1
    out = []
    for y in range(height):
        cells = rows.get(y, {})
        width = max(cells, default=-1) + 1
        out.append("".join(cells.get(i, " ") for i in range(width)).rstrip())
    return out


def screen_text(app: App[Any]) -> str:
    """What the terminal shows now (via the public SVG export)."""
    return "\n".join(svg_lines(app.export_screenshot()))


def cells(app: Any, handle: int) -> dict[str, str]:
    """The connections table's cells of ``handle`` by column key ({} if no such row)."""
    table = app.table
    key = str(handle)
    if key not in table.rows:
        return {}
    return {str(col.key.value): str(table.get_cell(key, col.key)) for col in table.ordered_columns}


def make_app(ras: Rasman, book: Path | None) -> RasphoneApp:
    return RasphoneApp(
        socket=ras.socket, phonebook=book, autostart=False, retry_min=0.1, retry_max=0.4
    )


async def online(pilot: Pilot[Any], app: RasphoneApp) -> None:
    await until(pilot, lambda: app.client is not None and not app.banner, "the app to reach rasman")


def state_of(app: RasphoneApp, handle: int) -> str | None:
    return cells(app, handle).get("state")


async def other_dial(ras: Rasman, entry: str, book: Path, **kw: Any) -> int:
    """Dial from another client (a blocking one, in a thread); return the handle."""

    def run() -> int:
        with client_of(ras) as c:
            return c.dial(entry, book, **kw).handle

    return await asyncio.to_thread(run)


async def daemon(ras: Rasman, fn: str, *args: Any) -> Any:
    """One blocking client call, off the event loop (the app keeps running meanwhile)."""

    def run() -> Any:
        with client_of(ras) as c:
            return getattr(c, fn)(*args)

    return await asyncio.to_thread(run)


#: A separate program dialing or hanging up, as another user's script would.
_OTHER_PROGRAM = """\
import sys
from openras import Client

socket, what, *args = sys.argv[1:]
with Client(socket, autostart=False, timeout=60) as client:
    if what == "dial":
        print(client.dial(args[0], args[1]).handle)
    else:
        client.hang_up(int(args[0]), wait=True)
"""


async def other_process(ras: Rasman, *args: str) -> str:
    """Run ``dial ENTRY BOOK`` or ``hangup HANDLE`` in another Python process; its stdout."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _OTHER_PROGRAM,
        str(ras.socket),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    return out.decode().strip()
