"""The IKEv2 link: strongSwan's charon for Windows' IKEv2 entries.

Chosen by the Windows keys alone (``DEVICE=vpn`` with ``VpnStrategy`` 7, 8 or 14, or the
IKEv2 miniport as the entry's device), so a Windows export dials unchanged; the keys it reads
are in :mod:`openras.links.ikev2.settings`.

**One charon per link.** Measured here: a charon of its own is up and answering VICI in about
15 ms and has the SA up about 40 ms after the spawn, against 7 ms for an ``initiate`` on a
charon already running; for that difference a link gets what every other link has: its own
process to supervise, a crash that ends only that link, a configuration nobody else's dial
can change, nothing to share between users (charon has one credential store), and adoption
by process identity after a daemon restart. charon's pid file is compiled in
(``/var/run/charon.pid``), so each charon runs in a mount namespace of its own with the
link's run directory bound over ``/run`` (``unshare --mount`` and a constant ``sh -c`` that
mounts and execs: the pid stays charon's, the paths are arguments, never script text).

charon is configured by the daemon only (:mod:`openras.links.ikev2.config`: a generated
``strongswan.conf`` with no include of the system's, and VICI messages built from the typed
settings); the password, PSK and private key go over VICI, never to a file or argv. The
interpreter (:mod:`openras.links.ikev2.interpreter`) turns charon's log and SA events into
states and Windows' codes.

**Two data paths** (:mod:`openras.links.ikev2.config` says how each is configured). Where
the kernel has ESP and XFRM interfaces (:func:`openras.links.xfrm.kernel_esp`), the kernel's:
the daemon makes an XFRM interface ``orik<slot>`` for the link (journaled, with a step that
purges the SAs and policies carrying its ``if_id``, which a SIGKILLed charon would leave),
charon puts the virtual IP on it, and the daemon routes into it: a full tunnel by the
policy slot's table and rules (as WireGuard's), a split tunnel by the selectors' routes.
Where it has none, charon's ``kernel-libipsec`` plugin carries the traffic over a TUN
device (``ipsec<N>``); the virtual IP lands there, and the routes go to the link's own
policy table (journaled before charon makes its rule). ``OPENRAS_IKEV2_ESP`` (the daemon's
environment: ``auto``, ``kernel`` or ``userspace``) overrides the choice.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Final

from openras.errors import (
    ERROR_CONNECTING_DEVICE_NOT_FOUND,
    ERROR_IP_CONFIGURATION,
    ERROR_LINK_FAILURE,
    ERROR_RASMAN_CANNOT_INITIALIZE,
    ERROR_VPN_TIMEOUT,
    RasError,
)
from openras.links._common import find_program, interface_stats, program_path
from openras.links._owner_files import write_private
from openras.links.base import Emit, Link, LinkSpec, LinkStats, Projection, StateReached
from openras.links.ikev2 import config
from openras.links.ikev2.interpreter import CharonLog
from openras.links.ikev2.settings import Ikev2Settings, settings_from_spec
from openras.links.ikev2.vici import ViciClosed, ViciConnection, ViciError
from openras.links.journal import Interface, Rule, XfrmIfId
from openras.links.policy_slots import (
    PolicySlot,
    allocate_policy_slot,
    hold_policy_slot,
    release_policy_slot,
)
from openras.links.process import LinkProcess, ProcessIdentity
from openras.links.progress import LogTail
from openras.links.rtnl import AddRoute, LinkUp, NetlinkError, NewXfrmInterface, Op, Rtnl
from openras.links.supervisor import LinkFailure, SupervisedLink, stopped_before_start
from openras.links.xfrm import kernel_esp
from openras.states import RasConnState

#: Where Debian, Fedora and Arch put charon (it is not on PATH).
CHARON_PATHS: Final = (
    "/usr/lib/ipsec/charon",
    "/usr/libexec/ipsec/charon",
    "/usr/libexec/strongswan/charon",
    "/usr/lib/strongswan/charon",
)
_CONF: Final = "strongswan.conf"
_LOG: Final = "charon.log"
_VICI: Final = "charon.vici"
_RUN: Final = "run"
#: In charon's own mount namespace: the link's run directory over /run (charon's pid file
#: is compiled in), a no-op over /sbin/resolvconf where there is one (charon's resolve
#: plugin would run it: the daemon applies DNS), then exec charon. The directory, the no-op
#: and charon are positional arguments ($0, $1, $@ after the shift), never script text.
_MOUNT_AND_EXEC: Final = (
    'mount --bind -- "$0" /run && '
    '{ [ ! -e /sbin/resolvconf ] || mount --bind -- "$1" /sbin/resolvconf; } && '
    'shift && exec "$@"'
)
_RESOLV: Final = "resolv.conf"
#: How often the dial looks for charon's VICI socket (an ``os.stat``; the event loop's timer
#: rounds it up to its 1 ms resolution).
_POLL: Final = 0.0005
_FILE_LINE: Final = re.compile(r"^\S+ \d+\[\w+\] (.*)$")
#: RASIKEV2_PROJECTION_INFO.dwAuthenticationProtocol per auth; flags.
_AUTH_PROTOCOL: Final = {"cert": 1, "eap": 2, "psk": 3}
RASIKEv2_FLAGS_MOBIKESUPPORTED: Final = 0x1
RASIKEv2_FLAGS_BEHIND_NAT: Final = 0x2
RASIKEv2_FLAGS_SERVERBEHIND_NAT: Final = 0x4


def use_kernel_esp() -> bool:
    """The data path: ``OPENRAS_IKEV2_ESP`` (``kernel``, ``userspace``), else the kernel's
    ESP where it has it."""
    choice = os.environ.get("OPENRAS_IKEV2_ESP", "auto").strip().lower()
    if choice in ("kernel", "userspace"):
        return choice == "kernel"
    return kernel_esp()


def find_charon() -> str:
    """charon's path: ``OPENRAS_LINK_PATH``'s directories first, then the distributions'."""
    for directory in program_path().split(os.pathsep):
        candidate = Path(directory) / "charon"
        if directory and os.access(candidate, os.X_OK):
            return str(candidate)
    for path in CHARON_PATHS:
        if os.access(path, os.X_OK):
            return path
    raise RasError(
        ERROR_CONNECTING_DEVICE_NOT_FOUND,
        "strongSwan's charon is not installed (apt install strongswan-charon "
        "libcharon-extra-plugins libcharon-extauth-plugins libstrongswan-standard-plugins)",
    )


class Ikev2Link(SupervisedLink[Ikev2Settings]):
    """charon as a RAS link."""

    driver: ClassVar[str] = "ikev2"
    device_type: ClassVar[str] = "vpn"
    device_name: ClassVar[str] = "WAN Miniport (IKEv2)"
    #: SIGTERM is charon's clean stop: it sends the DELETE and removes its TUN and rules.
    term_after: ClassVar[float | None] = None

    def __init__(self, spec: LinkSpec, emit: Emit) -> None:
        super().__init__(spec, emit)
        self._settings: Ikev2Settings | None = None
        self._log = CharonLog()
        self._slot: PolicySlot | None = None
        self._events: ViciConnection | None = None
        self._control: ViciConnection | None = None
        self._auth = ""
        self._mobike = False
        self._log_tail = LogTail(self._path(_LOG))
        self._esp: config.KernelEsp | None = None

    def __repr__(self) -> str:
        state = self._log.reached.name if self._log.reached is not None else "new"
        return f"<Ikev2Link handle={self.spec.handle} {state}>"

    @classmethod
    def validate(cls, spec: LinkSpec) -> Ikev2Settings:
        settings = settings_from_spec(spec)
        find_charon()
        find_program("unshare")
        return settings

    def _path(self, name: str) -> Path:
        return self.spec.run_dir / name

    # -- states -----------------------------------------------------------------------------

    def _emit_states(self, states: list[RasConnState]) -> None:
        for state in states:
            if state is not RasConnState.Connected:
                self.emit(StateReached(state))

    def _reach(self, state: RasConnState) -> None:
        self._emit_states(self._log.reach(state))

    def _on_event(self, name: str, msg: Mapping[str, Any]) -> None:
        was_up = self._log.child_up
        if self._connected and was_up and name.endswith("updown") and msg.get("up") != "yes":
            self._read_file_log()  # what charon logged since Connected: why it goes down
        states = self._log.feed_event(name, msg)
        if not self._connected:
            self._emit_states(states)
            return
        if was_up and self._log.went_down and not self._ended():
            code, detail = self._log.end_reason(connected=True, default=ERROR_LINK_FAILURE)
            self._finish(code, detail)

    # -- start ------------------------------------------------------------------------------

    async def _launch(self, prepared: Ikev2Settings) -> None:
        settings = self._settings = prepared
        self._auth = settings.auth
        self._mobike = settings.mobike
        charon = find_charon()
        unshare = find_program("unshare")
        sh = find_program("sh")
        slot = self._slot = allocate_policy_slot(self.spec.handle)
        priority = slot.priorities[1]
        run = self._path(_RUN)
        run.mkdir(mode=0o700, exist_ok=True)
        no_op = next((p for p in ("/bin/true", "/usr/bin/true") if os.access(p, os.X_OK)), "")
        if use_kernel_esp():
            self._esp = config.KernelEsp(f"orik{slot.slot}", slot.table, slot.fwmark)
        write_private(
            self._path(_CONF),
            config.strongswan_conf(
                run_dir=self.spec.run_dir, vici_socket=self._path(_VICI),
                log_file=self._path(_LOG), table=slot.table, priority=priority,
                resolv_file=self._path(_RESOLV), install_routes=settings.full_tunnel,
                kernel_esp=self._esp, dial_timeout=self._dial_timeout(),
            ).encode(),
        )  # fmt: skip
        if self._stopping:
            raise stopped_before_start("charon")
        if self._esp is not None:
            self._make_xfrm_interface(self._esp)
        else:
            # charon adds "lookup TABLE" rules at start and removes them at a clean exit: a
            # SIGKILLed charon's are removed by the journal's replay.
            for version in (4, 6):
                self.journal.note(Rule(version, priority, slot.table, None))
        env = {"PATH": program_path(), "LANG": "C", "STRONGSWAN_CONF": str(self._path(_CONF))}
        argv = [unshare, "--mount", "--propagation", "private", sh, "-c", _MOUNT_AND_EXEC,
                str(run), no_op or "/bin/true", charon]  # fmt: skip
        self._spawn_program(argv, log_name="charon.out", env=env)
        self._reach(RasConnState.OpenPort)
        self._arm_dial_deadline()
        self._run_task = self._spawn(self._dial(settings))

    def _make_xfrm_interface(self, esp: config.KernelEsp) -> None:
        """The link's XFRM interface, up; journaled first, with the purge of whatever SAs
        and policies end up carrying its id."""
        self.journal.note(Interface(esp.ifname))
        self.journal.note(XfrmIfId(esp.if_id))
        try:
            with Rtnl() as rtnl:
                rtnl.apply([NewXfrmInterface(esp.ifname, esp.if_id),
                            LinkUp(esp.ifname, config.XFRM_MTU)])  # fmt: skip
        except (NetlinkError, OSError) as exc:
            raise RasError(
                ERROR_CONNECTING_DEVICE_NOT_FOUND,
                f"cannot make the XFRM interface for the kernel's ESP ({exc}); "
                "OPENRAS_IKEV2_ESP=userspace in rasman's environment uses charon's own",
            ) from None
        self._log.facts.tun = esp.ifname

    async def _wait_for_vici(self) -> None:
        """Connect to charon's VICI socket once charon has made it (a connect is tried only
        when the file is there: charon binds and listens at once)."""
        path = self._path(_VICI)
        while True:
            if self._proc is not None and self._proc.exited:
                raise LinkFailure(
                    ERROR_RASMAN_CANNOT_INITIALIZE, f"charon exited at start: {self._out_tail()}"
                )
            if path.exists():
                try:
                    self._control = await ViciConnection.open(path)
                    return
                except OSError:
                    pass
            await asyncio.sleep(_POLL)

    def _out_tail(self) -> str:
        for name in (_LOG, "charon.out"):
            with contextlib.suppress(OSError):
                lines = self._path(name).read_text(errors="replace").strip().splitlines()
                if lines:
                    return lines[-1]
        return "no output"

    async def _dial(self, settings: Ikev2Settings) -> None:
        try:
            await self._wait_for_vici()
            control = self._control
            assert control is not None
            self._spawn(self._watch_sas())  # meanwhile: a connection for the SA events
            await self._load(control, settings)
            self._reach(RasConnState.PortOpened)
            timeout_ms = int(max(self._remaining(), 0.001) * 1000)
            try:
                # The initiate's own log lines come before its answer (the "log" events of
                # the other connection may come after it): the failure is known in time.
                await control.request(
                    "initiate", config.initiate(timeout_ms), stream="control-log",
                    on_event=self._on_event,
                )  # fmt: skip
            except ViciError as exc:
                self._read_file_log()  # the level-1 lines that say why
                code, detail = self._log.end_reason(connected=False, default=ERROR_VPN_TIMEOUT)
                raise LinkFailure(code, detail if self._log.failure else str(exc)) from None
            await self._connected_now(control)
        except ViciClosed as exc:
            if not self._ended():
                code, detail = self._log.end_reason(connected=False, default=ERROR_VPN_TIMEOUT)
                self._finish(code, detail if self._log.failure else str(exc))
        except LinkFailure as exc:
            self._finish(exc.code, exc.detail)
        except RasError as exc:
            self._finish(exc.code, exc.detail or str(exc))

    async def _watch_sas(self) -> None:
        """The SA events (up, down, moved by MOBIKE), on a connection of their own, for the
        link's life.

        Not charon's ``log`` stream: charon would send every line it logs (measurably slower
        dials); the dial reads its ``initiate``'s own log lines, and a drop reads the lines
        charon's file log got since Connected (flushed per line) for its reason."""
        with contextlib.suppress(OSError, ViciClosed, ViciError):
            events = self._events = await ViciConnection.open(self._path(_VICI))
            await events.subscribe(["ike-updown", "child-updown", "ike-update"], self._on_event)
            await events.pump(self._on_event)  # until charon closes it (its exit says why)

    async def _load(self, control: ViciConnection, settings: Ikev2Settings) -> None:
        """The CAs, the credentials and the connection, over VICI."""
        try:
            # A system bundle holds ~150 CAs: pipelined (an unparsable one is skipped).
            cas = [{"type": "x509", "flag": "CA", "data": ca} for ca in settings.cas]
            if cas:
                await control.pipeline("load-cert", cas)
            if settings.auth == "cert":
                await control.request("load-key", {"type": settings.key_type, "data": settings.key})
                for cert in settings.certs:
                    await control.request(
                        "load-cert", {"type": "x509", "flag": "NONE", "data": cert}
                    )
            shared = config.shared_secret(settings)
            if shared is not None:
                await control.request("load-shared", shared)
            conn = config.connection(settings, self._esp)
            if settings.auth == "cert":
                conn[config.CONN]["local-1"]["certs"] = [c.decode() for c in settings.certs[:1]]
            await control.request("load-conn", conn)
        except ViciError as exc:
            raise LinkFailure(ERROR_RASMAN_CANNOT_INITIALIZE, f"charon refused: {exc}") from None

    async def _connected_now(self, control: ViciConnection) -> None:
        """initiate succeeded: the SA's facts, the TUN device, split-tunnel routes; Connected."""
        self._log.child_up = True
        assert self._settings is not None
        facts = self._log.facts
        if not (facts.local_address and self._settings.full_tunnel):
            # The split tunnel's routes need the traffic selectors; otherwise the SA's other
            # facts are read when asked for (projection), not on the dial's path.
            await self._refresh(control)
        # The details the level-0 stream left out (virtual IP, DNS, EAP method, the TUN
        # device); from now on only what is new is read (a drop's reason).
        self._read_file_log()
        if not facts.local_address:
            raise LinkFailure(ERROR_IP_CONFIGURATION, "the server assigned no virtual IP address")
        if not self._settings.full_tunnel:
            self._add_split_routes()
        elif self._esp is not None:
            self._add_full_tunnel_routes(self._esp)
        self._reach(RasConnState.Projected)
        self._mark_connected()
        self.emit(StateReached(RasConnState.Connected))

    def _add_split_routes(self) -> None:
        """IpPrioritizeRemote=0: only the networks the server's traffic selectors name (not
        a default route); a selector of everything gives the virtual IP's class network,
        as Windows' class-based route does."""
        facts = self._log.facts
        nets = []
        for ts in facts.remote_ts:
            with contextlib.suppress(ValueError):
                net = ipaddress.ip_network(ts.split("[")[0], strict=False)
                if net.prefixlen:
                    nets.append(net)
        if not nets and facts.local_address:
            vip = ipaddress.ip_address(facts.local_address)
            if vip.version == 4:
                first = int(str(vip).split(".")[0])
                prefix = 8 if first < 128 else 16 if first < 192 else 24
                nets.append(ipaddress.ip_network(f"{vip}/{prefix}", strict=False))
        try:
            with Rtnl() as rtnl:
                rtnl.apply([AddRoute(facts.tun, net) for net in nets])
        except (NetlinkError, OSError) as exc:
            raise LinkFailure(ERROR_IP_CONFIGURATION, f"split-tunnel routes: {exc}") from None

    def _add_full_tunnel_routes(self, esp: config.KernelEsp) -> None:
        """The kernel path's full tunnel: a default route into the XFRM interface in the
        policy slot's table, and the slot's rules (journaled first), so everything but the
        link's own marked packets (IKE, the outer ESP) goes through the tunnel."""
        assert self._slot is not None
        vip = ipaddress.ip_address(self._log.facts.local_address)
        default = ipaddress.ip_network("0.0.0.0/0" if vip.version == 4 else "::/0")
        ops: list[Op] = [AddRoute(esp.ifname, default, self._slot.table)]
        for rule in self._slot.rules(vip.version):
            self.journal.note(Rule.of(rule))
            ops.append(rule)
        try:
            with Rtnl() as rtnl:
                rtnl.apply(ops)
        except (NetlinkError, OSError) as exc:
            raise LinkFailure(ERROR_IP_CONFIGURATION, f"full-tunnel routes: {exc}") from None

    async def _refresh(self, control: ViciConnection) -> dict[str, Any]:
        """The IKE SA as ``list-sas`` gives it (facts refreshed); {} when there is none."""
        found: dict[str, Any] = {}

        def take(name: str, msg: Mapping[str, Any]) -> None:
            if name == "list-sa" and isinstance(msg.get(config.CONN), Mapping):
                found.update(msg[config.CONN])

        await control.request("list-sas", {"ike": config.CONN}, stream="list-sa", on_event=take)
        if found:
            self._log.take_sa(found)
        return found

    def _on_dial_deadline(self) -> None:
        self._read_file_log()
        code, detail = self._log.end_reason(connected=False, default=ERROR_VPN_TIMEOUT)
        if self._log.failure is None:
            detail = f"not connected within {self._dial_timeout():g} s"
            if self._log.last_line:
                detail += f" (charon said: {self._log.last_line})"
        self._finish(code, detail)

    def _program_exited(self, rc: int | None) -> tuple[int, str]:
        self._read_file_log()
        code, detail = self._log.end_reason(
            connected=self._connected,
            default=ERROR_LINK_FAILURE if self._connected else ERROR_RASMAN_CANNOT_INITIALIZE,
        )
        if self._log.failure is None:
            detail = f"charon exited ({rc}): {self._out_tail()}"
        return code, detail

    async def _release(self) -> None:
        for conn in (self._events, self._control):
            if conn is not None:
                conn.close()
        if self._slot is not None:
            release_policy_slot(self._slot.slot, self.spec.handle)

    # -- numbers ----------------------------------------------------------------------------

    async def statistics(self) -> LinkStats:
        control = self._control
        if control is not None and self._connected:
            with contextlib.suppress(ViciError, ViciClosed, asyncio.TimeoutError):
                sa = await asyncio.wait_for(self._refresh(control), 2.0)
                for child in (sa.get("child-sas") or {}).values():
                    return LinkStats(
                        bytes_sent=int(child.get("bytes-out") or 0),
                        bytes_received=int(child.get("bytes-in") or 0),
                        frames_sent=int(child.get("packets-out") or 0),
                        frames_received=int(child.get("packets-in") or 0),
                    )
        return interface_stats(self._log.facts.tun) or LinkStats()

    async def projection(self) -> Projection | None:
        if not self._connected:
            return None
        facts = self._log.facts
        if not (facts.server_address and facts.local_host) and self._control is not None:
            with contextlib.suppress(ViciError, ViciClosed, asyncio.TimeoutError):
                await asyncio.wait_for(self._refresh(self._control), 2.0)
        flags = 0
        if self._mobike:
            flags |= RASIKEv2_FLAGS_MOBIKESUPPORTED
        if facts.behind_nat:
            flags |= RASIKEv2_FLAGS_BEHIND_NAT
        if facts.server_behind_nat:
            flags |= RASIKEv2_FLAGS_SERVERBEHIND_NAT
        extra = {
            "framing": "IKEv2",
            "auth_protocol": {"eap": "EAP", "psk": "PSK", "cert": "machine certificate"}.get(
                self._auth, self._auth
            ),
            "ikev2_auth": str(_AUTH_PROTOCOL.get(self._auth, 0)),
            "ikev2_flags": str(flags),
        }
        if self._auth == "eap":
            extra["eap_type"] = "26"
            extra["eap_method"] = facts.eap_method or "EAP_MSCHAPV2"
        if facts.encryption:
            extra["encryption"] = facts.encryption
        if facts.remote_ts:
            extra["remote_ts"] = ", ".join(facts.remote_ts)
        # The tunnel's outer addresses (RASCONNSTATUS' localEndPoint and remoteEndPoint).
        if facts.local_host:
            extra["local_endpoint"] = facts.local_host
        if facts.server_address:
            extra["server"] = facts.server_address
        return Projection(
            interface=facts.tun,
            local_address=facts.local_address,
            remote_address=facts.server_address,
            dns=tuple(facts.dns),
            extra=extra,
        )

    # -- persistence ------------------------------------------------------------------------

    def record(self) -> dict[str, Any]:
        facts = self._log.facts
        return {
            "process": self._proc.identity.to_record() if self._proc else None,
            "slot": self._slot.slot if self._slot is not None else None,
            "auth": self._auth,
            "mobike": self._mobike,
            "dns": list(facts.dns),
            "tun": facts.tun,
            "eap_method": facts.eap_method,
            "kernel_esp": self._esp is not None,
        }

    @classmethod
    async def adopt(cls, spec: LinkSpec, record: Mapping[str, Any], emit: Emit) -> Link | None:
        link = cls(spec, emit)
        link._started = time.monotonic()
        link._auth = str(record.get("auth") or "")
        link._mobike = bool(record.get("mobike"))
        slot = record.get("slot")
        if isinstance(slot, int):
            with contextlib.suppress(ValueError):
                link._slot = PolicySlot(slot)
                hold_policy_slot(slot, spec.handle)
        if record.get("kernel_esp") and link._slot is not None:
            s = link._slot
            link._esp = config.KernelEsp(f"orik{s.slot}", s.table, s.fwmark)
            link._log.facts.tun = link._esp.ifname
        link._read_file_log()  # the negotiated facts (virtual IP, DNS, TUN), again
        proc_rec = record.get("process")
        proc = LinkProcess.adopt(ProcessIdentity.from_record(proc_rec)) if proc_rec else None
        sa: dict[str, Any] = {}
        if proc is not None:
            link._watch_program(proc, journal=False)
            with contextlib.suppress(OSError, ViciError, ViciClosed, asyncio.TimeoutError):
                link._control = await ViciConnection.open(link._path(_VICI))
                sa = await asyncio.wait_for(link._refresh(link._control), 5.0)
        if sa.get("state") != "ESTABLISHED" or not sa.get("child-sas"):
            await link._abandon()
            return None
        link._log.child_up = True
        link._spawn(link._watch_sas())
        link._log.reach(RasConnState.Projected)
        link._mark_connected()
        emit(StateReached(RasConnState.Connected))
        return link

    def _read_file_log(self) -> None:
        """charon's file log (``HH:MM:SS NN[GRP] message``) since the last read, fed to the
        interpreter."""
        for raw in self._log_tail.lines():
            if m := _FILE_LINE.match(raw):
                self._log.feed_line(m.group(1))


__all__ = ["Ikev2Link", "find_charon"]
