"""What the OpenSSH client says on stderr (``LogLevel=VERBOSE``), turned into events (pure).

The master runs without ``-f`` and writes stderr to its log file; the driver tails that file
and feeds it here. Lines that matter (OpenSSH 9.2, exact texts seen on this platform)::

    Authenticated to HOST ([ADDR]:PORT) using "publickey".
    Warning: Permanently added '[HOST]:PORT' (ED25519) to the list of known hosts.
    No ED25519 host key is known for [HOST]:PORT and you have requested strict checking.
    Host key for [HOST]:PORT has changed and you have requested strict checking.
    Host key verification failed.
    USER@HOST: Permission denied (publickey,password).
    ssh: connect to host HOST port PORT: Connection refused
    Timeout, server HOST not responding.

Each failure text maps to a RAS code and to the dial state it implies (a refused TCP
connection fails in ConnectDevice, a rejected password in Authenticate). When several are
seen, the most specific one wins (a changed host key beats the generic "verification
failed" that follows it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from openras.errors import (
    ERROR_AUTHENTICATION_FAILURE,
    ERROR_DNSNAME_NOT_RESOLVABLE,
    ERROR_INVALID_SERVER_CERT,
    ERROR_LINK_FAILURE,
    ERROR_NO_ANSWER,
    ERROR_PORT_NOT_AVAILABLE,
    ERROR_REMOTE_DISCONNECTION,
    ERROR_SERVER_POLICY,
    ERROR_UNABLE_TO_AUTHENTICATE_SERVER,
    ERROR_UNKNOWN,
    ERROR_VPN_TIMEOUT,
)
from openras.states import RasConnState

_MAX_LINE: Final = 4096

_C = RasConnState.ConnectDevice
_D = RasConnState.DeviceConnected
_A = RasConnState.Authenticate

#: (pattern, code, priority, implied state). Higher priority wins.
_RULES: Final[tuple[tuple[re.Pattern[str], int, int, RasConnState], ...]] = (
    (re.compile(r"REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed"),
     ERROR_INVALID_SERVER_CERT, 100, _D),
    (re.compile(r"No \S+ host key is known for|Host key verification failed"),
     ERROR_UNABLE_TO_AUTHENTICATE_SERVER, 90, _D),
    (re.compile(r"Permission denied \(|Too many authentication failures"),
     ERROR_AUTHENTICATION_FAILURE, 80, _A),
    (re.compile(r"Could not resolve hostname"), ERROR_DNSNAME_NOT_RESOLVABLE, 70, _C),
    (re.compile(r"Connection refused"), ERROR_NO_ANSWER, 60, _C),
    (re.compile(r"Connection timed out|Operation timed out|No route to host|"
                r"Network is unreachable|Connection timed out during banner exchange"),
     ERROR_VPN_TIMEOUT, 55, _C),
    (re.compile(r"Tunnel forwarding failed|administratively prohibited"),
     ERROR_SERVER_POLICY, 50, _A),
    (re.compile(r"Address already in use|cannot listen to port|Could not request local "
                r"forwarding|Tunnel device open failed|Could not request tunnel forwarding"),
     ERROR_PORT_NOT_AVAILABLE, 45, _A),
    (re.compile(r"Timeout, server .* not responding"), ERROR_LINK_FAILURE, 40, _A),
    (re.compile(r"closed by remote host|Connection closed by|Connection reset by|"
                r"Received disconnect from"),
     ERROR_REMOTE_DISCONNECTION, 30, _D),
    (re.compile(r"Broken pipe"), ERROR_LINK_FAILURE, 20, _A),
)  # fmt: skip

_AUTHENTICATED: Final = re.compile(r'^Authenticated to (\S+) .*using "([^"]+)"')
_LEARNED: Final = re.compile(r"^Warning: Permanently added '([^']+)'")


@dataclass(frozen=True)
class Authenticated:
    host: str
    method: str


@dataclass(frozen=True)
class HostKeyLearned:
    host: str


@dataclass(frozen=True)
class Problem:
    code: int
    line: str
    priority: int
    implied_state: RasConnState


SshLogEvent = Authenticated | HostKeyLearned | Problem


class SshLogParser:
    """``feed(bytes) -> events``; remembers the most specific problem for the exit."""

    def __init__(self) -> None:
        self._buf = b""
        self.worst: Problem | None = None
        self.last_line = ""

    def feed(self, data: bytes) -> list[SshLogEvent]:
        self._buf += data
        *lines, rest = self._buf.split(b"\n")
        if len(rest) > _MAX_LINE:  # a line without end: judge what we have
            lines.append(rest)
            rest = b""
        self._buf = rest
        events: list[SshLogEvent] = []
        for raw in lines:
            event = self._line(raw.decode("utf-8", "replace").strip("\r\n \t")[:_MAX_LINE])
            if event is not None:
                events.append(event)
        return events

    def close(self) -> list[SshLogEvent]:
        """Flush a last line that had no newline."""
        return self.feed(b"\n") if self._buf else []

    def _line(self, line: str) -> SshLogEvent | None:
        if not line:
            return None
        self.last_line = line
        if m := _AUTHENTICATED.match(line):
            return Authenticated(m.group(1), m.group(2))
        if m := _LEARNED.match(line):
            return HostKeyLearned(m.group(1))
        for pattern, code, priority, state in _RULES:
            if pattern.search(line):
                problem = Problem(code, line, priority, state)
                if self.worst is None or priority > self.worst.priority:
                    self.worst = problem
                return problem
        return None


def classify_exit(parser: SshLogParser, returncode: int | None) -> tuple[int, str, RasConnState]:
    """(RAS code, detail, implied state) for an ssh master that exited by itself."""
    if parser.worst is not None:
        worst = parser.worst
        return worst.code, worst.line, worst.implied_state
    status = "unknown status" if returncode is None else f"status {returncode}"
    detail = f"ssh exited ({status})" + (f": {parser.last_line}" if parser.last_line else "")
    return ERROR_UNKNOWN if returncode == 255 else ERROR_LINK_FAILURE, detail, _C
