"""The SSH link: the OpenSSH client as a supervised control master.

Entry keys::

    OpenRasDevice=ssh
    PhoneNumber=[user@]host[:port]        (or the dial's phone number; IPv6 as [addr]:port)
    OpenRasSshMode=socks                  socks (-D, works without root) | tun (-w, root)
    OpenRasSshSocksPort=1080              SOCKS listener, always on 127.0.0.1
    OpenRasSshIdentity=<private key>      relative to the phonebook's directory
    OpenRasSshKnownHosts=<file>           default: ~owner/.config/openras/known_hosts/<entry>
                                          (with the administrator's credentials: see below)
    OpenRasSshAcceptNewHostKey=0          1 = trust an unknown host key on first use
    OpenRasSshTunLocal=10.0.6.2/30        tun mode: our address
    OpenRasSshTunRemote=10.0.6.1          tun mode: the peer's address (point-to-point)
    OpenRasSshTunRoutes=10.1.0.0/16,...   tun mode: routes through the tunnel
    OpenRasSshTunRemoteUnit=any           tun mode: the server's tun unit
    OpenRasSshServerAliveInterval=15      seconds between keepalives; after
    OpenRasSshServerAliveCountMax=3       this many unanswered the link drops (829)
    OpenRasDialTimeoutMs=15000

The program is ``ssh -N -M -S RUN_DIR/ctl -F none ...`` in the foreground (our child, watched
by pidfd), with its stderr (``LogLevel=VERBOSE``) in ``RUN_DIR/ssh.log``. Nothing of the
user's or the system's ssh configuration is read (``-F none``); ``ProxyCommand``,
``ProxyJump``, ``LocalCommand``, agent and X11 forwarding are pinned off, and every option
comes from this allow-list. The host key policy is explicit: a per-entry known_hosts file is
copied into the run dir (``UserKnownHostsFile``, no global file) and checked with
``StrictHostKeyChecking=yes`` (or ``accept-new``; a key learned that way is appended to the
entry's file once the link is up). A password reaches ssh only through ``SSH_ASKPASS``: a
two-line helper in the run dir that prints a 0600 file, deleted as soon as the link is up.
Files named by the entry are read with the owner's rights, never root's.

States: ConnectDevice at spawn, DeviceConnected once the TCP connection is up (key exchange
and the host key check follow), Authenticate + Authenticated on ``Authenticated to`` (or
Authenticate alone before an authentication failure), Connected once ``ssh -O check`` answers and the SOCKS
port accepts (or the tun device exists and has its addresses). A failure is read from the
log when ssh exits (status 255): 691 bad credentials, 778 unknown host key, 835 changed host
key, 678 refused, 809 unreachable or timed out, 868 unknown host name, 633 port or tun busy.

Projection: tun mode reports ``tunN`` with the entry's tunnel addresses. SOCKS mode has no
interface at all (``interface`` is empty: nothing is routed, the proxy listens on loopback),
so it reports local address 127.0.0.1 and the listener in ``extra["socks"]``.

What the daemon allows (error 5):

* A SOCKS port below 1024 only for root's entries (a user's phonebook must not make a root
  daemon bind a privileged port).
* Without the policy's full tunnel (``spec.grant.full_tunnel``), tun mode's routes
  (``OpenRasSshTunRoutes`` with the ``OpenRasSshTunLocal`` network) must not route
  everything (a default route, or networks adding up to one); the refusal quotes the
  policy line. Routes are added, never replaced: a route that exists already (another
  link's, the system's default route) fails the dial (716) instead of being taken over.
* With the administrator's saved credentials (``spec.grant.admin_credentials``, an
  all-users entry) the host key is checked only against the administrator's file: the
  entry's ``OpenRasSshKnownHosts`` (the administrator wrote the entry; read as root), else
  ``/etc/openras/known_hosts/<entry>``; never the caller's own file, strictly (no
  ``OpenRasSshAcceptNewHostKey``, nothing learned), and towards the entry's own
  ``PhoneNumber`` only. Without such a file the dial is refused (778: the server's
  identity cannot be verified).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import ipaddress
import math
import os
import pwd
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Final

from openras.errors import (
    ERROR_ACCESS_DENIED,
    ERROR_BAD_PHONE_NUMBER,
    ERROR_INVALID_INTERFACE_CONFIG,
    ERROR_INVALID_PARAMETER,
    ERROR_IP_CONFIGURATION,
    ERROR_LINK_FAILURE,
    ERROR_PORT_NOT_AVAILABLE,
    ERROR_UNABLE_TO_AUTHENTICATE_SERVER,
    ERROR_UNKNOWN,
    ERROR_VPN_TIMEOUT,
    RasError,
)
from openras.links import rtnl
from openras.links._common import (
    HELPER_ENV,
    DirWatch,
    dial_timeout,
    entry_bool,
    entry_int,
    find_program,
    interface_stats,
    link_exists,
    remove_quietly,
    resolve_entry_path,
    run_cmd,
)
from openras.links._owner_files import (
    append_owner_file,
    owner_config_dir,
    read_owner_file,
    read_owner_file_if_exists,
    write_private,
)
from openras.links.base import (
    Emit,
    Link,
    LinkSpec,
    LinkStats,
    Projection,
    StateReached,
)
from openras.links.journal import Interface
from openras.links.process import LinkProcess, ProcessIdentity
from openras.links.progress import LogTail, Progress
from openras.links.rtnl import routes_too_much
from openras.links.sockets import tcp_counters, tcp_established
from openras.links.ssh import mux
from openras.links.ssh.log import (
    Authenticated,
    HostKeyLearned,
    SshLogParser,
    classify_exit,
)
from openras.links.supervisor import LinkFailure, SupervisedLink
from openras.states import RasConnState

#: The dial loop reads ssh's log and its TCP state when the log is written (inotify), and at
#: least this often. On "Authenticated to" the tun (or SOCKS port) and then the master's
#: alive check are looked at every _READY_POLL, at most _READY_TRIES times; else every
#: _CHECK_EVERY polls.
#: (A fixed 10 ms poll of the log put 5 ms on average between ssh's "Authenticated to" and
#: the daemon seeing it, and 10 ms more when the tun was not there at the first look.)
_POLL: Final = 0.01
_READY_POLL: Final = 0.001
_READY_TRIES: Final = 200
_CHECK_EVERY: Final = 25
_LOG: Final = "ssh.log"
_CTL: Final = "ctl"
_KNOWN_HOSTS: Final = "known_hosts"
_IDENTITY: Final = "identity"
_PASSWORD: Final = "password"  # noqa: S105 - a file name
_ASKPASS: Final = "askpass"
_ASKPASS_SCRIPT: Final = '#!/bin/sh\nexec cat -- "$OPENRAS_SSH_PASSFILE"\n'
_FIRST_UNPRIVILEGED_PORT: Final = 1024
#: Where the administrator keeps host keys for all-users entries (one file per entry).
SYSTEM_KNOWN_HOSTS_DIR: Final = Path("/etc/openras/known_hosts")
#: ssh binds ControlPath + ".XXXXXXXXXXXXXXXX" first; sun_path holds 107 bytes.
_MAX_CTL_PATH: Final = 88

_USER: Final = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_.@-]{0,63}$")
_HOSTNAME: Final = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)
_ORDER: Final = (
    RasConnState.ConnectDevice,
    RasConnState.DeviceConnected,
    RasConnState.Authenticate,
    RasConnState.Authenticated,
    RasConnState.Connected,
)


def parse_destination(text: str) -> tuple[str | None, str, int]:
    """``[user@]host[:port]`` -> (user, host, port); RasError(749) if it is not that."""
    raw = text.strip()
    user: str | None = None
    if "@" in raw:
        user, _, raw = raw.rpartition("@")
        if not _USER.match(user):
            raise RasError(ERROR_BAD_PHONE_NUMBER, f"{user!r} is not a valid user name")
    port = 22
    if raw.startswith("["):
        host, sep, rest = raw[1:].partition("]")
        if not sep:
            raise RasError(ERROR_BAD_PHONE_NUMBER, f"{text!r}: missing ']'")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise RasError(ERROR_BAD_PHONE_NUMBER, f"{host!r} is not an IPv6 address") from None
        port_text = rest[1:] if rest.startswith(":") else rest
        if rest and not rest.startswith(":"):
            raise RasError(ERROR_BAD_PHONE_NUMBER, f"{text!r}: expected ':port' after ']'")
    else:
        host, _, port_text = raw.partition(":")
        if ":" in port_text:
            raise RasError(ERROR_BAD_PHONE_NUMBER, f"{text!r}: write IPv6 as [addr]:port")
        if not _HOSTNAME.match(host):
            raise RasError(ERROR_BAD_PHONE_NUMBER, f"{host!r} is not a host name or address")
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise RasError(ERROR_BAD_PHONE_NUMBER, f"{port_text!r} is not a port")
        port = int(port_text)
    return user, host, port


def socks_port_allowed(port: int, owner_uid: int) -> bool:
    """A user's phonebook must not make a root daemon bind a privileged port for it."""
    return port >= _FIRST_UNPRIVILEGED_PORT or owner_uid == 0


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".") or "entry"
    return cleaned[:100]


@dataclass(frozen=True)
class _Settings:
    user: str
    host: str
    port: int
    mode: str
    socks_port: int
    identity: Path | None
    known_hosts: Path
    accept_new: bool
    dial_timeout: float
    alive_interval: int
    alive_count: int
    tun_local: ipaddress.IPv4Interface | ipaddress.IPv6Interface | None
    tun_remote: ipaddress.IPv4Address | ipaddress.IPv6Address | None
    tun_routes: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    tun_remote_unit: str
    #: ``known_hosts`` is the administrator's (an all-users entry dialed with the
    #: administrator's credentials): read as root, must exist, never written.
    admin_known_hosts: bool = False

    @property
    def destination(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @classmethod
    def from_spec(cls, spec: LinkSpec) -> _Settings:
        entry = spec.entry
        admin = spec.grant.admin_credentials
        entry_number = entry.get("PhoneNumber") or ""
        if admin and spec.params.phone_number and spec.params.phone_number != entry_number:
            raise RasError(
                ERROR_ACCESS_DENIED,
                "the administrator's saved credentials go only to the entry's own server "
                "(its PhoneNumber), not to another number",
            )
        number = spec.params.phone_number or entry_number
        if not number.strip():
            raise RasError(ERROR_BAD_PHONE_NUMBER, "no PhoneNumber ([user@]host[:port])")
        phone_user, host, port = parse_destination(number)
        user = spec.params.user or phone_user
        if not user:
            try:
                user = pwd.getpwuid(spec.owner_uid).pw_name
            except KeyError:
                raise RasError(ERROR_BAD_PHONE_NUMBER, "no user name to log in as") from None
        if not _USER.match(user):
            raise RasError(ERROR_INVALID_PARAMETER, f"{user!r} is not a valid user name")
        mode = (entry.get("OpenRasSshMode") or "socks").strip().lower()
        if mode not in ("socks", "tun"):
            raise RasError(ERROR_INVALID_PARAMETER, f"OpenRasSshMode={mode!r}: use socks or tun")
        raw_id = entry.get("OpenRasSshIdentity")
        identity = (
            resolve_entry_path(spec, "OpenRasSshIdentity", raw_id)
            if raw_id and raw_id.strip()
            else None
        )
        raw_kh = entry.get("OpenRasSshKnownHosts")
        if raw_kh and raw_kh.strip():
            known_hosts = resolve_entry_path(spec, "OpenRasSshKnownHosts", raw_kh)
        elif admin:
            known_hosts = SYSTEM_KNOWN_HOSTS_DIR / _safe_name(spec.entry.name)
        else:
            base = owner_config_dir(spec.owner_uid) / "openras" / "known_hosts"
            known_hosts = base / _safe_name(spec.entry.name)
        tun_local = tun_remote = None
        routes: list[ipaddress.IPv4Network | ipaddress.IPv6Network]
        remote_unit = (entry.get("OpenRasSshTunRemoteUnit") or "any").strip().lower()
        try:
            if raw := (entry.get("OpenRasSshTunLocal") or "").strip():
                tun_local = ipaddress.ip_interface(raw)
            if raw := (entry.get("OpenRasSshTunRemote") or "").strip():
                tun_remote = ipaddress.ip_address(raw)
            routes = [
                ipaddress.ip_network(item.strip(), strict=False)
                for item in (entry.get("OpenRasSshTunRoutes") or "").split(",")
                if item.strip()
            ]
        except ValueError as exc:
            raise RasError(ERROR_INVALID_PARAMETER, f"tunnel address: {exc}") from None
        if remote_unit != "any" and not (remote_unit.isdigit() and int(remote_unit) < 65535):
            raise RasError(ERROR_INVALID_PARAMETER, "OpenRasSshTunRemoteUnit: a number or any")
        if mode == "tun" and tun_local is None:
            raise RasError(ERROR_INVALID_PARAMETER, "tun mode needs OpenRasSshTunLocal")
        socks_port = entry_int(entry, "OpenRasSshSocksPort", 1080, minimum=1, maximum=65535)
        if mode == "socks" and not socks_port_allowed(socks_port, spec.owner_uid):
            raise RasError(
                ERROR_ACCESS_DENIED,
                f"OpenRasSshSocksPort={socks_port}: ports below {_FIRST_UNPRIVILEGED_PORT} "
                "are privileged; only root's entries may use them",
            )
        if mode == "tun" and not spec.grant.full_tunnel:
            covered = [*routes, *([tun_local.network] if tun_local is not None else [])]
            if routes_too_much(covered):
                raise RasError(
                    ERROR_ACCESS_DENIED,
                    "OpenRasSshTunRoutes/OpenRasSshTunLocal would route everything (a default "
                    "route, or networks adding up to one): a full tunnel is not allowed by "
                    f"policy ({spec.grant.full_tunnel_rule})",
                )
        return cls(
            user=user,
            host=host,
            port=port,
            mode=mode,
            socks_port=socks_port,
            identity=identity,
            known_hosts=known_hosts,
            accept_new=entry_bool(entry, "OpenRasSshAcceptNewHostKey") and not admin,
            admin_known_hosts=admin,
            dial_timeout=dial_timeout(entry),
            alive_interval=entry_int(entry, "OpenRasSshServerAliveInterval", 15, minimum=1),
            alive_count=entry_int(entry, "OpenRasSshServerAliveCountMax", 3, minimum=1),
            tun_local=tun_local,
            tun_remote=tun_remote,
            tun_routes=tuple(routes),
            tun_remote_unit=remote_unit,
        )


def build_argv(
    settings: _Settings,
    run_dir: Path,
    *,
    password: bool,
    tun_unit: int | None,
    program: str = "ssh",
) -> list[str]:
    """The whole ssh command line: fixed options plus validated values, nothing else."""
    opts = {
        "ControlPersist": "no",
        "ExitOnForwardFailure": "yes",
        "UserKnownHostsFile": str(run_dir / _KNOWN_HOSTS),
        "GlobalKnownHostsFile": "/dev/null",
        "StrictHostKeyChecking": "accept-new" if settings.accept_new else "yes",
        "CheckHostIP": "no",
        "UpdateHostKeys": "no",
        "HashKnownHosts": "no",
        "BatchMode": "no" if password else "yes",
        "PasswordAuthentication": "yes" if password else "no",
        "KbdInteractiveAuthentication": "yes" if password else "no",
        "NumberOfPasswordPrompts": "1",
        "IdentitiesOnly": "yes",
        "IdentityAgent": "none",
        "IdentityFile": str(run_dir / _IDENTITY) if settings.identity else "none",
        "ConnectTimeout": str(max(1, math.ceil(settings.dial_timeout))),
        "ServerAliveInterval": str(settings.alive_interval),
        "ServerAliveCountMax": str(settings.alive_count),
        "ProxyCommand": "none",
        "ProxyJump": "none",
        "PermitLocalCommand": "no",
        "ForwardAgent": "no",
        "ForwardX11": "no",
        "LogLevel": "VERBOSE",
    }
    argv = [program, "-N", "-T", "-M", "-S", str(run_dir / _CTL), "-F", "none"]
    for key, value in opts.items():
        argv += ["-o", f"{key}={value}"]
    if settings.mode == "tun":
        assert tun_unit is not None
        argv += ["-o", "Tunnel=point-to-point", "-o", f"TunnelDevice={tun_unit}:"
                 f"{settings.tun_remote_unit}"]  # fmt: skip
    else:
        argv += ["-D", f"127.0.0.1:{settings.socks_port}"]
    argv += ["-p", str(settings.port), "-l", settings.user, "--", settings.host]
    return argv


def parse_ss(text: str, pid: int) -> LinkStats | None:
    """Counters of ``pid``'s TCP connection from ``ss -H -t -i -n -p`` output."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line[:1].isspace() or f"pid={pid}," not in line:
            continue
        info = " ".join(x for x in lines[i + 1 : i + 3] if x[:1].isspace())
        nums = dict(re.findall(r"\b(bytes_sent|bytes_received|segs_out|segs_in):(\d+)", info))
        if nums:
            return LinkStats(
                bytes_sent=int(nums.get("bytes_sent", 0)),
                bytes_received=int(nums.get("bytes_received", 0)),
                frames_sent=int(nums.get("segs_out", 0)),
                frames_received=int(nums.get("segs_in", 0)),
            )
    return None


class SshLink(SupervisedLink["_Settings"]):
    """An SSH connection as a RAS link: SOCKS proxy or a layer-3 tun."""

    driver: ClassVar[str] = "ssh"
    device_name: ClassVar[str] = "OpenSSH"

    def __init__(self, spec: LinkSpec, emit: Emit) -> None:
        super().__init__(spec, emit)
        self._settings: _Settings | None = None
        self._parser = SshLogParser()
        self._log_tail = LogTail(self._path(_LOG))
        self._progress = Progress(_ORDER)
        self._tun_unit: int | None = None
        self._known_hosts_before = b""
        self._ssh = "ssh"  # the absolute path once start() or adopt() looked it up

    def __repr__(self) -> str:
        reached = self._progress.reached
        state = reached.name if reached is not None else "new"
        return f"<SshLink handle={self.spec.handle} {state}>"

    # -- checks -----------------------------------------------------------------------------

    @classmethod
    def validate(cls, spec: LinkSpec) -> _Settings:
        settings = _Settings.from_spec(spec)
        if settings.mode == "tun" and os.geteuid() != 0:
            raise RasError(ERROR_ACCESS_DENIED, "tun mode needs a root daemon; use socks")
        if settings.admin_known_hosts:
            _read_known_hosts(settings, spec.owner_uid)  # it must exist: 778 before a dial
        find_program("ssh")
        return settings

    def _path(self, name: str) -> Path:
        return self.spec.run_dir / name

    # -- start ------------------------------------------------------------------------------

    async def _launch(self, prepared: _Settings) -> None:
        settings = self._settings = prepared
        self._ssh = find_program("ssh")
        if len(str(self._path(_CTL))) > _MAX_CTL_PATH:
            raise RasError(
                ERROR_INVALID_PARAMETER, f"run dir path too long for a socket: {self.spec.run_dir}"
            )
        known, identity = await asyncio.to_thread(_read_entry_files, settings, self.spec.owner_uid)
        password = self.spec.params.password
        if settings.mode == "tun":
            self._tun_unit = await self._choose_tun_unit()
            self.journal.note(Interface(f"tun{self._tun_unit}"))

        remove_quietly(*(self._path(n) for n in (_KNOWN_HOSTS, _IDENTITY, _PASSWORD, _ASKPASS)))
        self._known_hosts_before = known or b""
        write_private(self._path(_KNOWN_HOSTS), self._known_hosts_before)
        if identity is not None:
            write_private(self._path(_IDENTITY), identity)
        env = dict(HELPER_ENV)
        env["HOME"] = str(self.spec.run_dir)
        if password:
            if os.statvfs(self.spec.run_dir).f_flag & os.ST_NOEXEC:
                raise RasError(ERROR_INVALID_PARAMETER, f"{self.spec.run_dir} is mounted noexec")
            write_private(self._path(_PASSWORD), password.encode())
            write_private(self._path(_ASKPASS), _ASKPASS_SCRIPT.encode())
            self._path(_ASKPASS).chmod(0o700)
            env.update(
                SSH_ASKPASS=str(self._path(_ASKPASS)),
                SSH_ASKPASS_REQUIRE="force",
                OPENRAS_SSH_PASSFILE=str(self._path(_PASSWORD)),
            )
        argv = build_argv(
            settings,
            self.spec.run_dir,
            password=bool(password),
            tun_unit=self._tun_unit,
            program=self._ssh,
        )
        self._spawn_program(argv, log_name=_LOG, env=env)
        self._reach(RasConnState.ConnectDevice)
        self._arm_dial_deadline(settings.dial_timeout)
        self._run_task = self._spawn(self._dial())

    async def _choose_tun_unit(self) -> int:
        base = 100 + self.spec.handle % 100
        for k in range(200):
            unit = 100 + (base - 100 + k) % 200
            if not link_exists(f"tun{unit}"):
                return unit
        raise RasError(ERROR_PORT_NOT_AVAILABLE, "no free tun unit")

    # -- states -----------------------------------------------------------------------------

    def _reach(self, state: RasConnState) -> None:
        """Emit every state up to ``state`` that was not emitted yet, in order."""
        for step in self._progress.advance(state):
            self.emit(StateReached(step))

    def _read_log(self) -> None:
        for event in self._parser.feed(self._log_tail.read()):
            if isinstance(event, Authenticated) and not self._connected:
                self._reach(RasConnState.Authenticated)
            elif isinstance(event, HostKeyLearned):
                pass  # persisted from the run-dir copy once the link is up

    def _tcp_up(self) -> bool:
        assert self._settings is not None
        if self._proc is None:
            return False
        return tcp_established(self._proc.pid, self._settings.port, self._proc.pidfd)

    async def _dial(self) -> None:
        with DirWatch.open(self.spec.run_dir) or contextlib.nullcontext() as watch:
            await self._dial_loop(watch)

    async def _dial_loop(self, watch: DirWatch | None) -> None:
        tick = fast = 0
        while not self._ended():
            self._read_log()
            if self._progress.reached == RasConnState.ConnectDevice and self._tcp_up():
                # TCP is up; key exchange and the host key check come next. Authenticate is
                # not visible at LogLevel VERBOSE: it is implied by "Authenticated to" or
                # by an authentication failure.
                self._reach(RasConnState.DeviceConnected)
            if (
                self._progress.reached == RasConnState.Authenticated
                or tick % _CHECK_EVERY == _CHECK_EVERY - 1
            ) and (await self._ready() and await self._check()):
                if self._ended():
                    return
                try:
                    await self._configure_tun()
                except LinkFailure as exc:
                    self._finish(exc.code, exc.detail)
                    return
                remove_quietly(self._path(_PASSWORD), self._path(_ASKPASS))
                await self._persist_learned_host_key()
                if self._ended():
                    return
                self._mark_connected()
                self._reach(RasConnState.Connected)
                return
            tick += 1
            if self._progress.reached == RasConnState.Authenticated and fast < _READY_TRIES:
                # The tun and the master's socket come a round trip after "Authenticated
                # to", with no line in the log: looked for often, for those few ms only.
                fast += 1
                await asyncio.sleep(_READY_POLL)
            elif watch is not None:
                await watch.wait(_POLL)  # woken by each line of ssh's log
            else:
                await asyncio.sleep(_POLL)

    def _on_dial_deadline(self) -> None:
        assert self._settings is not None
        self._read_log()
        detail = f"not connected within {self._settings.dial_timeout:g} s"
        if self._parser.worst is not None:
            detail += f" (last: {self._parser.worst.line})"
        elif self._parser.last_line:
            detail += f" (ssh said: {self._parser.last_line})"
        self._finish(ERROR_VPN_TIMEOUT, detail)

    async def _check(self) -> bool:
        """The master answers on its control socket (``ssh -O check``, spoken directly)."""
        return await mux.alive(self._path(_CTL)) is not None

    async def _ready(self) -> bool:
        assert self._settings is not None
        if self._settings.mode == "tun":
            return link_exists(f"tun{self._tun_unit}")
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", self._settings.socks_port), 2
            )
        except (OSError, TimeoutError):
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True

    async def _configure_tun(self, *, adopting: bool = False) -> None:
        """The tun device's address, up, and routes. Routes are *added*: one that exists
        already (another link's, the system's default route) fails the dial (716) rather than
        being taken over and then deleted with our device. On adoption (a crash may have come
        after any of these) what exists already is fine."""
        settings = self._settings
        assert settings is not None
        if settings.mode != "tun" or settings.tun_local is None:
            return
        dev = f"tun{self._tun_unit}"
        local = settings.tun_local
        peer = None
        if settings.tun_remote is not None and local.network.prefixlen == local.max_prefixlen:
            peer = settings.tun_remote
        # In-process rtnetlink (a few requests) where ``ip -batch`` was a helper process per
        # dial, through asyncio's subprocess machinery and its child-watcher thread.
        ops: list[rtnl.Op] = [rtnl.AddAddress(dev, local, peer=peer, replace=True)]
        ops.append(rtnl.LinkUp(dev, None))
        routes = [rtnl.AddRoute(dev, net) for net in settings.tun_routes]
        try:
            with rtnl.Rtnl() as nl:
                nl.apply(ops)
                for route in routes:
                    try:
                        nl.apply([route])
                    except rtnl.NetlinkError as exc:
                        # Adopted after a crash: the route may be there already, ours.
                        if not (adopting and exc.errno == errno.EEXIST):
                            raise
                if adopting and routes and not self._routes_present(nl, dev):
                    raise LinkFailure(
                        ERROR_IP_CONFIGURATION, f"{dev}: the entry's routes are not all on it"
                    )
        except (rtnl.NetlinkError, OSError) as exc:
            raise LinkFailure(ERROR_IP_CONFIGURATION, str(exc)) from None

    def _routes_present(self, nl: rtnl.Rtnl, dev: str) -> bool:
        """Whether every entry route goes through ``dev`` (an adopted link's own)."""
        assert self._settings is not None
        index = nl.index_of(dev)
        if index is None:
            return False
        have = set(nl.device_routes(4, index)) | set(nl.device_routes(6, index))
        return set(self._settings.tun_routes) <= have

    async def _persist_learned_host_key(self) -> None:
        assert self._settings is not None
        if self._settings.admin_known_hosts or not self._settings.accept_new:
            return  # nothing is learned into the administrator's file, nor without accept-new
        try:
            now = self._path(_KNOWN_HOSTS).read_bytes()
        except OSError:
            return
        if now == self._known_hosts_before or not now.startswith(self._known_hosts_before):
            return
        new = now[len(self._known_hosts_before) :]
        if self._known_hosts_before and not self._known_hosts_before.endswith(b"\n"):
            new = b"\n" + new
        with contextlib.suppress(RasError):
            await asyncio.to_thread(
                append_owner_file,
                self._settings.known_hosts,
                self.spec.owner_uid,
                new,
                code=ERROR_INVALID_INTERFACE_CONFIG,
            )
        self._known_hosts_before = now

    def _program_exited(self, rc: int | None) -> tuple[int, str]:
        self._read_log()
        self._parser.close()
        code, detail, implied = classify_exit(self._parser, rc)
        if not self._connected:
            self._reach(implied)  # (nothing when the dial got further already)
        if self._connected and code == ERROR_UNKNOWN:
            code = ERROR_LINK_FAILURE
        return code, detail

    # -- stop -------------------------------------------------------------------------------

    def _graceful_stop(self) -> bool:
        """The master's exit request on its control socket, as ``ssh -O exit`` sends it
        (SIGTERM when that fails)."""
        if not self._path(_CTL).exists():
            return False
        self._spawn(self._exit_via_control())
        return True

    async def _exit_via_control(self) -> None:
        if not await mux.terminate(self._path(_CTL)) and self._proc is not None:
            self._proc.terminate()

    # -- persistence ------------------------------------------------------------------------

    def record(self) -> dict[str, Any]:
        return {
            "process": self._proc.identity.to_record() if self._proc else None,
            "tun_unit": self._tun_unit,
            "connected": self._connected,
            # The login name the dial used: adoption has no dial parameters to rebuild it.
            "user": self._settings.user if self._settings is not None else None,
        }

    @classmethod
    async def adopt(cls, spec: LinkSpec, record: Mapping[str, Any], emit: Emit) -> Link | None:
        link = cls(spec, emit)
        link._settings = _adopted_settings(spec, record)
        with contextlib.suppress(RasError):  # without ssh the check fails: cleaned up below
            link._ssh = find_program("ssh")
        link._started = time.monotonic()
        unit = record.get("tun_unit")
        link._tun_unit = int(unit) if unit is not None else None
        with contextlib.suppress(OSError):
            link._log_tail.offset = link._path(_LOG).stat().st_size
        proc_rec = record.get("process")
        proc = LinkProcess.adopt(ProcessIdentity.from_record(proc_rec)) if proc_rec else None
        if proc is not None:
            link._watch_program(proc, journal=False)
        ok = proc is not None and await link._check() and await link._ready()
        if ok:
            try:
                await link._configure_tun(adopting=True)
            except LinkFailure:
                ok = False
        if not ok:
            await link._abandon()
            return None
        remove_quietly(link._path(_PASSWORD), link._path(_ASKPASS))
        link._mark_connected()
        link._progress.advance(RasConnState.Authenticated)  # (reported before the crash)
        link._reach(RasConnState.Connected)
        return link

    # -- numbers ----------------------------------------------------------------------------

    async def statistics(self) -> LinkStats:
        if self._tun_unit is not None:
            return interface_stats(f"tun{self._tun_unit}") or LinkStats()
        if self._proc is None or self._settings is None:
            return LinkStats()
        pidfd = self._proc.pidfd
        if pidfd is not None:
            # The kernel's counters of ssh's own socket (a copy of it, asked for TCP_INFO):
            # no helper process and no dump of every TCP socket per statistics call.
            try:
                counters = tcp_counters(self._proc.pid, self._settings.port, pidfd)
            except OSError:
                pass  # no copy may be taken: ss, below
            else:
                if counters is None:
                    return LinkStats()
                return LinkStats(
                    bytes_sent=counters.bytes_sent,
                    bytes_received=counters.bytes_received,
                    frames_sent=counters.segments_sent,
                    frames_received=counters.segments_received,
                )
        res = await run_cmd(["ss", "-H", "-t", "-i", "-n", "-p", "state", "established"])
        return parse_ss(res.stdout, self._proc.pid) or LinkStats()

    async def projection(self) -> Projection | None:
        settings = self._settings
        if settings is None or not self._connected:
            return None
        extra = {"server": settings.destination, "user": settings.user, "mode": settings.mode}
        if settings.mode == "socks":
            # No interface: SOCKS routes nothing (see the module docstring).
            extra["socks"] = f"127.0.0.1:{settings.socks_port}"
            return Projection(local_address="127.0.0.1", extra=extra)
        local = settings.tun_local
        remote = settings.tun_remote
        v6 = local is not None and local.version == 6
        return Projection(
            interface=f"tun{self._tun_unit}",
            local_address=str(local.ip) if local is not None and not v6 else "",
            remote_address=str(remote) if remote is not None and remote.version == 4 else "",
            local_address_v6=str(local.ip) if local is not None and v6 else "",
            remote_address_v6=str(remote) if remote is not None and remote.version == 6 else "",
            extra=extra,
        )


def _read_known_hosts(settings: _Settings, owner: int) -> bytes | None:
    """The entry's known_hosts (None if it does not exist), with the rights of whose file it
    is: the owner's, or root's for the administrator's, which must exist (else 778)."""
    uid = 0 if settings.admin_known_hosts else owner
    known = read_owner_file_if_exists(
        settings.known_hosts, uid, code=ERROR_INVALID_INTERFACE_CONFIG, what="known_hosts"
    )
    if settings.admin_known_hosts and not (known or b"").strip():
        raise RasError(
            ERROR_UNABLE_TO_AUTHENTICATE_SERVER,
            f"the host key of {settings.destination} cannot be verified: the administrator's "
            "saved credentials need the administrator's known_hosts for this entry "
            f"(OpenRasSshKnownHosts, or {settings.known_hosts}), and there is none",
        )
    return known


def _read_entry_files(settings: _Settings, owner: int) -> tuple[bytes | None, bytes | None]:
    """known_hosts and the identity, read with the owner's rights (one trip off the loop)."""
    known = _read_known_hosts(settings, owner)
    identity = None
    if settings.identity is not None:
        identity = read_owner_file(
            settings.identity, owner, code=ERROR_INVALID_INTERFACE_CONFIG, what="identity"
        )
    return known, identity


def _adopted_settings(spec: LinkSpec, record: Mapping[str, Any]) -> _Settings:
    """The settings of a link being adopted: the entry's, with the dial's recorded user
    (the restarted daemon has no dial parameters; the owner's name would be wrong)."""
    settings = _Settings.from_spec(spec)
    user = record.get("user")
    if isinstance(user, str) and _USER.match(user):
        settings = dataclasses.replace(settings, user=user)
    return settings


__all__ = ["SshLink", "build_argv", "parse_destination", "parse_ss"]
