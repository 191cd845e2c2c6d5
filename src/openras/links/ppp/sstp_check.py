"""The SSTP server's certificate, checked as Windows checks it, before sstpc is started.

sstp-client (1.0.18, Debian 12's) checks *either* the chain (given ``--ca-cert``) *or* the
common name (without it: then any self-signed certificate with the right CN passes), never
both, and never the subjectAltName. With the chain alone, any certificate the CA store
vouches for passes, whatever name it carries: with the system store, any publicly trusted
certificate for any host. Windows requires both (a certificate for another name fails the
dial).

So the daemon connects first and checks the server's certificate itself: the chain against
the same CA sstpc gets, and the name against the server the entry names (subjectAltName,
IP addresses included, by Python's ``ssl`` with ``check_hostname``). A certificate that
fails either is 801 (``ERROR_VALIDATING_SERVER_CERT``), with what was wrong, and sstpc is
never started.

What this does not close: sstpc's own connection is a second one, and an attacker on the
path who lets this check through to the real server and answers sstpc's connection with a
certificate for another name from a trusted CA is not seen here. Only sstpc checking the
name itself closes that; docs/links.md says so.
"""

from __future__ import annotations

import socket
import ssl
from typing import Final

from openras.errors import (
    ERROR_DNSNAME_NOT_RESOLVABLE,
    ERROR_VALIDATING_SERVER_CERT,
    ERROR_VPN_TIMEOUT,
    RasError,
)

SSTP_PORT: Final = 443


def split_server(server: str) -> tuple[str, int]:
    """``host`` or ``host:port`` (as :func:`openras.links.ppp.argv.sstp_server` checked it)
    -> (host, port). Pure."""
    if server.startswith("["):  # [IPv6] or [IPv6]:port
        address, _, rest = server[1:].partition("]")
        return address, int(rest[1:]) if rest.startswith(":") else SSTP_PORT
    host, sep, port = server.rpartition(":")
    if not sep:
        return server, SSTP_PORT
    return host, int(port)


def check_server_certificate(server: str, cafile: str, timeout: float) -> None:
    """RasError(801) unless ``server`` presents a certificate that chains to ``cafile`` and
    names it; 868 when its name does not resolve, 809 when nothing answers there within
    ``timeout`` (sstpc would not reach it either). A TLS failure that is not the
    certificate's is left to sstpc, whose own attempt says what it is."""
    host, port = split_server(server)
    try:
        context = ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        raise RasError(
            ERROR_VALIDATING_SERVER_CERT, f"the CA file {cafile} cannot be used: {exc}"
        ) from None
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=host),
        ):
            return
    except ssl.SSLCertVerificationError as exc:
        why = exc.verify_message or str(exc)
        raise RasError(
            ERROR_VALIDATING_SERVER_CERT,
            f"the SSTP server {host}'s certificate is not accepted: {why} "
            f"(checked against {cafile}; OpenRasSstpCaFile= names the CA to trust)",
        ) from None
    except ssl.SSLError:
        return
    except socket.gaierror as exc:
        raise RasError(
            ERROR_DNSNAME_NOT_RESOLVABLE, f"the SSTP server's name {host} does not resolve: {exc}"
        ) from None
    except OSError as exc:
        raise RasError(
            ERROR_VPN_TIMEOUT,
            f"no SSTP server answers at {host}:{port}: {exc.strerror or exc or 'timed out'}",
        ) from None


__all__ = ["SSTP_PORT", "check_server_certificate", "split_server"]
