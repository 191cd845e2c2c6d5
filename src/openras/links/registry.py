"""Which driver runs an entry, decided from the entry's keys (never a program path).

The Windows keys decide where they can (``DEVICE=vpn`` + ``VpnStrategy=7`` is IKEv2, 1, 2
or 12 PPTP over pppd, 5 or 6 SSTP over pppd, 3, 4 or 13 L2TP/IPsec; ``DEVICE=modem``/``PPPoE``
is PPP); link types Windows lacks use ``OpenRasDevice=``. The table below maps names to classes inside this package only, so a
phonebook can never make the root daemon load code of a user's choosing.
"""

from __future__ import annotations

import importlib
from typing import Final

from openras import errors
from openras.errors import ERROR_DEVICETYPE_DOES_NOT_EXIST
from openras.links import strategy
from openras.links.base import EntryView, Link

DRIVERS: Final[dict[str, str]] = {
    "loopback": "openras.links.loopback.driver:LoopbackLink",
    "openvpn": "openras.links.openvpn.driver:OpenVpnLink",
    "wireguard": "openras.links.wireguard.driver:WireGuardLink",
    "ssh": "openras.links.ssh.driver:SshLink",
    "ppp": "openras.links.ppp.driver:PppLink",
    "ikev2": "openras.links.ikev2.driver:Ikev2Link",
    "l2tp": "openras.links.ppp.l2tp_link:L2tpLink",
    "attempts": "openras.links.attempts:AttemptsLink",
}


_TYPE_DEVICE: Final = {"1": "modem", "2": "vpn", "5": "pppoe"}  # Type= when no DEVICE block
_PPP_DEVICES: Final = {"modem": "a modem", "isdn": "ISDN", "serial": "a serial", "pppoe": "PPPoE"}
#: VpnStrategy -> (protocol, driver it needs) for DEVICE=vpn (ras-api.md 4.10).
_VPN: Final = {
    **dict.fromkeys(("7", "8", "14"), ("IKEv2", "ikev2")),
    **dict.fromkeys(("1", "2", "12"), ("PPTP", "ppp")),
    **dict.fromkeys(("3", "4", "13"), ("L2TP", "l2tp")),
    **dict.fromkeys(("5", "6"), ("SSTP", "ppp")),
}


def entry_device(entry: EntryView) -> str:
    """The entry's device type, lower-cased (``vpn``, ``modem``, ``pppoe``...; '' if none)."""
    return _device_type(entry)


def _device_type(entry: EntryView) -> str:
    typed = getattr(entry, "device_type", "")  # EntrySnapshot: the DEVICE block's value
    device = (typed if isinstance(typed, str) else "") or entry.get("DEVICE") or ""
    if not device.strip():
        device = _TYPE_DEVICE.get((entry.get("Type") or "").strip(), "")
    return device.strip().lower()


#: The driver that dials each tunnel type here (a type missing from it is skipped in a list
#: and refused alone with 609).
PROTOCOL_DRIVERS: Final = {
    strategy.IKEV2: "ikev2",
    strategy.PPTP: "ppp",
    strategy.L2TP: "l2tp",
    strategy.SSTP: "ppp",
}


def vpn_attempts(entry: EntryView) -> list[tuple[str, str]]:
    """(tunnel type, driver) for each type a ``DEVICE=vpn`` entry tries that has a driver
    here, in Windows' order for its ``VpnStrategy`` (:mod:`openras.links.strategy`)."""
    order = strategy.attempt_order(entry.get("VpnStrategy"), entry.get("PreferredDevice"))
    return [(p, PROTOCOL_DRIVERS[p]) for p in order if p in PROTOCOL_DRIVERS]


#: Device types that dial a telephone number (alternates apply to them).
_DIALED: Final = frozenset({"modem", "isdn", "serial"})


def attempts_for(entry: EntryView) -> list[tuple[str, str, dict[str, str]]]:
    """What a dial of ``entry`` tries, in order: (label, driver, the keys that attempt sees
    changed). A VPN list: each tunnel type as its strategy's only type. A dialed entry
    with ``TryNextAlternateOnFail=1``: its number, then each alternate number."""
    device = _device_type(entry)
    if device == "vpn":
        return [(p, d, {"vpnstrategy": strategy.ONLY[p]}) for p, d in vpn_attempts(entry)]
    numbers = [(entry.get("PhoneNumber") or "").strip()]
    alternates = getattr(entry, "alternates", ())  # EntrySnapshot: the later DEVICE blocks
    if device in _DIALED and (entry.get("TryNextAlternateOnFail") or "").strip() == "1":
        numbers += [n.strip() for n in alternates if isinstance(n, str) and n.strip()]
    return [(n, "ppp", {"phonenumber": n}) for n in numbers]


def missing_driver(entry: EntryView) -> str:
    """Why a Windows entry has no driver here, e.g. ``IKEv2 (VpnStrategy 7) needs the ikev2
    driver``; pure, for the error text."""
    device = _device_type(entry)
    strategy = (entry.get("VpnStrategy") or "").strip() or "0"
    if device == "vpn":
        proto, driver = _VPN.get(strategy, ("VPN", "ikev2 or ppp"))
        return f"{proto} (VpnStrategy {strategy}) needs the {driver} driver"
    if device in _PPP_DEVICES:
        return f"{_PPP_DEVICES[device]} entry (DEVICE={device}) needs the ppp driver"
    if device:
        return f"device type {device!r} has no driver"
    return "it names no device type (no DEVICE= block, Type= or OpenRasDevice=)"


def driver_name(entry: EntryView) -> str:
    """The driver for ``entry``; RasError 609 when the entry names none that runs here.

    Only names in DRIVERS ever come out, whatever the entry says.
    """
    explicit = (entry.get("OpenRasDevice") or "").strip().lower()
    if explicit:
        if explicit not in DRIVERS or explicit == "attempts":  # a list is the entry's strategy
            raise errors.RasError(
                ERROR_DEVICETYPE_DOES_NOT_EXIST,
                f"entry {entry.name!r}: OpenRasDevice={explicit!r} is not a known link type",
            )
        return explicit
    device = _device_type(entry)
    if device in _PPP_DEVICES:
        # A modem entry with alternate numbers and TryNextAlternateOnFail: one call after
        # the other, as a list (links/attempts.py).
        return "attempts" if len(attempts_for(entry)) > 1 else "ppp"
    if device == "vpn":
        tries = vpn_attempts(entry)
        if len(tries) > 1:
            return "attempts"  # Windows' list of tunnel types, one after the other
        if tries:
            return tries[0][1]
    raise errors.RasError(
        ERROR_DEVICETYPE_DOES_NOT_EXIST,
        f"entry {entry.name!r}: {missing_driver(entry)}, not available on this system",
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


#: Drivers whose links need root (network interfaces, routes): a per-user daemon cannot run them.
#: (ssh decides per entry: its socks mode works without root; its validate says so.)
ROOT_ONLY: Final = frozenset({"openvpn", "wireguard", "ppp", "ikev2", "l2tp", "attempts"})


def needs_system_daemon(driver: str) -> str | None:
    """Why a daemon that is not root cannot run ``driver``'s links (None if it can)."""
    if driver in ROOT_ONLY:
        return (
            f"{driver} links need the system daemon (they make network interfaces and routes), and "
            "this is a per-user one: start it with 'sudo systemctl enable --now openras', "
            "or as root run 'rasman'"
        )
    return None


#: Every ``OpenRas*`` key some driver reads (each driver's module docstring describes its
#: own). Windows ignores them; openras ignores every other key it does not know, as Windows
#: does, but an ``OpenRas*`` key nobody reads is a typo worth refusing at edit time.
KNOWN_KEYS: Final = frozenset(
    {
        "OpenRasDevice", "OpenRasDialTimeoutMs", "OpenRasKillDeadlineMs",
        "OpenRasLoopbackStepMs", "OpenRasLoopbackPassword", "OpenRasLoopbackHangUpMs",
        "OpenRasLoopbackFailState", "OpenRasLoopbackFailCode", "OpenRasLoopbackDropAfterMs",
        "OpenRasLoopbackIgnoreHangUp", "OpenRasLoopbackNeedsPassword",
        "OpenRasLoopbackChallenge", "OpenRasLoopbackChallengeAnswer",
        "OpenRasOpenVpnProfile",
        "OpenRasWireGuardConfig", "OpenRasWireGuardImplementation", "OpenRasWireGuardDeadPeerMs",
        "OpenRasSshMode", "OpenRasSshIdentity", "OpenRasSshKnownHosts", "OpenRasSshSocksPort",
        "OpenRasSshAcceptNewHostKey", "OpenRasSshServerAliveInterval",
        "OpenRasSshServerAliveCountMax", "OpenRasSshTunLocal", "OpenRasSshTunRemote",
        "OpenRasSshTunRemoteUnit", "OpenRasSshTunRoutes",
        "OpenRasIkev2Ca", "OpenRasIkev2Auth", "OpenRasIkev2Cert", "OpenRasIkev2Key",
        "OpenRasIkev2DpdSeconds",
        "OpenRasPppoeInterface", "OpenRasSerialPort", "OpenRasSerialSpeed", "OpenRasSerialLocal",
        "OpenRasSstpCaFile",
        "OpenRasL2tpCert", "OpenRasL2tpKey", "OpenRasL2tpCa",
        # RasSetEntryProperties' fields Windows keeps elsewhere (openras._rasentry)
        "OpenRasOptions", "OpenRasOptions2", "OpenRasFramingProtocol",
    }
)  # fmt: skip


def unknown_keys(keys: list[str]) -> list[str]:
    """What is wrong with ``keys`` an entry edit sets: one line per ``OpenRas*`` key no
    driver reads, with the nearest known one ("did you mean"); [] when all are fine."""
    import difflib

    known = {k.casefold(): k for k in KNOWN_KEYS}
    problems = []
    for key in keys:
        if not key.casefold().startswith("openras") or key.casefold() in known:
            continue
        near = difflib.get_close_matches(key, sorted(KNOWN_KEYS), n=1, cutoff=0.6)
        hint = f" (did you mean {near[0]}?)" if near else ""
        problems.append(f"unknown key {key}{hint}")
    return problems


def unknown_device(device: str) -> str | None:
    """Why ``OpenRasDevice=device`` names no driver (None if it does)."""
    nameable = sorted(set(DRIVERS) - {"attempts"})  # a list is the entry's VpnStrategy
    if device.strip().lower() in nameable:
        return None
    return f"unknown device {device!r}: use one of {', '.join(nameable)}"


def entry_key_problems(items: list[tuple[str, str]]) -> list[str]:
    """Every problem with the keys an entry edit sets (``OpenRas*`` keys no driver reads,
    devices that do not exist), for the CLI and the TUI to refuse all at once."""
    problems = unknown_keys([k for k, _ in items])
    problems += [
        why
        for k, v in items
        if k.casefold() == "openrasdevice" and (why := unknown_device(v)) is not None
    ]
    return problems
