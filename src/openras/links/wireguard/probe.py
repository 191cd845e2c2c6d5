"""Hearing at once what WireGuard itself never reports: no route, or nothing listening.

WireGuard answers no unauthenticated packet, and neither wireguard-go nor the kernel module
acts on ICMP errors, so a dial to a closed port or an unreachable host would wait out the
whole dial timeout and report 809 ("no handshake"), the same as a wrong key. A connected UDP
socket of the daemon's own learns both at once: ``connect()`` fails without a route, and one
byte sent to the endpoint makes the host answer "port unreachable" (or a router "host
unreachable"), which the kernel hands to that socket as an error on the next receive. The
byte is no WireGuard message; a WireGuard peer drops it unseen, as it drops any stray packet.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import socket
from typing import Final

from openras.errors import ERROR_BAD_ADDRESS_SPECIFIED, ERROR_VPN_REFUSED
from openras.links.wireguard.config import split_endpoint

#: errno of a connect/receive -> (RAS code, what it means)
_MEANING: Final = {
    errno.ECONNREFUSED: (ERROR_VPN_REFUSED, "nothing listens on that port (ICMP port unreachable)"),
    errno.EHOSTUNREACH: (ERROR_BAD_ADDRESS_SPECIFIED, "the host is unreachable"),
    errno.ENETUNREACH: (ERROR_BAD_ADDRESS_SPECIFIED, "there is no route to it"),
}


class EndpointProbe:
    """One peer endpoint (``ip:port``, resolved), watched during the dial."""

    def __init__(self, endpoint: str) -> None:
        host, port = split_endpoint(endpoint)
        family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
        self.endpoint = endpoint
        self._sock: socket.socket | None = socket.socket(
            family, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC
        )
        self._failure: tuple[int, str] | None = None
        try:
            self._sock.connect((host, port))
            self._sock.send(b"\0")
        except OSError as exc:
            self._failure = self._meaning(exc)

    def _meaning(self, exc: OSError) -> tuple[int, str] | None:
        found = _MEANING.get(exc.errno or 0)
        if found is None:
            return None
        return found[0], f"WireGuard endpoint {self.endpoint}: {found[1]}"

    def failure(self) -> tuple[int, str] | None:
        """The endpoint's failure once the network said it (None: nothing heard yet).
        Non-blocking; cheap enough for every poll of the dial."""
        if self._failure is not None or self._sock is None:
            return self._failure
        try:
            self._sock.recv(1)
        except BlockingIOError:
            return None
        except OSError as exc:
            self._failure = self._meaning(exc)
        return self._failure

    def close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None
