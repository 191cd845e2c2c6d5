"""openras: the Windows Remote Access Service model for Linux.

The Pythonic face::

    from openras import Client
    with Client() as ras:
        conn = ras.dial("Office", on_state=print)
        ...
        conn.hang_up()          # returns once nothing of the link is left

``AsyncClient`` is the same over asyncio (imported lazily, so blocking users never load
asyncio). Win32 shapes live in :mod:`openras.rasapi` and :mod:`openras.win32ras`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from openras.client import Client, Connection
from openras.errors import (
    AccessDenied,
    AuthenticationFailure,
    DialInProgress,
    EntryNotFound,
    InvalidHandle,
    InvalidParameter,
    LinkDropped,
    ManagerUnavailable,
    PhonebookError,
    RasError,
)
from openras.records import ConnectionInfo, Disconnect, Event, ProjectionInfo, Statistics
from openras.states import RasConnState

if TYPE_CHECKING:
    from openras.aclient import AsyncClient, AsyncConnection

__version__ = "0.1.0"

__all__ = [
    "AccessDenied",
    "AsyncClient",
    "AsyncConnection",
    "AuthenticationFailure",
    "Client",
    "Connection",
    "ConnectionInfo",
    "DialInProgress",
    "Disconnect",
    "EntryNotFound",
    "Event",
    "InvalidHandle",
    "InvalidParameter",
    "LinkDropped",
    "ManagerUnavailable",
    "PhonebookError",
    "ProjectionInfo",
    "RasConnState",
    "RasError",
    "Statistics",
    "__version__",
    "connect",
]


def connect(entry: str, phonebook: str | None = None, **kwargs: Any) -> Connection:
    """Dial ``entry`` with a new client session and return the connection."""
    return Client().dial(entry, phonebook, **kwargs)


def __getattr__(name: str) -> Any:
    if name in ("AsyncClient", "AsyncConnection"):
        from openras import aclient

        return getattr(aclient, name)
    raise AttributeError(name)
