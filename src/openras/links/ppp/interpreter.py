"""pppd's log (``logfile`` with ``debug``) and exit status as RAS states and codes; sans-IO.

Fed the bytes of the log as they come (and, at the end, pppd's exit status); answers the
states reached, the facts IPCP and LCP negotiated (addresses, DNS, the authentication
protocol, compression) and the failure, if any, as a RAS code with pppd's own line.

A failure is decided from the log first and from the exit status only when the log says
nothing: pppd's exit status races (a server that hangs up right after rejecting our
password makes pppd exit 16, "modem hang-up", about 1 run in 12, though it logged
"CHAP authentication failed"), so 691 comes from the log line.

The modem's answer comes from chat's own log (``chat -v -s``: stderr, which pppd sends to
its log file): ``Failed (BUSY)`` and the others name the ABORT string that matched; a
timeout while ``expect (OK)`` is a modem that does not answer (692), while ``expect
(CONNECT)`` a call nobody answered (678).

PPTP (``kind="pptp"``): pptp's warnings and fatal errors reach the same log (its stderr;
its ``log()`` lines go to syslog only). ``Connect: orpppN <--> /dev/pts/N`` is only the pty
(ConnectDevice); the server's answer to our LCP request (GRE through both ways) is
DeviceConnected. A TCP refusal on port 1723 is 807, an unreachable or silent server 809, a
name that does not resolve 868; with the control connection up (the driver feeds
:meth:`PppLog.control_up`) but no answer through GRE, 806. MPPE: required here and refused
by the server 742, required by the server and refused here 741, not in the kernel 741.

SSTP (``kind="sstp"``) is read the same way (the pty connected is ConnectDevice, the
server's first LCP answer DeviceConnected); sstpc's own lines (``--log-stderr``:
``<date> sstpc[pid]: message``) name its failures: a server certificate the CA does not
vouch for 801, a name that does not resolve 868, no SSTP server answering (no TCP, no TLS,
no HTTP 200) 809, and an SSTP call the server ended 807.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import struct
from dataclasses import dataclass, field
from typing import Final

from openras.errors import (
    ERROR_AUTHENTICATION_FAILURE,
    ERROR_CONNECTING_DEVICE_NOT_FOUND,
    ERROR_DISCONNECTION,
    ERROR_DNSNAME_NOT_RESOLVABLE,
    ERROR_FROM_DEVICE,
    ERROR_IDLE_DISCONNECTED,
    ERROR_LINE_BUSY,
    ERROR_NO_ANSWER,
    ERROR_NO_DIALTONE,
    ERROR_NO_LOCAL_ENCRYPTION,
    ERROR_NO_REMOTE_ENCRYPTION,
    ERROR_PORT_NOT_AVAILABLE,
    ERROR_PORT_OR_DEVICE,
    ERROR_PPP_LCP_TERMINATED,
    ERROR_PPP_NO_PROTOCOLS_CONFIGURED,
    ERROR_PPP_TIMEOUT,
    ERROR_REMOTE_DISCONNECTION,
    ERROR_UNKNOWN,
    ERROR_VALIDATING_SERVER_CERT,
    ERROR_VPN_DISCONNECT,
    ERROR_VPN_GRE_BLOCKED,
    ERROR_VPN_TIMEOUT,
)
from openras.links.progress import DIAL_ORDER, Failure, Interpreter
from openras.states import RasConnState

#: The order a dial goes through; a later state implies the earlier ones.
ORDER: Final = DIAL_ORDER

#: chat's ABORT strings (as the daemon writes them) -> RAS code.
CHAT_ABORTS: Final = {
    "BUSY": ERROR_LINE_BUSY,
    "NO DIALTONE": ERROR_NO_DIALTONE,
    "NO DIAL TONE": ERROR_NO_DIALTONE,
    "NO CARRIER": ERROR_NO_ANSWER,
    "NO ANSWER": ERROR_NO_ANSWER,
    "ERROR": ERROR_FROM_DEVICE,
}

#: pppd's exit status (man pppd, EXIT STATUS) -> (code, what it means), when the log said
#: nothing more precise.
EXIT_CODES: Final = {
    1: (ERROR_UNKNOWN, "pppd: fatal error"),
    2: (ERROR_UNKNOWN, "pppd: bad options"),
    4: (ERROR_CONNECTING_DEVICE_NOT_FOUND, "the kernel does not support PPP"),
    6: (ERROR_PORT_NOT_AVAILABLE, "the serial port could not be locked (in use)"),
    7: (ERROR_PORT_OR_DEVICE, "the serial port could not be opened"),
    8: (ERROR_NO_ANSWER, "the modem did not connect"),
    10: (ERROR_PPP_LCP_TERMINATED, "PPP negotiation failed"),
    11: (ERROR_AUTHENTICATION_FAILURE, "the peer failed to authenticate itself"),
    12: (ERROR_IDLE_DISCONNECTED, "idle for IdleDisconnectSeconds"),
    13: (ERROR_DISCONNECTION, "connect time limit reached"),
    15: (ERROR_REMOTE_DISCONNECTION, "the peer stopped answering LCP echo requests"),
    16: (ERROR_DISCONNECTION, "the modem hung up"),
    17: (ERROR_PPP_LCP_TERMINATED, "serial loopback detected"),
    19: (ERROR_AUTHENTICATION_FAILURE, "authentication failed"),
}

_AUTH_FAILED: Final = re.compile(
    r"\b(?:PAP|CHAP|EAP|MS-CHAP(?:-?v2)?) authentication failed|^Authentication failed"
    r"|EAP: peer reports authentication failure|MS-CHAP authentication failed"
)
#: The server answered our LCP request: GRE gets through both ways (PPTP's DeviceConnected).
_LCP_ANSWER: Final = re.compile(r"^rcvd \[LCP Conf(?:Ack|Nak|Rej) ")
_LCP_TIMEOUT: Final = re.compile(r"^LCP: timeout sending Config-Requests")
_AUTH_OK: Final = re.compile(r"\b(PAP|CHAP|EAP) authentication succeeded")
_LCP_AUTH: Final = re.compile(r"^rcvd \[LCP ConfReq .*<auth (pap|chap [\w-]+|eap)>")
_CHAT_FAILED: Final = re.compile(r"\bFailed \(([^)]*)\)")
_CHAT_EXPECT: Final = re.compile(r"\bexpect \(([^)]*)\)")
_ADDR: Final = re.compile(r"^(local |remote) IP address (\S+)")
_DNS: Final = re.compile(r"^(?:primary|secondary) +DNS address (\S+)")
_COMPRESSION: Final = re.compile(r"^(.+?) (?:receive |transmit )?compression enabled")
_IFACE: Final = re.compile(r"^Using interface (\S+)")
_CONNECT: Final = re.compile(r"^Connect: (\S+) <--> (\S+)")
#: (pattern, code) for failures named by one line; the first line that matches wins.
_FAILURES: Final[tuple[tuple[re.Pattern[str], int], ...]] = (
    (_AUTH_FAILED, ERROR_AUTHENTICATION_FAILURE),
    (re.compile(r"^Device \S+ is locked by pid"), ERROR_PORT_NOT_AVAILABLE),
    (re.compile(r"^Failed to open \S+: Device or resource busy"), ERROR_PORT_NOT_AVAILABLE),
    (re.compile(r"^Failed to open "), ERROR_PORT_OR_DEVICE),
    (
        re.compile(r"Timeout waiting for PAD[OS] packets|Unable to complete PPPoE Discovery"),
        ERROR_NO_ANSWER,
    ),
    (re.compile(r"^LCP: timeout sending Config-Requests"), ERROR_PPP_TIMEOUT),
    # The peer closed LCP because it requires MPPE and we refused it (its reason in brackets).
    (re.compile(r"^LCP terminated by peer \(MPPE required"), ERROR_NO_LOCAL_ENCRYPTION),
    (re.compile(r"^MPPE required, but kernel has no support"), ERROR_NO_LOCAL_ENCRYPTION),
    (
        re.compile(
            r"^MPPE required but peer (?:negotiation failed|refused)|^MPPE required, but MS-CHAP"
        ),
        ERROR_NO_REMOTE_ENCRYPTION,
    ),
    # The server wants a protocol the entry's AuthRestrictions refused (pppd's server says
    # this; Windows' 691 text: "...or the selected authentication protocol is not permitted").
    (
        re.compile(r"^LCP terminated by peer \(peer refused to authenticate"),
        ERROR_AUTHENTICATION_FAILURE,
    ),
    (re.compile(r"^LCP terminated by peer"), ERROR_PPP_LCP_TERMINATED),
    (
        re.compile(
            r"^IPCP: timeout sending Config-Requests|^IPCP terminated by peer"
            r"|Peer refused to agree to our IP address|Could not determine local IP"
        ),
        ERROR_PPP_NO_PROTOCOLS_CONFIGURED,
    ),
    (re.compile(r"^No response to \d+ echo-requests"), ERROR_REMOTE_DISCONNECTION),
    (re.compile(r"lack of activity"), ERROR_IDLE_DISCONNECTED),
    (re.compile(r"^Modem hangup"), ERROR_DISCONNECTION),
    (
        re.compile(
            r"Couldn't open the /dev/ppp device|lacks kernel support for PPP"
            r"|kernel does not support PPP"
        ),
        ERROR_CONNECTING_DEVICE_NOT_FOUND,
    ),
)
_REFUSED_AUTH: Final = (
    ": the server asked for an authentication protocol this entry does not allow "
    "(AuthRestrictions: allow it in the entry's security settings if you trust the line)"
)
#: pptp's own lines (``<logstring> warn|fatal[function:file.c:line]: message``) -> code.
_PPTP_FAILURES: Final[tuple[tuple[re.Pattern[str], int], ...]] = (
    (re.compile(r"\]: connect: Connection refused"), ERROR_VPN_DISCONNECT),
    (
        re.compile(
            r"\]: connect: (?:No route to host|Network is unreachable|Connection timed out)"
        ),
        ERROR_VPN_TIMEOUT,
    ),
    (re.compile(r"\]: getaddrinfo\(\)|possesses no IPv4 address"), ERROR_DNSNAME_NOT_RESOLVABLE),
    (
        re.compile(r"\]: Could not open control connection|Could not launch call manager"),
        ERROR_VPN_TIMEOUT,
    ),
)
_PPTP_LINE: Final = re.compile(r"^\S+ (?:warn|fatal)\[\w+:[\w.]+:\d+\]: ")
#: sstpc's own lines (sstp-client 1.0.18, ``--log-stderr``) -> code.
_SSTPC_LINE: Final = re.compile(r"\bsstpc\[\d+\]: ")
_SSTPC_FAILURES: Final[tuple[tuple[re.Pattern[str], int], ...]] = (
    (
        re.compile(r"SSL certificate verification failed|Verification of server certificate"),
        ERROR_VALIDATING_SERVER_CERT,
    ),
    (re.compile(r"Could not (?:lookup|resolve) host"), ERROR_DNSNAME_NOT_RESOLVABLE),
    (
        re.compile(
            r"Could not (?:perform )?HTTP handshake|HTTP handshake with server failed"
            r"|Could not (?:complete )?connect|Expected HTTP code 200"
        ),
        ERROR_VPN_TIMEOUT,
    ),
    (re.compile(r"Connection was aborted"), ERROR_VPN_DISCONNECT),
)
#: Codes a later line may not replace: the cause, not a consequence (a hang-up after a
#: rejected password is still 691).
_STICKY: Final = frozenset(
    {
        ERROR_AUTHENTICATION_FAILURE,
        ERROR_LINE_BUSY,
        ERROR_NO_DIALTONE,
        ERROR_PORT_NOT_AVAILABLE,
        ERROR_VALIDATING_SERVER_CERT,
    }
)


@dataclass
class Facts:
    """What the link negotiated, from the log."""

    interface: str = ""
    device: str = ""
    local_address: str = ""
    remote_address: str = ""
    dns: list[str] = field(default_factory=list)
    auth_protocol: str = ""
    compression: list[str] = field(default_factory=list)
    pppoe_session: str = ""
    pppoe_peer: str = ""


def _auth_name(lcp: str) -> str:
    """``chap MS-v2`` -> ``MS-CHAPv2`` and so on (RASLCPAP_* names)."""
    lcp = lcp.lower()
    if lcp == "pap":
        return "PAP"
    if lcp == "eap":
        return "EAP"
    digest = lcp.removeprefix("chap ").strip()
    return {"ms-v2": "MS-CHAPv2", "ms": "MS-CHAP", "md5": "CHAP"}.get(digest, "CHAP")


class PppLog(Interpreter):
    """pppd's log, line by line: states, facts, the failure."""

    STICKY = _STICKY

    def __init__(self, kind: str = "") -> None:
        super().__init__()
        self.kind = kind
        #: PPTP: the control connection (TCP 1723) was seen established.
        self.control_connected = False
        self._buf = b""
        self.facts = Facts()
        self._peer_auth = ""  # the last LCP auth option the peer asked for
        self._expecting = ""  # chat's current expect string
        self._ipcp_done = False

    def feed(self, data: bytes) -> list[RasConnState]:
        """Take more of the log; the states newly reached (in order, each once)."""
        self._new = []
        self._buf += data
        *lines, self._buf = self._buf.split(b"\n")
        for raw in lines:
            self._line(raw.decode("utf-8", "replace").strip())
        return self._new

    def control_up(self) -> list[RasConnState]:
        """PPTP: the driver saw the control connection established (pptp logs that to
        syslog only); a GRE-blocked link then times out as 806, not as a silent server."""
        before = self.reached
        self.control_connected = True
        failure = self.failure
        if failure and failure.code == ERROR_VPN_TIMEOUT and _LCP_TIMEOUT.search(failure.line):
            self.failure = Failure(ERROR_VPN_GRE_BLOCKED, failure.line)
        self._reach(RasConnState.ConnectDevice)
        return [] if self.reached == before else [RasConnState.ConnectDevice]

    def close(self) -> list[RasConnState]:
        """The log ended (pppd exited): a last line without its newline counts too."""
        if self._buf:
            return self.feed(b"\n")
        return []

    @property
    def projected(self) -> bool:
        """IPCP is up and its report is complete.

        pppd's ``ipcp_up`` logs the addresses, then the DNS servers, then starts the ip-up
        script (``Script ... started``, logged with ``debug``): the addresses alone are not
        the end of the report, a reader between two of its lines would miss the DNS.
        """
        return self._ipcp_done

    @property
    def _addressed(self) -> bool:
        return bool(self.facts.local_address and self.facts.remote_address)

    def _line(self, line: str) -> None:
        if not line:
            return
        if not line.startswith(("sent [", "rcvd [")):
            self.last_line = line
        facts = self.facts
        if "Plugin rp-pppoe.so loaded" in line or line.startswith(("send (", "abort on (")):
            self._reach(RasConnState.PortOpened)
        if line.startswith("Send PADI") or "send (ATD" in line or line.startswith("send (AT"):
            self._reach(RasConnState.ConnectDevice)
        if m := _CHAT_EXPECT.search(line):
            self._expecting = m.group(1)
            if self._expecting.startswith("CONNECT"):
                self._reach(RasConnState.ConnectDevice)
        if m := re.search(r"PPP session is (\d+)", line):
            facts.pppoe_session = m.group(1)
            self._reach(RasConnState.DeviceConnected)
        if m := re.search(r"Connected to (\S+) via interface", line):
            facts.pppoe_peer = m.group(1)
            self._reach(RasConnState.DeviceConnected)
        # chat logs the match on a line of its own: "CONNECT", then " -- got it"
        answered = line == "-- got it" and self._expecting.startswith("CONNECT")
        if "Serial connection established" in line or answered:
            self._reach(RasConnState.DeviceConnected)
        if m := _IFACE.match(line):
            facts.interface = m.group(1)
        if m := _CONNECT.match(line):
            facts.interface, facts.device = m.group(1), m.group(2)
            # PPTP: only the pty is connected; the tunnel is up at the server's first packet
            self._reach(
                RasConnState.ConnectDevice if self._tunnel else RasConnState.DeviceConnected
            )
        if self._tunnel and _LCP_ANSWER.match(line):
            self._reach(RasConnState.DeviceConnected)
        if m := _LCP_AUTH.match(line):
            self._peer_auth = m.group(1)
        if line.startswith(("sent [PAP AuthReq", "rcvd [CHAP Challenge", "rcvd [EAP Request")):
            self._reach(RasConnState.Authenticate)
        if m := _AUTH_OK.search(line):
            facts.auth_protocol = _auth_name(self._peer_auth) if self._peer_auth else m.group(1)
            self._reach(RasConnState.Authenticated)
        if line.startswith("sent [IPCP ConfReq") and self.progress.passed(
            RasConnState.DeviceConnected
        ):
            self._reach(RasConnState.AuthProject)
        if m := _ADDR.match(line):
            if m.group(1) == "local ":
                facts.local_address = m.group(2)
            else:
                facts.remote_address = m.group(2)
            self._reach(RasConnState.AuthProject)
        elif (m := _DNS.match(line)) and m.group(1) not in facts.dns:
            facts.dns.append(m.group(1))
        elif self._addressed and not self._ipcp_done and not _DNS.match(line):
            # the first other line after the addresses (the ip-up script's start) ends it
            self._ipcp_done = True
            self._reach(RasConnState.Projected)
        if (m := _COMPRESSION.match(line)) and m.group(1) not in facts.compression:
            facts.compression.append(m.group(1))
        if m := _CHAT_FAILED.search(line):
            reason = m.group(1).strip()
            self._fail(CHAT_ABORTS.get(reason, ERROR_FROM_DEVICE), f"modem said {reason}")
        elif line == "alarm":  # chat's timeout (an ABORT match says "Failed (WHAT)")
            if self._expecting in ("", "OK"):
                self._fail(ERROR_PORT_OR_DEVICE, "the modem does not respond (no OK to AT)")
            else:
                self._fail(ERROR_NO_ANSWER, f"no {self._expecting} from the modem")
        if self.kind == "pptp" and _PPTP_LINE.match(line):
            for pattern, code in _PPTP_FAILURES:
                if pattern.search(line):
                    self._fail(code, line)
                    break
        if self.kind == "sstp" and _SSTPC_LINE.search(line):
            for pattern, code in _SSTPC_FAILURES:
                if pattern.search(line):
                    self._fail(code, line)
                    break
        for pattern, code in _FAILURES:
            if pattern.search(line):
                why = line
                if "peer refused to authenticate" in line:
                    why += _REFUSED_AUTH
                self._fail(self._pptp_code(code, line), why)
                break

    @property
    def _tunnel(self) -> bool:
        """A VPN over a pty program (PPTP, SSTP): the pty is not yet the server."""
        return self.kind in ("pptp", "sstp")

    def _pptp_code(self, code: int, line: str) -> int:
        """A PPTP dial's code for a PPP failure: LCP that times out is GRE that does not get
        through (806) when the control connection is up, a server that never answered (809)
        when it is not known to be; the tunnel's hang-up is the VPN's (807)."""
        if self.kind == "sstp" and code == ERROR_DISCONNECTION:
            return ERROR_VPN_DISCONNECT  # sstpc (the pty) ended: the SSTP call closed
        if self.kind != "pptp":
            return code
        if code == ERROR_PPP_TIMEOUT and _LCP_TIMEOUT.search(line):
            return ERROR_VPN_GRE_BLOCKED if self.control_connected else ERROR_VPN_TIMEOUT
        if code == ERROR_DISCONNECTION:
            return ERROR_VPN_DISCONNECT
        return code


def classify_exit(log: PppLog, rc: int | None, *, connected: bool) -> tuple[int, str]:
    """Why pppd ended (it exited by itself): the log's failure, else its exit status.

    A connected call whose peer terminated LCP was closed by the remote side (629), as
    Windows reports it; 734 is LCP failing while dialing."""
    log.close()
    if log.failure is not None:
        if connected and log.failure.code == ERROR_PPP_LCP_TERMINATED:
            return ERROR_REMOTE_DISCONNECTION, log.failure.line
        return log.failure.code, log.failure.line
    if rc is not None and rc in EXIT_CODES:
        code, what = EXIT_CODES[rc]
        if connected and code == ERROR_PPP_LCP_TERMINATED:
            code = ERROR_REMOTE_DISCONNECTION
        if log.kind in ("pptp", "sstp") and code == ERROR_DISCONNECTION:
            code, what = ERROR_VPN_DISCONNECT, f"the {log.kind.upper()} tunnel closed"
        return code, f"{what} (pppd exit {rc}; last: {log.last_line})"
    if connected:
        return ERROR_REMOTE_DISCONNECTION, f"pppd exited {rc} (last: {log.last_line})"
    return ERROR_DISCONNECTION, f"pppd exited {rc} before connecting (last: {log.last_line})"


def deadline_code(log: PppLog) -> int:
    """The code of a dial that ran out of time with nothing in the log to blame: a PPTP
    server that never answered (809), or whose control connection is up but whose PPP
    never came back through GRE (806); a modem or PPPoE server that never answered (678);
    PPP that started and did not finish (718)."""
    started = log.progress.passed(RasConnState.DeviceConnected)
    if log.kind == "sstp":
        return ERROR_PPP_TIMEOUT if started else ERROR_VPN_TIMEOUT
    if log.kind == "pptp":
        if started:
            return ERROR_PPP_TIMEOUT
        return ERROR_VPN_GRE_BLOCKED if log.control_connected else ERROR_VPN_TIMEOUT
    return ERROR_PPP_TIMEOUT if started else ERROR_NO_ANSWER


_PPTP_PORT: Final = 1723
_TCP_ESTABLISHED: Final = "01"


def pptp_control_seen(tcp_table: str, server: str) -> bool:
    """Whether ``/proc/net/tcp``'s text holds an established connection to port 1723 of
    ``server`` (any address when ``server`` is a host name, which pptp resolves itself)."""
    try:
        wanted: str | None = str(ipaddress.IPv4Address(server))
    except ValueError:
        wanted = None
    for row in tcp_table.splitlines()[1:]:
        fields = row.split()
        if len(fields) < 4 or fields[3] != _TCP_ESTABLISHED:
            continue
        address, _, port = fields[2].partition(":")
        try:
            if int(port, 16) != _PPTP_PORT:
                continue
            remote = socket.inet_ntoa(struct.pack("<I", int(address, 16)))
        except (ValueError, struct.error):
            continue
        if wanted is None or remote == wanted:
            return True
    return False
