"""charon's configuration for one link, from the checked settings (pure).

Two parts: ``strongswan.conf`` (the daemon's constants and run-directory paths, nothing of
the entry's: charon's own parser never sees a user's text) and the VICI messages that load
the connection and its credentials (typed values in VICI's key/value encoding, no parser).

Why these settings:

* ``kernel-libipsec`` before ``kernel-netlink``: where the kernel has no ESP (the machine
  this runs on may not), charon encrypts in userspace over a TUN device (``ipsec<N>``, the
  kernel picks N); it always sends ESP in UDP 4500 then.
* the routes charon installs go to the link's own policy table and rule priority (the
  daemon allocates them per link, as for WireGuard), so two IKEv2 links never share
  charon's default table 220, and the rule is journaled before charon makes it.
* ``resolve`` with ``resolvconf.path = /bin/true``: charon reports each DNS server of the
  configuration payload in its log ("installing DNS server X via resolvconf") and changes
  nothing; the daemon applies DNS (``openras.dns``) like every other link's.
* random local ports (``port = 0``): two links, or a system charon (strongswan-starter's
  ``ipsec`` service) on UDP 500/4500, never keep a link's charon from binding; the server
  sees the source port a NAT would give it.
* retransmissions bounded (about 9 s) so a dead server ends the attempt, or the link,
  within a dial timeout instead of charon's default of minutes.
"""

from __future__ import annotations

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
    no_op: str,
    install_routes: bool = True,
) -> str:
    """The whole ``strongswan.conf`` of one link's charon (no include of the system's)."""
    return f"""\
charon {{
  load_modular = no
  load = {PLUGINS}
  port = 0
  port_nat_t = 0
  install_virtual_ip = yes
  install_routes = {"yes" if install_routes else "no"}
  routing_table = {table}
  routing_table_prio = {priority}
  retransmit_tries = 3
  retransmit_timeout = 1.0
  retransmit_base = 1.6
  close_ike_on_child_failure = yes
  plugins {{
    vici {{ socket = unix://{vici_socket} }}
    openssl {{ load_legacy = yes }}
    resolve {{ resolvconf {{ path = {no_op} }} }}
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


def connection(settings: Ikev2Settings) -> dict[str, Any]:
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
            "children": {
                CHILD: {
                    "remote_ts": ["0.0.0.0/0"],
                    "esp_proposals": list(ESP_PROPOSALS),
                    "start_action": "none",
                    "dpd_action": "clear",
                    "close_action": "none",
                }
            },
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


__all__ = ["CHILD", "CONN", "connection", "initiate", "shared_secret", "strongswan_conf"]
