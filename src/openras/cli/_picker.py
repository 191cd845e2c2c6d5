"""``openras hangup`` on a terminal without a target: list what may be ended, pick one.

The list is what the caller may hang up (its own connections; root's are everyone's) in any
phase, dialing and failed attempts included, since those hold resources too. Choosing is by
number, which works on every terminal and over any remote shell.
"""

from __future__ import annotations

import sys
import time

from openras import errors
from openras.cli import _term
from openras.cli._common import CliError
from openras.cli.rasdial_output import exit_status
from openras.client import Client
from openras.records import ConnectionInfo


def _row(n: int, info: ConnectionInfo, client: Client, now: float, style: _term.Style) -> list[str]:
    traffic = "-"
    if info.phase == "connected":
        try:
            stats = client.statistics(info.handle)
            traffic = f"{_term.size(stats.bytes_sent)} / {_term.size(stats.bytes_received)}"
        except errors.RasError:
            pass
    since = now - info.connected_at if info.connected_at and info.phase == "connected" else None
    state = info.state.name if not info.error else f"{info.state.name} (error {info.error})"
    return [
        str(n),
        info.entry_name or info.phone_number or info.entry,
        info.device_name or info.device_type or "-",
        style(state, _term.state_colour(info.phase)) if style.enabled else state,
        _term.duration(since),
        traffic,
    ]


def pick(client: Client) -> ConnectionInfo | None:
    """Show the caller's connections and return the one chosen (``None``: nothing chosen)."""
    conns = sorted(client.connections(include_pending=True), key=lambda c: c.handle)
    if not conns:
        raise CliError("no connections to hang up", exit_status(errors.ERROR_NO_CONNECTION))
    style = _term.Style(sys.stdout)
    now = time.time()
    rows = [_row(n, info, client, now, style) for n, info in enumerate(conns, 1)]
    header = ["#", "ENTRY", "DEVICE", "STATE", "DURATION", "SENT / RECEIVED"]
    print(_term.table(rows, header, style))
    last = len(conns)
    choices = "1" if last == 1 else f"1-{last}"
    while True:
        try:
            answer = input(f"Hang up which connection? [{choices}, q to cancel]: ").strip()
        except EOFError:
            answer = "q"
        if answer.lower() in ("", "q", "quit"):
            print("Nothing was hung up.")
            return None
        if answer.isdigit() and 1 <= int(answer) <= last:
            return conns[int(answer) - 1]
        print(f"Please type a number from {choices}, or q.")
