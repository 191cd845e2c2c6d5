"""Names and shapes of the ``org.openras.Manager`` interface.

Requests and replies are plain JSON objects; this module names the methods, builds calls and
replies, and turns a wire error back into the :class:`~openras.errors.RasError` subclass the
daemon raised, so every client face re-raises the same code.
"""

from __future__ import annotations

from openras.errors import ERROR_UNKNOWN, RasError, RemoteProtocolError

TYPE_CHECKING = False  # typing's constant, without importing typing (see openras._lazy)
if TYPE_CHECKING:
    from typing import Any, Final

INTERFACE: Final = "org.openras.Manager"
ERROR_NAME: Final = f"{INTERFACE}.RasError"

# Methods. Their parameters and replies are the structs of wire/messages.py (the interface
# description the daemon serves is generated from them); manager/server.py handles them.
DIAL: Final = f"{INTERFACE}.Dial"
#: The dialer's answer to a question the link asks while dialing (RASCS_Interactive).
DIAL_INPUT: Final = f"{INTERFACE}.DialInput"
HANG_UP: Final = f"{INTERFACE}.HangUp"
GET_STATUS: Final = f"{INTERFACE}.GetConnectStatus"
ENUM: Final = f"{INTERFACE}.EnumConnections"
STATISTICS: Final = f"{INTERFACE}.GetStatistics"
PROJECTION: Final = f"{INTERFACE}.GetProjection"
SUBSCRIBE: Final = f"{INTERFACE}.Subscribe"
HISTORY: Final = f"{INTERFACE}.History"
GET_CREDENTIALS: Final = f"{INTERFACE}.GetCredentials"
SET_CREDENTIALS: Final = f"{INTERFACE}.SetCredentials"
PING: Final = f"{INTERFACE}.Ping"
WAIT_DELETED: Final = f"{INTERFACE}.WaitDeleted"
#: A client renamed / deleted an entry in a phonebook: saved credentials follow it.
ENTRY_RENAMED: Final = f"{INTERFACE}.EntryRenamed"
ENTRY_DELETED: Final = f"{INTERFACE}.EntryDeleted"

#: The password a reply gives for a saved one (Windows' RasGetCredentials gives 16 asterisks),
#: and that a call passes back to mean "keep the saved password".
PASSWORD_HANDLE: Final = "*" * 16


def call(
    method: str, parameters: dict[str, Any] | None = None, *, more: bool = False
) -> dict[str, Any]:
    msg: dict[str, Any] = {"method": method, "parameters": parameters or {}}
    if more:
        msg["more"] = True
    return msg


def reply(parameters: dict[str, Any] | None = None, *, continues: bool = False) -> dict[str, Any]:
    msg: dict[str, Any] = {"parameters": parameters or {}}
    if continues:
        msg["continues"] = True
    return msg


def error_reply(exc: RasError) -> dict[str, Any]:
    params: dict[str, Any] = {"code": exc.code, "message": exc.text}
    if exc.detail:
        params["detail"] = exc.detail
    if exc.handle:
        params["handle"] = exc.handle
    if exc.needs:
        params["needs"] = exc.needs
    return {"error": ERROR_NAME, "parameters": params}


def raise_for_error(msg: dict[str, Any]) -> dict[str, Any]:
    """The reply's parameters, or the RasError it carries raised."""
    err = msg.get("error")
    params = msg.get("parameters") or {}
    if not isinstance(params, dict):
        raise RemoteProtocolError(ERROR_UNKNOWN, "reply parameters are not an object")
    if err is None:
        return params
    code = params.get("code", ERROR_UNKNOWN)
    raise RasError.from_code(
        int(code) if isinstance(code, int) else ERROR_UNKNOWN,
        params.get("detail") if isinstance(params.get("detail"), str) else None,
        handle=int(params.get("handle", 0) or 0),
        needs=params.get("needs") if isinstance(params.get("needs"), str) else None,
    )
