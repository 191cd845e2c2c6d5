"""Error codes, their texts and the exception classes that carry them.

Every failure in openras is a numeric Windows code (RAS 600-875 or a Win32 code) so that the
Win32-shaped API can return it unchanged, the wire can carry it, and the Pythonic API can raise
the same class on the client side (one subclass per frequent code).
"""

from __future__ import annotations

from openras._codes import CODES

TYPE_CHECKING = False  # typing's constant, without importing typing (see openras._lazy)
if TYPE_CHECKING:
    from typing import Final

SUCCESS: Final = 0
ERROR_SUCCESS: Final = 0
ERROR_ACCESS_DENIED: Final = 5
ERROR_INVALID_HANDLE: Final = 6
ERROR_NOT_ENOUGH_MEMORY: Final = 8
ERROR_INVALID_PARAMETER: Final = 87
ERROR_INSUFFICIENT_BUFFER: Final = 122
ERROR_INVALID_NAME: Final = 123
ERROR_ALREADY_EXISTS: Final = 183
#: Not what RAS uses for a bad struct size (that is 632); listed for completeness (§5.2).
ERROR_INCORRECT_SIZE: Final = 1462
#: HRESULT_FROM_WIN32(87), which RasGetConnectionStatistics returns for bad arguments.
E_INVALIDARG: Final = 0x80070057
PENDING: Final = 600
ERROR_BUFFER_TOO_SMALL: Final = 603
ERROR_DEVICE_DOES_NOT_EXIST: Final = 608
ERROR_DEVICETYPE_DOES_NOT_EXIST: Final = 609
ERROR_PORT_NOT_OPEN: Final = 618
ERROR_CANNOT_OPEN_PHONEBOOK: Final = 621
ERROR_CANNOT_LOAD_PHONEBOOK: Final = 622
ERROR_CANNOT_FIND_PHONEBOOK_ENTRY: Final = 623
ERROR_CANNOT_WRITE_PHONEBOOK: Final = 624
ERROR_CORRUPT_PHONEBOOK: Final = 625
ERROR_DISCONNECTION: Final = 628
ERROR_REMOTE_DISCONNECTION: Final = 629
ERROR_HARDWARE_FAILURE: Final = 630
ERROR_USER_DISCONNECTION: Final = 631
ERROR_INVALID_SIZE: Final = 632
ERROR_PORT_NOT_AVAILABLE: Final = 633
ERROR_UNKNOWN: Final = 635
ERROR_REQUEST_TIMEOUT: Final = 638
ERROR_FROM_DEVICE: Final = 651
ERROR_NO_CONNECTION: Final = 668
ERROR_LINE_BUSY: Final = 676
ERROR_NO_ANSWER: Final = 678
ERROR_NO_CARRIER: Final = 679
ERROR_NO_DIALTONE: Final = 680
ERROR_AUTHENTICATION_FAILURE: Final = 691
ERROR_PORT_OR_DEVICE: Final = 692
ERROR_INTERACTIVE_MODE: Final = 703
ERROR_RASMAN_CANNOT_INITIALIZE: Final = 711
ERROR_IP_CONFIGURATION: Final = 716
ERROR_PPP_TIMEOUT: Final = 718
ERROR_PPP_NO_PROTOCOLS_CONFIGURED: Final = 720
ERROR_PHONE_NUMBER_TOO_LONG: Final = 723
ERROR_PROJECTION_NOT_COMPLETE: Final = 730
ERROR_PROTOCOL_NOT_CONFIGURED: Final = 731
ERROR_PPP_LCP_TERMINATED: Final = 734
ERROR_TAPI_CONFIGURATION: Final = 740
ERROR_NO_LOCAL_ENCRYPTION: Final = 741
ERROR_NO_REMOTE_ENCRYPTION: Final = 742
ERROR_BAD_PHONE_NUMBER: Final = 749
ERROR_DIAL_ALREADY_IN_PROGRESS: Final = 756
ERROR_NO_CERTIFICATE: Final = 766
ERROR_BAD_ADDRESS_SPECIFIED: Final = 769
ERROR_UNABLE_TO_AUTHENTICATE_SERVER: Final = 778
ERROR_INVALID_FUNCTION_FOR_ENTRY: Final = 780
ERROR_CERT_FOR_ENCRYPTION_NOT_FOUND: Final = 781
ERROR_CONNECTING_DEVICE_NOT_FOUND: Final = 797
ERROR_AUTOMATIC_VPN_FAILED: Final = 800
ERROR_VALIDATING_SERVER_CERT: Final = 801
ERROR_VPN_GRE_BLOCKED: Final = 806
ERROR_VPN_DISCONNECT: Final = 807
ERROR_VPN_REFUSED: Final = 808
ERROR_VPN_TIMEOUT: Final = 809
ERROR_VPN_BAD_CERT: Final = 810
ERROR_VPN_BAD_PSK: Final = 811
ERROR_SERVER_POLICY: Final = 812
ERROR_CANNOT_DELETE: Final = 817
ERROR_IDLE_TIMEOUT: Final = 828
ERROR_LINK_FAILURE: Final = 829
ERROR_RASMAN_SERVICE_STOPPED: Final = 834
ERROR_INVALID_SERVER_CERT: Final = 835
ERROR_INTERNAL_ADDRESS_FAILURE: Final = 840
ERROR_TS_UNACCEPTABLE: Final = 842
ERROR_DNSNAME_NOT_RESOLVABLE: Final = 868
ERROR_EAPTLS_PASSWD_INVALID: Final = 869
ERROR_INVALID_INTERFACE_CONFIG: Final = 872
#: mprerror.h's ROUTEBASE+26, not RasError.h: what Windows' PPP ends an idle link with.
ERROR_IDLE_DISCONNECTED: Final = 926
ERROR_IPSEC_IKE_AUTH_FAIL: Final = 13801
ERROR_IPSEC_IKE_TIMED_OUT: Final = 13805
ERROR_IPSEC_IKE_NO_CERT: Final = 13806
ERROR_IPSEC_IKE_NO_PRIVATE_KEY: Final = 13820
ERROR_IPSEC_IKE_NO_POLICY: Final = 13825
ERROR_IPSEC_IKE_INVALID_PAYLOAD: Final = 13843
ERROR_IPSEC_IKE_POLICY_MATCH: Final = 13868

#: ``RasError.needs``: the dial has no user name or password and the link asks for them (691
#: raised before anything started, never a server's refusal): a client with a user at hand
#: asks for them and dials again.
NEEDS_CREDENTIALS: Final = "credentials"

#: Win32 codes outside the RAS range that RAS functions return.
WIN32_CODES: Final = frozenset(c for c in CODES if c < 600)


def symbol(code: int) -> str:
    """The SDK symbol of ``code`` (``"ERROR_INVALID_HANDLE"``), or ``"ERROR_<code>"``."""
    entry = CODES.get(code)
    return entry[0] if entry else f"ERROR_{code}"


def message(code: int) -> str:
    """The English text ``RasGetErrorString`` gives for ``code``."""
    entry = CODES.get(code)
    if entry is None:
        return f"Unknown error {code}."
    return entry[1]


def is_known(code: int) -> bool:
    """True when ``code`` has a text of its own."""
    return code in CODES


class RasError(Exception):
    """A RAS failure with its numeric code.

    ``handle`` is set when a handle exists that the caller still owns (a failed dial must be
    hung up, exactly as on Windows). ``needs`` says, machine-readably, what a retry must add
    for the call to work (:data:`NEEDS_CREDENTIALS`); the wire carries it, so a client can
    ask the user instead of parsing ``detail``.
    """

    code: int = ERROR_UNKNOWN

    def __init__(
        self,
        code: int | None = None,
        detail: str | None = None,
        *,
        handle: int = 0,
        needs: str | None = None,
    ):
        if code is not None:
            self.code = code
        self.detail = detail
        self.handle = handle
        self.needs = needs
        #: The errno of the OSError this came from (:func:`from_os_error`); never on the wire.
        self.os_errno: int | None = None
        text = message(self.code)
        super().__init__(f"{self.code}: {text}" + (f" ({detail})" if detail else ""))

    @property
    def text(self) -> str:
        """The Windows text for the code."""
        return message(self.code)

    @staticmethod
    def from_code(
        code: int, detail: str | None = None, *, handle: int = 0, needs: str | None = None
    ) -> RasError:
        """The most specific exception class for ``code``."""
        cls = _BY_CODE.get(code, RasError)
        return cls(code, detail, handle=handle, needs=needs)


class InvalidHandle(RasError):
    """The handle is unknown, already deleted, or not the caller's (6)."""

    code = ERROR_INVALID_HANDLE


class AccessDenied(RasError):
    """The caller may not do this (5)."""

    code = ERROR_ACCESS_DENIED


class InvalidParameter(RasError):
    """An argument has the wrong type or is out of range (87)."""

    code = ERROR_INVALID_PARAMETER


class EntryNotFound(RasError):
    """The phonebook has no such entry (623)."""

    code = ERROR_CANNOT_FIND_PHONEBOOK_ENTRY


class PhonebookError(RasError):
    """The phonebook could not be opened, loaded or written (621, 622, 624, 625)."""

    code = ERROR_CANNOT_LOAD_PHONEBOOK


class AuthenticationFailure(RasError):
    """The credentials were rejected (691)."""

    code = ERROR_AUTHENTICATION_FAILURE


class DialInProgress(RasError):
    """This entry is already being dialed (756)."""

    code = ERROR_DIAL_ALREADY_IN_PROGRESS


class LinkDropped(RasError):
    """The link went down (628, 629, 668, 829...)."""

    code = ERROR_DISCONNECTION


class ManagerUnavailable(RasError):
    """No connection manager answers and none could be started (711)."""

    code = ERROR_RASMAN_CANNOT_INITIALIZE


class ProtocolError(RasError):
    """The wire protocol was broken (local to one client session). Whose fault it was says
    the subclass, as h11 does: :class:`LocalProtocolError` or :class:`RemoteProtocolError`."""

    code = ERROR_INVALID_PARAMETER


class LocalProtocolError(ProtocolError):
    """This side built a message the protocol does not allow (a bug here, not the peer's)."""


class RemoteProtocolError(ProtocolError):
    """The peer sent what the protocol does not allow (its bug, or an attack). A client that
    gets one from the daemon reports :func:`daemon_broke_protocol` (635), not 87: the call
    it made was fine."""


def from_os_error(
    exc: OSError, code: int, what: str, *, cls: type[RasError] | None = None, suffix: str = ""
) -> RasError:
    """The one place an OSError of the daemon becomes a RAS error: ``code`` (the caller's
    meaning of the failure), ``what: the kernel's reason``; the errno stays on the exception
    (``os_errno``, never sent) for callers that decide on it (ENOENT: "not there")."""
    err = (cls or RasError)(code, f"{what}: {exc.strerror or exc}{suffix}")
    err.os_errno = exc.errno
    return err


def daemon_broke_protocol(exc: ProtocolError) -> RemoteProtocolError:
    """What a client raises when the connection manager's reply broke the protocol."""
    return RemoteProtocolError(
        ERROR_UNKNOWN, f"the connection manager's reply broke the protocol: {exc.detail}"
    )


_BY_CODE: Final[dict[int, type[RasError]]] = {
    ERROR_INVALID_HANDLE: InvalidHandle,
    ERROR_ACCESS_DENIED: AccessDenied,
    ERROR_INVALID_PARAMETER: InvalidParameter,
    ERROR_CANNOT_FIND_PHONEBOOK_ENTRY: EntryNotFound,
    ERROR_CANNOT_OPEN_PHONEBOOK: PhonebookError,
    ERROR_CANNOT_LOAD_PHONEBOOK: PhonebookError,
    ERROR_CANNOT_WRITE_PHONEBOOK: PhonebookError,
    ERROR_CORRUPT_PHONEBOOK: PhonebookError,
    ERROR_AUTHENTICATION_FAILURE: AuthenticationFailure,
    ERROR_DIAL_ALREADY_IN_PROGRESS: DialInProgress,
    ERROR_DISCONNECTION: LinkDropped,
    ERROR_REMOTE_DISCONNECTION: LinkDropped,
    ERROR_NO_CONNECTION: LinkDropped,
    ERROR_LINK_FAILURE: LinkDropped,
    ERROR_RASMAN_CANNOT_INITIALIZE: ManagerUnavailable,
}
