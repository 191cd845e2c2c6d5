"""L2TP/IPsec for Windows' L2TP entries (``DEVICE=vpn``, ``VpnStrategy`` 3, 4 or 13): the
typed model and every file and message the dial's programs get, built from it (pure), plus
the kernel check that runs before anything starts.

What a dial runs (:mod:`openras.links.ppp.l2tp_link` starts it; docs/links.md):

* IPsec first, IKEv1 in transport mode protecting UDP to the server's port 1701, with the
  entry's pre-shared key (Windows keeps it per entry: ``RASCM_PreSharedKey``) or with
  certificates (:func:`entry_auth`: the machine's, and the server's checked against a CA and
  the name dialed). A charon per link as the ikev2 driver starts it, loaded over VICI with
  :func:`ike_credentials` and :func:`ike_connection`. Transport mode needs the kernel's ESP (charon's userspace
  ``kernel-libipsec`` does tunnel mode only), so where :func:`openras.links.xfrm.kernel_esp`
  is false the dial is refused before anything starts, naming what the kernel lacks.
* Then L2TP and PPP: xl2tpd with :func:`xl2tpd_conf` in the link's run directory (its
  control pipe there too, so two links never share one), pppd's options from
  :func:`pppd_options` (constants; the user name as a quoted argument; the password through
  the ``passwordfd`` plugin, never in a file or argv).

Certificate mode (``IpSecFlags=0``, Windows' "use certificate"; pbk.h's
RASEO2_UsePreSharedKey, 0x10 of dwfOptions2, is ``IpSecFlags=1``) reads the files three keys
of openras's own name, as the dialing user (:mod:`openras.links.ikev2.settings`' readers)::

    OpenRasL2tpCert=/path/machine.pem  the machine certificate, with its chain
    OpenRasL2tpKey=/path/machine.key   its private key (PEM, unencrypted)
    OpenRasL2tpCa=/path/ca.pem         the CA the server's certificate must come from
                                       (default: the system's CA bundle)

Windows' encryption rule for L2TP (``DataEncryption``, pbk.h's DE_* codes): 0 (no
encryption) dials L2TP alone, without IPsec; any other value requires IPsec. MPPE is never
negotiated over L2TP (Windows refuses it there: ESP is the encryption).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from openras.errors import (
    ERROR_CONNECTING_DEVICE_NOT_FOUND,
    ERROR_INVALID_PARAMETER,
    ERROR_INVALID_SERVER_CERT,
    ERROR_NO_CERTIFICATE,
    RasError,
)
from openras.links import strategy
from openras.links._common import entry_int
from openras.links.base import EntryView
from openras.links.ikev2.config import ESP_PROPOSALS, IKE_PROPOSALS

#: ERROR_OAKLEY_GENERAL_PROCESSING: "the security layer encountered a processing error"
#: (Windows' answer to a wrong pre-shared key or a failed IKE exchange).
ERROR_L2TP_SECURITY: Final = 789
#: ERROR_OAKLEY_NO_CERT: "no valid machine certificate on your computer for security
#: authentication" (the server refused the machine certificate openras sent).
ERROR_L2TP_NO_VALID_CERT: Final = 786
#: ERROR_OAKLEY_AUTH_FAIL: "the security layer could not authenticate the remote computer"
#: (the server's certificate is not from the entry's CA, or has expired).
ERROR_L2TP_SERVER_AUTH: Final = 787
AUTH_PSK: Final = "psk"
AUTH_CERT: Final = "cert"
L2TP_PORT: Final = 1701
CONN: Final = "openras-l2tp"
CHILD: Final = "l2tp"
#: Windows accepts pre-shared keys of up to 256 characters.
_MAX_PSK: Final = 256
_DE_NONE: Final = 0
_DE_REQUIRE: Final = 256
#: The modules L2TP over PPP needs besides ppp_generic (l2tp_ppp pulls in l2tp_core).
L2TP_MODULES: Final = ("l2tp_core", "l2tp_ppp")

#: charon's log line -> the code Windows gives an L2TP/IPsec dial for it.
_IKE_FAILURES: Final = (
    # IKEv1 with a wrong PSK: the peer cannot decrypt our ID payload (or we its).
    (re.compile(r"received AUTHENTICATION_FAILED|INVALID_ID_INFORMATION|"
                r"integrity check failed|invalid HASH_V1 payload|"
                r"message verification failed|PAYLOAD_MALFORMED"), ERROR_L2TP_SECURITY),
    (re.compile(r"NO_PROPOSAL_CHOSEN|no acceptable proposal|proposals .* (inacceptable|"
                r"unacceptable)"), ERROR_L2TP_SECURITY),
    (re.compile(r"giving up after \d+ retransmits"), 809),
)  # fmt: skip

#: charon's log lines of a certificate dial, before the table above (the first line that
#: matches explains the failure: the CA's is logged before the name's).
_CERT_FAILURES: Final = (
    # Our certificate: the server verified it and refused it (not from a CA it trusts).
    (re.compile(r"received AUTHENTICATION_FAILED"), ERROR_L2TP_NO_VALID_CERT),
    (re.compile(r"no private key found|no RSA private key found"), ERROR_L2TP_NO_VALID_CERT),
    # The server's: not from the entry's CA, expired, or a constraint of the chain broken.
    (re.compile(r"no issuer certificate found for|certificate validation failed|"
                r"certificate .* (expired|not valid)|constraint check failed"),
     ERROR_L2TP_SERVER_AUTH),
    # From the CA but not naming the server dialed (Windows' 835 name check).
    (re.compile(r"IDir '.*' does not match to|no trusted \S+ public key found for"),
     ERROR_INVALID_SERVER_CERT),
)  # fmt: skip


def is_l2tp(entry: EntryView) -> bool:
    """A VPN entry that dials L2TP: VpnStrategy 3, 4 or 13, or no strategy and the L2TP
    miniport as its device (``PreferredDevice=WAN Miniport (L2TP)``)."""
    first = strategy.first_type(entry.get("VpnStrategy"), entry.get("PreferredDevice"))
    return first == strategy.L2TP


def entry_ipsec(entry: EntryView) -> bool:
    """Whether the dial needs IPsec: every ``DataEncryption`` but 0 (DE_None) does; no key
    is DE_Require, a VPN entry's default on Windows."""
    return entry_int(entry, "DataEncryption", _DE_REQUIRE) != _DE_NONE


def entry_auth(entry: EntryView) -> str:
    """How IPsec authenticates: ``IpSecFlags=1`` (RASEO2_UsePreSharedKey) the pre-shared
    key, ``IpSecFlags=0`` certificates; without the key (openras's own entries) certificates
    when ``OpenRasL2tpCert`` names one, else the pre-shared key, as before the key was read."""
    raw = entry.get("IpSecFlags")
    if raw is not None and raw.strip():
        return AUTH_PSK if entry_int(entry, "IpSecFlags", 1, maximum=2**32 - 1) & 1 else AUTH_CERT
    return AUTH_CERT if (entry.get("OpenRasL2tpCert") or "").strip() else AUTH_PSK


def check_psk(psk: str) -> str:
    """The pre-shared key as charon gets it (a VICI value: bytes, never parsed)."""
    if not psk:
        raise RasError(
            ERROR_NO_CERTIFICATE,
            "this L2TP entry requires IPsec and has no pre-shared key: save the key its "
            "server's administrator gave you with 'openras creds set ENTRY --psk-stdin' "
            "(rasphone asks for it; the API: RasSetCredentials with RASCM_PreSharedKey), or "
            "set DataEncryption=0 in the entry to dial L2TP without IPsec (unencrypted)",
        )
    if len(psk) > _MAX_PSK or "\0" in psk:
        raise RasError(
            ERROR_INVALID_PARAMETER,
            f"the pre-shared key must be 1..{_MAX_PSK} characters without NUL",
        )
    return psk


@dataclass(frozen=True)
class L2tpSettings:
    """An L2TP dial, checked: the server (checked as the PPTP kind checks it), whether IPsec
    protects it and how it authenticates (the pre-shared key, or the machine certificate,
    its key and the CAs the server's must come from, and the identity the server's must
    carry), and the link's IPsec reqid (what its SAs and policies are found by when charon
    did not remove them)."""

    server: str
    ipsec: bool
    psk: str = field(default="", repr=False)
    reqid: int = 0
    auth: str = AUTH_PSK
    #: The identity the server must authenticate as (the server dialed), or "%any".
    remote_id: str = "%any"
    #: PEM certificates the server's chain may end in.
    cas: tuple[bytes, ...] = field(default=(), repr=False)
    #: The machine certificate (first) and its chain, its private key, the key's VICI type.
    certs: tuple[bytes, ...] = field(default=(), repr=False)
    key: bytes = field(default=b"", repr=False)
    key_type: str = ""

    @property
    def cert(self) -> bool:
        return self.ipsec and self.auth == AUTH_CERT


#: The reqid each link's IPsec SAs and policies carry: this base plus the handle's low 24
#: bits (handles only grow, so two live links never share one; system charons count from 1).
REQID_BASE: Final = 0x4F000000


def reqid_for(handle: int) -> int:
    """The reqid of ``handle``'s SAs and policies (how a teardown finds them)."""
    return REQID_BASE + (handle & 0xFFFFFF)


def strongswan_conf(*, vici_socket: Path, log_file: Path, dial_timeout: float) -> str:
    """The whole ``strongswan.conf`` of one L2TP link's charon (no include of the system's):
    the kernel's XFRM for ESP (transport mode has no userspace path), no routes, no virtual
    IP, any local port."""
    from openras.links.ikev2.config import (
        KERNEL_PLUGINS,
        RETRANSMIT_BASE,
        RETRANSMIT_TIMEOUT,
        retransmit_tries,
    )

    return f"""\
charon {{
  load_modular = no
  load = {KERNEL_PLUGINS}
  install_routes = no
  install_virtual_ip = no
  port = 0
  port_nat_t = 0
  retransmit_tries = {retransmit_tries(dial_timeout)}
  retransmit_timeout = {RETRANSMIT_TIMEOUT}
  retransmit_base = {RETRANSMIT_BASE}
  plugins {{
    vici {{ socket = unix://{vici_socket} }}
    openssl {{ load_legacy = yes }}
  }}
  filelog {{
    link {{
      path = {log_file}
      time_format = %H:%M:%S
      default = 1
      flush_line = yes
    }}
  }}
  syslog {{ daemon {{ default = -1 }} }}
}}
"""


def initiate(timeout_ms: int) -> dict[str, Any]:
    """The ``initiate`` message for the L2TP CHILD (IKEv1 brings up the IKE SA with it)."""
    return {"child": CHILD, "ike": CONN, "timeout": str(max(1, timeout_ms)), "loglevel": "0"}


def ike_connection(settings: L2tpSettings, *, fwmark: int = 0) -> dict[str, Any]:
    """The ``load-conn`` message: IKEv1 main mode, PSK, one transport-mode CHILD for UDP to
    the server's L2TP port (any local port: xl2tpd's own, one per link)."""
    child: dict[str, Any] = {
        "mode": "transport",
        "local_ts": ["dynamic[udp]"],
        "remote_ts": [f"dynamic[udp/{L2TP_PORT}]"],
        "esp_proposals": list(ESP_PROPOSALS),
        "start_action": "none",
        "dpd_action": "clear",
        "close_action": "none",
    }
    if settings.reqid:
        child["reqid"] = str(settings.reqid)
    if fwmark:
        child["set_mark_out"] = f"{fwmark:#x}"
    local: dict[str, Any] = {"auth": "psk"}
    remote: dict[str, Any] = {"auth": "psk"}
    if settings.cert:
        # Our certificate always sent (a server may not ask); the server's checked against
        # the loaded CAs and the identity dialed (charon compares its ID payload and finds
        # that identity in the certificate).
        local = {"auth": "pubkey", "certs": [c.decode() for c in settings.certs[:1]]}
        remote = {"auth": "pubkey", "id": settings.remote_id}
    conn: dict[str, Any] = {
        "version": "1",
        "aggressive": "no",
        "remote_addrs": [settings.server],
        "proposals": list(IKE_PROPOSALS),
        "encap": "no",
        "keyingtries": "1",
        "unique": "no",
        "dpd_delay": "30s",
        "local-1": local,
        "remote-1": remote,
        "children": {CHILD: child},
    }
    if settings.cert:
        conn["send_cert"] = "always"
    return {CONN: conn}


def ike_secret(settings: L2tpSettings) -> dict[str, Any]:
    """The ``load-shared`` message: the entry's PSK for its server."""
    return {"id": "openras-l2tp-psk", "type": "IKE", "data": settings.psk}


def ike_credentials(settings: L2tpSettings) -> list[tuple[str, list[dict[str, Any]]]]:
    """The VICI commands that load the dial's credentials, each with its messages (in
    order: the CAs, the private key, the machine certificate and its chain; or the PSK).
    Secrets travel only this way, over the link's own socket: never a file or argv."""
    if not settings.cert:
        return [("load-shared", [ike_secret(settings)])]
    return [
        ("load-cert", [{"type": "x509", "flag": "CA", "data": ca} for ca in settings.cas]),
        ("load-key", [{"type": settings.key_type or "any", "data": settings.key}]),
        ("load-cert", [{"type": "x509", "flag": "NONE", "data": c} for c in settings.certs]),
    ]


def ike_failure(line: str, *, cert: bool = False) -> int | None:
    """The RAS code a charon log line means for an L2TP/IPsec dial (None: not a failure);
    ``cert``: the dial authenticates with certificates."""
    for pattern, code in (*_CERT_FAILURES, *_IKE_FAILURES) if cert else _IKE_FAILURES:
        if pattern.search(line):
            return code
    return None


def xl2tpd_conf(settings: L2tpSettings, *, options_file: Path) -> str:
    """xl2tpd's whole configuration for one link: one LAC for the server, dialed through the
    control pipe (no autodial, no redial: the daemon decides), any local port, pppd's options
    from the daemon's file. Nothing of the entry's but the checked server name."""
    return f"""\
[global]
port = 0
access control = no

[lac openras]
lns = {settings.server}
autodial = no
redial = no
length bit = yes
require authentication = no
pppoptfile = {options_file}
"""


def _quoted(value: str) -> str:
    """A value as one word of pppd's options file: double-quoted, ``\\`` and ``"`` escaped
    (pppd's option tokenizer), no control characters (refused before)."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise RasError(ERROR_INVALID_PARAMETER, "control characters are not allowed")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def pppd_options(*, user: str, ifname: str, linkname: str, logfile: Path, no_script: str,
                 password_fd: int | None) -> str:  # fmt: skip
    """pppd's options file for xl2tpd to pass (pppd's own argv is xl2tpd's): the ppp
    driver's client options, MS-CHAPv2 (Windows' L2TP default), no MPPE (ESP encrypts)."""
    words = [
        "noauth", "refuse-eap", "refuse-pap", "refuse-chap", "refuse-mschap",
        "hide-password", "debug", f"logfile {_quoted(str(logfile))}",
        f"linkname {_quoted(linkname)}", f"ifname {_quoted(ifname)}",
        "maxfail 1", "noipdefault", "usepeerdns", "nodefaultroute", "noproxyarp",
        f"ip-up-script {_quoted(no_script)}", f"ip-down-script {_quoted(no_script)}",
        "noipv6", "nomppe", "noccp", "nobsdcomp", "nodeflate", "novj",
        "mtu 1400", "mru 1400", "lcp-echo-interval 10", "lcp-echo-failure 3",
    ]  # fmt: skip
    if user:
        words.append(f"user {_quoted(user)}")
    if password_fd is not None:
        words.append(f"plugin passwordfd.so passwordfd {password_fd}")
    return "\n".join(words) + "\n"


def kernel_gaps(*, ipsec: bool, ppp: bool, esp: bool, loaded: Iterable[str],
                modules_listed: str) -> list[str]:  # fmt: skip
    """What this kernel lacks for an L2TP dial (empty: nothing). Pure."""
    loaded = frozenset(loaded)
    gaps = []
    if not ppp:
        gaps.append("PPP (ppp_generic: /dev/ppp is missing)")
    missing = [m for m in L2TP_MODULES if m not in loaded and f"/{m}.ko" not in modules_listed]
    if missing:
        gaps.append(f"L2TP ({', '.join(missing)})")
    if ipsec and not esp:
        gaps.append("IPsec ESP (esp4, xfrm_user: L2TP/IPsec's transport mode needs the kernel's)")
    return gaps


def check_kernel(ipsec: bool) -> None:
    """RasError(797) naming what the kernel lacks, before anything starts."""
    from openras.links.xfrm import kernel_esp

    try:
        loaded = os.listdir("/sys/module")
    except OSError:
        loaded = []
    needed = {*L2TP_MODULES, *(("esp4", "xfrm_user") if ipsec else ())}
    if Path("/dev/ppp").exists() and needed <= set(loaded):
        return  # (all loaded: the module lists, 0.6 ms of reading a dial, are not needed)
    modules = Path("/lib/modules") / os.uname().release
    listed = ""
    for name in ("modules.dep", "modules.builtin"):
        with contextlib.suppress(OSError):
            listed += (modules / name).read_text(errors="replace") + "\n"
    gaps = kernel_gaps(
        ipsec=ipsec,
        ppp=Path("/dev/ppp").exists() or "/ppp_generic.ko" in listed,
        esp=kernel_esp() if ipsec else True,
        loaded=loaded,
        modules_listed=listed,
    )
    if gaps:
        raise RasError(
            ERROR_CONNECTING_DEVICE_NOT_FOUND,
            f"this kernel ({os.uname().release}) has no kernel support for {' and '.join(gaps)}: "
            "L2TP links need CONFIG_PPP, CONFIG_L2TP and CONFIG_PPPOL2TP"
            + (", and for IPsec CONFIG_INET_ESP and CONFIG_XFRM_USER" if ipsec else ""),
        )


__all__ = [
    "AUTH_CERT",
    "AUTH_PSK",
    "ERROR_L2TP_NO_VALID_CERT",
    "ERROR_L2TP_SECURITY",
    "ERROR_L2TP_SERVER_AUTH",
    "REQID_BASE",
    "L2tpSettings",
    "check_kernel",
    "check_psk",
    "entry_auth",
    "entry_ipsec",
    "ike_connection",
    "ike_credentials",
    "ike_failure",
    "ike_secret",
    "initiate",
    "is_l2tp",
    "kernel_gaps",
    "pppd_options",
    "reqid_for",
    "strongswan_conf",
    "xl2tpd_conf",
]
