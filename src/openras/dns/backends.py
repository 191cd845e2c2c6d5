"""Where a link's DNS plan goes: systemd-resolved, resolvconf, or /etc/resolv.conf itself.

One interface (:class:`Backend`), chosen once at daemon start (:func:`choose`):

* **resolved** when ``org.freedesktop.resolve1`` has an owner on the system bus: per-link
  ``SetLinkDNS``/``SetLinkDomains``/``SetLinkDefaultRoute`` by interface index, undone with
  ``RevertLink``. Real split DNS (``~domain``); a full tunnel gets ``~.``. dbus-fast is
  imported only here, and only by the daemon.
* **resolvconf** when the program is installed: ``resolvconf -a <iface>.openras`` with the
  record on stdin, ``-d`` to remove it. resolvconf orders and merges the records itself.
* **file**: ``/etc/resolv.conf`` (``OPENRAS_RESOLV_CONF``) rewritten atomically from the
  original plus every live plan (:mod:`openras.dns.compose`); the original is saved once in
  the daemon's state dir and written back byte for byte when the last plan goes.
* **none**: nothing is changed (a per-user daemon; ``OPENRAS_DNS_BACKEND=none``).

Backends are given each live plan (the file backend composes them all). They must be
idempotent: after a crash the journal makes a revert run again.
"""

from __future__ import annotations

import abc
import contextlib
import errno
import json
import logging
import os
import shutil
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Final

from openras._digest import sha256_hex
from openras.dns.compose import compose, is_ours
from openras.dns.plan import DnsPlan
from openras.links._common import run_cmd

log = logging.getLogger("openras.rasman.dns")

RESOLV_CONF: Final = Path("/etc/resolv.conf")
RESOLVE1: Final = "org.freedesktop.resolve1"
RESOLVE1_PATH: Final = "/org/freedesktop/resolve1"
RESOLVE1_MANAGER: Final = "org.freedesktop.resolve1.Manager"
#: Seconds one backend operation may take (a D-Bus call, a resolvconf run).
OP_TIMEOUT: Final = 10.0
BACKENDS: Final = ("resolved", "resolvconf", "file", "none")


class DnsError(Exception):
    """A backend could not apply or revert (the message names no secret)."""


@dataclass(frozen=True)
class Applied:
    """One link's plan as it is (or is being) applied: what the journal holds."""

    handle: int
    backend: str
    plan: DnsPlan
    ifindex: int = 0

    def to_record(self) -> dict[str, Any]:
        return {
            "handle": self.handle,
            "backend": self.backend,
            "ifindex": self.ifindex,
            "plan": self.plan.to_record(),
        }

    @classmethod
    def from_record(cls, rec: Mapping[str, Any]) -> Applied:
        plan = rec.get("plan")
        ifindex = rec.get("ifindex")
        return cls(
            handle=int(rec["handle"]),
            backend=str(rec.get("backend", "")),
            plan=DnsPlan.from_record(plan if isinstance(plan, Mapping) else {}),
            ifindex=ifindex if isinstance(ifindex, int) and ifindex > 0 else 0,
        )


class Backend(abc.ABC):
    name: ClassVar[str]

    @abc.abstractmethod
    async def apply(self, item: Applied, live: Sequence[Applied]) -> None:
        """Make ``item`` effective; ``live`` is every applied item, ``item`` included."""

    @abc.abstractmethod
    async def revert(self, item: Applied, live: Sequence[Applied]) -> None:
        """Undo ``item`` (also when it was only half applied, or is already undone);
        ``live`` is every item that stays."""


class NoBackend(Backend):
    name = "none"

    async def apply(self, item: Applied, live: Sequence[Applied]) -> None:
        return None

    async def revert(self, item: Applied, live: Sequence[Applied]) -> None:
        return None


# ---------------------------------------------------------------------------------- the file


def _sha(data: bytes | None) -> str:
    return "" if data is None else sha256_hex(data)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _write_atomic(path: Path, data: bytes, mode: int, uid: int, gid: int) -> None:
    """Temp file in the same directory, fsync, rename; in place when the file is a mount
    point (a container's bind-mounted resolv.conf cannot be renamed over: EBUSY)."""
    tmp = path.with_name(f".{path.name}.openras-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        with contextlib.suppress(OSError):
            os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.rename(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if exc.errno not in (errno.EBUSY, errno.EXDEV, errno.EPERM):
            raise
        _write_in_place(path, data)
        return
    with contextlib.suppress(OSError):
        dfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _write_in_place(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_private(path: Path, data: bytes) -> None:
    """A file of the daemon's own (0600), atomically."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


class FileBackend(Backend):
    """``resolv.conf`` composed from the saved original and every live plan.

    The original is saved once (``resolv.conf.orig`` + ``resolv.conf.orig.json`` in
    ``store``, the metadata written last: it commits the save) before the first write, and
    comes back byte for byte, with its mode and owner, when no plan is left. A file changed by
    someone else since openras last wrote it (a DHCP client, an administrator) becomes the
    new original: openras never writes a stale copy over it.
    """

    name = "file"

    def __init__(self, path: Path, store: Path) -> None:
        self.path = path
        self.store = store
        self.orig = store / "resolv.conf.orig"
        self.meta = store / "resolv.conf.orig.json"

    def _target(self) -> Path:
        """The file to write: a symlink is followed (NetworkManager's ``rc-manager=file``)."""
        return Path(os.path.realpath(self.path))

    def _load_meta(self) -> dict[str, Any] | None:
        try:
            meta = json.loads(self.meta.read_bytes())
        except (OSError, ValueError):
            return None
        if not isinstance(meta, dict) or not isinstance(meta.get("path"), str):
            return None
        if meta.get("existed") and not self.orig.exists():
            return None
        return meta

    def _save_original(self, target: Path, data: bytes | None) -> dict[str, Any]:
        self.store.mkdir(parents=True, exist_ok=True, mode=0o700)
        st = None
        with contextlib.suppress(OSError):
            st = os.stat(target)
        meta = {
            "path": str(target),
            "existed": data is not None,
            "mode": (st.st_mode & 0o7777) if st is not None else 0o644,
            "uid": st.st_uid if st is not None else 0,
            "gid": st.st_gid if st is not None else 0,
            "written": "",
        }
        if data is not None:
            _write_private(self.orig, data)
        _write_private(self.meta, json.dumps(meta).encode())
        return meta

    def _forget_original(self) -> None:
        for p in (self.meta, self.orig):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()

    def sync(self, plans: Sequence[DnsPlan]) -> None:
        """Make the file say ``plans`` (blocking; the caller runs it in a worker thread)."""
        meta = self._load_meta()
        target = Path(meta["path"]) if meta is not None else self._target()
        current = _read(target)
        live = [p for p in plans if p]
        if not live:
            if meta is None:
                return
            if _sha(current) == meta.get("written") or (
                current is not None and is_ours(current.decode("utf-8", "surrogateescape"))
            ):
                if meta.get("existed"):
                    original = self.orig.read_bytes()
                    _write_atomic(
                        target, original, int(meta["mode"]), int(meta["uid"]), int(meta["gid"])
                    )
                else:
                    with contextlib.suppress(FileNotFoundError):
                        target.unlink()
            else:
                log.warning("%s was changed by someone else; left as it is", target)
            self._forget_original()
            return
        if meta is None:
            meta = self._save_original(target, current)
        elif (
            _sha(current) != meta.get("written")
            and current is not None
            and not is_ours(current.decode("utf-8", "surrogateescape"))
        ):
            log.warning("%s was changed by someone else; it is the new original", target)
            meta = self._save_original(target, current)
        base = self.orig.read_bytes() if meta.get("existed") else b""
        text = compose(base.decode("utf-8", "surrogateescape"), live)
        data = text.encode("utf-8", "surrogateescape")
        _write_atomic(target, data, int(meta["mode"]), int(meta["uid"]), int(meta["gid"]))
        meta["written"] = _sha(data)
        _write_private(self.meta, json.dumps(meta).encode())

    async def apply(self, item: Applied, live: Sequence[Applied]) -> None:
        import asyncio

        await asyncio.to_thread(self.sync, [a.plan for a in live])

    async def revert(self, item: Applied, live: Sequence[Applied]) -> None:
        import asyncio

        await asyncio.to_thread(self.sync, [a.plan for a in live])


# ---------------------------------------------------------------------------------- resolvconf


def record_name(interface: str) -> str:
    """resolvconf's record name for a link (``tun0.openras``)."""
    return f"{interface}.openras"


def resolvconf_record(plan: DnsPlan) -> str:
    lines = [f"nameserver {s}" for s in plan.servers]
    if plan.search_domains:
        lines.append("search " + " ".join(plan.search_domains))
    return "\n".join(lines) + "\n"


def _is_resolvectl_shim(path: str) -> bool:
    """systemd-resolved's ``resolvconf`` (a link to resolvectl) needs resolved running."""
    return os.path.basename(os.path.realpath(path)) == "resolvectl"


class ResolvconfBackend(Backend):
    name = "resolvconf"

    def __init__(self, program: str) -> None:
        self.program = program

    @staticmethod
    def _iface_ok(name: str) -> bool:
        return (
            bool(name)
            and "/" not in name
            and not name.startswith((".", "-", "~"))
            and (name.isprintable() and " " not in name)
        )

    async def apply(self, item: Applied, live: Sequence[Applied]) -> None:
        iface = item.plan.interface
        if not self._iface_ok(iface):
            raise DnsError(f"interface name {iface!r} is not usable as a resolvconf record")
        res = await run_cmd(
            [self.program, "-a", record_name(iface)],
            input_data=resolvconf_record(item.plan).encode(),
            time_limit=OP_TIMEOUT,
        )
        if res.returncode != 0:
            raise DnsError(f"resolvconf -a failed ({res.returncode}): {res.stderr.strip()[:200]}")

    async def revert(self, item: Applied, live: Sequence[Applied]) -> None:
        iface = item.plan.interface
        if not self._iface_ok(iface):
            return
        res = await run_cmd([self.program, "-d", record_name(iface)], time_limit=OP_TIMEOUT)
        if res.returncode != 0:
            raise DnsError(f"resolvconf -d failed ({res.returncode}): {res.stderr.strip()[:200]}")


# ---------------------------------------------------------------------------------- resolved


def _dns_entries(servers: Sequence[str]) -> list[list[Any]]:
    import ipaddress

    out: list[list[Any]] = []
    for s in servers:
        addr = ipaddress.ip_address(s)
        out.append([socket.AF_INET if addr.version == 4 else socket.AF_INET6, addr.packed])
    return out


def _ifname_of(index: int) -> str | None:
    try:
        return socket.if_indextoname(index)
    except OSError:
        return None


#: The system bus's default socket, and the directory resolved makes when it starts.
SYSTEM_BUS_SOCKET: Final = "/run/dbus/system_bus_socket"
RESOLVED_RUN_DIR: Final = "/run/systemd/resolve"


def _resolved_may_run() -> bool:
    """Two stats on /run (once, when the daemon starts)."""
    return os.path.exists(SYSTEM_BUS_SOCKET) and os.path.isdir(RESOLVED_RUN_DIR)


class ResolvedBackend(Backend):
    """systemd-resolved over its D-Bus API (one short bus connection per operation)."""

    name = "resolved"

    def __init__(self, bus_address: str | None = None) -> None:
        self.bus_address = bus_address

    async def _bus(self) -> Any:
        from dbus_fast import BusType
        from dbus_fast.aio import MessageBus

        bus = MessageBus(bus_address=self.bus_address, bus_type=BusType.SYSTEM)
        return await bus.connect()

    async def _call(self, bus: Any, member: str, signature: str, body: list[Any]) -> list[Any]:
        from dbus_fast import Message, MessageType

        reply = await bus.call(
            Message(
                destination=RESOLVE1,
                path=RESOLVE1_PATH,
                interface=RESOLVE1_MANAGER,
                member=member,
                signature=signature,
                body=body,
            )
        )
        if reply is None:
            raise DnsError(f"resolved {member}: no reply")
        if reply.message_type == MessageType.ERROR:
            detail = reply.body[0] if reply.body else ""
            raise DnsError(f"resolved {member}: {reply.error_name}: {str(detail)[:200]}")
        return list(reply.body)

    async def running_here(self) -> bool:
        """Whether resolved runs (owns its name on the system bus) in this network namespace
        (interface indexes are per namespace: a resolved of another one cannot be told ours).

        On the default bus, a machine with no system bus socket or no ``/run/systemd/resolve``
        (resolved makes it when it starts) has no resolved: answered without loading
        dbus-fast (1.5 MB of a daemon that will not use it)."""
        if self.bus_address is None and not _resolved_may_run():
            return False
        from dbus_fast import Message, MessageType

        try:
            bus = await self._bus()
        except Exception:
            return False
        try:
            reply = await bus.call(
                Message(
                    destination="org.freedesktop.DBus",
                    path="/org/freedesktop/DBus",
                    interface="org.freedesktop.DBus",
                    member="GetConnectionUnixProcessID",
                    signature="s",
                    body=[RESOLVE1],
                )
            )
            if reply is None or reply.message_type == MessageType.ERROR:
                return False  # no owner: not running
            return _netns_of(int(reply.body[0])) == _netns_of("self")
        except Exception:
            return False
        finally:
            bus.disconnect()

    async def apply(self, item: Applied, live: Sequence[Applied]) -> None:
        plan = item.plan
        if item.ifindex <= 0:
            raise DnsError(f"interface {plan.interface!r} has no index")
        domains: list[list[Any]] = [[d, False] for d in plan.search_domains]
        domains += [[d, True] for d in plan.routing_domains]
        bus = await self._bus()
        try:
            await self._call(
                bus, "SetLinkDNS", "ia(iay)", [item.ifindex, _dns_entries(plan.servers)]
            )
            await self._call(bus, "SetLinkDomains", "ia(sb)", [item.ifindex, domains])
            await self._call(bus, "SetLinkDefaultRoute", "ib", [item.ifindex, plan.default_route])
        finally:
            bus.disconnect()

    async def revert(self, item: Applied, live: Sequence[Applied]) -> None:
        # resolved forgets a link's settings when the interface goes; an index now used by
        # another interface is left alone.
        if item.ifindex <= 0 or _ifname_of(item.ifindex) != item.plan.interface:
            return
        bus = await self._bus()
        try:
            try:
                await self._call(bus, "RevertLink", "i", [item.ifindex])
            except DnsError as exc:
                if "NoSuchLink" in str(exc) or _ifname_of(item.ifindex) != item.plan.interface:
                    return
                raise
        finally:
            bus.disconnect()


# ---------------------------------------------------------------------------------- choice


def make(name: str, store: Path, env: Mapping[str, str]) -> Backend:
    """The backend called ``name`` (for reverting a journal written under another)."""
    if name == "resolved":
        return ResolvedBackend(env.get("DBUS_SYSTEM_BUS_ADDRESS") or None)
    if name == "resolvconf":
        return ResolvconfBackend(shutil.which("resolvconf", path=_path(env)) or "resolvconf")
    if name == "file":
        return FileBackend(Path(env.get("OPENRAS_RESOLV_CONF") or RESOLV_CONF), store)
    return NoBackend()


def _path(env: Mapping[str, str]) -> str:
    from openras.links._common import SYSTEM_PATH

    return SYSTEM_PATH


def _netns_of(pid: int | str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


#: The inode of the initial network namespace (the kernel's PROC_NET_INIT_INO).
INIT_NET_INO: Final = 0xEFFFFFF9


def resolv_conf_of_other_netns(path: Path) -> bool:
    """Whether ``path`` is also the resolv.conf of another network namespace than the
    daemon's: the daemon runs in a namespace of its own (``ip netns exec``) but sees the same
    file as processes of the machine's namespace, whose network it describes. Servers reachable
    only through our tunnel must not go there (they would break every lookup of the machine).
    A container's own file (no process of another namespace sees it) is ours."""
    mine = _netns_of("self")
    if mine is None or mine == INIT_NET_INO:
        return False
    try:
        ours = os.stat(path)
    except OSError:
        return False
    real = os.path.realpath(path)
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        netns = _netns_of(entry.name)
        if netns is None or netns == mine:
            continue
        try:
            theirs = os.stat(f"/proc/{entry.name}/root{real}")
        except OSError:
            continue
        if (ours.st_dev, ours.st_ino) == (theirs.st_dev, theirs.st_ino):
            return True
    return False


async def choose(store: Path, env: Mapping[str, str]) -> Backend:
    """The backend for this daemon: ``OPENRAS_DNS_BACKEND`` if set (by whoever starts the
    daemon), else resolved when it runs in our network namespace, resolvconf when installed,
    else the file. A daemon that is not root, or that runs in a network namespace of its own
    while sharing the machine's resolv.conf, changes nothing."""
    forced = (env.get("OPENRAS_DNS_BACKEND") or "").strip().lower()
    if forced:
        if forced not in BACKENDS:
            log.error(
                "OPENRAS_DNS_BACKEND=%r is not one of %s; DNS is not applied", forced, BACKENDS
            )
            return NoBackend()
        return make(forced, store, env)
    if os.geteuid() != 0:
        return NoBackend()
    resolved = ResolvedBackend(env.get("DBUS_SYSTEM_BUS_ADDRESS") or None)
    if await resolved.running_here():
        return resolved
    path = Path(env.get("OPENRAS_RESOLV_CONF") or RESOLV_CONF)
    if resolv_conf_of_other_netns(path):
        log.info("%s belongs to another network namespace; DNS is not applied", path)
        return NoBackend()
    program = shutil.which("resolvconf", path=_path(env))
    if program is not None and not _is_resolvectl_shim(program):
        return ResolvconfBackend(program)
    return make("file", store, env)


__all__ = [
    "Applied",
    "Backend",
    "BACKENDS",
    "DnsError",
    "FileBackend",
    "NoBackend",
    "ResolvconfBackend",
    "ResolvedBackend",
    "choose",
    "make",
    "record_name",
    "resolvconf_record",
]
