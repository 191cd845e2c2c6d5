"""openras: the Windows Remote Access Service model for Linux.

The Pythonic face::

    from openras import Client
    with Client() as ras:
        conn = ras.dial("Office", on_state=print)
        ...
        conn.hang_up()          # returns once nothing of the link is left

``AsyncClient`` is the same over asyncio. Win32 shapes live in :mod:`openras.rasapi` and
:mod:`openras.win32ras`.

The names below load on first use (a module ``__getattr__``): ``import openras.errors`` or
a CLI's ``--help`` does not pay for the client, the wire codec (msgspec) or asyncio.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing's constant, without importing typing (see openras._lazy)
if TYPE_CHECKING:
    from typing import Any, Final

    from openras.aclient import AsyncClient, AsyncConnection
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

__version__ = "0.1.0"

#: Each lazily loaded name and the module it lives in.
_LAZY: Final = {
    **dict.fromkeys(("AsyncClient", "AsyncConnection"), "openras.aclient"),
    **dict.fromkeys(("Client", "Connection"), "openras.client"),
    **dict.fromkeys(
        (
            "AccessDenied",
            "AuthenticationFailure",
            "DialInProgress",
            "EntryNotFound",
            "InvalidHandle",
            "InvalidParameter",
            "LinkDropped",
            "ManagerUnavailable",
            "PhonebookError",
            "RasError",
        ),
        "openras.errors",
    ),
    **dict.fromkeys(
        ("ConnectionInfo", "Disconnect", "Event", "ProjectionInfo", "Statistics"),
        "openras.records",
    ),
    "RasConnState": "openras.states",
}

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
    from openras.client import Client

    return Client().dial(entry, phonebook, **kwargs)


# Hidden from type checkers: they see the imports above, so a misspelt name stays an error
# instead of becoming Any.
if not TYPE_CHECKING:
    from openras._lazy import lazy_exports

    __getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)
