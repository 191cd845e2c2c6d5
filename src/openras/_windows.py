"""What Windows reports about an entry's device and identity, derived from the entry alone.

Pure functions shared by the daemon (which builds RASCONN/RASCONNSTATUS fields from the entry
a connection was dialed with) and the client's entry API (RASENTRY), so both faces agree:

- the ``RASDT_`` device type and the device name Windows shows for an entry's device (an IKEv2
  entry is ``('vpn', 'WAN Miniport (IKEv2)')``, a PPPoE one ``('PPPoE', 'WAN Miniport
  (PPPOE)')``), never the name of the openras driver running it;
- a stable GUID for an entry that has no ``Guid=`` line (Windows gives every entry one);
- the correlation id of one connection (RASCONN.guidCorrelationId).
"""

from __future__ import annotations

import os
import uuid
from typing import Final

#: RASDT_ device types as Windows spells them (ras.h), by their lower-case form.
RASDT: Final = {
    t.lower(): t
    for t in (
        *("modem", "isdn", "x25", "vpn", "pad", "GENERIC", "SERIAL", "FRAMERELAY", "ATM"),
        *("SONET", "SW56", "IRDA", "PARALLEL", "PPPoE"),
    )
}
#: ``Type=`` (RASET_) -> the device type Windows gives an entry without a DEVICE block.
_DEVICE_BY_TYPE: Final = {"1": "modem", "2": "vpn", "5": "PPPoE"}
#: VpnStrategy -> the WAN miniport a VPN entry of that protocol runs on (ras-api.md 4.10).
_MINIPORT_BY_STRATEGY: Final = {
    **dict.fromkeys(("1", "2", "12"), "WAN Miniport (PPTP)"),
    **dict.fromkeys(("3", "4", "13"), "WAN Miniport (L2TP)"),
    **dict.fromkeys(("5", "6"), "WAN Miniport (SSTP)"),
    **dict.fromkeys(("7", "8", "14"), "WAN Miniport (IKEv2)"),
}
#: openras's own link types have no Windows miniport; they are named the way Windows names
#: its own, so a script that looks for "WAN Miniport (" still finds its VPN connection.
_DRIVER_MINIPORT: Final = {
    "openvpn": "WAN Miniport (OpenVPN)",
    "wireguard": "WAN Miniport (WireGuard)",
    "ssh": "WAN Miniport (SSH)",
    "loopback": "WAN Miniport (Loopback)",
}
_PPPOE_MINIPORT: Final = "WAN Miniport (PPPOE)"

_ENTRY_NS: Final = uuid.UUID("5c1b2f1e-6a57-4f0e-9c55-0d1a7e0f7a11")
_CORRELATION_NS: Final = uuid.UUID("0b5e8a0c-2a6f-4d5b-8f3e-6c9d1e2f3a44")


def device_type(block_value: str, entry_type: str | None) -> str:
    """RASCONN.szDeviceType: the entry's ``DEVICE=`` in Windows' spelling, else the type its
    ``Type=`` implies, else ``vpn`` (every link openras runs is a tunnel)."""
    value = (block_value or "").strip()
    if value:
        return RASDT.get(value.lower(), value)
    return _DEVICE_BY_TYPE.get((entry_type or "").strip(), "vpn")


def device_name(
    dev_type: str, *, preferred: str | None, vpn_strategy: str | None, driver: str
) -> str:
    """RASCONN.szDeviceName: the entry's own device name (``PreferredDevice=``/``Device=``,
    which a Windows export always has), else the miniport its protocol runs on."""
    if preferred and preferred.strip():
        return preferred.strip()
    kind = dev_type.lower()
    if kind == "pppoe":
        return _PPPOE_MINIPORT
    if kind == "vpn":
        miniport = _MINIPORT_BY_STRATEGY.get((vpn_strategy or "").strip())
        if miniport:
            return miniport
    return _DRIVER_MINIPORT.get(driver, f"WAN Miniport ({driver})" if driver else "")


def entry_guid(phonebook: str | os.PathLike[str], name: str) -> str:
    """The GUID of an entry without ``Guid=``: derived from its phonebook's absolute path and
    its case-folded name, so every call and every process gives the same one (32 upper-case
    hex digits, the pbk's spelling). Nothing is written: reading an entry never edits a
    phonebook."""
    key = f"{os.path.abspath(os.fspath(phonebook))}\0{name.casefold()}"
    return _uuid5_hex(_ENTRY_NS, key)


def correlation_id(handle: int, created: float) -> str:
    """RASCONN.guidCorrelationId: one per connection attempt (a handle is never reused, and
    its creation time tells daemons apart), stable for the connection's life."""
    return _uuid5_hex(_CORRELATION_NS, f"{handle}:{created!r}")


def _uuid5_hex(namespace: uuid.UUID, name: str) -> str:
    """``uuid.uuid5(namespace, name).hex.upper()`` by CPython's own SHA-1: uuid5 takes it
    from hashlib, which loads OpenSSL's libcrypto (3.4 MB of the daemon's memory) for it."""
    from openras._digest import sha1_digest

    digest = sha1_digest(namespace.bytes + name.encode("utf-8"))
    return uuid.UUID(bytes=digest[:16], version=5).hex.upper()
