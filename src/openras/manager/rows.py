"""A connection row as the wire shows it, encoded once per change.

Status and enumeration answer with the same record (:func:`record`). Building it costs a few
microseconds (the Windows device names, the entry's GUID), and an enumeration at 1,000
connections used to build and encode every row again on every call: 8 ms of the daemon's one
loop. :class:`RowCache` keeps each row's JSON as :class:`msgspec.Raw`, which the reply's
encoder splices in as it is, and rebuilds a row only when what it shows has changed.

Two shapes per row:

* the full record (a JSON object, :func:`record`), for ``Client.connections()`` and the tools;
* the RASCONN row (a JSON array in :data:`RASCONN_FIELDS` order), for ``RasEnumConnections``:
  a third of the bytes, and arrays decode several times faster than objects on the client.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from openras import _windows
from openras.manager import entries
from openras.manager.table import Conn

#: The RASCONN row's columns, in order (the wire contract of ``EnumConnections`` with
#: ``rasconn``; the client's ``rasapi._rasconn_row`` reads them by position).
RASCONN_FIELDS: Final = (
    "handle",
    "entry",
    "ras_device_type",
    "ras_device_name",
    "phonebook",
    "guid",
    "all_users",
    "owner",
    "correlation_id",
    "driver",
)

_encode = msgspec.json.Encoder().encode


def record(conn: Conn, *, entry: entries.EntrySnapshot | None = None) -> dict[str, Any]:
    """A row as the wire shows it (status and enumeration share it). ``ras_device_*`` are
    what Windows reports for the entry's device (RASCONN); ``device_*`` are the driver's."""
    ras_type = _windows.device_type(
        entry.device_type if entry else "", entry.get("Type") if entry else None
    )
    guid = conn.guid
    if not guid and conn.entry_name and conn.phonebook:
        guid = _windows.entry_guid(conn.phonebook, conn.entry_name)
    return {
        "handle": conn.handle,
        "entry": conn.display_name,
        "entry_name": conn.entry_name,
        "phonebook": conn.phonebook,
        "phone_number": conn.phone_number,
        "dialed_number": conn.dialed_number,
        "device_type": conn.device_type,
        "device_name": conn.device_name,
        "driver": conn.driver,
        "ras_device_type": ras_type,
        "ras_device_name": _windows.device_name(
            ras_type,
            preferred=entry.get("PreferredDevice") if entry else None,
            vpn_strategy=entry.get("VpnStrategy") if entry else None,
            driver=conn.driver,
        ),
        "correlation_id": _windows.correlation_id(conn.handle, conn.created),
        "guid": guid,
        "all_users": conn.all_users,
        "owner": conn.owner,
        "phase": conn.phase.value,
        "state": int(conn.state),
        "error": conn.error,
        "refs": conn.refs,
        "created": conn.created,
        "connected_at": conn.connected_at,
        "detail": conn.detail,
    }


def _signature(conn: Conn, entry: entries.EntrySnapshot | None) -> tuple[Any, ...]:
    """What :func:`record` reads, as of now: the row's own encoding (``Conn.encoded``, made
    again after any change to the row; the table's next write needs it anyway) and the
    entry, by reference (a re-read snapshot is another object, so its row is rebuilt). Two
    references instead of a tuple of every field: less memory per row and per call."""
    return (conn.encoded(), entry)


class RowCache:
    """Each live row's encoded record and RASCONN row, keyed by handle (never reused)."""

    def __init__(self) -> None:
        self._rows: dict[int, tuple[tuple[Any, ...], msgspec.Raw, msgspec.Raw | None]] = {}

    def _cached(
        self, conn: Conn, entry: entries.EntrySnapshot | None
    ) -> tuple[tuple[Any, ...], msgspec.Raw, msgspec.Raw | None]:
        sig = _signature(conn, entry)
        hit = self._rows.get(conn.handle)
        if hit is not None and hit[0] == sig:
            return hit
        made = (sig, msgspec.Raw(_encode(record(conn, entry=entry))), None)
        self._rows[conn.handle] = made
        return made

    def full(self, conn: Conn, entry: entries.EntrySnapshot | None) -> msgspec.Raw:
        """The record's JSON object."""
        return self._cached(conn, entry)[1]

    def rasconn(self, conn: Conn, entry: entries.EntrySnapshot | None) -> msgspec.Raw:
        """The RASCONN row's JSON array (made from the record, once per change)."""
        sig, full, row = self._cached(conn, entry)
        if row is None:
            rec = msgspec.json.decode(full)
            # RASCONN's szDeviceType/szDeviceName: Windows' names, the driver's when none.
            rec["ras_device_type"] = rec["ras_device_type"] or rec["device_type"]
            rec["ras_device_name"] = rec["ras_device_name"] or rec["device_name"]
            row = msgspec.Raw(_encode([rec[k] for k in RASCONN_FIELDS]))
            self._rows[conn.handle] = (sig, full, row)
        return row

    def discard(self, handle: int) -> None:
        """Forget a deleted row's encodings (handles are never reused)."""
        self._rows.pop(handle, None)

    def prune(self, live: set[int] | dict[int, Any]) -> None:
        """Forget rows no longer in the table (called when the cache has outgrown it)."""
        for handle in [h for h in self._rows if h not in live]:
            del self._rows[handle]

    def __len__(self) -> int:
        return len(self._rows)
