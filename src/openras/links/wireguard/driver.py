"""The WireGuard link: ``wireguard-go -f`` (or the kernel module), set up over UAPI and rtnetlink.

Entry keys::

    OpenRasDevice=wireguard
    OpenRasWireGuardConfig=<wg-quick style file; relative to the phonebook's directory>
    OpenRasDialTimeoutMs=15000            no first handshake by then -> 809
    OpenRasWireGuardDeadPeerMs=180000     connected, transmitting, nothing heard -> drop 829
    OpenRasWireGuardImplementation=auto   auto | userspace | kernel

How a dial goes (each step bounded by the dial timeout):

1. The config is read with the owner's rights and checked (``config.py``: hooks refused,
   keys checked, wg-quick keys split off). Errors: RasError(872, "FILE:LINE: ...").
2. An interface name unique across namespaces (``/var/run/wireguard`` is shared) is chosen:
   ``orwg<handle>``. With the kernel module it is made over rtnetlink (``type wireguard``);
   otherwise ``wireguard-go -f IF`` is spawned as a supervised child (ConnectDevice).
3. Once the UAPI socket answers (polled every 0.5 ms), the config goes to wireguard-go as a
   UAPI ``set`` on that socket, in-process (endpoint names resolved first, 868 if they do
   not); for the kernel module, as one ``WG_CMD_SET_DEVICE`` over generic netlink
   (``genl.py``), in-process too. The private key is in no argv and no file. Then addresses,
   MTU, routes and the policy rules of a default route are set over netlink, in-process
   (``links/rtnl.py``) (DeviceConnected). The fwmark, table and rule priorities of a
   default route are the daemon's, allocated per link (``netplan.PolicySlot``).
   Dialable peers without PersistentKeepalive get one for the dial only, so that the first
   handshake starts at once; it is switched back off right after Connected is reported.
4. The peers are polled (wireguard-go: a UAPI ``get`` on its socket; kernel: a
   ``WG_CMD_GET_DEVICE`` dump; both in-process) every 1 ms for 0.2 s, every 10 ms up to 1 s,
   then every 50 ms, until a handshake (Connected) or the deadline (LinkFailed 809 — a wrong key, a wrong
   endpoint and a dead server look the same to WireGuard, which never answers an
   unauthenticated packet). Then it is polled about once a second: a peer silent while we
   transmit -> LinkLost 829; wireguard-go exiting or the interface vanishing ->
   LinkLost 829.

The interface, wireguard-go's UAPI socket and each policy rule are journaled before they
are made (``links/journal.py``); ``wait_closed`` (and the clean-up after a crash) replays the
journal: the rules by exact match (priority, fwmark, table and selector, so never another
link's or the administrator's rule), the interface, a socket nothing answers on any more.

What a config may do is the daemon's decision (``config.check_policy``, error 5 naming the
line): for a non-root owner no ``ListenPort`` below 1024, no ``FwMark`` and no numbered
``Table`` (the daemon allocates those, per link); without the policy's full tunnel, no
AllowedIPs that route everything.

Projection: the interface, the first ``Address`` of each IP version, ``DNS``; the remote
tunnel address only where the config states it (a host route in the peer's AllowedIPs inside
our Address network, see :func:`peer_tunnel_addresses`), else empty. Programs are found
through ``OPENRAS_LINK_PATH`` (``_common.find_program``); a missing one is 797 at dial time.
The daemon needs no ``wg``: only wireguard-go, where the kernel has no WireGuard.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Final

from openras.errors import (
    ERROR_CONNECTING_DEVICE_NOT_FOUND,
    ERROR_DNSNAME_NOT_RESOLVABLE,
    ERROR_INVALID_INTERFACE_CONFIG,
    ERROR_INVALID_PARAMETER,
    ERROR_IP_CONFIGURATION,
    ERROR_LINK_FAILURE,
    ERROR_VPN_TIMEOUT,
    RasError,
)
from openras.links._common import (
    HELPER_ENV,
    dial_timeout,
    entry_int,
    find_program,
    interface_stats,
    link_exists,
    resolve_entry_path,
    run_cmd,
    tail_text,
    unix_socket_answers,
)
from openras.links._owner_files import read_owner_file
from openras.links.base import (
    Emit,
    Link,
    LinkSpec,
    LinkStats,
    Projection,
    StateReached,
)
from openras.links.journal import Interface, Rule, Socket
from openras.links.policy_slots import (
    POLICY_SLOTS,
    allocate_policy_slot,
    hold_policy_slot,
    release_policy_slot,
)
from openras.links.process import LinkProcess, ProcessIdentity
from openras.links.rtnl import AddRule, NetlinkError, NewWireGuardInterface, Rtnl, parse_del_rule
from openras.links.supervisor import LinkFailure, SupervisedLink, stopped_before_start
from openras.links.wireguard.config import (
    IPInterface,
    IPNetwork,
    WgConfig,
    check_policy,
    endpoint_literal,
    key_hex,
    parse_config,
    require_dialable,
    split_endpoint,
)
from openras.links.wireguard.dump import (
    REJECT_AFTER_TIME,
    DialTimedOut,
    DumpError,
    HandshakeDone,
    PeerMonitor,
    PeerSilent,
    WgDump,
    parse_uapi,
)
from openras.links.wireguard.genl import DeviceSettings, PeerSettings, WgNetlink, key_bytes
from openras.links.wireguard.netplan import (
    NetPlan,
    batches,
    needs_policy_routing,
    plan_network,
)
from openras.links.wireguard.probe import EndpointProbe
from openras.states import RasConnState

log = logging.getLogger(__name__)

UAPI_DIR: Final = Path("/var/run/wireguard")
_DIAL_POLL: Final = 0.05
#: Finer polls right after the interface is up, where a handshake with a reachable peer lands
#: (a round trip): the dial is not held up by a coarse poll (see dial_poll_interval).
_DIAL_POLL_FAST: Final = 0.001
_DIAL_FAST_FOR: Final = 0.2
_DIAL_POLL_MEDIUM: Final = 0.01
_DIAL_MEDIUM_FOR: Final = 1.0
_UAPI_POLL: Final = 0.0005
#: One UAPI ``get`` (a few lines per peer) must come back within this, and fit in this.
_UAPI_TIMEOUT: Final = 2.0
_UAPI_LIMIT: Final = 1 << 20
_LOG_FILE: Final = "wireguard-go.log"
_MAX_IFNAME: Final = 15


@dataclass(frozen=True)
class _Settings:
    config_path: Path
    dial_timeout: float
    dead_after: float
    implementation: str

    @classmethod
    def from_spec(cls, spec: LinkSpec) -> _Settings:
        entry = spec.entry
        raw = entry.get("OpenRasWireGuardConfig")
        if raw is None or not raw.strip():
            raise RasError(ERROR_INVALID_PARAMETER, "OpenRasWireGuardConfig is not set")
        impl = (entry.get("OpenRasWireGuardImplementation") or "auto").strip().lower()
        if impl not in ("auto", "userspace", "kernel"):
            raise RasError(
                ERROR_INVALID_PARAMETER,
                f"OpenRasWireGuardImplementation={impl!r}: use auto, userspace or kernel",
            )
        dead_ms = entry_int(
            entry, "OpenRasWireGuardDeadPeerMs", int(REJECT_AFTER_TIME * 1000), minimum=500
        )
        return cls(
            config_path=resolve_entry_path(spec, "OpenRasWireGuardConfig", raw),
            dial_timeout=dial_timeout(entry),
            dead_after=dead_ms / 1000.0,
            implementation=impl,
        )


def load_config(spec: LinkSpec, settings: _Settings) -> WgConfig:
    """Read (as the owner) and parse the entry's config; RasError(872) if unusable."""
    data = read_owner_file(
        settings.config_path,
        spec.owner_uid,
        code=ERROR_INVALID_INTERFACE_CONFIG,
        what="WireGuard config",
    )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise RasError(
            ERROR_INVALID_INTERFACE_CONFIG, f"{settings.config_path}: not UTF-8 text"
        ) from None
    config = parse_config(text, str(settings.config_path))
    require_dialable(config)
    check_policy(config, owner_uid=spec.owner_uid, grant=spec.grant)
    return config


def uapi_socket(ifname: str) -> Path:
    return UAPI_DIR / f"{ifname}.sock"


#: Where the kernel says whether WireGuard is loaded (or built in), and its module index.
_SYS_MODULE = Path("/sys/module/wireguard")
_MODULES_DIR = Path("/lib/modules")
#: What the kernel's modules looked like when making a ``wireguard`` interface was last
#: refused as an unknown kind (None: never). Until that changes (a module package installed:
#: depmod rewrites ``modules.dep``; the module loaded by hand), ``auto`` does not try again:
#: each try had the kernel run modprobe and wait for it before the fallback to wireguard-go.
_refused_with: tuple[bool, int | None] | None = None


def _can_load_modules() -> bool:
    return Path("/proc/modules").exists()


def _modules_state() -> tuple[bool, int | None]:
    """Whether the module is loaded, and when the module index was last written."""
    try:
        index: int | None = (_MODULES_DIR / os.uname().release / "modules.dep").stat().st_mtime_ns
    except OSError:
        index = None
    return _SYS_MODULE.exists(), index


def kernel_may_have_wireguard() -> bool:
    """False where this kernel has no WireGuard (then ``auto`` makes no kernel interface,
    and the dial needs wireguard-go): the module is neither loaded nor built in and modules
    cannot be loaded, or the kernel refused the kind and its modules have not changed since."""
    if _refused_with is not None and _refused_with == _modules_state():
        return False
    return _SYS_MODULE.exists() or _can_load_modules()


def _note_refusal() -> None:
    global _refused_with
    _refused_with = _modules_state()


def dial_poll_interval(now: float, fast_until: float, medium_until: float) -> float:
    """How long to wait before the next look at the peers while no handshake came: a
    reachable peer answers within a round trip, so poll finely at first, then back off (a
    peer that never answers must not cost a thousand looks a second)."""
    if now < fast_until:
        return _DIAL_POLL_FAST
    return _DIAL_POLL_MEDIUM if now < medium_until else _DIAL_POLL


def interface_names(handle: int) -> list[str]:
    """Candidate names for ``handle``, all at most 15 characters."""
    base = f"orwg{handle}"
    if len(base) > _MAX_IFNAME:
        base = f"orwg{handle % 10**11}"
    names = [base]
    for n in range(1, 10):
        name = f"{base[: _MAX_IFNAME - 2]}x{n}"
        names.append(name)
    return names


def _set_src_valid_mark() -> None:
    """``sysctl net.ipv4.conf.all.src_valid_mark=1`` (wg-quick's, for a default route with
    a fwmark), written in-process to the daemon's network namespace's own setting."""
    try:
        with open("/proc/sys/net/ipv4/conf/all/src_valid_mark", "w") as fh:
            fh.write("1")
    except OSError as exc:  # as the sysctl it replaces: the dial goes on without it
        log.warning("net.ipv4.conf.all.src_valid_mark=1: %s", exc)


async def _ip_force(commands: Sequence[Sequence[str]]) -> None:
    """Run ``ip`` commands in ``-force`` batches (past ones already done or already undone)."""
    for fam, lines in batches([tuple(c) for c in commands]):
        argv = ["ip", *([fam] if fam else []), "-force", "-batch", "-"]
        await run_cmd(argv, input_data=("\n".join(lines) + "\n").encode(), time_limit=5)


def peer_tunnel_addresses(
    addresses: Sequence[IPInterface], allowed_ips: Sequence[IPNetwork]
) -> dict[int, str]:
    """The peer's tunnel address per IP version, where the config says it: a host route
    (/32, /128) in the peer's AllowedIPs that lies in one of our Address networks and is not
    our own address. WireGuard has no notion of a remote address, so a peer that is reached
    only through wider AllowedIPs (``10.0.0.0/24``) has none, and the projection leaves it empty.
    """
    found: dict[int, str] = {}
    ours = {a.ip for a in addresses}
    for net in allowed_ips:
        if net.prefixlen != net.max_prefixlen or net.version in found:
            continue
        host = net.network_address
        if host in ours:
            continue
        if any(a.version == net.version and host in a.network for a in addresses):
            found[net.version] = str(host)
    return found


class WireGuardLink(SupervisedLink[WgConfig]):
    """A WireGuard tunnel from a wg-quick style config."""

    driver: ClassVar[str] = "wireguard"
    device_name: ClassVar[str] = "WireGuard"

    def __init__(self, spec: LinkSpec, emit: Emit) -> None:
        super().__init__(spec, emit)
        self._settings: _Settings | None = None
        self._config: WgConfig | None = None
        self._plan: NetPlan | None = None
        self._ifname = ""
        self._kernel = False
        self._configured = False
        self._keepalive_overridden: tuple[str, ...] = ()
        self._projection: dict[str, Any] = {}
        self._setup: list[list[str]] = []
        #: The policy slot this link holds (netplan.PolicySlot.slot), if any.
        self._slot: int | None = None
        #: Dialed peers' endpoints resolved (``ip:port``), and watched while dialing.
        self._endpoints: dict[str, str] | None = None
        self._probes: list[EndpointProbe] = []
        #: The kernel module's netlink socket (the kernel path only), open while the link is.
        self._genl: WgNetlink | None = None

    def __repr__(self) -> str:
        state = "connected" if self._connected else "configured" if self._configured else "dialing"
        return f"<WireGuardLink handle={self.spec.handle} if={self._ifname or '-'} {state}>"

    # -- checks -----------------------------------------------------------------------------

    @classmethod
    def validate(cls, spec: LinkSpec) -> WgConfig:
        settings = _Settings.from_spec(spec)
        config = load_config(spec, settings)
        if settings.implementation == "userspace" or (
            settings.implementation == "auto" and not kernel_may_have_wireguard()
        ):
            find_program("wireguard-go")
        return config

    # -- start ------------------------------------------------------------------------------

    async def _launch(self, prepared: WgConfig) -> None:
        settings = self._settings = _Settings.from_spec(self.spec)
        config = self._config = prepared
        self._ifname = await self._choose_ifname()
        slot = None
        if needs_policy_routing(config):
            slot = allocate_policy_slot(self.spec.handle)
            self._slot = slot.slot
        self._plan = plan_network(config, self._ifname, slot=slot)
        self._setup = [list(cmd) for cmd in self._plan.setup]
        self._keepalive_overridden = tuple(
            p.public_key for p in config.dial_peers if not p.persistent_keepalive
        )
        self._projection = self._make_projection(config, self._plan)

        if self._stopping:
            raise stopped_before_start("wireguard")
        self.journal.note(Interface(self._ifname))
        probe = settings.implementation == "kernel" or (
            settings.implementation == "auto" and kernel_may_have_wireguard()
        )
        if probe and await self._kernel_create():
            self._kernel = True
        elif settings.implementation == "kernel":
            raise RasError(
                ERROR_CONNECTING_DEVICE_NOT_FOUND,
                f"cannot create {self._ifname}: this kernel has no WireGuard module",
            )
        else:
            env = dict(HELPER_ENV)
            env["LOG_LEVEL"] = "error"
            self.journal.note(Socket(str(uapi_socket(self._ifname))))
            self._spawn_program(
                [find_program("wireguard-go"), "-f", self._ifname], log_name=_LOG_FILE, env=env
            )
        if self._stopping:  # came in while the kernel interface was made: wait_closed removes it
            raise stopped_before_start("wireguard")
        self.emit(StateReached(RasConnState.ConnectDevice))
        self._run_task = self._spawn(self._run())

    async def _choose_ifname(self) -> str:
        for name in interface_names(self.spec.handle):
            if uapi_socket(name).exists() and unix_socket_answers(uapi_socket(name)):
                continue
            if await self._link_exists(name):
                continue
            return name
        raise RasError(
            ERROR_CONNECTING_DEVICE_NOT_FOUND,
            f"no free interface name for handle {self.spec.handle}",
        )

    async def _kernel_create(self) -> bool:
        """Make the kernel interface (over rtnetlink; the kernel loads the module if it
        can); False where the kernel has no WireGuard."""
        try:
            with Rtnl() as rtnl:
                rtnl.apply([NewWireGuardInterface(self._ifname)])
        except OSError as exc:
            # An unknown kind is EOPNOTSUPP ("Unknown device type", as ip says it).
            if exc.errno == errno.EOPNOTSUPP:
                _note_refusal()
            log.debug("%r: no kernel WireGuard interface: %s", self, exc)
            return False
        return True

    async def _link_exists(self, name: str) -> bool:
        return link_exists(name)

    @staticmethod
    def _make_projection(config: WgConfig, plan: NetPlan) -> dict[str, Any]:
        v4 = [a for a in config.quick.addresses if a.version == 4]
        v6 = [a for a in config.quick.addresses if a.version == 6]
        peer = config.dial_peers[0]
        remote = peer_tunnel_addresses(config.quick.addresses, peer.allowed_ips)
        return {
            "local": str(v4[0].ip) if v4 else "",
            "local_v6": str(v6[0].ip) if v6 else "",
            "remote": remote.get(4, ""),
            "remote_v6": remote.get(6, ""),
            "dns": list(config.quick.dns),
            "extra": {
                "endpoint": peer.endpoint or "",
                "peer_public_key": peer.public_key,
                "allowed_ips": ",".join(str(n) for n in peer.allowed_ips),
                "addresses": ",".join(str(a) for a in config.quick.addresses),
                "routes": ",".join(plan.routes),
                "mtu": str(config.quick.mtu or 1420),
                "dns_search": ",".join(config.quick.dns_search),
            },
        }

    # -- the dial and the watch -------------------------------------------------------------

    async def _run(self) -> None:
        assert self._settings is not None
        assert self._config is not None
        try:
            if self._proc is not None:
                await self._wait_uapi()
            await self._probe_endpoints()  # before the routes: the probe goes out directly
            await self._configure()
            if self._ended():
                return
            self._configured = True
            self.emit(StateReached(RasConnState.DeviceConnected))
            monitor = PeerMonitor(
                started=self._started,
                dial_timeout=self._settings.dial_timeout,
                dead_after=self._settings.dead_after,
            )
            await self._watch(monitor)
        except LinkFailure as exc:
            if self._proc is not None and self._proc.exited:
                return  # the program died under us: its exit watch (_watch_program) reports why
            self._finish(exc.code, exc.detail)

    async def _wait_uapi(self) -> None:
        sock = uapi_socket(self._ifname)
        assert self._proc is not None
        while True:
            if self._proc.exited:
                raise LinkFailure(ERROR_CONNECTING_DEVICE_NOT_FOUND, "wireguard-go exited")
            if sock.exists() and unix_socket_answers(sock):
                return
            if self._remaining() <= 0:
                raise LinkFailure(ERROR_VPN_TIMEOUT, "wireguard-go did not open its UAPI socket")
            await asyncio.sleep(_UAPI_POLL)

    async def _configure(self) -> None:
        assert self._config is not None
        assert self._plan is not None
        keepalive = 1 if self._keepalive_overridden else None
        if self._kernel:
            await self._kernel_set(keepalive)
        else:
            request = self._config.to_uapi(
                endpoints=await self._resolve_endpoints(),
                fwmark=self._plan.fwmark,
                keepalive_override=keepalive,
            )
            await self._uapi_set(request, "the configuration")
        if self._plan.src_valid_mark:
            _set_src_valid_mark()
        # Over netlink, in-process: a few acknowledged requests of microseconds each, where an
        # ``ip -batch`` helper cost 2-3 ms of the dial (see links/rtnl.py).
        # Each rule is journaled before it is added; it is removed by exact match, and its
        # fwmark, table and priority are this link's alone (the policy slot).
        for op in self._plan.ops:
            if isinstance(op, AddRule) and op.not_fwmark is not None:
                self.journal.note(Rule.of(op))
        try:
            with Rtnl() as rtnl:
                rtnl.apply(self._plan.ops)
        except OSError as exc:
            raise LinkFailure(ERROR_IP_CONFIGURATION, str(exc)) from None

    async def _kernel_set(self, keepalive: int | None) -> None:
        """The configuration as one ``WG_CMD_SET_DEVICE`` (endpoint names resolved first,
        as ``wg setconf`` would)."""
        assert self._config is not None
        assert self._plan is not None
        settings = self._config.to_netlink(
            endpoints=await self._resolve_endpoints(),
            fwmark=self._plan.fwmark,
            keepalive_override=keepalive,
        )
        try:
            self._netlink().set_device(self._ifname, settings)
        except OSError as exc:
            raise LinkFailure(ERROR_INVALID_INTERFACE_CONFIG, str(exc)) from None

    def _netlink(self) -> WgNetlink:
        """The link's generic netlink socket to the kernel module (made on first use)."""
        if self._genl is None:
            self._genl = WgNetlink()
        return self._genl

    async def _probe_endpoints(self) -> None:
        """Watch each dialed peer's endpoint for what WireGuard never reports (no route,
        a closed port): LinkFailure at once if the network already said so."""
        assert self._config is not None
        endpoints = await self._resolve_endpoints()
        for peer in self._config.dial_peers:
            literal = endpoints.get(peer.endpoint or "")
            if literal is not None:
                self._probes.append(EndpointProbe(literal))
        self._check_probes()

    def _check_probes(self) -> None:
        for probe in self._probes:
            failure = probe.failure()
            if failure is not None:
                raise LinkFailure(*failure)

    def _close_probes(self) -> None:
        for probe in self._probes:
            probe.close()
        self._probes = []

    async def _resolve_endpoints(self) -> dict[str, str]:
        """Each peer Endpoint as ``ip:port`` (UAPI takes no names): a name is resolved as
        ``wg`` would, first address, within the dial timeout; 868 if it does not resolve."""
        assert self._config is not None
        if self._endpoints is not None:
            return self._endpoints
        found: dict[str, str] = {}
        loop = asyncio.get_running_loop()
        for peer in self._config.peers:
            if not peer.endpoint or peer.endpoint in found:
                continue
            literal = endpoint_literal(peer.endpoint)
            if literal is None:
                host, port = split_endpoint(peer.endpoint)
                try:
                    infos = await asyncio.wait_for(
                        loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM),
                        max(0.1, self._remaining()),
                    )
                except (OSError, TimeoutError) as exc:
                    raise LinkFailure(
                        ERROR_DNSNAME_NOT_RESOLVABLE, f"endpoint {host}: {exc or 'timed out'}"
                    ) from None
                literal = endpoint_literal(f"[{infos[0][4][0]}]:{port}")
                assert literal is not None
            found[peer.endpoint] = literal
        self._endpoints = found
        return found

    async def _dump(self) -> WgDump | None:
        """The interface's peers, in-process (a poll every few milliseconds while dialing
        must not be a helper process each): wireguard-go's UAPI ``get``, or the kernel
        module's ``WG_CMD_GET_DEVICE``. None when the interface does not answer."""
        if not self._kernel:
            return await self._uapi_dump()
        try:
            return self._netlink().device(self._ifname)
        except NetlinkError as exc:
            if exc.errno not in (errno.ENODEV, errno.ENOENT):
                log.warning("%r: WireGuard dump: %s", self, exc)
            return None
        except OSError as exc:
            log.warning("%r: WireGuard dump: %s", self, exc)
            return None

    async def _uapi(self, request: bytes) -> bytes | None:
        """One request on wireguard-go's UAPI socket; its answer (through the blank line that
        ends it), or None when the socket does not answer in time."""
        path = str(uapi_socket(self._ifname))
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_unix_connection(path, limit=_UAPI_LIMIT), _UAPI_TIMEOUT
            )
        except (OSError, TimeoutError):
            return None
        try:
            writer.write(request)
            return await asyncio.wait_for(reader.readuntil(b"\n\n"), _UAPI_TIMEOUT)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return None
        finally:
            writer.close()

    async def _uapi_set(self, request: str, what: str) -> None:
        """A UAPI ``set``; _Failure unless wireguard-go answers ``errno=0``."""
        answer = await self._uapi(request.encode())
        if answer is None:
            raise LinkFailure(
                ERROR_CONNECTING_DEVICE_NOT_FOUND, f"wireguard-go did not answer {what}"
            )
        text = answer.decode("ascii", "replace").strip()
        if text != "errno=0":
            raise LinkFailure(
                ERROR_INVALID_INTERFACE_CONFIG, f"wireguard-go refused {what} ({text})"
            )

    async def _uapi_dump(self) -> WgDump | None:
        data = await self._uapi(b"get=1\n\n")
        if data is None:
            return None
        try:
            return parse_uapi(data.decode("ascii", "replace"))
        except DumpError:
            return None

    async def _watch(self, monitor: PeerMonitor) -> None:
        assert self._settings is not None
        missing_since: float | None = None
        fast_until = time.monotonic() + _DIAL_FAST_FOR
        medium_until = time.monotonic() + _DIAL_MEDIUM_FOR
        while not self._ended():
            dump = await self._dump()
            now = time.monotonic()
            if dump is None:
                events = monitor.timeout(now)
                if monitor.connected:
                    missing_since = missing_since or now
                    if self._kernel or now - missing_since > 1.0:
                        raise LinkFailure(ERROR_LINK_FAILURE, f"interface {self._ifname} vanished")
            else:
                missing_since = None
                events = monitor.observe(dump, now)
            if monitor.connected:
                self._close_probes()
            else:
                self._check_probes()
            for event in events:
                await self._on_monitor_event(event)
            if self._ended():
                return
            if monitor.connected:
                interval = min(1.0, max(_DIAL_POLL, self._settings.dead_after / 5))
            else:
                interval = dial_poll_interval(now, fast_until, medium_until)
            await asyncio.sleep(interval)

    async def _keepalive_off(self, public_key: str) -> None:
        if self._kernel:
            peer = PeerSettings(
                key_bytes(public_key),
                persistent_keepalive=0,
                replace_allowed_ips=False,
                update_only=True,
            )
            with contextlib.suppress(OSError):  # housekeeping, as below
                self._netlink().set_device(self._ifname, DeviceSettings(peers=(peer,)))
            return
        request = f"set=1\npublic_key={key_hex(public_key)}\npersistent_keepalive_interval=0\n\n"
        with contextlib.suppress(LinkFailure):  # housekeeping: a refusal changes nothing else
            await self._uapi_set(request, "the keepalive")

    async def _on_monitor_event(self, event: HandshakeDone | DialTimedOut | PeerSilent) -> None:
        assert self._settings is not None
        endpoint = self._projection.get("extra", {}).get("endpoint", "?")
        if isinstance(event, HandshakeDone):
            # Connected first: switching the dial's keepalive back off is housekeeping that
            # need not hold up the dial (a keepalive or two more change nothing).
            self._mark_connected()
            self.emit(StateReached(RasConnState.Connected))
            overridden, self._keepalive_overridden = self._keepalive_overridden, ()
            for key in overridden:
                if self._ended():
                    break
                await self._keepalive_off(key)
        elif isinstance(event, DialTimedOut):
            raise LinkFailure(
                ERROR_VPN_TIMEOUT,
                f"no WireGuard handshake with {endpoint} within {self._settings.dial_timeout:g} s "
                f"(sent {event.tx_bytes} bytes, received {event.rx_bytes}); a wrong key, a wrong "
                "endpoint and an unreachable server look the same",
            )
        else:
            raise LinkFailure(
                ERROR_LINK_FAILURE,
                f"peer {endpoint} silent for {event.silent_for:.1f} s while we transmitted",
            )

    def _program_exited(self, rc: int | None) -> tuple[int, str]:
        log = tail_text(self.spec.run_dir / _LOG_FILE, 600).strip().splitlines()
        why = f"wireguard-go exited (status {rc})" + (f": {log[-1]}" if log else "")
        code = ERROR_LINK_FAILURE if self._connected else ERROR_CONNECTING_DEVICE_NOT_FOUND
        return code, why

    async def _release(self) -> None:
        self._close_probes()
        if self._genl is not None:
            self._genl.close()
            self._genl = None
        release_policy_slot(self._slot, self.spec.handle)

    # -- persistence ------------------------------------------------------------------------

    def record(self) -> dict[str, Any]:
        """Facts fixed at start (the manager records once): adopt re-derives the state."""
        return {
            "ifname": self._ifname,
            "kernel": self._kernel,
            "process": self._proc.identity.to_record() if self._proc else None,
            "setup": self._setup,
            "policy_slot": self._slot,
            "keepalive_overridden": list(self._keepalive_overridden),
            "projection": self._projection,
        }

    @classmethod
    async def adopt(cls, spec: LinkSpec, record: Mapping[str, Any], emit: Emit) -> Link | None:
        """Re-attach to a running wireguard-go (or kernel interface) from its record.

        The link counts as alive when the process is the same one and the interface answers
        with its peers loaded; the interface set-up is then re-applied idempotently, with
        ``ip -force`` (a crash may have come between the configuration and the set-up).
        Anything else is cleaned up -> None.
        """
        link = cls(spec, emit)
        link._settings = _Settings.from_spec(spec)
        link._started = time.monotonic()
        link._ifname = str(record.get("ifname", ""))
        link._kernel = bool(record.get("kernel", False))
        link._setup = [list(map(str, c)) for c in record.get("setup", [])]
        link._journal_legacy_teardown(record)
        slot = record.get("policy_slot")
        if isinstance(slot, int) and 0 <= slot < POLICY_SLOTS:
            link._slot = slot
            hold_policy_slot(slot, spec.handle)
        link._keepalive_overridden = tuple(map(str, record.get("keepalive_overridden", [])))
        link._projection = dict(record.get("projection", {}))
        proc_rec = record.get("process")
        proc = None
        if not link._kernel and proc_rec:
            proc = LinkProcess.adopt(ProcessIdentity.from_record(proc_rec))
        if proc is not None:
            link._watch_program(proc, journal=False)
        usable = bool(link._ifname) and (link._kernel or proc is not None)
        dump = await link._dump() if usable else None
        if dump is not None and dump.peers:
            await _ip_force(link._setup)
        else:
            # Gone, or caught before its peers were loaded: nothing worth keeping.
            await link._abandon()
            return None
        link._configured = True
        monitor = PeerMonitor(
            started=link._started,
            dial_timeout=link._settings.dial_timeout,
            dead_after=link._settings.dead_after,
        )
        if dump.latest_handshake:
            monitor.mark_connected(dump, time.monotonic())
            await link._on_monitor_event(HandshakeDone(dump.peers[0].public_key, 0))
        else:
            emit(StateReached(RasConnState.DeviceConnected))
        link._run_task = link._spawn(link._adopted_watch(monitor))
        return link

    def _journal_legacy_teardown(self, record: Mapping[str, Any]) -> None:
        """A link recorded by a daemon from before the journal keeps its rule removals in
        the record (``teardown``, as ``ip`` arguments): they go into the journal, so the
        close removes them as it would its own (each by exact match)."""
        if any(isinstance(step, Rule) for step in self.journal.steps()):
            return
        for args in record.get("teardown", []):
            removal = parse_del_rule([str(a) for a in args])
            if removal is not None:
                self.journal.note(Rule.of(removal.rule))

    async def _adopted_watch(self, monitor: PeerMonitor) -> None:
        try:
            await self._watch(monitor)
        except LinkFailure as exc:
            self._finish(exc.code, exc.detail)

    # -- numbers ----------------------------------------------------------------------------

    async def statistics(self) -> LinkStats:
        if not self._ifname:
            return LinkStats()
        stats = interface_stats(self._ifname)
        if stats is not None:
            return stats
        dump = await self._dump()
        if dump is None:
            return LinkStats()
        return LinkStats(bytes_sent=dump.tx_bytes, bytes_received=dump.rx_bytes)

    async def projection(self) -> Projection | None:
        if not self._projection or not self._configured:
            return None
        proj = self._projection
        extra = dict(proj.get("extra", {}))
        extra["implementation"] = "kernel" if self._kernel else "wireguard-go"
        return Projection(
            interface=self._ifname,
            local_address=str(proj.get("local", "")),
            local_address_v6=str(proj.get("local_v6", "")),
            remote_address=str(proj.get("remote", "")),
            remote_address_v6=str(proj.get("remote_v6", "")),
            dns=tuple(proj.get("dns", ())),
            extra=extra,
        )


__all__ = ["WireGuardLink", "load_config", "uapi_socket", "interface_names"]
