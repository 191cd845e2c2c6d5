"""Win32-shaped RAS functions: the names, numbers and call shapes of ``rasapi32``.

Every function returns the DWORD code first; out-parameters follow it in a tuple. Records
are dataclasses with the Windows field names. One client session per process (lazily opened,
shared by all threads under a lock), so a failed handle's owner session is the process, as on
Windows; a dial with a notifier runs on its own connection and thread.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from openras import errors
from openras._codes import CODES
from openras._rasentry import (
    PASSWORD_HANDLE as PASSWORD_HANDLE,
)
from openras._rasentry import (
    RASCREDENTIALS as RASCREDENTIALS,
)
from openras._rasentry import (
    RASENTRY as RASENTRY,
)
from openras._rasentry import (
    RASCM_DefaultCreds as RASCM_DefaultCreds,
)
from openras._rasentry import (
    RASCM_Domain as RASCM_Domain,
)
from openras._rasentry import (
    RASCM_Password as RASCM_Password,
)
from openras._rasentry import (
    RASCM_PreSharedKey as RASCM_PreSharedKey,
)
from openras._rasentry import (
    RASCM_UserName as RASCM_UserName,
)
from openras._rasentry import (
    RasGetEntryProperties as RasGetEntryProperties,
)
from openras._rasentry import (
    RasRenameEntry as RasRenameEntry,
)
from openras._rasentry import (
    RasSetEntryProperties as RasSetEntryProperties,
)
from openras._rasentry import (
    RasValidateEntryName as RasValidateEntryName,
)
from openras._rasentry import get_credentials as _get_credentials
from openras._rasentry import set_credentials as _set_credentials
from openras.client import dial_parameters
from openras.errors import (
    E_INVALIDARG as E_INVALIDARG,
)
from openras.errors import (
    ERROR_ACCESS_DENIED as ERROR_ACCESS_DENIED,
)
from openras.errors import (
    ERROR_AUTHENTICATION_FAILURE as ERROR_AUTHENTICATION_FAILURE,
)
from openras.errors import (
    ERROR_BUFFER_TOO_SMALL as ERROR_BUFFER_TOO_SMALL,
)
from openras.errors import (
    ERROR_CANNOT_FIND_PHONEBOOK_ENTRY as ERROR_CANNOT_FIND_PHONEBOOK_ENTRY,
)
from openras.errors import (
    ERROR_DIAL_ALREADY_IN_PROGRESS as ERROR_DIAL_ALREADY_IN_PROGRESS,
)
from openras.errors import (
    ERROR_DISCONNECTION as ERROR_DISCONNECTION,
)
from openras.errors import (
    ERROR_INCORRECT_SIZE as ERROR_INCORRECT_SIZE,
)
from openras.errors import (
    ERROR_INVALID_HANDLE as ERROR_INVALID_HANDLE,
)
from openras.errors import (
    ERROR_INVALID_PARAMETER as ERROR_INVALID_PARAMETER,
)
from openras.errors import (
    ERROR_INVALID_SIZE as ERROR_INVALID_SIZE,
)
from openras.errors import (
    ERROR_NO_CONNECTION as ERROR_NO_CONNECTION,
)
from openras.errors import (
    ERROR_REMOTE_DISCONNECTION as ERROR_REMOTE_DISCONNECTION,
)
from openras.errors import (
    ERROR_SUCCESS as ERROR_SUCCESS,
)
from openras.errors import (
    ERROR_USER_DISCONNECTION as ERROR_USER_DISCONNECTION,
)
from openras.errors import (
    RasError,
)
from openras.states import RasConnState
from openras.wire import protocol as P
from openras.wire.transport import Transport, connect

# ----------------------------------------------------------------------------------- constants

WM_RASDIALEVENT: Final = 0xCCCD
INVALID_HANDLE_VALUE: Final = -1
RASCN_Connection: Final = 0x1
RASCN_Disconnection: Final = 0x2
RASCN_BandwidthAdded: Final = 0x4
RASCN_BandwidthRemoved: Final = 0x8
RASCN_Dormant: Final = 0x10
RASCN_ReConnection: Final = 0x20
RASCN_EPDGPacketArrival: Final = 0x40
RASCF_AllUsers: Final = 0x1
RASCF_GlobalCreds: Final = 0x2
RASCF_OwnerKnown: Final = 0x4
RASCF_OwnerMatch: Final = 0x8
REN_User: Final = 0x0
REN_AllUsers: Final = 0x1
RAS_MaxEntryName: Final = 256
RAS_MaxDeviceName: Final = 128
RAS_MaxDeviceType: Final = 16
RAS_MaxPhoneNumber: Final = 128
RAS_MaxCallbackNumber: Final = 128
UNLEN: Final = 256
PWLEN: Final = 256
DNLEN: Final = 15
RDEOPT_UsePrefixSuffix: Final = 0x1
RDEOPT_PausedStates: Final = 0x2

for _state in RasConnState:
    globals()[_state.rascs_name] = int(_state)
RASCS_PAUSED: Final = 0x1000
RASCS_DONE: Final = 0x2000
for _value, (_sym, _text) in CODES.items():
    globals().setdefault(_sym, _value)

# ----------------------------------------------------------------------------------- records


@dataclass
class RASDIALPARAMS:
    szEntryName: str = ""
    szPhoneNumber: str = ""
    szCallbackNumber: str = ""
    szUserName: str = ""
    szPassword: str = ""
    szDomain: str = ""
    dwSubEntry: int = 0
    dwCallbackId: int = 0


@dataclass
class RASDIALEXTENSIONS:
    dwfOptions: int = 0
    hwndParent: int = 0
    reserved: int = 0


@dataclass
class RASCONNSTATUS:
    rasconnstate: int = RasConnState.Disconnected
    dwError: int = 0
    szDeviceType: str = ""
    szDeviceName: str = ""
    szPhoneNumber: str = ""


@dataclass
class RASCONN:
    hrasconn: int = 0
    szEntryName: str = ""
    szDeviceType: str = ""
    szDeviceName: str = ""
    szPhonebook: str = ""
    dwSubEntry: int = 1
    guidEntry: str = ""
    dwFlags: int = 0


@dataclass
class RASENTRYNAME:
    szEntryName: str = ""
    dwFlags: int = 0
    szPhonebookPath: str = ""


@dataclass
class RAS_STATS:
    dwBytesXmited: int = 0
    dwBytesRcved: int = 0
    dwFramesXmited: int = 0
    dwFramesRcved: int = 0
    dwCrcErr: int = 0
    dwTimeoutErr: int = 0
    dwAlignmentErr: int = 0
    dwHardwareOverrunErr: int = 0
    dwFramingErr: int = 0
    dwBufferOverrunErr: int = 0
    dwCompressionRatioIn: int = 0
    dwCompressionRatioOut: int = 0
    dwBps: int = 0
    dwConnectDuration: int = 0


@dataclass
class RAS_PROJECTION_INFO:
    szInterface: str = ""
    ipv4Address: str = ""
    ipv4ServerAddress: str = ""
    ipv6Address: str = ""
    ipv6ServerAddress: str = ""
    dns: tuple[str, ...] = ()


# ----------------------------------------------------------------------------------- session

_lock = threading.RLock()
_session: Transport | None = None

#: Async dials of this process still notifying, by handle; RasHangUp sets the event, which
#: stops their notifications (ras-api.md §1 item 3 (c)).
_notifying: dict[int, threading.Event] = {}


def _call(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """One request on the process's session; reconnects once if the daemon restarted."""
    global _session
    with _lock:
        for attempt in (0, 1):
            if _session is None:
                _session = connect()
            try:
                return _session.call(method, params)
            except errors.ManagerUnavailable:
                _session.close()
                _session = None
                if attempt:
                    raise
    raise AssertionError("unreachable")


def _code(fn: Callable[[], Any]) -> tuple[int, Any]:
    try:
        return 0, fn()
    except RasError as exc:
        return exc.code, None


def _check_str(value: object, limit: int) -> bool:
    return isinstance(value, str) and len(value) <= limit and "\0" not in value


def _handle_ok(h: object) -> bool:
    return isinstance(h, int) and not isinstance(h, bool) and h > 0


# ----------------------------------------------------------------------------------- dialing

Notifier = Callable[..., Any]


def RasDial(
    extensions: RASDIALEXTENSIONS | None,
    phonebook: str | None,
    params: RASDIALPARAMS | object,
    notifier_type: int = 0,
    notifier: Notifier | None = None,
) -> tuple[int, int]:
    """Dial; synchronous without a notifier, else returns at once and notifies per state.

    A non-zero handle returned with an error must still be hung up (as on Windows).
    """
    if not isinstance(params, RASDIALPARAMS):
        return errors.ERROR_INVALID_PARAMETER, 0
    limits = (
        (params.szEntryName, RAS_MaxEntryName),
        (params.szPhoneNumber, RAS_MaxPhoneNumber),
        (params.szCallbackNumber, RAS_MaxCallbackNumber),
        (params.szUserName, UNLEN),
        (params.szPassword, PWLEN),
        (params.szDomain, DNLEN),
    )
    if not all(_check_str(v, n) for v, n in limits) or (
        phonebook is not None and not isinstance(phonebook, str)
    ):
        return errors.ERROR_INVALID_PARAMETER, 0
    if notifier is not None and (notifier_type not in (0, 1, 2) or not callable(notifier)):
        return errors.ERROR_INVALID_PARAMETER, 0
    if extensions is not None and extensions.dwfOptions & RDEOPT_PausedStates:
        pass  # paused states never occur with the link types here; nothing to pause for
    try:
        _call(P.PING)  # the process's session anchors the handle it may have to hang up
    except RasError as exc:
        return exc.code, 0
    wire = dial_parameters(
        params.szEntryName,
        phonebook,
        user=params.szUserName,
        password=params.szPassword,
        domain=params.szDomain,
        phone_number=params.szPhoneNumber,
        callback_number=params.szCallbackNumber,
    )
    try:
        t = connect()
    except RasError as exc:
        return exc.code, 0
    stream = t.stream(P.DIAL, wire)
    try:
        first = next(stream)
    except RasError as exc:
        t.close()
        return exc.code, exc.handle
    handle = int(first["handle"])
    if notifier is None:
        final = first
        try:
            for msg in stream:
                final = msg
        except RasError as exc:
            return exc.code, handle
        finally:
            t.close()
        error = int(final.get("error", 0))
        if error == 0 and int(final.get("state", 0)) != RasConnState.Connected:
            error = errors.ERROR_DISCONNECTION
        return error, handle
    with _lock:  # before RasDial returns: a RasHangUp right after it must silence the thread
        _notifying.setdefault(handle, threading.Event())
    thread = threading.Thread(
        target=_notify_loop,
        args=(t, stream, first, handle, notifier_type, notifier, params.dwCallbackId),
        name=f"RasDial-{handle}",
        daemon=True,
    )
    thread.start()
    return 0, handle


def _notify_loop(
    t: Transport,
    stream: Iterator[dict[str, Any]],
    first: dict[str, Any],
    handle: int,
    kind: int,
    notifier: Notifier,
    callback_id: int,
) -> None:
    """Deliver a dial's notifications until Connected, an error, a hang-up, or RasDialFunc2's 0.

    If the stream breaks first (rasman died mid-dial), the notifier still gets a last call
    with an error: a script waiting for "Connected or an error" must never wait forever.
    """
    with _lock:
        hung_up = _notifying.setdefault(handle, threading.Event())

    def notify(state: int, error: int) -> bool:
        """Call the notifier unless hung up; False once notifications must stop."""
        if hung_up.is_set():
            return False
        if kind == 0:
            notifier(WM_RASDIALEVENT, state, error)
        elif kind == 1:
            notifier(handle, WM_RASDIALEVENT, state, error, 0)
        else:
            return bool(notifier(callback_id, 1, handle, WM_RASDIALEVENT, state, error, 0))
        return not hung_up.is_set()

    last_state = int(first.get("state", 0))
    failure = errors.ERROR_DISCONNECTION  # the stream ended before the attempt did
    try:
        if first.get("joined") or first.get("phase") == "connected":
            notify(RasConnState.Connected, 0)
            return
        if not notify(last_state, 0):
            return
        for msg in stream:
            if msg.get("event") != "state":
                continue
            state, error = int(msg["state"]), int(msg.get("error", 0))
            phase = msg.get("phase")
            if error and phase in ("failed", "disconnecting"):
                # A state failed: notify once more for the same state, with the error.
                notify(state if phase == "failed" else last_state, error)
                return
            if state != last_state and not notify(state, 0):
                return
            last_state = state
            if phase != "dialing":
                return
    except RasError as exc:
        failure = exc.code or errors.ERROR_NO_CONNECTION
    except (OSError, ValueError):
        failure = errors.ERROR_NO_CONNECTION
    finally:
        t.close()
        with _lock:
            _notifying.pop(handle, None)
    notify(last_state, failure)


def RasHangUp(hrasconn: int) -> int:
    """Start ending the connection; returns at once. A running async dial stops notifying."""
    if not _handle_ok(hrasconn):
        return errors.ERROR_INVALID_HANDLE
    with _lock:
        notifying = _notifying.get(hrasconn)
    if notifying is not None:
        notifying.set()  # before the request, so no notification slips in after it
    code, _ = _code(lambda: _call(P.HANG_UP, {"handle": hrasconn}))
    return code


def RasGetConnectStatus(hrasconn: int) -> tuple[int, RASCONNSTATUS | None]:
    if not _handle_ok(hrasconn):
        return errors.ERROR_INVALID_HANDLE, None
    code, d = _code(lambda: _call(P.GET_STATUS, {"handle": hrasconn}))
    if code:
        return code, None
    return 0, RASCONNSTATUS(
        rasconnstate=int(d["state"]),
        dwError=int(d["error"]),
        szDeviceType=str(d["device_type"]),
        szDeviceName=str(d["device_name"]),
        szPhoneNumber=str(d["phone_number"]),
    )


def _rasconn(d: dict[str, Any], uid: int) -> RASCONN:
    """One RASCONN from the wire. Positional, no conversions: the daemon's JSON already has
    these types, and an enumeration builds a thousand of these at once."""
    get = d.get
    flags = RASCF_OwnerKnown | (RASCF_OwnerMatch if get("owner") == uid else 0)
    if get("all_users"):
        flags |= RASCF_AllUsers
    return RASCONN(
        d["handle"],
        d["entry"],
        d["device_type"],
        d["device_name"],
        d["phonebook"],
        1,
        get("guid", ""),
        flags,
    )


def RasEnumConnections() -> tuple[int, list[RASCONN]]:
    """Connected connections visible to the caller (own; root sees all)."""
    import os

    code, d = _code(lambda: _call(P.ENUM, {"include_pending": False}))
    if code:
        return code, []
    uid = os.geteuid()
    return 0, [_rasconn(c, uid) for c in d["connections"]]


def RasEnumEntries(
    reserved: object = None, phonebook: str | None = None
) -> tuple[int, list[RASENTRYNAME]]:
    """Entry names of one phonebook, or of the all-users and the user's when None."""
    if reserved is not None:
        return errors.ERROR_INVALID_PARAMETER, []
    from openras.phonebook import load, phonebooks_for

    out: list[RASENTRYNAME] = []
    try:
        for path, all_users in phonebooks_for(phonebook):
            book = load(path)
            flags = REN_AllUsers if all_users else REN_User
            out.extend(RASENTRYNAME(e.name, flags, str(path)) for e in book.entries)
    except RasError as exc:
        return exc.code, []
    return 0, out


def RasGetErrorString(code: int) -> tuple[int, str]:
    """The text of ``code`` (RAS or Win32; an HRESULT also as a negative 32-bit value)."""
    if isinstance(code, bool) or not isinstance(code, int):
        return errors.ERROR_INVALID_PARAMETER, ""
    if -(2**31) <= code < 0:
        code &= 0xFFFFFFFF  # E_INVALIDARG as a signed HRESULT: -2147024809
    if not errors.is_known(code):
        return errors.ERROR_INVALID_PARAMETER, ""
    return 0, errors.message(code)


def RasGetConnectionStatistics(hrasconn: int) -> tuple[int, RAS_STATS | None]:
    if not _handle_ok(hrasconn):
        return errors.ERROR_INVALID_HANDLE, None
    code, d = _code(lambda: _call(P.STATISTICS, {"handle": hrasconn}))
    if code:
        return code, None
    return 0, RAS_STATS(
        dwBytesXmited=int(d["bytes_sent"]),
        dwBytesRcved=int(d["bytes_received"]),
        dwFramesXmited=int(d["frames_sent"]),
        dwFramesRcved=int(d["frames_received"]),
        dwCrcErr=int(d["errors"]),
        dwBps=int(d["bps"]),
        dwConnectDuration=int(d["duration_ms"]),
    )


def RasGetProjectionInfoEx(hrasconn: int) -> tuple[int, RAS_PROJECTION_INFO | None]:
    if not _handle_ok(hrasconn):
        return errors.ERROR_INVALID_HANDLE, None
    code, d = _code(lambda: _call(P.PROJECTION, {"handle": hrasconn}))
    if code:
        return code, None
    return 0, RAS_PROJECTION_INFO(
        szInterface=str(d["interface"]),
        ipv4Address=str(d["local_address"]),
        ipv4ServerAddress=str(d["remote_address"]),
        ipv6Address=str(d.get("local_address_v6", "")),
        ipv6ServerAddress=str(d.get("remote_address_v6", "")),
        dns=tuple(d.get("dns", ())),
    )


def RasConnectionNotification(hrasconn: int, event: Any, flags: int) -> int:
    """Set ``event`` when a connection appears (RASCN_Connection) or ends (RASCN_Disconnection).

    ``hrasconn`` is a handle, or INVALID_HANDLE_VALUE (-1 / 0xFFFFFFFF) for every connection.
    """
    if not callable(getattr(event, "set", None)) or not isinstance(flags, int) or flags == 0:
        return errors.ERROR_INVALID_PARAMETER
    all_conns = hrasconn in (INVALID_HANDLE_VALUE, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF)
    if not all_conns:
        code, _ = RasGetConnectStatus(hrasconn)
        if code:
            return code
    try:
        t = connect()
    except RasError as exc:
        return exc.code
    stream = t.stream(P.SUBSCRIBE, {} if all_conns else {"handle": hrasconn})
    try:
        next(stream)
    except RasError as exc:
        t.close()
        return exc.code

    def watch() -> None:
        """Set the event per the flags; a one-handle watch ends when its handle is gone."""
        try:
            for msg in stream:
                kind, phase = msg.get("event"), msg.get("phase")
                if kind == "state" and phase == "connected" and flags & RASCN_Connection:
                    event.set()
                elif kind == "disconnected":
                    if flags & RASCN_Disconnection:
                        event.set()
                    if not all_conns:
                        return  # nothing more can happen to this handle
        except (RasError, OSError, ValueError):
            pass
        finally:
            t.close()

    name = "RasConnectionNotification" + ("" if all_conns else f"-{hrasconn}")
    threading.Thread(target=watch, name=name, daemon=True).start()
    return 0


__all__ = [
    name
    for name in list(globals())
    if name.startswith(
        (
            *("Ras", "RAS", "ERROR_", "E_", "WM_", "REN_", "RDEOPT", "INVALID"),
            *("UNLEN", "PWLEN", "DNLEN", "PENDING"),
        )
    )
]


# ----------------------------------------------------------------------------------- entries


def _entry_connected(phonebook: str, entry: str) -> bool:
    """Whether ``entry`` of ``phonebook`` has a connection, however either path was spelled
    (an entry dialed through a symlink and deleted by its real path is still connected)."""
    conns = _call(P.ENUM, {"include_pending": True})["connections"]
    book = os.path.realpath(phonebook)
    return any(
        c["phonebook"]
        and os.path.realpath(c["phonebook"]) == book
        and c["entry_name"].casefold() == entry.casefold()
        for c in conns
    )


def RasDeleteEntry(phonebook: str | None, entry: str) -> int:
    """Delete an entry: 817 while connected, 123 if absent, 5 for another's phonebook."""
    from openras._rasentry import RasDeleteEntry as delete

    return delete(phonebook, entry, connected=_entry_connected)


def RasGetCredentials(
    phonebook: str | None, entry: str, mask: int = 0x7
) -> tuple[int, RASCREDENTIALS | None]:
    """Saved credentials; a saved password reads back as 16 asterisks."""
    return _get_credentials(_call, phonebook, entry, mask)


def RasSetCredentials(
    phonebook: str | None, entry: str, credentials: RASCREDENTIALS, clear: bool = False
) -> int:
    """Save (or with ``clear``, blank) the fields named in ``dwMask``; 5 for default creds unless root."""
    return _set_credentials(_call, phonebook, entry, credentials, clear)


def RasGetEntryDialParams(
    phonebook: str | None, params: RASDIALPARAMS | object
) -> tuple[int, RASDIALPARAMS | None, bool]:
    """The saved dial params of ``params.szEntryName`` and whether a password is saved."""
    if not isinstance(params, RASDIALPARAMS):
        return ERROR_INVALID_PARAMETER, None, False
    code, creds = RasGetCredentials(
        phonebook, params.szEntryName, RASCM_UserName | RASCM_Password | RASCM_Domain
    )
    if code or creds is None:
        return code, None, False
    has_password = bool(creds.dwMask & RASCM_Password)
    out = RASDIALPARAMS(
        szEntryName=params.szEntryName,
        szUserName=creds.szUserName,
        szPassword=creds.szPassword,
        szDomain=creds.szDomain,
        dwSubEntry=params.dwSubEntry,
        dwCallbackId=params.dwCallbackId,
    )
    return 0, out, has_password


def RasSetEntryDialParams(
    phonebook: str | None, params: RASDIALPARAMS | object, remove_password: bool = False
) -> int:
    """Windows' rules: empty user/domain leave them; the password changes only with a user name."""
    if not isinstance(params, RASDIALPARAMS):
        return ERROR_INVALID_PARAMETER
    mask = (RASCM_UserName if params.szUserName else 0) | (RASCM_Domain if params.szDomain else 0)
    if params.szUserName and not remove_password:
        mask |= RASCM_Password
    code = 0
    if mask:
        creds = RASCREDENTIALS(mask, params.szUserName, params.szPassword, params.szDomain)
        code = RasSetCredentials(phonebook, params.szEntryName, creds)
    if not code and remove_password:
        code = RasSetCredentials(
            phonebook, params.szEntryName, RASCREDENTIALS(RASCM_Password), clear=True
        )
    return code
