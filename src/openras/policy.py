"""Who may dial what: the administrator's policy for the root daemon (/etc/openras/policy.conf).

Skeleton: the parser and the rules land with the privilege-boundary work. A :class:`Grant`
is what a dial may do, decided before any link starts, and handed to the driver in its
``LinkSpec`` so that the driver enforces what only it can see (a default route in a
WireGuard config, a ``redirect-gateway`` in a profile).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Grant:
    """What one dial is allowed; the defaults are root's (everything)."""

    #: The link may route everything (a default route, ``redirect-gateway``, AllowedIPs 0/0).
    full_tunnel: bool = True
    #: The policy line that decided ``full_tunnel`` ("policy.conf:7: full-tunnel = no"),
    #: quoted in the refusal (error 5).
    full_tunnel_rule: str = "built-in default"
    #: The dial carries credentials the administrator saved for all users (not the caller's):
    #: the link must authenticate the server only against what the all-users entry names
    #: (its own server, its host key / CA; never a file of the caller's), or the caller could
    #: point root's secret at a server of their own.
    admin_credentials: bool = False
