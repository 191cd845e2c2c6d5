"""What charon says, as RAS states, facts and codes (sans-IO: fed log lines and SA events).

charon's log (VICI ``log`` events, or its file log: the same messages) is the only place
that says *why* an attempt failed, and the exchange's progress step by step; the
``ike-updown``/``child-updown`` events say when the SAs came up or went down. The
interpreter reads both and keeps the first failure that explains the end (an EAP refusal
beats the "establishing CHILD_SA failed" that follows it).

States, as Windows reports an IKEv2 dial: ConnectDevice when IKE_SA_INIT goes out,
DeviceConnected when its answer came (an IKE SA is being made), Authenticate when IKE_AUTH
starts, Authenticated when the IKE SA is established, AuthProject while the configuration
payload is processed, Projected when the CHILD SA is established; Connected is the
driver's (the CHILD SA installed, the TUN device and the virtual IP there).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from openras.errors import (
    ERROR_AUTHENTICATION_FAILURE,
    ERROR_DNSNAME_NOT_RESOLVABLE,
    ERROR_INTERNAL_ADDRESS_FAILURE,
    ERROR_IPSEC_IKE_AUTH_FAIL,
    ERROR_IPSEC_IKE_INVALID_PAYLOAD,
    ERROR_IPSEC_IKE_POLICY_MATCH,
    ERROR_LINK_FAILURE,
    ERROR_REMOTE_DISCONNECTION,
    ERROR_TS_UNACCEPTABLE,
    ERROR_VPN_TIMEOUT,
)
from openras.links.progress import DIAL_ORDER, Failure, Interpreter
from openras.states import RasConnState

ORDER: Final = DIAL_ORDER

#: Log line -> state it shows.
_STATES: Final = (
    (re.compile(r"^initiating IKE_SA "), RasConnState.ConnectDevice),
    (re.compile(r"^parsed IKE_SA_INIT response"), RasConnState.DeviceConnected),
    (
        re.compile(r"^generating IKE_AUTH request|^establishing CHILD_SA "),
        RasConnState.Authenticate,
    ),
    (re.compile(r"^IKE_SA \S+ established between"), RasConnState.Authenticated),
    (re.compile(r"^processing INTERNAL_IP[46]_ADDRESS attribute"), RasConnState.AuthProject),
    (re.compile(r"^CHILD_SA \S+ established with"), RasConnState.Projected),
)

#: Failures that explain the end better than what follows them (kept when later ones come).
_STICKY: Final = frozenset(
    {
        ERROR_AUTHENTICATION_FAILURE,
        ERROR_IPSEC_IKE_AUTH_FAIL,
        ERROR_IPSEC_IKE_POLICY_MATCH,
        ERROR_TS_UNACCEPTABLE,
        ERROR_INTERNAL_ADDRESS_FAILURE,
        ERROR_DNSNAME_NOT_RESOLVABLE,
    }
)

#: Log line -> RAS code, for the attempt (before Connected).
_FAILURES: Final = (
    # EAP-MSCHAPv2: the server refused the user name or password.
    (re.compile(r"EAP-MS-CHAPv2 failed|EAP_MSCHAPV2 method failed|received EAP_FAILURE"),
     ERROR_AUTHENTICATION_FAILURE),
    # The server's certificate: an unknown CA, a name that is not the one dialed, expired.
    (re.compile(r"no trusted \S+ public key found for|no issuer certificate found for|"
                r"constraint check failed|certificate .* (expired|not valid)|"
                r"no RSA private key found|no private key found|"
                r"certificate validation failed"), ERROR_IPSEC_IKE_AUTH_FAIL),
    (re.compile(r"received AUTHENTICATION_FAILED notify"), ERROR_IPSEC_IKE_AUTH_FAIL),
    (re.compile(r"received NO_PROPOSAL_CHOSEN notify|no acceptable proposal found|"
                r"received proposals .* inacceptable|received proposals unacceptable"),
     ERROR_IPSEC_IKE_POLICY_MATCH),
    (re.compile(r"received TS_UNACCEPTABLE notify|no acceptable traffic selectors"),
     ERROR_TS_UNACCEPTABLE),
    (re.compile(r"received INTERNAL_ADDRESS_FAILURE notify|peer didn't accept any virtual IP|"
                r"received FAILED_CP_REQUIRED notify"), ERROR_INTERNAL_ADDRESS_FAILURE),
    (re.compile(r"received INVALID_SYNTAX notify|message parsing failed|"
                r"received UNSUPPORTED_CRITICAL_PAYLOAD notify"), ERROR_IPSEC_IKE_INVALID_PAYLOAD),
    (re.compile(r"unable to resolve|failed to resolve"), ERROR_DNSNAME_NOT_RESOLVABLE),
    (re.compile(r"giving up after \d+ retransmits"), ERROR_VPN_TIMEOUT),
)  # fmt: skip

_VIP: Final = re.compile(r"^installing new virtual IP (\S+)")
_DNS: Final = re.compile(r"^installing DNS server (\S+)")
_EAP_OK: Final = re.compile(r"^EAP method (\S+) succeeded")
_SERVER_AUTH: Final = re.compile(r"^authentication of '([^']*)' with (\S+) successful")
_TUN: Final = re.compile(r"created TUN device: (\S+)")
_DELETE: Final = re.compile(r"received DELETE for IKE_SA|deleting IKE_SA .* on request of peer")


@dataclass
class Facts:
    """What the exchange negotiated."""

    local_address: str = ""
    server_address: str = ""
    #: The tunnel's outer local address (MOBIKE moves it; ``ike-update`` says where to).
    local_host: str = ""
    dns: list[str] = field(default_factory=list)
    eap_method: str = ""
    server_auth: str = ""
    tun: str = ""
    behind_nat: bool = False
    server_behind_nat: bool = False
    mobike: bool = False
    encryption: str = ""
    local_ts: list[str] = field(default_factory=list)
    remote_ts: list[str] = field(default_factory=list)


class CharonLog(Interpreter):
    """charon's messages and SA events for one link: states, facts, the failure."""

    STICKY = _STICKY

    def __init__(self) -> None:
        super().__init__()
        self.facts = Facts()
        #: The IKE SA and its CHILD SA are up (child-updown with ``up``).
        self.child_up = False
        #: The SAs went down after being up (the link is lost); the reason is ``failure``.
        self.went_down = False

    def reach(self, state: RasConnState) -> list[RasConnState]:
        """The driver's own steps (OpenPort, PortOpened, Connected); the states new to it."""
        return self.progress.advance(state)

    def feed_line(self, line: str) -> list[RasConnState]:
        """One log message; the states newly reached, in order."""
        self._new = []
        self._line(line.strip())
        return self._new

    def _line(self, line: str) -> None:
        if not line:
            return
        self.last_line = line
        for pattern, state in _STATES:
            if pattern.search(line):
                self._reach(state)
        facts = self.facts
        if m := _VIP.match(line):
            facts.local_address = m.group(1)
        if (m := _DNS.match(line)) and m.group(1) not in facts.dns:
            facts.dns.append(m.group(1))
        if m := _EAP_OK.match(line):
            facts.eap_method = m.group(1)
        if m := _SERVER_AUTH.match(line):
            facts.server_auth = m.group(2)
        if m := _TUN.search(line):
            facts.tun = m.group(1)
        if line == "local host is behind NAT, sending keep alives":
            facts.behind_nat = True
        for pattern, code in _FAILURES:
            if pattern.search(line):
                if code == ERROR_VPN_TIMEOUT and self.child_up:
                    code = ERROR_LINK_FAILURE  # the server stopped answering a live link
                self._fail(code, line)
                break
        if self.child_up and _DELETE.search(line):
            self._fail(ERROR_REMOTE_DISCONNECTION, line)

    def feed_event(self, name: str, msg: Mapping[str, Any]) -> list[RasConnState]:
        """A VICI event (``log``, ``ike-updown``, ``child-updown``, ``ike-update``)."""
        if name in ("log", "control-log"):  # charon's log; an initiate's own copy of it
            return self.feed_line(str(msg.get("msg", "")))
        if name == "ike-update":  # MOBIKE (or a NAT) moved the SA: the new outer addresses
            for sa in msg.values():
                if isinstance(sa, Mapping):
                    self.take_sa(sa)  # (the SA as it was: its addresses may be the old ones)
            self.facts.local_host = str(msg.get("local-host") or self.facts.local_host)
            self.facts.server_address = str(msg.get("remote-host") or self.facts.server_address)
            return []
        if name not in ("ike-updown", "child-updown"):
            return []
        up = msg.get("up") == "yes"
        for sa in msg.values():
            if isinstance(sa, Mapping):
                self.take_sa(sa)
        if name == "child-updown" and up:
            self.child_up = True
        elif not up and self.child_up:
            self.child_up = False
            self.went_down = True
        return []

    def take_sa(self, sa: Mapping[str, Any]) -> None:
        """Facts from an IKE SA as ``list-sas`` and the updown events give it."""
        facts = self.facts
        facts.server_address = str(sa.get("remote-host") or facts.server_address)
        facts.local_host = str(sa.get("local-host") or facts.local_host)
        vips = sa.get("local-vips")
        if isinstance(vips, list) and vips and not facts.local_address:
            facts.local_address = str(vips[0])
        # kernel-libipsec makes charon fake a NAT to force UDP encapsulation ("nat-fake"):
        # only a NAT seen on the wire counts.
        facts.behind_nat = facts.behind_nat or sa.get("nat-local") == "yes"
        facts.server_behind_nat = sa.get("nat-remote") == "yes" and sa.get("nat-fake") != "yes"
        if sa.get("encr-alg"):
            size = sa.get("encr-keysize")
            facts.encryption = f"{sa['encr-alg']}-{size}" if size else str(sa["encr-alg"])
        children = sa.get("child-sas")
        if isinstance(children, Mapping):
            for child in children.values():
                if isinstance(child, Mapping):
                    facts.local_ts = [str(t) for t in child.get("local-ts") or []]
                    facts.remote_ts = [str(t) for t in child.get("remote-ts") or []]

    def end_reason(self, *, connected: bool, default: int) -> tuple[int, str]:
        """(code, detail) for an end: the failure seen, else ``default`` and the last line."""
        if self.failure is not None:
            return self.failure.code, self.failure.line
        detail = f"charon said: {self.last_line}" if self.last_line else "charon ended the SA"
        return default, detail


__all__ = ["ORDER", "CharonLog", "Facts", "Failure"]
