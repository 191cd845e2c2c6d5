"""charon's configuration for one link, from the checked settings (pure).

Two parts: ``strongswan.conf`` (the daemon's constants and run-directory paths, nothing of
the entry's: charon's own parser never sees a user's text) and the VICI messages that load
the connection and its credentials (typed values in VICI's key/value encoding, no parser).

Why these settings:

* two data paths. Where the kernel has ESP (:class:`KernelEsp`), the kernel's is used,
  route-based: the daemon makes an XFRM interface for the link, charon tags the CHILD SA's
  SAs and policies with its ``if_id`` and puts the virtual IP on it, and the daemon routes
  into it (charon installs no route and no rule). The outer ESP packets and charon's IKE
  packets carry the link's fwmark (``set_mark_out``, socket-default's ``fwmark``), so the
  link's policy rules (WireGuard's pair: ``not fwmark`` to its table, main with
  ``suppress_prefixlength 0``) never send them into the tunnel. Where it has none (the
  machine this runs on may not), ``kernel-libipsec``: charon encrypts in userspace over a
  TUN device (``ipsec<N>``, the kernel picks N) and always sends ESP in UDP 4500; the routes
  charon installs then go to the link's own policy table and rule priority (the daemon
  allocates them per link), so two IKEv2 links never share charon's default table 220, and
  the rule is journaled before charon makes it.
* ``resolve`` for its log line per DNS server of the configuration payload ("installing
  DNS server X ..."); the daemon applies DNS (``openras.dns``) like every other link's, so
  charon must change nothing. strongSwan 5.9.8's plugin has no setting for the resolvconf
  program: it runs ``/sbin/resolvconf`` when that exists, else it rewrites its ``file``
  (``/etc/resolv.conf`` by default). So ``file`` is in the run directory, and the driver
  makes ``/sbin/resolvconf``, where there is one, a no-op in charon's mount namespace.
* random local ports (``port = 0``): two links, or a system charon (strongswan-starter's
  ``ipsec`` service) on UDP 500/4500, never keep a link's charon from binding; the server
  sees the source port a NAT would give it.
* retransmissions (1 s, then x1.6) bounded by the dial timeout (:func:`retransmit_tries`:
  3 tries, about 9 s, for the default 15 s) so a dead server ends the attempt, or the
  link, within the time the entry gives a dial instead of charon's default of minutes,
  and a slow server (a longer timeout) gets more tries.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from openras.links.ikev2.settings import Ikev2Settings

#: charon's plugins: crypto (openssl with the legacy provider for MSCHAPv2's MD4/DES),
#: certificates, EAP-MSCHAPv2, the userspace and kernel IPsec paths, VICI, resolve.
PLUGINS: Final = (
    "random nonce openssl aes sha1 sha2 hmac kdf gmp pem pkcs1 pkcs8 x509 pubkey "
    "constraints revocation eap-identity eap-mschapv2 kernel-libipsec kernel-netlink "
    "socket-default vici resolve"
)
#: Without the userspace path: charon then uses the kernel's XFRM for ESP.
KERNEL_PLUGINS: Final = PLUGINS.replace("kernel-libipsec ", "")
#: The XFRM interface's MTU: Windows' IKEv2 default, room for ESP in UDP over 1500.
XFRM_MTU: Final = 1400


RETRANSMIT_TIMEOUT: Final = 1.0
RETRANSMIT_BASE: Final = 1.6


def retransmit_tries(dial_timeout: float) -> int:
    """The most retransmissions whose waits all fit in ``dial_timeout`` seconds (3 to 8)."""
    tries, total = 0, RETRANSMIT_TIMEOUT
    while tries < 8 and total + RETRANSMIT_TIMEOUT * RETRANSMIT_BASE ** (tries + 1) <= dial_timeout:
        tries += 1
        total += RETRANSMIT_TIMEOUT * RETRANSMIT_BASE**tries
    return max(3, tries)


@dataclass(frozen=True)
class KernelEsp:
    """The kernel ESP path of one link: its XFRM interface, the interface id its SAs and
    policies carry, and the fwmark of its outer packets (the policy slot's)."""

    ifname: str
    if_id: int
    fwmark: int


#: Windows' IKE proposals (AES/3DES with SHA1/SHA256 and MODP1024/2048), after strongSwan's
#: defaults: Windows servers and Windows-configured responders accept one of them.
IKE_PROPOSALS: Final = (
    "default",
    "aes256-sha256-modp2048",
    "aes256-sha1-modp1024",
    "aes128-sha1-modp1024",
    "3des-sha1-modp1024",
)
ESP_PROPOSALS: Final = ("default", "aes256-sha1", "aes128-sha1", "3des-sha1")
CONN: Final = "openras"
CHILD: Final = "openras"


def strongswan_conf(
    *,
    run_dir: Path,
    vici_socket: Path,
    log_file: Path,
    table: int,
    priority: int,
    resolv_file: Path,
    install_routes: bool = True,
    kernel_esp: KernelEsp | None = None,
    dial_timeout: float = 15.0,
) -> str:
    """The whole ``strongswan.conf`` of one link's charon (no include of the system's)."""
    mark = ""
    if kernel_esp is None:
        paths = f"""\
  load = {PLUGINS}
  install_routes = {"yes" if install_routes else "no"}
  routing_table = {table}
  routing_table_prio = {priority}
"""
    else:  # the daemon routes into the XFRM interface: no route, no rule of charon's
        mark = f"    socket-default {{ fwmark = {kernel_esp.fwmark} }}\n"
        paths = f"""\
  load = {KERNEL_PLUGINS}
  install_routes = no
  routing_table = 0
  install_virtual_ip_on = {kernel_esp.ifname}
"""
    return f"""\
charon {{
  load_modular = no
{paths}\
  port = 0
  port_nat_t = 0
  install_virtual_ip = yes
  retransmit_tries = {retransmit_tries(dial_timeout)}
  retransmit_timeout = {RETRANSMIT_TIMEOUT}
  retransmit_base = {RETRANSMIT_BASE}
  close_ike_on_child_failure = yes
  plugins {{
    vici {{ socket = unix://{vici_socket} }}
{mark}\
    openssl {{ load_legacy = yes }}
    resolve {{ file = {resolv_file} }}
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
# run directory: {run_dir}
"""


def connection(settings: Ikev2Settings, kernel_esp: KernelEsp | None = None) -> dict[str, Any]:
    """The ``load-conn`` message."""
    if settings.auth == "eap":
        local: dict[str, Any] = {"auth": "eap-mschapv2", "eap_id": settings.user}
        remote: dict[str, Any] = {"auth": "pubkey", "id": settings.remote_id}
    elif settings.auth == "psk":
        local = {"auth": "psk"}
        remote = {"auth": "psk", "id": settings.remote_id}
    else:
        local = {"auth": "pubkey", "certs": []}  # the certificate is loaded by load-cert
        remote = {"auth": "pubkey", "id": settings.remote_id}
    dpd = f"{settings.dpd_seconds}s"
    child: dict[str, Any] = {
        "remote_ts": ["0.0.0.0/0"],
        "esp_proposals": list(ESP_PROPOSALS),
        "start_action": "none",
        "dpd_action": "clear",
        "close_action": "none",
    }
    if kernel_esp is not None:
        child["if_id_in"] = child["if_id_out"] = str(kernel_esp.if_id)
        child["set_mark_out"] = f"{kernel_esp.fwmark:#x}"
    return {
        CONN: {
            "version": "2",
            "remote_addrs": [settings.server],
            "vips": ["0.0.0.0"],
            "proposals": list(IKE_PROPOSALS),
            "encap": "no",
            "mobike": "yes" if settings.mobike else "no",
            "dpd_delay": dpd,
            "keyingtries": "1",
            "send_certreq": "yes",
            "fragmentation": "yes",
            "unique": "no",
            "local-1": local,
            "remote-1": remote,
            "children": {CHILD: child},
        }
    }


def shared_secret(settings: Ikev2Settings) -> dict[str, Any] | None:
    """The ``load-shared`` message (EAP password or PSK), or None."""
    if settings.auth == "eap":
        return {"id": "openras-eap", "type": "EAP", "data": settings.secret,
                "owners": [settings.user]}  # fmt: skip
    if settings.auth == "psk":
        return {"id": "openras-psk", "type": "IKE", "data": settings.secret}
    return None


def initiate(timeout_ms: int) -> dict[str, Any]:
    """The ``initiate`` message. Its log stream is level 0 (the exchange's milestones: the
    states); the details (addresses, DNS, why it failed) are in the file log, read once at
    the end: streaming every level-1 line through VICI slowed the dial measurably."""
    return {"child": CHILD, "ike": CONN, "timeout": str(max(1, timeout_ms)), "loglevel": "0"}


__all__ = [
    "CHILD",
    "CONN",
    "KernelEsp",
    "connection",
    "initiate",
    "shared_secret",
    "strongswan_conf",
]
