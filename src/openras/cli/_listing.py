"""``openras list``: the connections as a table or JSON.

Apart from the other commands so that the commonest one loads only the transport: the
connections are the fields :meth:`~openras.records.ConnectionInfo.from_wire` would build a
record from, read as attributes, so neither the client's dial machinery nor the record
classes (dataclasses) are imported.
"""

from __future__ import annotations

import sys
import time
from argparse import Namespace
from types import SimpleNamespace

from openras.cli import _term
from openras.cli._common import connection_json, emit_json
from openras.cli._connect import connection_fields
from openras.cli.rasdial_output import EXIT_SUCCESS

TYPE_CHECKING = False  # typing's constant, without importing typing (see openras._lazy)
if TYPE_CHECKING:
    from collections.abc import Sequence

    from openras.records import ConnectionInfo


def connection_rows(conns: Sequence[ConnectionInfo], style: _term.Style) -> list[list[str]]:
    now = time.time()
    rows = []
    for c in conns:
        since = now - c.connected_at if c.connected_at and c.phase == "connected" else None
        state = c.state.name if c.phase != "failed" else f"{c.state.name} (error {c.error})"
        rows.append(
            [
                str(c.handle),
                c.entry,
                style(state, _term.state_colour(c.phase)) if style.enabled else state,
                c.device_name or c.device_type,
                c.phone_number or "-",
                _term.duration(since),
            ]
        )
    return rows


def cmd_list(args: Namespace) -> int:
    # Each one has every attribute of its ConnectionInfo, with the same values.
    conns: list[ConnectionInfo] = [
        SimpleNamespace(**fields)  # type: ignore[misc]
        for fields in connection_fields(args.socket, args.timeout, include_pending=args.all)
    ]
    if args.json:
        now = time.time()
        emit_json([connection_json(c, now) for c in conns])
        return EXIT_SUCCESS
    if not conns:
        print("No connections.")
        return EXIT_SUCCESS
    style = _term.Style(sys.stdout)
    header = ["HANDLE", "ENTRY", "STATE", "DEVICE", "PHONE", "CONNECTED"]
    print(_term.table(connection_rows(conns, style), header, style))
    return EXIT_SUCCESS
