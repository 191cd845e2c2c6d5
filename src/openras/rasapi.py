"""Win32-shaped RAS functions: the names, numbers and call shapes of ``rasapi32``.

Every function returns the DWORD code first; out-parameters follow it in a tuple. Records
are dataclasses with the Windows field names. One client session per process (lazily opened,
shared by all threads under a lock), so a failed handle's owner session is the process, as on
Windows; a dial with a notifier runs on its own connection and thread.
"""

from __future__ import annotations

import ipaddress
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final, overload

from openras import errors, promote
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
from openras._rasentry import RasDeleteEntry as _delete_entry
from openras._rasentry import (
    RasGetEntryProperties as RasGetEntryProperties,
)
from openras._rasentry import RasRenameEntry as _rename_entry
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
from openras.wire.follow import DialFollower
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
RASCSS_None: Final = 0
RASCSS_Dormant: Final = 1
RASCSS_Reconnecting: Final = 2
RASCSS_Reconnected: Final = 0x2000
RASTUNNELENDPOINT_UNKNOWN: Final = 0
RASTUNNELENDPOINT_IPv4: Final = 1
RASTUNNELENDPOINT_IPv6: Final = 2
RASP_Amb: Final = 0x10000
RASP_PppNbf: Final = 0x803F
RASP_PppIpx: Final = 0x802B
RASP_PppIp: Final = 0x8021
RASP_PppCcp: Final = 0x80FD
RASP_PppLcp: Final = 0xC021
RASP_PppIpv6: Final = 0x8057
RASP_Slip: Final = 0x20000
RASAPIVERSION_500: Final = 1
RASAPIVERSION_501: Final = 2
RASAPIVERSION_600: Final = 3
RASAPIVERSION_601: Final = 4
RASAPIVERSION_CURRENT: Final = RASAPIVERSION_601
PROJECTION_INFO_TYPE_PPP: Final = 1
PROJECTION_INFO_TYPE_IKEv2: Final = 2
RASLCPAP_PAP: Final = 0xC023
RASLCPAP_SPAP: Final = 0xC027
RASLCPAP_CHAP: Final = 0xC223
RASLCPAP_EAP: Final = 0xC227
RASLCPAD_CHAP_MD5: Final = 0x05
RASLCPAD_CHAP_MS: Final = 0x80
RASLCPAD_CHAP_MSV2: Final = 0x81
RASCCPCA_MPPC: Final = 0x00000006
RASCCPO_HistoryLess: Final = 0x00000002
RASCCPO_Encryption56bit: Final = 0x00000010
RASCCPO_Encryption40bit: Final = 0x00000020
RASCCPO_Encryption128bit: Final = 0x00000040
#: A PPP link's ``auth_protocol`` (its projection's extra) -> (RASLCPAP_*, RASLCPAD_*).
_LCP_AUTH: Final = {
    "PAP": (RASLCPAP_PAP, 0),
    "CHAP": (RASLCPAP_CHAP, RASLCPAD_CHAP_MD5),
    "MS-CHAP": (RASLCPAP_CHAP, RASLCPAD_CHAP_MS),
    "MS-CHAPv2": (RASLCPAP_CHAP, RASLCPAD_CHAP_MSV2),
    "EAP": (RASLCPAP_EAP, 0),
}
ERROR_PROJECTION_NOT_COMPLETE: Final = errors.ERROR_PROJECTION_NOT_COMPLETE
ERROR_PROTOCOL_NOT_CONFIGURED: Final = errors.ERROR_PROTOCOL_NOT_CONFIGURED
#: sizeof() of the Unicode structs on 64-bit Windows 10 (ras.h, pack 4, every field up to
#: WINVER 0xA00): what the size arguments of the enumeration calls are counted in.
SIZEOF_RASCONN: Final = 1388
SIZEOF_RASENTRYNAME: Final = 1048
SIZEOF_RASENTRY: Final = 6724

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
class RASTUNNELENDPOINT:
    """A tunnel's outer address: ``dwType`` 0 (unknown: Windows reports that too, e.g. for
    SSTP), 1 (``ipv4`` set) or 2 (``ipv6`` set)."""

    dwType: int = RASTUNNELENDPOINT_UNKNOWN
    ipv4: str = ""
    ipv6: str = ""


@dataclass
class LUID:
    """The logon session owning a connection. Linux has no logon-session LUIDs: the owner's
    uid is the LowPart, which is what RASCF_OwnerMatch compares here."""

    LowPart: int = 0
    HighPart: int = 0


@dataclass
class RASCONNSTATUS:
    rasconnstate: int = RasConnState.Disconnected
    dwError: int = 0
    szDeviceType: str = ""
    szDeviceName: str = ""
    szPhoneNumber: str = ""
    localEndPoint: RASTUNNELENDPOINT = field(default_factory=RASTUNNELENDPOINT)
    remoteEndPoint: RASTUNNELENDPOINT = field(default_factory=RASTUNNELENDPOINT)
    rasconnsubstate: int = RASCSS_None
    #: openras only: the driver running the link (``loopback``, ``openvpn``...).
    szOpenRasDriver: str = ""


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
    luid: LUID = field(default_factory=LUID)
    guidCorrelationId: str = ""
    #: openras only: the driver running the link (``loopback``, ``openvpn``...).
    szOpenRasDriver: str = ""


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
class RASPPPIP:
    dwError: int = 0
    szIpAddress: str = ""
    szServerIpAddress: str = ""
    dwOptions: int = 0
    dwServerOptions: int = 0


@dataclass
class RASPPPIPV6:
    dwError: int = 0
    bLocalInterfaceIdentifier: bytes = bytes(8)
    bPeerInterfaceIdentifier: bytes = bytes(8)
    bLocalCompressionProtocol: bytes = bytes(2)
    bPeerCompressionProtocol: bytes = bytes(2)


@dataclass
class RASPPPLCP:
    fBundled: bool = False
    dwError: int = 0
    dwAuthenticationProtocol: int = 0
    dwAuthenticationData: int = 0
    dwEapTypeId: int = 0
    dwServerAuthenticationProtocol: int = 0
    dwServerAuthenticationData: int = 0
    dwServerEapTypeId: int = 0
    fMultilink: bool = False
    dwTerminateReason: int = 0
    dwServerTerminateReason: int = 0
    szReplyMessage: str = ""
    dwOptions: int = 0
    dwServerOptions: int = 0


@dataclass
class RASPPP_PROJECTION_INFO:
    dwIPv4NegotiationError: int = 0
    ipv4Address: str = ""
    ipv4ServerAddress: str = ""
    dwIPv4Options: int = 0
    dwIPv4ServerOptions: int = 0
    dwIPv6NegotiationError: int = 0
    bInterfaceIdentifier: bytes = bytes(8)
    bServerInterfaceIdentifier: bytes = bytes(8)
    fBundled: bool = False
    fMultilink: bool = False
    dwAuthenticationProtocol: int = 0
    dwAuthenticationData: int = 0
    dwServerAuthenticationProtocol: int = 0
    dwServerAuthenticationData: int = 0
    dwEapTypeId: int = 0
    dwServerEapTypeId: int = 0
    dwLcpOptions: int = 0
    dwLcpServerOptions: int = 0
    dwCcpError: int = 0
    dwCcpCompressionAlgorithm: int = 0
    dwCcpServerCompressionAlgorithm: int = 0
    dwCcpOptions: int = 0
    dwCcpServerOptions: int = 0


@dataclass
class RASIKEV2_PROJECTION_INFO:
    dwIPv4NegotiationError: int = 0
    ipv4Address: str = ""
    ipv4ServerAddress: str = ""
    dwIPv6NegotiationError: int = 0
    ipv6Address: str = ""
    ipv6ServerAddress: str = ""
    dwPrefixLength: int = 0
    dwAuthenticationProtocol: int = 0
    dwEapTypeId: int = 0
    dwFlags: int = 0
    dwEncryptionMethod: int = 0
    numIPv4ServerAddresses: int = 0
    ipv4ServerAddresses: tuple[str, ...] = ()
    numIPv6ServerAddresses: int = 0
    ipv6ServerAddresses: tuple[str, ...] = ()


@dataclass
class RAS_PROJECTION_INFO:
    """Windows 7's shape: ``type`` says which member of the union (``ppp`` or ``ikev2``) is
    set; the other is None. A PPP link (pppd) reports ``ppp``; the other links are tunnels
    without PPP, so they report IKEv2's (addresses, no LCP). The interface name and DNS
    servers are in the Pythonic :class:`openras.records.ProjectionInfo`."""

    version: int = RASAPIVERSION_CURRENT
    type: int = PROJECTION_INFO_TYPE_IKEv2
    ppp: RASPPP_PROJECTION_INFO | None = None
    ikev2: RASIKEV2_PROJECTION_INFO | None = None


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
    hrasconn: int = 0,
) -> tuple[int, int]:
    """Dial; synchronous without a notifier, else returns at once and notifies per state.

    A non-zero handle returned with an error must still be hung up (as on Windows).

    Paused states: with ``RDEOPT_PausedStates`` in ``extensions`` and a notifier, a link's
    question (a server's one-time code) is notified as RASCS_Interactive, and the dial waits;
    as on Windows, the application resumes it by calling RasDial again with the paused
    ``hrasconn``, the answer in ``szPassword`` (as a new password goes on a
    RASCS_RetryAuthentication resume). Without the flag such a dial fails with 703.
    """
    if not isinstance(params, RASDIALPARAMS):
        return errors.ERROR_INVALID_PARAMETER, 0
    if hrasconn:
        try:
            _call(P.DIAL_INPUT, {"handle": int(hrasconn), "text": params.szPassword})
        except RasError as exc:
            return exc.code, hrasconn
        return 0, hrasconn
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
    paused = bool(extensions is not None and extensions.dwfOptions & RDEOPT_PausedStates)
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
        interactive=paused and notifier is not None,
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
    follower = DialFollower(params.szEntryName)
    follower.feed(first, continues=True)
    handle = follower.handle
    if notifier is None:
        try:
            for msg in stream:
                follower.feed(msg, continues=True)
            follower.outcome()
        except RasError as exc:
            return exc.code, handle
        finally:
            t.close()
        promote.after_connected(_call, handle, follower.dialed_number)
        return 0, handle
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
        follower = DialFollower("")
        for msg in stream:
            event = follower.feed(msg, continues=True).event
            if event is None:
                continue
            state, error, phase = int(event.state), event.error, event.phase
            if state == RasConnState.Connected and not error:
                promote.after_connected(_call, handle, follower.dialed_number)
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


def _substate(d: dict[str, Any]) -> int:
    """RASCSS_Reconnecting while a dropped link is redialed (dialing again after having been
    connected); no link here goes dormant, and Reconnected is not kept once connected."""
    if d.get("phase") == "dialing" and d.get("connected_at") is not None:
        return RASCSS_Reconnecting
    return RASCSS_None


def _endpoint(text: object) -> RASTUNNELENDPOINT:
    """An outer address a link reported (``1.2.3.4``, ``host:port``, ``[v6]:port``); type 0
    when it is not an IP literal (a host name), as Windows reports an unknown endpoint."""
    if not isinstance(text, str) or not text:
        return RASTUNNELENDPOINT()
    host = text
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else host
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return RASTUNNELENDPOINT()
    if addr.version == 4:
        return RASTUNNELENDPOINT(RASTUNNELENDPOINT_IPv4, ipv4=str(addr))
    return RASTUNNELENDPOINT(RASTUNNELENDPOINT_IPv6, ipv6=str(addr))


def RasGetConnectStatus(
    hrasconn: int, *, endpoints: bool = True
) -> tuple[int, RASCONNSTATUS | None]:
    """State, error and device of a connection. The tunnel endpoints of a connected link come
    from its projection (one more round trip; ``endpoints=False`` skips it)."""
    if not _handle_ok(hrasconn):
        return errors.ERROR_INVALID_HANDLE, None
    code, d = _code(lambda: _call(P.GET_STATUS, {"handle": hrasconn}))
    if code:
        return code, None
    status = RASCONNSTATUS(
        rasconnstate=int(d["state"]),
        dwError=int(d["error"]),
        szDeviceType=str(d.get("ras_device_type") or d["device_type"]),
        szDeviceName=str(d.get("ras_device_name") or d["device_name"]),
        szPhoneNumber=str(d.get("dialed_number") or d["phone_number"]),
        rasconnsubstate=_substate(d),
        szOpenRasDriver=str(d.get("driver", "")),
    )
    if endpoints and d.get("phase") == "connected":
        pcode, proj = _code(lambda: _call(P.PROJECTION, {"handle": hrasconn}))
        if not pcode and proj is not None:
            extra = proj.get("extra") or {}
            status.localEndPoint = _endpoint(extra.get("local_endpoint"))
            status.remoteEndPoint = _endpoint(extra.get("endpoint") or extra.get("server"))
    return 0, status


def _rasconn(row: list[Any], uid: int) -> RASCONN:
    """One RASCONN from the wire's RASCONN row (``manager.rows.RASCONN_FIELDS`` order:
    handle, entry, device type, device name, phonebook, GUID, all-users, owner, correlation
    id, driver). Positional, no conversions: an enumeration builds a thousand at once."""
    handle, entry, dev_type, dev_name, book, guid, all_users, owner, corr, driver = row
    flags = RASCF_OwnerKnown | (RASCF_OwnerMatch if owner == uid else 0)
    if all_users:
        flags |= RASCF_AllUsers
    return RASCONN(
        handle,
        entry,
        dev_type,
        dev_name,
        book,
        1,
        guid,
        flags,
        LUID(owner & 0xFFFFFFFF, owner >> 32),
        corr,
        driver,
    )


def _sized(cb: object, count: int, each: int) -> int | None:
    """The size a caller's ``lpcb`` must have for ``count`` records; None when ``cb`` is not
    a valid size (87)."""
    if isinstance(cb, bool) or not isinstance(cb, int) or cb < 0:
        return None
    return count * each


@overload
def RasEnumConnections() -> tuple[int, list[RASCONN]]: ...
@overload
def RasEnumConnections(cb: int) -> tuple[int, list[RASCONN], int, int]: ...
def RasEnumConnections(
    cb: int | None = None,
) -> tuple[int, list[RASCONN]] | tuple[int, list[RASCONN], int, int]:
    """Connected connections visible to the caller (own; root sees all).

    With ``cb`` (the C call's ``*lpcb``, in bytes of RASCONN) it answers as Windows does:
    ``(code, conns, needed_bytes, count)``, with 603 and no records when ``cb`` is short of
    ``count * SIZEOF_RASCONN`` (no connections: 0 and count 0, whatever ``cb``).
    """
    code, d = _code(lambda: _call(P.ENUM, {"include_pending": False, "rasconn": True}))
    if code:
        return (code, []) if cb is None else (code, [], 0, 0)
    uid = os.geteuid()
    conns = [_rasconn(c, uid) for c in d["rasconn"]]
    if cb is None:
        return 0, conns
    needed = _sized(cb, len(conns), SIZEOF_RASCONN)
    if needed is None:
        return errors.ERROR_INVALID_PARAMETER, [], 0, 0
    if cb < needed:
        return errors.ERROR_BUFFER_TOO_SMALL, [], needed, len(conns)
    return 0, conns, needed, len(conns)


@overload
def RasEnumEntries(
    reserved: object = None, phonebook: str | None = None
) -> tuple[int, list[RASENTRYNAME]]: ...
@overload
def RasEnumEntries(
    reserved: object, phonebook: str | None, cb: int
) -> tuple[int, list[RASENTRYNAME], int, int]: ...
def RasEnumEntries(
    reserved: object = None, phonebook: str | None = None, cb: int | None = None
) -> tuple[int, list[RASENTRYNAME]] | tuple[int, list[RASENTRYNAME], int, int]:
    """Entry names of one phonebook, or of the all-users and the user's when None.

    With ``cb`` (bytes of RASENTRYNAME): ``(code, names, needed_bytes, count)`` and 603 when
    ``cb`` is short, as the C call answers a size probe.
    """
    if reserved is not None:
        bad = errors.ERROR_INVALID_PARAMETER
        return (bad, []) if cb is None else (bad, [], 0, 0)
    from openras.phonebook import load, phonebooks_for

    out: list[RASENTRYNAME] = []
    try:
        for path, all_users in phonebooks_for(phonebook):
            book = load(path)
            flags = REN_AllUsers if all_users else REN_User
            out.extend(RASENTRYNAME(e.name, flags, str(path)) for e in book.entries)
    except RasError as exc:
        return (exc.code, []) if cb is None else (exc.code, [], 0, 0)
    if cb is None:
        return 0, out
    needed = _sized(cb, len(out), SIZEOF_RASENTRYNAME)
    if needed is None:
        return errors.ERROR_INVALID_PARAMETER, [], 0, 0
    if cb < needed:
        return errors.ERROR_BUFFER_TOO_SMALL, [], needed, len(out)
    return 0, out, needed, len(out)


#: RasError.h's range (RASBASE..RASBASEEND): the only codes RasGetErrorString has texts for.
RASBASE: Final = 600
RASBASEEND: Final = 875


def RasGetErrorString(code: int) -> tuple[int, str]:
    """The text of a RAS error (600-875, RasError.h).

    Windows documents ``ResourceId`` as "those listed in the RasError.h header file" and
    ERROR_INVALID_PARAMETER for a bad argument: a Win32 code such as 6, or an HRESULT, gives
    87 and no text (FormatMessage has those). 0 is answered with its text, because scripts
    call GetErrorString(0) from a notifier whose dial is going well.
    """
    if isinstance(code, bool) or not isinstance(code, int):
        return errors.ERROR_INVALID_PARAMETER, ""
    if code == 0:
        return 0, errors.message(0)
    if not (RASBASE <= code <= RASBASEEND) or not errors.is_known(code):
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


def RasGetLinkStatistics(hrasconn: int, dwSubEntry: int) -> tuple[int, RAS_STATS | None]:
    """One link of a multilink connection. openras dials one link per connection (docs:
    multilink), so sub-entry 1 is the connection's counters; another is 87."""
    if not _handle_ok(hrasconn):
        return errors.ERROR_INVALID_HANDLE, None
    if dwSubEntry != 1:
        return errors.ERROR_INVALID_PARAMETER, None
    return RasGetConnectionStatistics(hrasconn)


def RasGetSubEntryHandle(hrasconn: int, dwSubEntry: int) -> tuple[int, int]:
    """The handle of one link of a connection: sub-entry 1, the one link openras dials, is
    the connection's own handle (so RasHangUp on it ends the connection, as ending a
    connection's only link does on Windows); another sub-entry is not connected (618)."""
    if not _handle_ok(hrasconn):
        return errors.ERROR_INVALID_HANDLE, 0
    code, _ = _code(lambda: _call(P.GET_STATUS, {"handle": hrasconn}))
    if code:
        return code, 0
    if dwSubEntry != 1:
        return errors.ERROR_PORT_NOT_OPEN, 0
    return 0, hrasconn


def _projection(hrasconn: int) -> tuple[int, dict[str, Any] | None]:
    if not _handle_ok(hrasconn):
        return errors.ERROR_INVALID_HANDLE, None
    return _code(lambda: _call(P.PROJECTION, {"handle": hrasconn}))


def RasGetProjectionInfoEx(hrasconn: int) -> tuple[int, RAS_PROJECTION_INFO | None]:
    """The projection in Windows 7's RAS_PROJECTION_INFO shape (730 before RASCS_Projected).

    A PPP link (pppd: modem, PPPoE, PPTP) is PROJECTION_INFO_TYPE_PPP with ``ppp`` filled from
    what pppd negotiated, as Windows reports its own PPP links. The other links negotiate no
    PPP, so ``type`` is PROJECTION_INFO_TYPE_IKEv2 and ``ikev2`` holds the addresses (a tunnel
    with addresses and no LCP, as an IKEv2 link has).
    """
    code, d = _projection(hrasconn)
    if code or d is None:
        return code, None
    if _is_ppp(d):
        return 0, RAS_PROJECTION_INFO(type=PROJECTION_INFO_TYPE_PPP, ppp=ppp_projection(d))
    v4, v4_server = str(d.get("local_address", "")), str(d.get("remote_address", ""))
    v6, v6_server = str(d.get("local_address_v6", "")), str(d.get("remote_address_v6", ""))
    servers4 = tuple(a for a in (v4_server,) if a)
    servers6 = tuple(a for a in (v6_server,) if a)
    extra = d.get("extra") or {}
    ikev2 = RASIKEV2_PROJECTION_INFO(
        # An IKEv2 link says how it authenticated (RASIKEv2_AUTH_*), its EAP type and flags.
        dwAuthenticationProtocol=_int(extra.get("ikev2_auth")),
        dwEapTypeId=_int(extra.get("eap_type")),
        dwFlags=_int(extra.get("ikev2_flags")),
        dwIPv4NegotiationError=0 if v4 else ERROR_PROTOCOL_NOT_CONFIGURED,
        ipv4Address=v4,
        ipv4ServerAddress=v4_server,
        dwIPv6NegotiationError=0 if v6 else ERROR_PROTOCOL_NOT_CONFIGURED,
        ipv6Address=v6,
        ipv6ServerAddress=v6_server,
        dwPrefixLength=64 if v6 else 0,
        numIPv4ServerAddresses=len(servers4),
        ipv4ServerAddresses=servers4,
        numIPv6ServerAddresses=len(servers6),
        ipv6ServerAddresses=servers6,
    )
    return 0, RAS_PROJECTION_INFO(type=PROJECTION_INFO_TYPE_IKEv2, ikev2=ikev2)


def _is_ppp(d: dict[str, Any]) -> bool:
    return (d.get("extra") or {}).get("framing") == "PPP"


def _lcp_auth(d: dict[str, Any]) -> tuple[int, int]:
    """(RASLCPAP_*, RASLCPAD_*) of the protocol the peer made us authenticate with."""
    return _LCP_AUTH.get(str((d.get("extra") or {}).get("auth_protocol", "")), (0, 0))


def ppp_projection(d: dict[str, Any]) -> RASPPP_PROJECTION_INFO:
    """A PPP link's projection (the daemon's wire dict) as RASPPP_PROJECTION_INFO: IPCP's
    addresses, IPv6CP not negotiated (731), the authentication protocol we used (pppd
    authenticates only us: no server-side protocol), and MPPE as CCP's MPPC encryption."""
    v4 = str(d.get("local_address", ""))
    auth, data = _lcp_auth(d)
    compression = str((d.get("extra") or {}).get("compression", ""))
    ccp_options = 0
    if "MPPE" in compression:
        for bits, flag in (
            ("128", RASCCPO_Encryption128bit),
            ("56", RASCCPO_Encryption56bit),
            ("40", RASCCPO_Encryption40bit),
        ):
            if f"{bits}-bit" in compression:
                ccp_options |= flag
        if "stateless" in compression:
            ccp_options |= RASCCPO_HistoryLess
    return RASPPP_PROJECTION_INFO(
        dwIPv4NegotiationError=0 if v4 else ERROR_PROTOCOL_NOT_CONFIGURED,
        ipv4Address=v4,
        ipv4ServerAddress=str(d.get("remote_address", "")),
        dwIPv6NegotiationError=ERROR_PROTOCOL_NOT_CONFIGURED,
        dwAuthenticationProtocol=auth,
        dwAuthenticationData=data,
        dwCcpCompressionAlgorithm=RASCCPCA_MPPC if ccp_options else 0,
        dwCcpServerCompressionAlgorithm=RASCCPCA_MPPC if ccp_options else 0,
        dwCcpOptions=ccp_options,
        dwCcpServerOptions=ccp_options,
    )


def _int(value: object) -> int:
    """A projection's numeric extra ("26"), 0 when absent or not a number."""
    text = str(value or "")
    return int(text) if text.isdigit() else 0


def _interface_id(address: str) -> bytes:
    """The 64-bit interface identifier of an IPv6 address (its low 8 bytes)."""
    try:
        return ipaddress.IPv6Address(address.split("/")[0]).packed[8:]
    except ValueError:
        return bytes(8)


def RasGetProjectionInfo(
    hrasconn: int, projection: int
) -> tuple[int, RASPPPIP | RASPPPIPV6 | RASPPPLCP | None]:
    """The pre-Windows 7 call: one protocol's result, as ``RASP_PppIp`` -> RASPPPIP,
    ``RASP_PppIpv6`` -> RASPPPIPV6, and for a PPP link (pppd) ``RASP_PppLcp`` -> RASPPPLCP
    with the authentication protocol it used.

    730 before RASCS_Projected, 6 for a gone handle, 87 for an unknown RASPROJECTION. 731
    (ERROR_PROTOCOL_NOT_CONFIGURED: "the protocol was not attempted") for what is not
    negotiated: LCP on a link without PPP, CCP, AMB, NBF, IPX and SLIP (gone since Vista), and
    IP or IPv6 when the link has no such address.
    """
    known = (RASP_Amb, RASP_PppNbf, RASP_PppIpx, RASP_PppIp, RASP_PppCcp, RASP_PppLcp)
    if isinstance(projection, bool) or projection not in (*known, RASP_PppIpv6, RASP_Slip):
        return errors.ERROR_INVALID_PARAMETER, None
    code, d = _projection(hrasconn)
    if code or d is None:
        return code, None
    if projection == RASP_PppIp and d.get("local_address"):
        return 0, RASPPPIP(
            szIpAddress=str(d["local_address"]),
            szServerIpAddress=str(d.get("remote_address", "")),
        )
    if projection == RASP_PppLcp and _is_ppp(d):
        auth, data = _lcp_auth(d)
        return 0, RASPPPLCP(dwAuthenticationProtocol=auth, dwAuthenticationData=data)
    if projection == RASP_PppIpv6 and d.get("local_address_v6"):
        return 0, RASPPPIPV6(
            bLocalInterfaceIdentifier=_interface_id(str(d["local_address_v6"])),
            bPeerInterfaceIdentifier=_interface_id(str(d.get("remote_address_v6") or "::")),
        )
    return ERROR_PROTOCOL_NOT_CONFIGURED, None


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
            *("UNLEN", "PWLEN", "DNLEN", "PENDING", "LUID", "PROJECTION_INFO", "SIZEOF_"),
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
    return _delete_entry(phonebook, entry, connected=_entry_connected, call=_call)


def RasRenameEntry(phonebook: str | None, old: str, new: str) -> int:
    """Rename an entry by RasRenameEntry's own (looser) name rules; saved credentials follow."""
    return _rename_entry(phonebook, old, new, call=_call)


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
