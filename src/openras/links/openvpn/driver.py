"""The OpenVPN link: ``openvpn`` in the foreground, driven over its management socket.

Entry keys::

    OpenRasDevice=openvpn
    OpenRasOpenVpnProfile=<client .ovpn; relative to the phonebook's directory>
    PhoneNumber=<host [port]>          overrides the host (and port) of every 'remote'
    OpenRasDialTimeoutMs=15000         not Connected by then -> 809 (or 638 once the server
                                       answered)

How a dial goes:

1. The profile and every file it names are read with the owner's rights, parsed and checked
   against an allow-list and the dial's policy (``profile.py``). No config file is written:
   openvpn gets an argv built from the checked model (``SanitizedProfile.argv``), so no text
   of the user's meets openvpn's config parser; every key or certificate (inline or named)
   becomes a sealed 0600 memory file (memfd) that openvpn inherits and the argv names as
   ``/proc/self/fd/N`` (``KeyFiles``): no key on disk, and no file to create or delete. The
   driver sets the device
   (``orvpn<handle>``, tun), ``auth-retry none``, ``auth-nocache`` and at least ``verb 3``
   (so the pushed options reach the log), ``--nobind`` unless the profile binds, and
   ``--route-nopull`` plus pull filters when the policy forbids a full tunnel.
2. ``openvpn <profile options> <driver options> --management SOCK unix --management-hold
   --management-query-passwords`` is spawned as a supervised child; nothing but the
   management socket connects us (the password goes there, never into argv or a file).
3. On the socket: ``state on``, ``bytecount 1``, ``hold release``; each
   ``>STATE:`` becomes a RAS state (``parser.ras_state``), ``>PASSWORD:Need 'Auth'`` is
   answered from the dial parameters (``DOMAIN\\user`` when a domain is given), and
   failures come from ``>PASSWORD:Verification Failed`` (691), ``EXITING,<reason>``,
   ``>FATAL:`` and the log, never from the exit status
   (an auth failure exits 0). The log is openvpn's own output in the run dir, read when a
   failure needs explaining and once at Connected (the pushed options); it is not streamed
   over the socket (``log on``), which woke the daemon for every line of a handshake that
   competes with the daemon for the CPU. Restarts while dialing (``>HOLD:`` again) are released until
   the dial timeout; a restart once connected is a drop (the manager decides about redial).
4. After LinkFailed/LinkLost the driver stops openvpn itself. ``request_stop`` sends
   ``signal SIGTERM`` over the socket (SIGTERM to the pid if that fails or is not heard);
   ``wait_closed`` waits for the exit, deletes a tun left behind (only after SIGKILL) and
   the run-dir files.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, Final

from openras import errors
from openras.errors import RasError
from openras.links._common import (
    DirWatch,
    dial_timeout,
    find_program,
    interface_stats,
    remove_quietly,
    resolve_entry_path,
    sealed_memfd,
    tail_text,
)
from openras.links._owner_files import read_owner_file
from openras.links.base import (
    Emit,
    InputNeeded,
    Link,
    LinkSpec,
    LinkStats,
    Projection,
    StateReached,
)
from openras.links.journal import Interface
from openras.links.openvpn import parser as mp
from openras.links.openvpn import profile as pf
from openras.links.openvpn.interpreter import Action, Ask, End, Interpreter, Report, Send
from openras.links.process import LinkProcess, ProcessIdentity
from openras.links.supervisor import SupervisedLink
from openras.states import RasConnState

log = logging.getLogger(__name__)

PROFILE_KEY: Final = "OpenRasOpenVpnProfile"
#: Where ``SanitizedProfile.argv`` places the keys and certificates (a name only: the argv
#: names memory files instead, see ``KeyFiles``).
KEYS_DIR: Final = "keys"
SOCKET_FILE: Final = "mgmt.sock"
LOG_FILE: Final = "openvpn.log"
#: How long openvpn may take to open its management socket.
ATTACH_TIMEOUT: Final = 10.0
#: While openvpn starts (it listens after 7-9 ms here), each try to attach waits for news
#: in the run dir (inotify: the socket made, a log line written) or openvpn's exit, at most
#: ATTACH_WATCH_AT_MOST: openvpn logs right after its listen, so the bound is only a safety
#: net (at 5 ms, a start slowed by a busy machine woke the daemon every 5 ms for nothing,
#: each wake taking CPU from that start). Where the run dir cannot be watched, it polls:
#: finely at first (a try is a failed connect(), microseconds), then coarser for a slow start.
ATTACH_WATCH_AT_MOST: Final = 0.025
ATTACH_POLL: Final = 0.00025
ATTACH_POLL_FOR: Final = 0.1
ATTACH_POLL_SLOW: Final = 0.005
#: How much of the end of openvpn's log file explains a failure (or holds PUSH_REPLY).
LOG_TAIL_BYTES: Final = 16384
_AF_UNIX_MAX: Final = 107


def interface_name(handle: int) -> str:
    """The tun device of ``handle`` (at most 15 characters)."""
    return f"orvpn{handle % 10**10}"


@dataclass(frozen=True, slots=True)
class _Checked:
    """A profile as :func:`load_profile` checked it: every file the check read (in the order
    it read them, with their bytes) and the result."""

    files: tuple[tuple[str, int, bytes], ...]
    profile: pf.SanitizedProfile


#: Checked profiles by everything the check depends on: the profile's path and bytes, the
#: owner, the policy's grant and the dial's number (the files it names are compared on use).
#: The parse and check are pure functions of those, and were half of a dial's time before
#: its spawn (0.2 ms of 0.45, cold); a profile is dialed again and again unchanged.
_CHECKED: OrderedDict[tuple[Any, ...], _Checked] = OrderedDict()
_CHECKED_KEEP: Final = 16
_CHECKED_LOCK = threading.Lock()  # validate runs in worker threads for other users' dials


def load_profile(spec: LinkSpec) -> pf.SanitizedProfile:
    """Read the entry's profile and its files as the owner, and rebuild it (RasError if not).

    Every file is read as the owner on every dial (the kernel decides, each time); only the
    parse and check are not repeated when the profile and each file it named read the same
    as when they were last checked (:data:`_CHECKED`). The result is shared: never mutated.
    """
    raw = spec.entry.get(PROFILE_KEY)
    if raw is None or not raw.strip():
        raise RasError(pf.ERROR_PROFILE, f"{PROFILE_KEY} is not set")
    path = resolve_entry_path(spec, PROFILE_KEY, raw)
    data = read_owner_file(path, spec.owner_uid, code=pf.ERROR_PROFILE, what="OpenVPN profile")
    source = str(path)

    def read_file(name: str, line: int) -> bytes:
        target = Path(name) if Path(name).is_absolute() else path.parent / name
        return read_owner_file(
            target, spec.owner_uid, code=pf.ERROR_NO_CERT, what=f"{source}:{line}: file"
        )

    number = spec.params.phone_number or spec.entry.get("PhoneNumber") or ""
    key = (source, spec.owner_uid, spec.grant, number, data)
    with _CHECKED_LOCK:
        checked = _CHECKED.get(key)
    if checked is not None and all(read_file(n, ln) == b for n, ln, b in checked.files):
        with _CHECKED_LOCK:
            if key in _CHECKED:
                _CHECKED.move_to_end(key)
        return checked.profile
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise RasError(pf.ERROR_PROFILE, f"{path}: not an OpenVPN profile (not text)") from None
    read: list[tuple[str, int, bytes]] = []

    def read_recorded(name: str, line: int) -> bytes:
        content = read_file(name, line)
        read.append((name, line, content))
        return content

    profile = pf.sanitize(
        pf.parse(text, source),
        source=source,
        read_file=read_recorded,
        remote_override=pf.parse_phone_number(number),
        owner_uid=spec.owner_uid,
        grant=spec.grant,
    )
    with _CHECKED_LOCK:
        _CHECKED[key] = _Checked(tuple(read), profile)
        while len(_CHECKED) > _CHECKED_KEEP:
            _CHECKED.popitem(last=False)
    return profile


def build_argv(
    profile: pf.SanitizedProfile,
    run_dir: Path,
    ifname: str,
    program: str = "openvpn",
    *,
    file_arg: Callable[[Path, bytes], str] | None = None,
) -> tuple[list[str], dict[Path, bytes]]:
    """The whole argv of openvpn for ``profile`` and the key files it names (``file_arg``:
    see ``SanitizedProfile.argv``)."""
    driver = [
        # openvpn changes to the run dir as it reads this (its management socket is named
        # relative to it, short enough for AF_UNIX): the spawn sets no working directory.
        pf.Option("cd", (str(run_dir),)),
        pf.Option("dev", (ifname,)),
        pf.Option("dev-type", ("tun",)),
        # interact: after a refusal openvpn asks again over the socket, which a dynamic
        # challenge (CRV1) needs; a plain refusal ends the dial there (the interpreter).
        pf.Option("auth-retry", ("interact",)),
        pf.Option("verb", (str(min(max(profile.verb, 3), 4)),)),
    ]
    if profile.has_auth_user_pass:
        driver.append(pf.Option("auth-nocache"))
    driver += [
        pf.Option("management", (SOCKET_FILE, "unix")),
        pf.Option("management-hold"),
        pf.Option("management-query-passwords"),
    ]
    args, files = profile.argv(run_dir / KEYS_DIR, driver, file_arg=file_arg)
    return [program, *args], files


class KeyFiles:
    """The profile's keys and certificates as sealed 0600 memory files that openvpn inherits
    and opens as ``/proc/self/fd/N`` (again on a restart: it keeps the descriptors). Nothing
    of them is on disk, and the dial and hang-up create and delete no files for them."""

    def __init__(self) -> None:
        self.fds: list[int] = []

    def add(self, path: Path, data: bytes) -> str:
        fd = sealed_memfd(path.name, data)
        self.fds.append(fd)
        return f"/proc/self/fd/{fd}"

    def close(self) -> None:
        """The daemon's copies (once openvpn holds its own)."""
        for fd in self.fds:
            os.close(fd)
        self.fds.clear()


def _credentials(profile: pf.SanitizedProfile | None, spec: LinkSpec) -> tuple[str, str]:
    """The user name and password to answer openvpn with: the dial's, else the profile's
    ``auth-user-pass FILE``; RasError 691 at once when the profile needs them and there are
    none, or a user name only (rather than a server's refusal or a timeout later), with
    ``needs="credentials"`` so that a client can ask for them and dial again."""
    params = spec.params
    asks = profile is not None and profile.has_auth_user_pass
    if params.password or (params.user and not asks):
        user = f"{params.domain}\\{params.user}" if params.domain else params.user
        return user, params.password
    if profile is not None and (profile.file_user or profile.file_password):
        return profile.file_user, profile.file_password
    if asks:
        raise RasError(
            errors.ERROR_AUTHENTICATION_FAILURE,
            "the profile asks for a user name and password and the dial has no password: "
            "give them (rasdial ENTRY USER '*', openras dial ENTRY -u USER -p) or save them "
            "(openras creds set ENTRY)",
            needs=errors.NEEDS_CREDENTIALS,
        )
    return "", ""


#: How long the server's question (a one-time code) waits for the user's answer.
INPUT_TIMEOUT: Final = 120.0
#: Seconds into a dial at which the log is read for a failure that retrying cannot cure.
EARLY_CHECKS = (0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 7.5)


@dataclass(frozen=True, slots=True)
class Prepared:
    """What ``validate`` read for a dial: the checked profile and openvpn's path (looked up
    once per dial, not again at the spawn)."""

    profile: pf.SanitizedProfile
    program: str


class OpenVpnLink(SupervisedLink[Prepared]):
    """One openvpn client process and its management connection (the I/O; what openvpn
    says is decided by ``interpreter.Interpreter``)."""

    driver: ClassVar[str] = "openvpn"
    device_name: ClassVar[str] = "OpenVPN"
    #: After ``signal SIGTERM`` on the socket, a plain SIGTERM if openvpn has not exited.
    term_after: ClassVar[float | None] = 3.0

    def __init__(self, spec: LinkSpec, emit: Emit) -> None:
        super().__init__(spec, emit)
        self.ifname = interface_name(spec.handle)
        self.mgmt_path = spec.run_dir / SOCKET_FILE
        self._parser = mp.ManagementParser()
        self._writer: asyncio.StreamWriter | None = None
        self._replies: deque[asyncio.Future[mp.Event]] = deque()
        self._dirfd: int | None = None
        self._attached = False
        self._asking = False
        self._profile: pf.SanitizedProfile | None = None
        self._interp = Interpreter(
            credentials=lambda: _credentials(self._profile, self.spec),
            recent_log=self._log_tail,
            grant=spec.grant,
        )
        self.connected_at: float | None = None

    def __repr__(self) -> str:
        return f"<OpenVpnLink handle={self.spec.handle} if={self.ifname} pid={self.pid}>"

    @property
    def proc(self) -> LinkProcess | None:
        return self._proc

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    # ------------------------------------------------------------------ start

    @classmethod
    def validate(cls, spec: LinkSpec) -> Prepared:
        profile = load_profile(spec)
        _credentials(profile, spec)  # a profile that needs a password and has none: at once
        dial_timeout(spec.entry)
        return Prepared(profile, find_program("openvpn"))

    async def _launch(self, prepared: Prepared) -> None:
        profile = self._profile = prepared.profile
        run_dir = self.spec.run_dir
        keys = KeyFiles()
        try:
            argv, _ = build_argv(profile, run_dir, self.ifname, prepared.program, file_arg=keys.add)
            remove_quietly(run_dir / SOCKET_FILE)  # a redial's: openvpn's must be the one found
            self._spawn_program(argv, log_name=LOG_FILE, pass_fds=keys.fds)
        finally:
            keys.close()
        # openvpn makes its tun only after the hold release (after the attach below), so the
        # step is noted in time, and its write is no longer between the call and the spawn.
        self.journal.note(Interface(self.ifname))
        self._arm_dial_deadline()
        self._interp.early = len(profile.remotes) == 1
        asyncio.get_running_loop().call_later(EARLY_CHECKS[0], self._check_early, 0)
        await self._attach(ATTACH_TIMEOUT)
        self._send_all(["state on", "bytecount 1", "hold release"])

    async def _attach(self, limit: float) -> None:
        """Connect to the management socket (once openvpn listens) and read it."""
        proc = self._proc
        assert proc is not None
        # Until the socket is there only new names wake the wait, not each of openvpn's
        # first log lines (half a dozen wake-ups, each taking CPU from openvpn's start).
        watched = DirWatch.open(self.mgmt_path.parent, writes=False)
        with watched or contextlib.nullcontext() as watch:
            if watch is not None:
                proc.on_exit(lambda _rc: watch.wake())
            sock = await self._connect(proc, limit, watch)
        reader, writer = await asyncio.open_unix_connection(sock=sock)
        self._writer = writer
        self._attached = True
        self._spawn(self._read(reader))

    async def _connect(
        self, proc: LinkProcess, limit: float, watch: DirWatch | None
    ) -> socket.socket:
        """The connected management socket. Each try waits for the run dir's next news
        (``watch``): the socket's creation, a line of openvpn's log (it logs right after it
        listens), or its exit; a poll where inotify cannot watch."""
        started = time.monotonic()
        deadline = started + limit
        path = self._socket_path()
        writes_watched = False
        while True:
            # A plain non-blocking connect per try (microseconds). The connected socket
            # becomes the stream.
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            sock.setblocking(False)
            try:
                sock.connect(path)
            except (FileNotFoundError, ConnectionRefusedError, BlockingIOError) as exc:
                sock.close()
                if proc.exited:
                    code, detail = self._interp.failure()
                    raise RasError(code, detail) from None
                if time.monotonic() > deadline:
                    raise RasError(
                        errors.ERROR_CONNECTING_DEVICE_NOT_FOUND,
                        "openvpn did not open its management socket",
                    ) from None
                if watch is not None and not isinstance(exc, BlockingIOError):
                    if isinstance(exc, ConnectionRefusedError) and not writes_watched:
                        # Bound, not yet listening: openvpn logs right after its listen.
                        watch.watch_writes()
                        writes_watched = True
                        continue  # the listen may have come before the watch: look again
                    await watch.wait(ATTACH_WATCH_AT_MOST)
                    continue
                fast = time.monotonic() - started < ATTACH_POLL_FOR
                await asyncio.sleep(ATTACH_POLL if fast else ATTACH_POLL_SLOW)
                continue
            except BaseException:
                sock.close()
                raise
            return sock

    def _socket_path(self) -> str:
        """The socket path, shortened through /proc/self/fd when it is too long for AF_UNIX."""
        path = str(self.mgmt_path)
        if len(path) <= _AF_UNIX_MAX:
            return path
        if self._dirfd is None:
            self._dirfd = os.open(self.mgmt_path.parent, os.O_PATH | os.O_CLOEXEC)
        return f"/proc/self/fd/{self._dirfd}/{self.mgmt_path.name}"

    # ------------------------------------------------------------------ management I/O

    def _send(self, command: str, *, secret: bool = False) -> asyncio.Future[mp.Event]:
        """Write one command; the future gets its reply (SUCCESS/ERROR/block)."""
        return self._send_all([command], secret=secret)[0]

    def _send_all(
        self, commands: list[str], *, secret: bool = False
    ) -> list[asyncio.Future[mp.Event]]:
        """Write commands in one write, at once (openvpn reads them together instead of
        waking per line); a future per command gets its reply."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[mp.Event]] = [loop.create_future() for _ in commands]
        if self._writer is None or self._writer.is_closing():
            for fut in futures:
                fut.set_exception(ConnectionError("management socket closed"))
                fut.exception()  # mark retrieved
            return futures
        self._replies.extend(futures)
        self._writer.write(b"".join(c.encode() + b"\n" for c in commands))
        if not secret:
            log.debug("%r >> %s", self, " | ".join(commands))
        return futures

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while data := await reader.read(65536):
                for event in self._parser.feed(data):
                    self._handle(event)
        except mp.ManagementProtocolError as exc:
            log.warning("%r: management protocol broken: %s", self, exc)
            self._act(self._interp.end(errors.ERROR_UNKNOWN, f"openvpn management: {exc}"))
        except (ConnectionError, OSError):
            pass
        finally:
            while self._replies:
                fut = self._replies.popleft()
                if not fut.done():
                    fut.set_exception(ConnectionError("management socket closed"))
                    fut.exception()
            if self._writer is not None:
                self._writer.close()

    def _handle(self, ev: mp.Event) -> None:
        if isinstance(ev, mp.Success | mp.Error | mp.Block):
            if self._replies:
                fut = self._replies.popleft()
                if not fut.done():
                    fut.set_result(ev)
            return
        self._act(self._interp.event(ev))

    def _act(self, actions: list[Action]) -> None:
        """Carry out what the interpreter decided."""
        for action in actions:
            if isinstance(action, Send):
                self._send_all(list(action.commands), secret=action.secret)
            elif isinstance(action, Report):
                if action.state is RasConnState.Connected:
                    self._mark_connected()
                    self.connected_at = time.time()
                self.emit(StateReached(action.state))
            elif isinstance(action, End):
                self._connected = self._connected or self._interp.connected
                self._finish(action.code, action.detail)
            elif isinstance(action, Ask):
                # The user's typing is no part of the dial's time: the deadline waits, and
                # the question has its own.
                self._disarm_dial_deadline()
                self._arm_dial_deadline(INPUT_TIMEOUT)
                self._asking = True
                self.emit(InputNeeded(action.prompt, action.echo))
            else:
                asyncio.get_running_loop().call_soon(self._read_push)  # after the news is out

    def _log_tail(self) -> list[str]:
        """openvpn's latest log lines (its log file; the socket streams none: a line per
        wake-up of the daemon during a handshake that competes with it for the CPU)."""
        text = tail_text(self.spec.run_dir / LOG_FILE, LOG_TAIL_BYTES)
        return text.splitlines()[1:]  # the first line may be cut

    def _read_push(self) -> None:
        self._act(self._interp.pushed(tail_text(self.spec.run_dir / LOG_FILE, LOG_TAIL_BYTES)))

    # ------------------------------------------------------------------ moments

    def _check_early(self, n: int) -> None:
        """The log, read a few times early in the dial (tens of microseconds each) for a
        failure that cannot get better, rather than streamed over the socket."""
        if self._connected or self._ended():
            return
        self._act(self._interp.early_check())
        if n + 1 < len(EARLY_CHECKS) and not self._ended():
            delay = EARLY_CHECKS[n + 1] - EARLY_CHECKS[n]
            asyncio.get_running_loop().call_later(delay, self._check_early, n + 1)

    def _on_dial_deadline(self) -> None:
        if self._asking:
            self._asking = False
            self._act(self._interp.end(
                errors.ERROR_INTERACTIVE_MODE,
                f"nobody answered the server's question within {INPUT_TIMEOUT:g} s",
            ))  # fmt: skip
            return
        self._act(self._interp.dial_deadline())

    def provide_input(self, text: str | None) -> bool:
        if not self._asking or self._ended():
            return False
        self._asking = False
        self._arm_dial_deadline()
        self._act(self._interp.answer(text))
        return True

    def _program_exited(self, rc: int | None) -> tuple[int, str] | None:
        # Before the socket is attached, start()/adopt() report the failure themselves.
        if not self._attached:
            return None
        return self._interp.failure()

    # ------------------------------------------------------------------ ending

    def request_stop(self) -> None:
        self._interp.stopping = True
        super().request_stop()

    def kill(self) -> None:
        self._interp.stopping = True
        super().kill()

    def _finish(self, code: int, detail: str) -> None:
        self._interp.terminal = True
        super()._finish(code, detail)

    def _graceful_stop(self) -> bool:
        """``signal SIGTERM`` over the socket (openvpn's own exit: it removes its tun)."""
        if self._writer is None or self._writer.is_closing():
            return False
        self._send("signal SIGTERM")
        return True

    async def _release(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._dirfd is not None:
            os.close(self._dirfd)
            self._dirfd = None

    # ------------------------------------------------------------------ adoption

    def record(self) -> dict[str, Any]:
        assert self._proc is not None
        return {
            **self._proc.identity.to_record(),
            "mgmt": str(self.mgmt_path),
            "ifname": self.ifname,
            "connected_at": self.connected_at,
        }

    @classmethod
    async def adopt(cls, spec: LinkSpec, record: Mapping[str, Any], emit: Emit) -> Link | None:
        link = cls(spec, emit)
        link.ifname = str(record.get("ifname") or link.ifname)
        link.mgmt_path = Path(str(record.get("mgmt") or link.mgmt_path))
        try:
            identity = ProcessIdentity.from_record(record)
        except (KeyError, TypeError, ValueError):
            await link._abandon()
            return None
        proc = LinkProcess.adopt(identity)
        if proc is None:
            await link._abandon()
            return None
        link._watch_program(proc, journal=False)
        link._interp.resyncing = True  # whatever hold openvpn waits in, the resync decides
        try:
            await link._attach(ATTACH_TIMEOUT)
            await link._resync(record)
        except (RasError, ConnectionError, OSError, TimeoutError) as exc:
            log.warning("%r: cannot re-attach (%s); stopping it", link, exc)
            await link._abandon()
            return None
        return link

    async def _resync(self, record: Mapping[str, Any]) -> None:
        """Re-derive state (``state all``: the current one, and whether it was connected),
        counters, and the pushed options (``log all``)."""
        for cmd in ("state on", "bytecount 1"):
            self._send(cmd)
        logs = await asyncio.wait_for(self._send("log all"), 5.0)
        lines: list[str] = []
        if isinstance(logs, mp.Block):
            lines = [p[2] for line in logs.lines if len(p := line.split(",", 2)) == 3]
        reply = await asyncio.wait_for(self._send("state all"), 5.0)
        history: list[mp.State] = []
        if isinstance(reply, mp.Block):
            history = [s for line in reply.lines if (s := mp.parse_state_fields(line))]
        if not history:
            raise RasError(errors.ERROR_UNKNOWN, "openvpn did not say its state")
        actions = self._interp.resync(lines, history)
        if not self._interp.ended and history[-1].name != "CONNECTED":
            self._arm_dial_deadline()  # still dialing: the deadline starts again
        self._act(actions)
        raw_at = record.get("connected_at")
        if self._connected and isinstance(raw_at, int | float):
            self.connected_at = float(raw_at)  # re-reported Connected: the time stays

    # ------------------------------------------------------------------ information

    async def statistics(self) -> LinkStats:
        counters = interface_stats(self.ifname)
        if counters is not None:
            return counters
        received, sent = self._interp.bytes
        return LinkStats(bytes_received=received, bytes_sent=sent)

    async def projection(self) -> Projection | None:
        line = self._interp.connected_line
        if not self._interp.connected or line is None:
            return None
        push = self._interp.push or mp.PushInfo()
        remote = push.route_gateway
        if not remote and push.ifconfig_remote and not push.ifconfig_remote.startswith("255."):
            remote = push.ifconfig_remote
        extra = {
            "server": line.remote_addr,
            "server_port": line.remote_port,
            "topology": push.topology,
            "domain": push.domain,
        }
        if push.ifconfig_remote.startswith("255."):
            extra["netmask"] = push.ifconfig_remote
        return Projection(
            interface=self.ifname,
            local_address=line.local_ip or push.ifconfig_local,
            remote_address=remote,
            dns=push.dns,
            local_address_v6=line.local_ipv6 or push.ifconfig_ipv6_local,
            remote_address_v6=push.ifconfig_ipv6_remote,
            extra={k: v for k, v in extra.items() if v},
        )

    def info(self) -> dict[str, Any]:
        """Debugging view (no secrets)."""
        state = self._interp.state
        return {
            "pid": self.pid,
            "ifname": self.ifname,
            "state": state.name if state else None,
            "push": asdict(self._interp.push) if self._interp.push else None,
        }
