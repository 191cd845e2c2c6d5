"""A connection's fields from the wire's object, without the record class.

:meth:`openras.records.ConnectionInfo.from_wire` is ``ConnectionInfo(**connection(d))`` (built
faster); a
command that only lists connections (``rasdial``, ``openras list``) uses the fields as they
are and so never imports dataclasses, whose import (inspect, ast, dis, tokenize) cost more
than the listing's own work.
"""

from __future__ import annotations

from openras.states import RasConnState

TYPE_CHECKING = False  # typing's constant, without importing typing (see openras._lazy)
if TYPE_CHECKING:
    from typing import Any


#: The states by their wire value (an enum call costs more than the rest of a field).
_STATES: dict[object, RasConnState] = {s.value: s for s in RasConnState}


def _state(value: object) -> RasConnState:
    state = _STATES.get(value)
    return state if state is not None else RasConnState(int(value))  # type: ignore[call-overload]


def connection(d: dict[str, Any]) -> dict[str, Any]:
    """``ConnectionInfo``'s keyword arguments from one connection of a reply."""
    return {
        "handle": int(d["handle"]),
        "entry": str(d.get("entry", "")),
        "state": _state(d["state"]),
        "phase": str(d.get("phase", "")),
        "error": int(d.get("error", 0)),
        "entry_name": str(d.get("entry_name", "")),
        "phonebook": str(d.get("phonebook", "")),
        "phone_number": str(d.get("phone_number", "")),
        "device_type": str(d.get("device_type", "")),
        "device_name": str(d.get("device_name", "")),
        "guid": str(d.get("guid", "")),
        "all_users": bool(d.get("all_users", False)),
        "owner": int(d.get("owner", 0)),
        "refs": int(d.get("refs", 1)),
        "created": float(d.get("created", 0.0)),
        "connected_at": d.get("connected_at"),
        "detail": str(d.get("detail") or ""),
        "driver": str(d.get("driver", "")),
        "ras_device_type": str(d.get("ras_device_type", "")),
        "ras_device_name": str(d.get("ras_device_name", "")),
        "correlation_id": str(d.get("correlation_id", "")),
        "dialed_number": str(d.get("dialed_number") or ""),
    }
