"""Reaching rasman from a command, and the listing that needs nothing more.

Light on purpose: ``rasdial`` and ``openras list`` import this module and the transport,
not the client's dial machinery or the record classes (dataclasses), which cost more start-up
than a listing's round trip.
"""

from __future__ import annotations

from openras import errors
from openras.wire import protocol as P

TYPE_CHECKING = False  # typing's constant, without importing typing (see openras._lazy)
if TYPE_CHECKING:  # imported where used: `rasdial /?` and usage errors need no transport
    from typing import Any

    from openras.client import Client
    from openras.wire.transport import Transport


def open_transport(
    socket: str | None, timeout: float | None = None, *, autostart: bool = True
) -> Transport:
    """A session with rasman; ``None`` means the default socket (the per-user one autostarts
    unless ``autostart`` is false)."""
    from openras.wire.transport import connect

    try:
        return connect(socket or None, autostart=autostart, timeout=timeout)
    except OSError as exc:  # e.g. permission denied on the socket
        raise errors.ManagerUnavailable(
            detail=f"cannot reach the connection manager: {exc}"
        ) from None


def open_client(socket: str | None, timeout: float | None = None) -> Client:
    """A :class:`Client`, with socket errors other than "absent" turned into RasError 711."""
    from openras.client import Client

    try:
        return Client(socket, timeout=timeout)
    except OSError as exc:
        raise errors.ManagerUnavailable(
            detail=f"cannot reach the connection manager: {exc}"
        ) from None


def connection_fields(
    socket: str | None,
    timeout: float | None = None,
    *,
    include_pending: bool = False,
    autostart: bool = True,
) -> list[dict[str, Any]]:
    """``Client(socket, ...).connections(include_pending)``, each connection as the keyword
    arguments of its :class:`~openras.records.ConnectionInfo` (:func:`openras.wire.fields.
    connection`): the same session, call and checks, without the record class."""
    from openras.wire.fields import connection

    t = open_transport(socket, timeout, autostart=autostart)
    try:
        reply = t.call(P.ENUM, {"include_pending": include_pending})
        return [connection(c) for c in reply["connections"]]
    finally:
        t.close()
