"""wg-quick style WireGuard configuration: parse, validate, split, render (pure).

A config as ``wg-quick`` reads it has two kinds of keys mixed in one file:

* keys ``wg setconf`` understands (``PrivateKey``, ``ListenPort``, ``FwMark``; per peer
  ``PublicKey``, ``PresharedKey``, ``Endpoint``, ``AllowedIPs``, ``PersistentKeepalive``);
* keys only ``wg-quick`` understands (``Address``, ``DNS``, ``MTU``, ``Table``,
  ``SaveConfig``), which the driver applies itself with ``ip``; and the hook keys
  ``PreUp``/``PostUp``/``PreDown``/``PostDown``, which are shell commands.

openras **refuses** the hook keys: the daemon runs as root and the file comes from a user's
phonebook, so running them would let any user run commands as root. Every error is a
``RasError(872, "FILE:LINE: ...")`` and never quotes a secret. Keys are case-insensitive (as
in ``wg`` and ``wg-quick``); ``#`` starts a comment; list keys (``Address``, ``DNS``,
``AllowedIPs``) may repeat and accumulate, any other key may appear once per section.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from openras.errors import ERROR_ACCESS_DENIED, ERROR_INVALID_INTERFACE_CONFIG, RasError
from openras.links.rtnl import routes_too_much
from openras.links.wireguard.genl import DeviceSettings, PeerSettings, key_bytes, parse_endpoint
from openras.policy import Grant

#: Below this a port is privileged: only root's configs may have wireguard-go bind one.
FIRST_UNPRIVILEGED_PORT: Final = 1024

IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

HOOK_KEYS: Final = frozenset({"preup", "postup", "predown", "postdown"})
_INTERFACE_KEYS: Final = {
    "privatekey": "PrivateKey",
    "listenport": "ListenPort",
    "fwmark": "FwMark",
    "address": "Address",
    "dns": "DNS",
    "mtu": "MTU",
    "table": "Table",
    "saveconfig": "SaveConfig",
}
_PEER_KEYS: Final = {
    "publickey": "PublicKey",
    "presharedkey": "PresharedKey",
    "endpoint": "Endpoint",
    "allowedips": "AllowedIPs",
    "persistentkeepalive": "PersistentKeepalive",
}
_LIST_KEYS: Final = frozenset({"address", "dns", "allowedips"})
_HOSTNAME: Final = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)
_SEARCH_DOMAIN: Final = _HOSTNAME


@dataclass(frozen=True)
class WgInterface:
    """What ``wg setconf`` gets for the ``[Interface]`` section."""

    private_key: str = field(repr=False)
    listen_port: int | None = None
    fwmark: int | None = None
    line: int = field(default=0, compare=False)
    #: Where ``ListenPort`` and ``FwMark`` were given (0: not given), for refusals.
    listen_port_line: int = field(default=0, compare=False)
    fwmark_line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class WgPeer:
    """One ``[Peer]`` section."""

    public_key: str
    preshared_key: str | None = field(default=None, repr=False)
    endpoint: str | None = None
    allowed_ips: tuple[IPNetwork, ...] = ()
    persistent_keepalive: int | None = None
    line: int = field(default=0, compare=False)
    #: The first ``AllowedIPs`` line of the section (0: none), for refusals.
    allowed_ips_line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class WgQuickSettings:
    """The wg-quick-only keys, for the driver to apply with ``ip``."""

    addresses: tuple[IPInterface, ...] = ()
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    mtu: int | None = None
    #: None / "auto" (main table, policy routing for a default route), "off" (no routes),
    #: "main", or a table number.
    table: str | None = None
    save_config: bool = False
    table_line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class WgConfig:
    source: str
    interface: WgInterface
    peers: tuple[WgPeer, ...]
    quick: WgQuickSettings

    @property
    def dial_peers(self) -> tuple[WgPeer, ...]:
        """Peers we can reach first (they have an Endpoint)."""
        return tuple(p for p in self.peers if p.endpoint)

    def to_setconf(
        self, *, fwmark: int | None = None, keepalive_override: int | None = None
    ) -> str:
        """The ``wg setconf`` text (it holds the private key: write it 0600, never log it).

        ``fwmark`` replaces the interface's FwMark (policy routing for a default route);
        ``keepalive_override`` sets PersistentKeepalive on dialable peers that have none, so
        that the first handshake starts as soon as the interface is up.
        """
        port, mark = self.interface.listen_port, self._fwmark(fwmark)
        out = ["[Interface]", f"PrivateKey = {self.interface.private_key}"]
        out += [f"ListenPort = {port}"] if port is not None else []
        out += [f"FwMark = {mark}"] if mark is not None else []
        for peer in self.peers:
            out += ["", "[Peer]", f"PublicKey = {peer.public_key}"]
            if peer.preshared_key:
                out.append(f"PresharedKey = {peer.preshared_key}")
            if peer.endpoint:
                out.append(f"Endpoint = {peer.endpoint}")
            if peer.allowed_ips:
                out.append("AllowedIPs = " + ", ".join(str(n) for n in peer.allowed_ips))
            if keepalive := _dial_keepalive(peer, keepalive_override):
                out.append(f"PersistentKeepalive = {keepalive}")
        return "\n".join(out) + "\n"

    def _fwmark(self, override: int | None) -> int | None:
        return override if override is not None else self.interface.fwmark

    def to_uapi(
        self,
        *,
        endpoints: Mapping[str, str],
        fwmark: int | None = None,
        keepalive_override: int | None = None,
    ) -> str:
        """The same configuration as :meth:`to_setconf`, as a UAPI ``set`` request.

        wireguard-go takes it on its control socket, where ``wg setconf`` would send it: no
        helper process (2 ms a dial) and the private key in no file at all. ``endpoints``
        maps each peer's Endpoint to ``ip:port`` (UAPI takes no host names; the caller
        resolves them, as ``wg`` does). Keys go as hex, as the protocol wants.
        """
        port, mark = self.interface.listen_port, self._fwmark(fwmark)
        out = ["set=1", f"private_key={key_hex(self.interface.private_key)}"]
        out += [f"listen_port={port}"] if port is not None else []
        out += [f"fwmark={mark}"] if mark is not None else []
        out.append("replace_peers=true")
        for peer in self.peers:
            out.append(f"public_key={key_hex(peer.public_key)}")
            if peer.preshared_key:
                out.append(f"preshared_key={key_hex(peer.preshared_key)}")
            if peer.endpoint:
                out.append(f"endpoint={endpoints[peer.endpoint]}")
            if keepalive := _dial_keepalive(peer, keepalive_override):
                out.append(f"persistent_keepalive_interval={keepalive}")
            out.append("replace_allowed_ips=true")
            out += [f"allowed_ip={net}" for net in peer.allowed_ips]
        return "\n".join(out) + "\n\n"

    def to_netlink(
        self,
        *,
        endpoints: Mapping[str, str],
        fwmark: int | None = None,
        keepalive_override: int | None = None,
    ) -> DeviceSettings:
        """The same configuration as :meth:`to_setconf`, as the kernel module's
        ``WG_CMD_SET_DEVICE`` (``genl.py``): sent in-process, the private key in no file.
        ``endpoints`` as for :meth:`to_uapi`."""
        port, mark = self.interface.listen_port, self._fwmark(fwmark)
        peers = tuple(
            PeerSettings(
                public_key=key_bytes(peer.public_key),
                preshared_key=key_bytes(peer.preshared_key) if peer.preshared_key else None,
                endpoint=parse_endpoint(endpoints[peer.endpoint]) if peer.endpoint else None,
                persistent_keepalive=_dial_keepalive(peer, keepalive_override) or 0,
                allowed_ips=peer.allowed_ips,
            )
            for peer in self.peers
        )
        return DeviceSettings(
            private_key=key_bytes(self.interface.private_key),
            listen_port=port,
            # setconf clears what the text leaves out: so does this (0 = no mark).
            fwmark=mark or 0,
            replace_peers=True,
            peers=peers,
        )


def _dial_keepalive(peer: WgPeer, override: int | None) -> int | None:
    """The peer's keepalive, or ``override`` for a dialable peer that has none."""
    if peer.persistent_keepalive is None and override is not None and peer.endpoint:
        return override
    return peer.persistent_keepalive


def key_hex(key: str) -> str:
    """A (checked, base64) WireGuard key as UAPI's 64 hex digits."""
    return base64.b64decode(key).hex()


def split_endpoint(endpoint: str) -> tuple[str, int]:
    """(host, port) of a checked ``host:port`` or ``[v6]:port``."""
    host, _, port = endpoint.rpartition(":")
    return host.strip("[]"), int(port)


def endpoint_literal(endpoint: str) -> str | None:
    """``ip:port`` for UAPI when the endpoint's host is an address already, else None."""
    host, port = split_endpoint(endpoint)
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    return f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"


# -- validation helpers (each raises ValueError with a message that quotes no secret) --------


def check_key(value: str) -> str:
    """A WireGuard key: canonical base64 of exactly 32 bytes."""
    text = value.strip()
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not valid base64 (a key is 44 base64 characters)") from None
    if len(raw) != 32:
        raise ValueError(f"decodes to {len(raw)} bytes; a WireGuard key is 32 bytes")
    if base64.b64encode(raw).decode() != text:
        raise ValueError("is not canonical base64")
    return text


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise ValueError(f"{text!r} is not a port number (0..65535)")
    return int(text)


def _fwmark(text: str) -> int | None:
    if text.lower() == "off":
        return None
    try:
        value = int(text, 16) if text.lower().startswith("0x") else int(text, 10)
    except ValueError:
        raise ValueError(f"{text!r} is not a number or 'off'") from None
    if not 0 <= value <= 0xFFFFFFFF:
        raise ValueError(f"{text!r} is out of range")
    return value or None


def _keepalive(text: str) -> int | None:
    if text.lower() == "off":
        return None
    if not text.isdigit() or int(text) > 65535:
        raise ValueError(f"{text!r} is not a number of seconds (0..65535) or 'off'")
    return int(text) or None


def check_endpoint(text: str) -> str:
    """``host:port`` or ``[v6]:port``; returned normalised."""
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise ValueError(f"{text!r} is not [IPv6]:port")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{host!r} is not an IPv6 address") from None
        port = _port(rest[1:])
        return f"[{host}]:{port}"
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"{text!r} is not host:port")
    if ":" in host:
        raise ValueError(f"{text!r}: put an IPv6 address in brackets, [addr]:port")
    if not _HOSTNAME.match(host):
        raise ValueError(f"{host!r} is not a host name or address")
    port = _port(port_text)
    if port == 0:
        raise ValueError("port 0 cannot be dialed")
    return f"{host}:{port}"


def _split_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _table(text: str) -> str:
    low = text.lower()
    if low in ("off", "auto", "main"):
        return low
    if text.isdigit() and 0 < int(text) < 2**32 and int(text) not in (253, 254, 255):
        return str(int(text))
    raise ValueError(f"{text!r}: use off, auto, main or a table number (not 253-255)")


def _bool(text: str) -> bool:
    low = text.lower()
    if low in ("true", "yes", "1", "on"):
        return True
    if low in ("false", "no", "0", "off"):
        return False
    raise ValueError(f"{text!r} is not true or false")


# -- the parser ------------------------------------------------------------------------------


class _Section:
    def __init__(self, kind: str, line: int) -> None:
        self.kind = kind
        self.line = line
        self.values: dict[str, list[tuple[int, str]]] = {}


def parse_config(text: str, source: str = "<config>") -> WgConfig:
    """Parse a wg-quick config; RasError(872, "SOURCE:LINE: ...") on anything wrong."""

    def fail(line: int, message: str) -> RasError:
        where = f"{source}:{line}" if line else source
        return RasError(ERROR_INVALID_INTERFACE_CONFIG, f"{where}: {message}")

    sections: list[_Section] = []
    current: _Section | None = None
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            name = line.replace(" ", "").replace("\t", "").lower()
            if name not in ("[interface]", "[peer]"):
                raise fail(number, f"unknown section {line!r} (expected [Interface] or [Peer])")
            current = _Section(name[1:-1], number)
            sections.append(current)
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        value = value.strip()
        if not sep:
            raise fail(number, "expected 'Key = Value'")
        low = key.lower()
        if low in HOOK_KEYS:
            raise fail(
                number,
                f"{key} is refused: openras never runs commands from a WireGuard config",
            )
        if current is None:
            raise fail(number, f"{key} is outside any section (start with [Interface])")
        known = _INTERFACE_KEYS if current.kind == "interface" else _PEER_KEYS
        if low not in known:
            names = ", ".join(sorted(known.values()))
            section = "[Interface]" if current.kind == "interface" else "[Peer]"
            raise fail(number, f"unknown key {key!r} in {section} (allowed: {names})")
        if low in current.values and low not in _LIST_KEYS:
            first = current.values[low][0][0]
            raise fail(number, f"{known[low]} given twice in one section (first on line {first})")
        current.values.setdefault(low, []).append((number, value))

    interfaces = [s for s in sections if s.kind == "interface"]
    if not interfaces:
        raise fail(0, "no [Interface] section")
    if len(interfaces) > 1:
        raise fail(interfaces[1].line, "a second [Interface] section")
    iface_sec = interfaces[0]

    def one(sec: _Section, key: str) -> tuple[int, str] | None:
        items = sec.values.get(key)
        return items[0] if items else None

    def many(sec: _Section, key: str) -> list[tuple[int, str]]:
        return [(n, item) for n, v in sec.values.get(key, []) for item in _split_list(v)]

    # [Interface]
    found = one(iface_sec, "privatekey")
    if found is None:
        raise fail(iface_sec.line, "[Interface] has no PrivateKey")
    try:
        private_key = check_key(found[1])
    except ValueError as exc:
        raise fail(found[0], f"PrivateKey {exc}") from None
    listen_port = fwmark = mtu = None
    listen_port_line = fwmark_line = table_line = 0
    table = None
    save = False
    addresses: list[IPInterface] = []
    dns: list[str] = []
    search: list[str] = []
    try:
        if (found := one(iface_sec, "listenport")) is not None:
            listen_port, listen_port_line = _port(found[1]), found[0]
        if (found := one(iface_sec, "fwmark")) is not None:
            fwmark, fwmark_line = _fwmark(found[1]), found[0]
        if (found := one(iface_sec, "mtu")) is not None:
            if not found[1].isdigit() or not 576 <= int(found[1]) <= 65535:
                raise ValueError(f"MTU {found[1]!r} is not a number 576..65535")
            mtu = int(found[1])
        if (found := one(iface_sec, "table")) is not None:
            table, table_line = _table(found[1]), found[0]
        if (found := one(iface_sec, "saveconfig")) is not None:
            save = _bool(found[1])
        for found in many(iface_sec, "address"):
            try:
                addresses.append(ipaddress.ip_interface(found[1]))
            except ValueError:
                raise ValueError(f"Address {found[1]!r} is not an IP address[/prefix]") from None
        for found in many(iface_sec, "dns"):
            try:
                dns.append(str(ipaddress.ip_address(found[1])))
            except ValueError:
                if not _SEARCH_DOMAIN.match(found[1]):
                    raise ValueError(
                        f"DNS {found[1]!r} is neither an address nor a search domain"
                    ) from None
                search.append(found[1])
    except ValueError as exc:
        raise fail(found[0] if found else iface_sec.line, str(exc)) from None

    # [Peer]s
    peers: list[WgPeer] = []
    seen_keys: dict[str, int] = {}
    for sec in (s for s in sections if s.kind == "peer"):
        found = one(sec, "publickey")
        if found is None:
            raise fail(sec.line, "[Peer] has no PublicKey")
        try:
            public_key = check_key(found[1])
        except ValueError as exc:
            raise fail(found[0], f"PublicKey {exc}") from None
        if public_key in seen_keys:
            raise fail(
                found[0], f"the same peer appears twice (also on line {seen_keys[public_key]})"
            )
        seen_keys[public_key] = found[0]
        psk = endpoint = keepalive = None
        allowed: list[IPNetwork] = []
        found = None
        try:
            if (found := one(sec, "presharedkey")) is not None:
                try:
                    psk = check_key(found[1])
                except ValueError as exc:
                    raise ValueError(f"PresharedKey {exc}") from None
            if (found := one(sec, "endpoint")) is not None:
                endpoint = check_endpoint(found[1])
            if (found := one(sec, "persistentkeepalive")) is not None:
                keepalive = _keepalive(found[1])
            for found in many(sec, "allowedips"):
                try:
                    allowed.append(ipaddress.ip_network(found[1], strict=False))
                except ValueError:
                    raise ValueError(f"AllowedIPs {found[1]!r} is not an IP network") from None
        except ValueError as exc:
            raise fail(found[0] if found else sec.line, str(exc)) from None
        peers.append(
            WgPeer(
                public_key=public_key,
                preshared_key=psk,
                endpoint=endpoint,
                allowed_ips=tuple(dict.fromkeys(allowed)),
                persistent_keepalive=keepalive,
                line=sec.line,
                allowed_ips_line=sec.values["allowedips"][0][0] if allowed else 0,
            )
        )

    return WgConfig(
        source=source,
        interface=WgInterface(
            private_key, listen_port, fwmark, iface_sec.line, listen_port_line, fwmark_line
        ),
        peers=tuple(peers),
        quick=WgQuickSettings(
            addresses=tuple(addresses),
            dns=tuple(dns),
            dns_search=tuple(search),
            mtu=mtu,
            table=table,
            save_config=save,
            table_line=table_line,
        ),
    )


def require_dialable(config: WgConfig) -> None:
    """A RAS dial needs somebody to dial: at least one peer with an Endpoint."""
    if not config.peers:
        raise RasError(ERROR_INVALID_INTERFACE_CONFIG, f"{config.source}: no [Peer] section")
    if not config.dial_peers:
        raise RasError(
            ERROR_INVALID_INTERFACE_CONFIG,
            f"{config.source}:{config.peers[0].line}: no [Peer] has an Endpoint; nothing to dial",
        )


def check_policy(config: WgConfig, *, owner_uid: int, grant: Grant) -> None:
    """What the daemon lets this dial's config do; RasError(5, "FILE:LINE: ...") if not.

    * ``ListenPort`` below 1024 (not 0, "any port") only in root's configs: the daemon would
      bind a privileged port for a user.
    * ``FwMark`` and a numbered ``Table`` only in root's configs: fwmarks, routing tables and
      rule priorities are the daemon's, allocated per link (a user's mark or table could
      match, fill or tear down another link's policy routing). ``Table = auto``, ``main``
      and ``off`` stay allowed; the fwmark of a default route is always the daemon's.
    * Without ``grant.full_tunnel``, no AllowedIPs that route everything: a default route
      (``0.0.0.0/0``, ``::/0``) or networks adding up to one (``0.0.0.0/1`` +
      ``128.0.0.0/1``), whatever ``Table`` says: the AllowedIPs are what wireguard-go sends
      through the tunnel, and the daemon (not the config) decides the routes.
    """

    def refuse(line: int, message: str) -> RasError:
        return RasError(ERROR_ACCESS_DENIED, f"{config.source}:{line}: {message}")

    iface = config.interface
    if owner_uid != 0:
        port = iface.listen_port
        if port is not None and 0 < port < FIRST_UNPRIVILEGED_PORT:
            raise refuse(
                iface.listen_port_line,
                f"ListenPort = {port} is a privileged port (below "
                f"{FIRST_UNPRIVILEGED_PORT}); only root's links may bind one",
            )
        if iface.fwmark is not None:
            raise refuse(
                iface.fwmark_line,
                "FwMark is refused: fwmarks are allocated by the daemon, per link "
                "(only root's configs may set one)",
            )
        table = config.quick.table
        if table is not None and table.isdigit():
            raise refuse(
                config.quick.table_line,
                f"Table = {table} is refused: routing tables are allocated by the daemon "
                "(use auto, main or off; only root's configs may name a table)",
            )
    if not grant.full_tunnel:
        nets: list[IPNetwork] = []
        for peer in config.peers:
            nets.extend(peer.allowed_ips)
            if routes_too_much(nets):
                raise refuse(
                    peer.allowed_ips_line or peer.line,
                    "AllowedIPs "
                    + ", ".join(str(n) for n in peer.allowed_ips)[:120]
                    + " would route everything (with the peers before it): a full tunnel "
                    f"is not allowed by policy ({grant.full_tunnel_rule})",
                )
