"""Plain records the Pythonic API returns (built from the wire's JSON objects)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from openras.states import RasConnState
from openras.wire import fields


@dataclass(frozen=True)
class ConnectionInfo:
    """One connection as status and enumeration describe it."""

    handle: int
    entry: str
    state: RasConnState
    phase: str
    error: int = 0
    entry_name: str = ""
    phonebook: str = ""
    phone_number: str = ""
    device_type: str = ""
    device_name: str = ""
    guid: str = ""
    all_users: bool = False
    owner: int = 0
    refs: int = 1
    created: float = 0.0
    connected_at: float | None = None
    #: Why it failed or dropped, in the link program's words ("" when it did not).
    detail: str = ""
    #: The openras driver running the link (``device_type``/``device_name`` are its own).
    driver: str = ""
    #: What Windows reports for the entry's device (RASCONN.szDeviceType/szDeviceName):
    #: ``vpn``/``WAN Miniport (IKEv2)``, ``PPPoE``/``WAN Miniport (PPPOE)``...
    ras_device_type: str = ""
    ras_device_name: str = ""
    #: RASCONN.guidCorrelationId: one per connection attempt (32 hex digits).
    correlation_id: str = ""
    #: The number the link dials, as dialed (a modem's after the dialing rules, or the
    #: alternate that answered); "" for links that dial no number.
    dialed_number: str = ""

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> ConnectionInfo:
        # The converted fields are the instance's dict as __init__ would make it: a frozen
        # dataclass's __init__ sets 22 fields one object.__setattr__ at a time, two thirds
        # of an enumeration's decoding at 100 connections (0.4 of 0.6 ms per call).
        info = object.__new__(cls)
        info.__dict__.update(fields.connection(d))
        return info


@dataclass(frozen=True)
class Statistics:
    bytes_sent: int
    bytes_received: int
    frames_sent: int
    frames_received: int
    errors: int
    bps: int
    duration_ms: int
    #: Live rates, bits per second (since the previous statistics call, or on average).
    send_bps: int = 0
    receive_bps: int = 0

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Statistics:
        return cls(**{k: int(d.get(k, 0)) for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class ProjectionInfo:
    interface: str
    local_address: str
    remote_address: str
    dns: tuple[str, ...] = ()
    local_address_v6: str = ""
    remote_address_v6: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> ProjectionInfo:
        return cls(
            interface=str(d.get("interface", "")),
            local_address=str(d.get("local_address", "")),
            remote_address=str(d.get("remote_address", "")),
            dns=tuple(d.get("dns", ())),
            local_address_v6=str(d.get("local_address_v6", "")),
            remote_address_v6=str(d.get("remote_address_v6", "")),
            extra=dict(d.get("extra", {})),
        )


@dataclass(frozen=True)
class Event:
    """A change: ``created``, ``state`` (state changed) or ``disconnected`` (with reason)."""

    kind: str
    handle: int
    entry: str
    state: RasConnState
    phase: str
    error: int = 0
    owner: int = 0
    old_state: RasConnState | None = None
    redial: bool = False

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Event:
        old = d.get("old_state")
        return cls(
            kind=str(d.get("event", "")),
            handle=int(d.get("handle", 0)),
            entry=str(d.get("entry", "")),
            state=RasConnState(int(d.get("state", RasConnState.Disconnected))),
            phase=str(d.get("phase", "")),
            error=int(d.get("error", 0)),
            owner=int(d.get("owner", 0)),
            old_state=RasConnState(int(old)) if old is not None else None,
            redial=bool(d.get("redial", False)),
        )


@dataclass(frozen=True)
class Disconnect:
    handle: int
    entry: str
    error: int
    time: float
    owner: int = 0
    connected_at: float | None = None
    redialing: bool = False
    detail: str = ""

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Disconnect:
        return cls(
            handle=int(d["handle"]),
            entry=str(d.get("entry", "")),
            error=int(d.get("error", 0)),
            time=float(d.get("time", 0.0)),
            owner=int(d.get("owner", 0)),
            connected_at=d.get("connected_at"),
            redialing=bool(d.get("redialing", False)),
            detail=str(d.get("detail") or ""),
        )
