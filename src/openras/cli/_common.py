"""What every ``openras`` command shares: the error type, JSON shapes and target lookup.

The JSON field names here are a public interface (scripts parse them); add fields, never
rename or remove one.
"""

from __future__ import annotations

import re
import sys
import time
from argparse import Namespace

from openras.cli.rasdial_output import EXIT_USAGE, exit_status
from openras.errors import ERROR_NO_CONNECTION, message, symbol

TYPE_CHECKING = False  # typing's constant, without importing typing (see openras._lazy)
if TYPE_CHECKING:  # `openras --help` and usage errors need no client, listings no records
    from typing import Any

    from openras.client import Client
    from openras.records import ConnectionInfo, Disconnect, Event, ProjectionInfo, Statistics

_INTEGER = re.compile(r"-?[0-9]{1,19}")  # handles and codes are 32-bit; 19 digits fit int64


def integer(text: str) -> int | None:
    """``text`` as an int when it is ASCII decimal digits with at most one leading ``-``.

    ``str.isdigit`` is not enough: it accepts superscripts and other Unicode digits that
    ``int()`` then refuses (``²``), and several leading dashes; a very long number (which
    ``int()`` refuses past 4300 digits) is no handle or code either.
    """
    return int(text) if _INTEGER.fullmatch(text) else None


class CliError(Exception):
    """A failure to report as ``openras: <message>`` with exit ``status``."""

    def __init__(self, text: str, status: int = 1) -> None:
        super().__init__(text)
        self.text = text
        self.status = status


def emit_json(value: object) -> None:
    """One JSON document on stdout (indented: it is read by people too)."""
    import json  # only the --json paths pay for it

    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def emit_json_line(value: object) -> None:
    """One compact JSON document per line, flushed (for streams such as ``watch``)."""
    import json

    sys.stdout.write(json.dumps(value, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def connection_json(info: ConnectionInfo, now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    connected = info.phase == "connected" and info.connected_at is not None
    return {
        "handle": info.handle,
        "entry": info.entry,
        "entry_name": info.entry_name,
        "phonebook": info.phonebook,
        "phone_number": info.phone_number,
        "device_type": info.device_type,
        "device_name": info.device_name,
        "state": info.state.name,
        "state_code": int(info.state),
        "phase": info.phase,
        "error": info.error,
        "detail": info.detail,
        "owner": info.owner,
        "refs": info.refs,
        "all_users": info.all_users,
        "guid": info.guid,
        "created": info.created,
        "connected_at": info.connected_at,
        "duration_s": round(now - info.connected_at, 3)
        if connected and info.connected_at
        else None,
    }


def statistics_json(info: ConnectionInfo, stats: Statistics) -> dict[str, Any]:
    return {
        "handle": info.handle,
        "entry": info.entry,
        "bytes_sent": stats.bytes_sent,
        "bytes_received": stats.bytes_received,
        "frames_sent": stats.frames_sent,
        "frames_received": stats.frames_received,
        "errors": stats.errors,
        "bps": stats.bps,
        "send_bps": stats.send_bps,
        "receive_bps": stats.receive_bps,
        "duration_ms": stats.duration_ms,
    }


def projection_json(proj: ProjectionInfo) -> dict[str, Any]:
    return {
        "interface": proj.interface,
        "local_address": proj.local_address,
        "remote_address": proj.remote_address,
        "local_address_v6": proj.local_address_v6,
        "remote_address_v6": proj.remote_address_v6,
        "dns": list(proj.dns),
        "extra": dict(proj.extra),
    }


def event_json(event: Event, now: float | None = None) -> dict[str, Any]:
    return {
        "time": time.time() if now is None else now,
        "event": event.kind,
        "handle": event.handle,
        "entry": event.entry,
        "state": event.state.name,
        "state_code": int(event.state),
        "old_state": event.old_state.name if event.old_state is not None else None,
        "phase": event.phase,
        "error": event.error,
        "redial": event.redial,
    }


def disconnect_json(d: Disconnect) -> dict[str, Any]:
    return {
        "handle": d.handle,
        "entry": d.entry,
        "error": d.error,
        "message": message(d.error) if d.error else "",
        "time": d.time,
        "connected_at": d.connected_at,
        "owner": d.owner,
        "redialing": d.redialing,
        "detail": d.detail,
    }


def error_json(code: int) -> dict[str, Any]:
    from openras.errors import is_known

    return {
        "code": code,
        "symbol": symbol(code),
        "message": message(code),
        "known": is_known(code),
        "exit_status": exit_status(code),
    }


def resolve_target(client: Client, target: str, args: Namespace) -> ConnectionInfo:
    """The caller's connection ``target`` names: a handle number, else an entry name.

    Digits name a handle when the caller has a connection with that handle; otherwise (and
    for anything else) the target is an entry name, compared without regard to case.
    ``--phonebook`` narrows entry names to that book's connections.
    """
    import os

    conns = client.connections(include_pending=True)
    number = integer(target)
    if number is not None:
        for info in conns:
            if info.handle == number:
                return info
    book = os.path.abspath(args.phonebook) if getattr(args, "phonebook", None) else None
    named = [
        c
        for c in conns
        if c.entry.casefold() == target.casefold() and (book is None or c.phonebook == book)
    ]
    if not named:
        raise CliError(
            f"no connection {target!r} (see `openras list --all`)", exit_status(ERROR_NO_CONNECTION)
        )
    live = [c for c in named if c.phase != "disconnecting"] or named
    if len(live) > 1:
        handles = ", ".join(str(c.handle) for c in live)
        raise CliError(
            f"{target!r} names several connections (handles {handles}); give a handle", EXIT_USAGE
        )
    return live[0]
