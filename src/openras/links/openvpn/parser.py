"""OpenVPN's management interface, sans I/O: bytes in, typed events out, plus pure mappings.

``ManagementParser.feed(data)`` returns every complete item the data finishes, whatever the
chunking: real-time notifications (``>STATE:``, ``>HOLD:``, ``>PASSWORD:``, ``>BYTECOUNT:``,
``>FATAL:``, ``>INFO:``, ``>LOG:`` and the rest), one-line command replies (``SUCCESS:``,
``ERROR:``) and multi-line command output ending in ``END`` (``state``, ``status``...).
Notifications may arrive in the middle of a multi-line reply; they are returned at once.

The mapping functions translate OpenVPN's states and reasons into RAS states and error codes;
they are pure so the whole policy is unit tested on recorded transcripts (links-lab.md §3.3).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from openras import errors
from openras.states import RasConnState

#: A line longer than this is not OpenVPN talking (its own lines are a few hundred bytes).
MAX_LINE = 64 * 1024
#: A multi-line reply longer than this is refused (``status`` on a client is ~20 lines).
MAX_BLOCK_LINES = 10_000


class ManagementProtocolError(ValueError):
    """The peer sent something no OpenVPN management interface sends (too long)."""


# ---------------------------------------------------------------------------------- events


@dataclass(frozen=True)
class State:
    """``>STATE:`` (or one line of the ``state`` command's output)."""

    timestamp: int
    name: str
    reason: str = ""
    local_ip: str = ""
    remote_addr: str = ""
    remote_port: str = ""
    local_addr: str = ""
    local_port: str = ""
    local_ipv6: str = ""


@dataclass(frozen=True)
class Hold:
    """``>HOLD:Waiting for hold release:N`` (N = seconds of backoff openvpn would wait)."""

    text: str


@dataclass(frozen=True)
class PasswordRequest:
    """``>PASSWORD:Need 'Auth' username/password`` (``what`` = the rest, ``SC:``... included)."""

    realm: str
    what: str


@dataclass(frozen=True)
class PasswordFailed:
    """``>PASSWORD:Verification Failed: 'Auth'`` (possibly with a server reason)."""

    realm: str
    detail: str = ""


@dataclass(frozen=True)
class ByteCount:
    """``>BYTECOUNT:in,out`` (link bytes since start)."""

    bytes_in: int
    bytes_out: int


@dataclass(frozen=True)
class Fatal:
    """``>FATAL:text``: openvpn is about to exit."""

    text: str


@dataclass(frozen=True)
class Info:
    """``>INFO:text`` (the banner, and some pushed information)."""

    text: str


@dataclass(frozen=True)
class Log:
    """``>LOG:time,flags,text`` (after ``log on``)."""

    timestamp: int
    flags: str
    text: str


@dataclass(frozen=True)
class Notification:
    """Any other real-time line (``>NOTIFY:``, ``>NEED-OK:``, ``>INFOMSG:``...) or a known
    type whose payload did not have the expected shape."""

    kind: str
    payload: str


@dataclass(frozen=True)
class Success:
    """``SUCCESS: text``, a one-line command reply."""

    text: str


@dataclass(frozen=True)
class Error:
    """``ERROR: text``, a one-line command reply."""

    text: str


@dataclass(frozen=True)
class Block:
    """A multi-line command reply, without its ``END`` line."""

    lines: tuple[str, ...]


Event = (
    State
    | Hold
    | PasswordRequest
    | PasswordFailed
    | ByteCount
    | Fatal
    | Info
    | Log
    | Notification
    | Success
    | Error
    | Block
)
REALTIME = (State, Hold, PasswordRequest, PasswordFailed, ByteCount, Fatal, Info, Log, Notification)


# ---------------------------------------------------------------------------------- parser


class ManagementParser:
    """Incremental line parser; keeps a partial line and a partial block between feeds."""

    def __init__(self) -> None:
        self._buf = b""
        self._block: list[str] | None = None
        self._broken: ManagementProtocolError | None = None

    @property
    def in_block(self) -> bool:
        return self._block is not None

    def feed(self, data: bytes) -> list[Event]:
        """Events completed by ``data``. Raises ManagementProtocolError (then always again)."""
        if self._broken is not None:
            raise self._broken
        self._buf += data
        out: list[Event] = []
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                break
            raw, self._buf = self._buf[:nl], self._buf[nl + 1 :]
            if len(raw) > MAX_LINE:
                self._fail(f"line longer than {MAX_LINE} bytes")
            self._line(raw.rstrip(b"\r").decode("utf-8", "replace"), out)
        if len(self._buf) > MAX_LINE:
            self._fail(f"line longer than {MAX_LINE} bytes")
        return out

    def _fail(self, why: str) -> None:
        self._broken = ManagementProtocolError(why)
        raise self._broken

    def _line(self, line: str, out: list[Event]) -> None:
        if line.startswith(">"):
            out.append(parse_notification(line))
            return
        if self._block is not None:
            if line == "END":
                out.append(Block(tuple(self._block)))
                self._block = None
            else:
                if len(self._block) >= MAX_BLOCK_LINES:
                    self._fail(f"reply longer than {MAX_BLOCK_LINES} lines")
                self._block.append(line)
            return
        if line.startswith("SUCCESS:"):
            out.append(Success(line[8:].strip()))
        elif line.startswith("ERROR:"):
            out.append(Error(line[6:].strip()))
        elif line == "END":
            out.append(Block(()))
        elif line.strip():
            self._block = [line]


_PASSWORD_NEED = re.compile(r"Need '([^']*)'\s*(.*)\Z", re.S)
_PASSWORD_FAILED = re.compile(r"Verification Failed: '([^']*)'\s*(.*)\Z", re.S)


def _int(text: str) -> int | None:
    text = text.strip()
    if not text or len(text) > 20 or not text.isascii() or not text.isdigit():
        return None
    return int(text)


def parse_state_fields(payload: str) -> State | None:
    """``time,STATE,reason,local_ip,remote,rport,laddr,lport,local_ipv6`` -> State."""
    fields = payload.split(",")
    if len(fields) < 2 or not fields[1]:
        return None
    ts = _int(fields[0])
    if ts is None:
        return None
    fields += [""] * (9 - len(fields))
    return State(ts, *fields[1:9])


def parse_notification(line: str) -> Event:
    """One ``>TYPE:payload`` line; shapes that do not fit become a Notification."""
    kind, sep, payload = line[1:].partition(":")
    if not sep:
        return Notification(kind="", payload=line[1:])
    if kind == "STATE":
        state = parse_state_fields(payload)
        if state is not None:
            return state
    elif kind == "HOLD":
        return Hold(payload)
    elif kind == "PASSWORD":
        m = _PASSWORD_NEED.match(payload)
        if m:
            return PasswordRequest(m.group(1), m.group(2))
        m = _PASSWORD_FAILED.match(payload)
        if m:
            return PasswordFailed(m.group(1), m.group(2).strip())
    elif kind == "BYTECOUNT":
        a, sep2, b = payload.partition(",")
        ia, ib = _int(a), _int(b)
        if sep2 and ia is not None and ib is not None:
            return ByteCount(ia, ib)
    elif kind == "FATAL":
        return Fatal(payload)
    elif kind == "INFO":
        return Info(payload)
    elif kind == "LOG":
        parts = payload.split(",", 2)
        ts = _int(parts[0])
        if len(parts) == 3 and ts is not None:
            return Log(ts, parts[1], parts[2])
    return Notification(kind, payload)


# ---------------------------------------------------------------------------------- mapping

_STATE_MAP: dict[str, RasConnState] = {
    "CONNECTING": RasConnState.ConnectDevice,
    "WAIT": RasConnState.ConnectDevice,
    "RESOLVE": RasConnState.ConnectDevice,
    "TCP_CONNECT": RasConnState.ConnectDevice,
    "AUTH": RasConnState.Authenticate,
    "AUTH_PENDING": RasConnState.Authenticate,
    "GET_CONFIG": RasConnState.AuthProject,
    "ASSIGN_IP": RasConnState.AuthProject,
    "ADD_ROUTES": RasConnState.Projected,
    "CONNECTED": RasConnState.Connected,
}


def ras_state(openvpn_state: str) -> RasConnState | None:
    """The RAS state an OpenVPN state means; None for RECONNECTING/EXITING/unknown."""
    return _STATE_MAP.get(openvpn_state)


#: Reasons openvpn gives in ``RECONNECTING,<reason>``/``EXITING,<reason>`` -> (while dialing,
#: once connected). A user-sent signal (SIGTERM...) means someone outside openras stopped it.
_TIMED_OUT = (errors.ERROR_VPN_TIMEOUT, errors.ERROR_LINK_FAILURE)
_SERVER_ENDED = (errors.ERROR_VPN_REFUSED, errors.ERROR_REMOTE_DISCONNECTION)
_REASONS: dict[str, tuple[int, int]] = {
    "auth-failure": (errors.ERROR_AUTHENTICATION_FAILURE, errors.ERROR_AUTHENTICATION_FAILURE),
    **dict.fromkeys(("ping-restart", "ping-exit", "server_poll", "connection-timeout"), _TIMED_OUT),
    "tls-error": (errors.ERROR_VALIDATING_SERVER_CERT, errors.ERROR_LINK_FAILURE),
    **dict.fromkeys(
        (
            "connection-reset",
            "connection-reset-inactive",
            "server-pushed-connection-reset",
            "server-pushed-halt",
            "remote-exit",
            "exit-with-notification",
        ),
        _SERVER_ENDED,
    ),
    "inactive": (errors.ERROR_DISCONNECTION, errors.ERROR_IDLE_TIMEOUT),
}
#: A failed dial with no better explanation ("unable to establish the VPN connection").
GENERIC_DIAL_FAILURE = errors.ERROR_AUTOMATIC_VPN_FAILED


def reason_error(reason: str, *, connected: bool) -> int:
    """The RAS code for a RECONNECTING/EXITING ``reason``."""
    codes = _REASONS.get(reason.strip())
    if codes is None:
        return errors.ERROR_DISCONNECTION if connected else GENERIC_DIAL_FAILURE
    return codes[1] if connected else codes[0]


#: Log/FATAL text -> code, most specific first; searched newest line first.
_LOG_RULES: tuple[tuple[re.Pattern[str], int], ...] = tuple(
    (re.compile(p, re.I), code)
    for p, code in (
        (r"AUTH_FAILED|auth-failure|Verification Failed", errors.ERROR_AUTHENTICATION_FAILURE),
        # names the certificate: best detail
        (r"VERIFY (?:KU |EKU |X509NAME )?ERROR", errors.ERROR_VALIDATING_SERVER_CERT),
        (r"certificate verify failed", errors.ERROR_VALIDATING_SERVER_CERT),
        (
            r"alert (?:bad certificate|unknown ca|certificate (?:expired|revoked|unknown)"
            r"|unsupported certificate)",
            errors.ERROR_VPN_BAD_CERT,
        ),
        (
            r"Cannot load (?:inline )?(?:certificate|private key|CA)|Private key does not match"
            r"|Cannot load .*cert",
            errors.ERROR_CERT_FOR_ENCRYPTION_NOT_FOUND,
        ),
        (r"private key password verification failed", errors.ERROR_EAPTLS_PASSWD_INVALID),
        (r"Cannot resolve host address|RESOLVE: Cannot", errors.ERROR_DNSNAME_NOT_RESOLVABLE),
        (r"Connection refused|ECONNREFUSED", errors.ERROR_VPN_REFUSED),
        (
            r"TLS key negotiation failed|TLS handshake failed|connect-retry-max|server_poll"
            r"|Connection timed out|ETIMEDOUT",
            errors.ERROR_VPN_TIMEOUT,
        ),
        (
            r"Network is unreachable|No route to host|EHOSTUNREACH|ENETUNREACH",
            errors.ERROR_BAD_ADDRESS_SPECIFIED,
        ),
        (
            r"Cannot open TUN/TAP|Cannot ioctl TUNSETIFF|ERROR: Cannot .*tun",
            errors.ERROR_CONNECTING_DEVICE_NOT_FOUND,
        ),
        (r"Options error", errors.ERROR_INVALID_INTERFACE_CONFIG),
    )
)


#: Causes a restart cannot cure (certificates, keys, credentials, configuration).
DEFINITIVE: frozenset[int] = frozenset(
    {
        errors.ERROR_AUTHENTICATION_FAILURE,
        errors.ERROR_CERT_FOR_ENCRYPTION_NOT_FOUND,
        errors.ERROR_CONNECTING_DEVICE_NOT_FOUND,
        errors.ERROR_VALIDATING_SERVER_CERT,
        errors.ERROR_VPN_BAD_CERT,
        errors.ERROR_EAPTLS_PASSWD_INVALID,
        errors.ERROR_INVALID_INTERFACE_CONFIG,
    }
)


def _needles(pattern: str) -> tuple[str, ...]:
    """Lower-case literal prefixes, one per top-level alternative of ``pattern``, one of
    which any match contains; () when an alternative starts with no literal (no filter)."""
    alternatives, depth, current = [], 0, ""
    for ch in pattern:
        if ch == "|" and depth == 0:
            alternatives.append(current)
            current = ""
            continue
        depth += (ch == "(") - (ch == ")")
        current += ch
    alternatives.append(current)
    out = []
    for alt in alternatives:
        literal = ""
        for ch in alt:
            if ch in ".^$*+?{}[]\\|()":
                break
            literal += ch
        if not literal:
            return ()
        out.append(literal.lower())
    return tuple(out)


#: Per rule, literals one of which a match contains: a rule whose literals are all absent
#: from the (ASCII) text is skipped without running its case-blind regex over every line.
_LOG_NEEDLES = tuple(_needles(pattern.pattern) for pattern, _ in _LOG_RULES)


def classify_text(lines: Iterable[str]) -> tuple[int, str] | None:
    """The most specific (code, line) explaining a failure in ``lines`` (newest last).

    A 40-line log took 0.8 ms of CPU with every rule's regex over every line, in the middle
    of a dial; a rule now runs only where one of its literals occurs in the text."""
    rows = list(lines)
    lowered = "\n".join(rows).lower() if all(row.isascii() for row in rows) else None
    for (pattern, code), needles in zip(_LOG_RULES, _LOG_NEEDLES, strict=True):
        if lowered is not None and needles and not any(n in lowered for n in needles):
            continue
        for line in reversed(rows):
            if pattern.search(line):
                return code, _LOG_TIME.sub("", line.strip())
    return None


#: The timestamp openvpn puts before each line of its log file (the caller has its own).
_LOG_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ")


def fatal_error(text: str) -> int:
    """The RAS code for a ``>FATAL:`` text."""
    found = classify_text([text])
    return found[0] if found else GENERIC_DIAL_FAILURE


# ---------------------------------------------------------------------------------- pushes


@dataclass(frozen=True)
class PushInfo:
    """What a server's PUSH_REPLY says about addressing and DNS."""

    ifconfig_local: str = ""
    ifconfig_remote: str = ""
    route_gateway: str = ""
    ifconfig_ipv6_local: str = ""
    ifconfig_ipv6_remote: str = ""
    #: ``addr/bits`` as pushed (its subnet is routed to the tunnel).
    ifconfig_ipv6_network: str = ""
    topology: str = ""
    dns: tuple[str, ...] = ()
    domain: str = ""


_PUSH = re.compile(r"PUSH_REPLY,(.*?)'?\s*$")


def parse_push_reply(text: str) -> PushInfo | None:
    """Parse the options of a ``PUSH: Received control message: 'PUSH_REPLY,...'`` line."""
    m = _PUSH.search(text)
    if m is None:
        return None
    info: dict[str, str] = {}
    dns: list[str] = []
    for item in m.group(1).split(","):
        words = item.split()
        if not words:
            continue
        opt, args = words[0], words[1:]
        if opt == "ifconfig" and len(args) >= 2:
            info["ifconfig_local"], info["ifconfig_remote"] = args[0], args[1]
        elif opt == "ifconfig-ipv6" and args:
            info["ifconfig_ipv6_local"] = args[0].split("/")[0]
            info["ifconfig_ipv6_network"] = args[0]
            if len(args) > 1:
                info["ifconfig_ipv6_remote"] = args[1]
        elif opt == "route-gateway" and args:
            info["route_gateway"] = args[0]
        elif opt == "topology" and args:
            info["topology"] = args[0]
        elif opt == "dhcp-option" and len(args) >= 2:
            key = args[0].upper()
            if key in ("DNS", "DNS6") and args[1] not in dns:
                dns.append(args[1])
            elif key == "DOMAIN":
                info["domain"] = args[1]
        elif opt == "dns" and len(args) >= 4 and args[0] == "server" and args[2] == "address":
            for addr in args[3:]:
                host = _strip_port(addr)
                if host and host not in dns:
                    dns.append(host)
    return PushInfo(dns=tuple(dns), **info)


def _strip_port(addr: str) -> str:
    """``1.2.3.4:53`` / ``[::1]:53`` / ``::1`` -> the host part."""
    if addr.startswith("["):
        return addr[1:].partition("]")[0]
    if addr.count(":") == 1:
        return addr.partition(":")[0]
    return addr


def quote(value: str) -> str:
    """Quote an argument for a management command (the config-file quoting rules)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
