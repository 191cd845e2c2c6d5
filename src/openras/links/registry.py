"""Which driver runs an entry, decided from the entry's keys (never a program path).

The Windows keys decide where they can (``DEVICE=vpn`` + ``VpnStrategy=7`` is IKEv2,
``DEVICE=modem``/``PPPoE`` is PPP); link types Windows lacks use ``OpenRasDevice=``. The table
below maps names to classes inside this package only, so a phonebook can never make the root
daemon load code of a user's choosing.
"""

from __future__ import annotations

import importlib
from typing import Final

from openras import errors
from openras.links.base import EntryView, Link

DRIVERS: Final[dict[str, str]] = {
    "loopback": "openras.links.loopback.driver:LoopbackLink",
    "openvpn": "openras.links.openvpn.driver:OpenVpnLink",
    "wireguard": "openras.links.wireguard.driver:WireGuardLink",
    "ssh": "openras.links.ssh.driver:SshLink",
}


def driver_name(entry: EntryView) -> str:
    """The driver for ``entry``; RasError when the entry names none that runs here."""
    explicit = (entry.get("OpenRasDevice") or "").strip().lower()
    if explicit:
        if explicit not in DRIVERS:
            raise errors.RasError(
                errors.ERROR_CONNECTING_DEVICE_NOT_FOUND,
                f"OpenRasDevice={explicit!r} is not a known link type",
            )
        return explicit
    device = (entry.get("DEVICE") or entry.get("Type") or "").strip().lower()
    strategy = (entry.get("VpnStrategy") or "").strip()
    if device == "vpn" and strategy in ("7", "8", "14"):
        name = "ikev2"
    elif device in ("modem", "pppoe", "isdn", "serial") or device == "vpn":
        name = "ppp"
    else:
        name = device or "unknown"
    raise errors.RasError(
        errors.ERROR_CONNECTING_DEVICE_NOT_FOUND,
        f"entry {entry.name!r}: the {name} link type is not available on this system",
    )


def load_driver(name: str) -> type[Link]:
    target = DRIVERS.get(name)
    if target is None:
        raise errors.RasError(errors.ERROR_CONNECTING_DEVICE_NOT_FOUND, f"no driver {name!r}")
    module_name, _, cls_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise errors.RasError(
            errors.ERROR_CONNECTING_DEVICE_NOT_FOUND, f"driver {name!r} unavailable: {exc}"
        ) from None
    cls = getattr(module, cls_name)
    assert isinstance(cls, type)
    assert issubclass(cls, Link)
    return cls
