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
   becomes a 0600 file in ``<run dir>/keys`` that the argv names. The driver sets the device
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
4. After LinkFailed/LinkDropped the driver stops openvpn itself. ``request_stop`` sends
   ``signal SIGTERM`` over the socket (SIGTERM to the pid if that fails or is not heard);
   ``wait_closed`` waits for the exit, deletes a tun left behind (only after SIGKILL) and
   the run-dir files.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar, Final

from openras import errors
from openras.errors import RasError
from openras.links._common import (
    dial_timeout,
    find_program,
    resolve_entry_path,
    stopped_before_start,
    tail_text,
)
from openras.links._owner_files import read_owner_file, write_private
from openras.links.base import (
    Emit,
    Link,
    LinkDropped,
    LinkFailed,
    LinkSpec,
    LinkStats,
    Projection,
    StateReached,
)
from openras.links.openvpn import parser as mp
from openras.links.openvpn import profile as pf
from openras.links.process import LinkProcess, ProcessIdentity
from openras.states import RasConnState

log = logging.getLogger(__name__)

PROFILE_KEY: Final = "OpenRasOpenVpnProfile"
#: Directory (in the run dir) of the keys and certificates the argv names, 0600 each.
KEYS_DIR: Final = "keys"
SOCKET_FILE: Final = "mgmt.sock"
LOG_FILE: Final = "openvpn.log"
#: How long openvpn may take to open its management socket.
ATTACH_TIMEOUT: Final = 10.0
#: Between two tries to connect to the management socket while openvpn starts: it listens
#: after 7-9 ms here, so finely at first (a try is a failed connect(), microseconds), then
#: coarser for a program that is slow to start.
ATTACH_POLL: Final = 0.00025
ATTACH_POLL_FOR: Final = 0.1
ATTACH_POLL_SLOW: Final = 0.005
#: After ``signal SIGTERM`` on the socket, a plain SIGTERM if openvpn has not exited.
STOP_FALLBACK: Final = 3.0
#: Lines of openvpn's log kept to explain a failure.
LOG_KEEP: Final = 80
#: How much of the end of openvpn's log file explains a failure (or holds PUSH_REPLY).
LOG_TAIL_BYTES: Final = 16384
_AF_UNIX_MAX: Final = 107


def interface_name(handle: int) -> str:
    """The tun device of ``handle`` (at most 15 characters)."""
    return f"orvpn{handle % 10**10}"


def load_profile(spec: LinkSpec) -> pf.SanitizedProfile:
    """Read the entry's profile and its files as the owner, and rebuild it (RasError if not)."""
    raw = spec.entry.get(PROFILE_KEY)
    if raw is None or not raw.strip():
        raise RasError(pf.ERROR_PROFILE, f"{PROFILE_KEY} is not set")
    path = resolve_entry_path(spec, PROFILE_KEY, raw)
    data = read_owner_file(path, spec.owner_uid, code=pf.ERROR_PROFILE, what="OpenVPN profile")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise RasError(pf.ERROR_PROFILE, f"{path}: not an OpenVPN profile (not text)") from None
    source = str(path)

    def read_file(name: str, line: int) -> bytes:
        target = Path(name) if Path(name).is_absolute() else path.parent / name
        return read_owner_file(
            target, spec.owner_uid, code=pf.ERROR_NO_CERT, what=f"{source}:{line}: file"
        )

    number = spec.params.phone_number or spec.entry.get("PhoneNumber") or ""
    return pf.sanitize(
        pf.parse(text, source),
        source=source,
        read_file=read_file,
        remote_override=pf.parse_phone_number(number),
        owner_uid=spec.owner_uid,
        grant=spec.grant,
    )


def build_argv(
    profile: pf.SanitizedProfile, run_dir: Path, ifname: str, program: str = "openvpn"
) -> tuple[list[str], dict[Path, bytes]]:
    """The whole argv of openvpn for ``profile`` and the key files it names."""
    driver = [
        pf.Option("dev", (ifname,)),
        pf.Option("dev-type", ("tun",)),
        pf.Option("auth-retry", ("none",)),
        pf.Option("verb", (str(min(max(profile.verb, 3), 4)),)),
    ]
    if profile.has_auth_user_pass:
        driver.append(pf.Option("auth-nocache"))
    driver += [
        pf.Option("management", (SOCKET_FILE, "unix")),
        pf.Option("management-hold"),
        pf.Option("management-query-passwords"),
    ]
    args, files = profile.argv(run_dir / KEYS_DIR, driver)
    return [program, *args], files


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


#: Seconds into a dial at which the log is read for a failure that retrying cannot cure.
EARLY_CHECKS = (0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 7.5)
#: Refused port (808), unresolvable name (868), no route (769): the dial fails at once.
FAIL_EARLY = frozenset({808, 868, 769})


class OpenVpnLink(Link):
    """One openvpn client process and its management connection."""

    driver: ClassVar[str] = "openvpn"
    device_name: ClassVar[str] = "OpenVPN"
    default_kill_deadline: ClassVar[float] = 5.0

    def __init__(self, spec: LinkSpec, emit: Emit) -> None:
        super().__init__(spec, emit)
        self.ifname = interface_name(spec.handle)
        self.mgmt_path = spec.run_dir / SOCKET_FILE
        self.proc: LinkProcess | None = None
        self._parser = mp.ManagementParser()
        self._writer: asyncio.StreamWriter | None = None
        self._replies: deque[asyncio.Future[mp.Event]] = deque()
        self._tasks: set[asyncio.Task[None]] = set()
        self._dirfd: int | None = None
        self._dial_timer: asyncio.TimerHandle | None = None
        self._stop_timer: asyncio.TimerHandle | None = None
        # what openvpn told us
        self._state: RasConnState | None = None
        self._connected = False
        self._terminal = False
        self._stopping = False
        self._holds = 0
        self._attached = False
        self._resyncing = False
        self._answered_server = False
        self._restart_reason = ""
        self._exit_reason = ""
        self._fatal = ""
        self._auth_failed = ""
        self._log: deque[str] = deque(maxlen=LOG_KEEP)
        self._bytes = (0, 0)
        self._connected_line: mp.State | None = None
        self._push: mp.PushInfo | None = None
        self._profile: pf.SanitizedProfile | None = None
        #: One server only: a refusal or an unresolvable name ends the dial at once.
        self._early = False
        self.connected_at: float | None = None

    def __repr__(self) -> str:
        return f"<OpenVpnLink handle={self.spec.handle} if={self.ifname} pid={self.pid}>"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    # ------------------------------------------------------------------ start

    @classmethod
    def validate(cls, spec: LinkSpec) -> pf.SanitizedProfile:
        profile = load_profile(spec)
        _credentials(profile, spec)  # a profile that needs a password and has none: at once
        dial_timeout(spec.entry)
        find_program("openvpn")
        return profile

    async def start(self) -> None:
        prepared = self.spec.prepared
        if isinstance(prepared, pf.SanitizedProfile):
            profile = prepared
        else:
            profile = await asyncio.to_thread(load_profile, self.spec)
        timeout = dial_timeout(self.spec.entry)
        self._profile = profile
        run_dir = self.spec.run_dir
        argv, files = build_argv(profile, run_dir, self.ifname, find_program("openvpn"))
        run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            (run_dir / SOCKET_FILE).unlink()
        shutil.rmtree(run_dir / KEYS_DIR, ignore_errors=True)  # a redial's leftovers
        (run_dir / KEYS_DIR).mkdir(mode=0o700)
        for path, data in files.items():
            write_private(path, data)
        if self._stopping:
            raise stopped_before_start("openvpn")
        self.proc = LinkProcess.spawn(
            argv, marker=self.spec.marker, log_path=self.spec.run_dir / LOG_FILE,
            cwd=self.spec.run_dir,
        )  # fmt: skip
        self._spawn(self._watch_exit())
        loop = asyncio.get_running_loop()
        self._dial_timer = loop.call_later(timeout, self._dial_timed_out)
        self._early = len(profile.remotes) == 1
        loop.call_later(EARLY_CHECKS[0], self._check_early, 0)
        try:
            await self._attach(ATTACH_TIMEOUT)
            self._send_all(["state on", "bytecount 1", "hold release"])
        except RasError:
            self._terminal = True  # start() reports this failure; nothing more is emitted
            if self._dial_timer is not None:
                self._dial_timer.cancel()
                self._dial_timer = None
            self.proc.kill()
            raise

    async def _attach(self, limit: float) -> None:
        """Connect to the management socket (retrying until openvpn listens) and read it."""
        assert self.proc is not None
        started = time.monotonic()
        deadline = started + limit
        path = self._socket_path()
        while True:
            # A plain non-blocking connect per try (microseconds): the poll must not take
            # the CPU from the openvpn it waits for. The connected socket becomes the stream.
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            sock.setblocking(False)
            try:
                sock.connect(path)
            except (FileNotFoundError, ConnectionRefusedError, BlockingIOError):
                sock.close()
                if self.proc.exited:
                    code, detail = self._failure_code()
                    raise RasError(code, detail) from None
                if time.monotonic() > deadline:
                    raise RasError(
                        errors.ERROR_CONNECTING_DEVICE_NOT_FOUND,
                        "openvpn did not open its management socket",
                    ) from None
                fast = time.monotonic() - started < ATTACH_POLL_FOR
                await asyncio.sleep(ATTACH_POLL if fast else ATTACH_POLL_SLOW)
                continue
            except BaseException:
                sock.close()
                raise
            break
        reader, writer = await asyncio.open_unix_connection(sock=sock)
        self._writer = writer
        self._attached = True
        self._spawn(self._read(reader))

    def _socket_path(self) -> str:
        """The socket path, shortened through /proc/self/fd when it is too long for AF_UNIX."""
        path = str(self.mgmt_path)
        if len(path) <= _AF_UNIX_MAX:
            return path
        if self._dirfd is None:
            self._dirfd = os.open(self.mgmt_path.parent, os.O_PATH | os.O_CLOEXEC)
        return f"/proc/self/fd/{self._dirfd}/{self.mgmt_path.name}"

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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
            self._finish(errors.ERROR_UNKNOWN, f"openvpn management: {exc}")
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
        if isinstance(ev, mp.State):
            self._on_state(ev)
        elif isinstance(ev, mp.Hold):
            self._on_hold()
        elif isinstance(ev, mp.PasswordRequest):
            self._on_password(ev)
        elif isinstance(ev, mp.PasswordFailed):
            self._auth_failed = f"openvpn: {ev.realm} verification failed {ev.detail}".strip()
            self._finish(errors.ERROR_AUTHENTICATION_FAILURE, self._auth_failed)
        elif isinstance(ev, mp.ByteCount):
            self._bytes = (ev.bytes_in, ev.bytes_out)
        elif isinstance(ev, mp.Fatal):
            self._fatal = ev.text
            self._log.append(ev.text)
        elif isinstance(ev, mp.Log):
            self._on_log(ev.text)
        elif isinstance(ev, mp.Notification):
            self._on_notification(ev)

    def _recent_log(self) -> list[str]:
        """openvpn's latest log lines (its log file; the socket streams none, see start())
        and what came over the socket that explains a failure (FATAL, NOTIFY, resync)."""
        text = tail_text(self.spec.run_dir / LOG_FILE, LOG_TAIL_BYTES)
        return [*text.splitlines()[1:], *self._log]  # the first line may be cut

    def _read_push(self) -> None:
        """The options the server pushed (for the projection), from the log once connected:
        the PUSH_REPLY line is written before openvpn reports CONNECTED."""
        if self._push is None:
            log_text = tail_text(self.spec.run_dir / LOG_FILE, LOG_TAIL_BYTES)
            for line in reversed(log_text.splitlines()):
                if "PUSH_REPLY" in line and (push := mp.parse_push_reply(line)) is not None:
                    self._push = push
                    break
        self._check_push()

    def _check_push(self) -> None:
        """Without a full tunnel, a pushed address whose subnet routes too much ends the link
        (``--route-nopull`` stops pushed routes, not the subnet of a pushed ``ifconfig``)."""
        push = self._push
        if push is None or self.spec.grant.full_tunnel:
            return
        why = pf.pushed_coverage_problem(
            push.ifconfig_remote, push.ifconfig_ipv6_network, push.topology
        )
        if why is not None:
            self._finish(
                errors.ERROR_ACCESS_DENIED,
                f"{why}: a full tunnel is not allowed by policy ({self.spec.grant.full_tunnel_rule})",
            )

    def _on_log(self, text: str) -> None:
        self._log.append(text)
        if "PUSH_REPLY" in text:
            push = mp.parse_push_reply(text)
            if push is not None:
                self._push = push

    def _on_state(self, st: mp.State) -> None:
        if st.name == "RECONNECTING":
            self._restart_reason = st.reason
            if self._connected:
                self._finish(
                    mp.reason_error(st.reason, connected=True), f"openvpn restarted: {st.reason}"
                )
            elif st.reason == "auth-failure":
                self._finish(errors.ERROR_AUTHENTICATION_FAILURE, "openvpn: auth-failure")
            else:
                # Retrying cannot fix a rejected certificate or key: fail now, not at timeout.
                found = mp.classify_text(self._recent_log())
                if found is not None and found[0] in mp.DEFINITIVE:
                    self._finish(*found)
            return
        if st.name == "EXITING":
            self._exit_reason = st.reason
            if not self._stopping:
                code, detail = self._failure_code()
                self._finish(code, detail)
            return
        state = mp.ras_state(st.name)
        if state is None or self._terminal:
            return
        if state is not RasConnState.ConnectDevice:
            self._answered_server = True
        if state is RasConnState.Connected:
            self._connected_line = st
            self._connected = True
            asyncio.get_running_loop().call_soon(self._read_push)  # after the news is out
            self.connected_at = time.time()
            if self._dial_timer is not None:
                self._dial_timer.cancel()
                self._dial_timer = None
        if state is not self._state:
            self._state = state
            self.emit(StateReached(state))

    def _on_hold(self) -> None:
        self._holds += 1
        if self._holds == 1 or self._terminal or self._stopping or self._resyncing:
            return  # start() releases the first hold, _resync() decides after adoption
        if not self._connected:
            self._send("hold release")

    def _on_password(self, req: mp.PasswordRequest) -> None:
        if self._terminal or self._stopping:
            return
        if req.realm == "Auth" and "SC:" not in req.what and "CRV1" not in req.what:
            try:
                user, password = _credentials(self._profile, self.spec)
            except RasError as exc:
                self._finish(exc.code, exc.detail or "")
                return
            if "\n" in user or "\n" in password or "\r" in user + password:
                self._finish(errors.ERROR_AUTHENTICATION_FAILURE, "line break in credentials")
                return
            self._send_all(
                [
                    f"username {mp.quote('Auth')} {mp.quote(user)}",
                    f"password {mp.quote('Auth')} {mp.quote(password)}",
                ],
                secret=True,
            )
        elif req.realm == "Private Key":
            self._finish(869, "the private key needs a passphrase; use an unencrypted key")
        else:
            self._finish(
                errors.ERROR_AUTHENTICATION_FAILURE,
                f"openvpn asks for {req.realm!r} {req.what}, which openras cannot answer",
            )

    def _on_notification(self, ev: mp.Notification) -> None:
        if ev.kind in ("NEED-OK", "NEED-STR", "NEED-CERTIFICATE", "RSA_SIGN", "PK_SIGN"):
            self._finish(mp.GENERIC_DIAL_FAILURE, f"openvpn asks for {ev.kind}: {ev.payload}")
        elif ev.kind == "INFOMSG" and ev.payload.startswith(("WEB_AUTH", "OPEN_URL", "CR_TEXT")):
            self._finish(
                errors.ERROR_AUTHENTICATION_FAILURE,
                "the server asks for web or challenge authentication, which openras cannot do",
            )
        elif ev.kind == "NOTIFY":
            self._log.append(ev.payload)

    # ------------------------------------------------------------------ ending

    def _failure_code(self) -> tuple[int, str]:
        """The best code for how things ended (or failed), with a line that explains it."""
        if self._auth_failed or self._exit_reason == "auth-failure":
            return errors.ERROR_AUTHENTICATION_FAILURE, self._auth_failed or "openvpn: auth-failure"
        reason = self._exit_reason or self._restart_reason
        if self._connected:
            if reason:
                return mp.reason_error(reason, connected=True), f"openvpn: {reason}"
            return errors.ERROR_DISCONNECTION, "openvpn exited"
        found = mp.classify_text([*self._recent_log(), self._fatal])
        if found is not None:
            return found
        if reason:
            return mp.reason_error(reason, connected=False), f"openvpn: {reason}"
        return mp.GENERIC_DIAL_FAILURE, "openvpn exited"

    def _finish(self, code: int, detail: str) -> None:
        """Report the end once (failed while dialing, dropped once connected), then stop."""
        if self._terminal or self._stopping:
            return
        self._terminal = True
        if self._dial_timer is not None:
            self._dial_timer.cancel()
            self._dial_timer = None
        if self._connected:
            self.emit(LinkDropped(code, detail))
        else:
            self.emit(LinkFailed(code, detail))
        self._stop_program()

    def _check_early(self, n: int) -> None:
        """Fail a dial as soon as the log shows it cannot work (a refused port, a name that
        does not resolve, no route), not at the dial timeout: openvpn itself would retry
        quietly for a minute. Only with one server (with several, openvpn tries the next).
        The log is read a few times early in the dial (tens of microseconds each), rather
        than streamed over the socket for the whole handshake."""
        if self._connected or self._terminal or self._stopping or not self._early:
            return
        found = mp.classify_text(self._recent_log())
        if found is not None and found[0] in FAIL_EARLY:
            self._finish(*found)
            return
        if n + 1 < len(EARLY_CHECKS):
            delay = EARLY_CHECKS[n + 1] - EARLY_CHECKS[n]
            asyncio.get_running_loop().call_later(delay, self._check_early, n + 1)

    def _dial_timed_out(self) -> None:
        self._dial_timer = None
        if self._connected or self._terminal or self._stopping:
            return
        found = mp.classify_text(self._recent_log())
        if found is not None and found[0] != errors.ERROR_VPN_TIMEOUT:
            self._finish(*found)
        elif self._answered_server:
            self._finish(errors.ERROR_REQUEST_TIMEOUT, "dial timeout after the server answered")
        else:
            self._finish(errors.ERROR_VPN_TIMEOUT, "dial timeout: the server did not answer")

    async def _watch_exit(self) -> None:
        assert self.proc is not None
        await self.proc.wait()
        if self._stop_timer is not None:
            self._stop_timer.cancel()
        # Before the socket is attached, start()/adopt() report the failure themselves.
        if self._attached and not self._terminal and not self._stopping:
            code, detail = self._failure_code()
            self._finish(code, detail)

    def _stop_program(self) -> None:
        """Ask openvpn to exit over the socket; SIGTERM by pid if it does not."""
        self._stopping = True
        if self.proc is None or self.proc.exited:
            return
        if self._writer is not None and not self._writer.is_closing():
            self._send("signal SIGTERM")
        else:
            self.proc.terminate()
        if self._stop_timer is None:
            loop = asyncio.get_running_loop()
            self._stop_timer = loop.call_later(STOP_FALLBACK, self._stop_fallback)

    def _stop_fallback(self) -> None:
        if self.proc is not None and not self.proc.exited:
            log.info("%r: no exit after 'signal SIGTERM'; sending SIGTERM", self)
            self.proc.signal(signal.SIGTERM)

    def request_stop(self) -> None:
        if self._dial_timer is not None:
            self._dial_timer.cancel()
            self._dial_timer = None
        self._stop_program()

    def kill(self) -> None:
        self._stopping = True
        if self.proc is not None:
            self.proc.kill()

    async def wait_closed(self) -> None:
        if self.proc is not None:
            await self.proc.wait()
        for timer in (self._dial_timer, self._stop_timer):
            if timer is not None:
                timer.cancel()
        if self._writer is not None:
            self._writer.close()
        for task in list(self._tasks):
            if task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._cleanup()

    def _cleanup(self) -> None:
        """What an exited openvpn may leave: its tun (only after SIGKILL) and our files."""
        if self._dirfd is not None:
            os.close(self._dirfd)
            self._dirfd = None
        _remove_leftovers(self.ifname, self.spec.run_dir)

    @classmethod
    async def cleanup_orphan(cls, spec: LinkSpec) -> None:
        """The tun (named from the handle, so found without a record) and the run dir's
        files: the key files, the management socket, the log."""
        _remove_leftovers(interface_name(spec.handle), spec.run_dir)

    # ------------------------------------------------------------------ adoption

    def record(self) -> dict[str, Any]:
        assert self.proc is not None
        return {
            **self.proc.identity.to_record(),
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
            link._cleanup()
            return None
        proc = LinkProcess.adopt(identity)
        if proc is None:
            link._cleanup()
            return None
        link.proc = proc
        link._resyncing = True  # whatever hold openvpn waits in, _resync decides
        link._spawn(link._watch_exit())
        try:
            await link._attach(ATTACH_TIMEOUT)
            await link._resync(record)
        except (RasError, ConnectionError, OSError, TimeoutError) as exc:
            log.warning("%r: cannot re-attach (%s); stopping it", link, exc)
            link._stopping = True
            proc.kill()
            await proc.wait()
            link._cleanup()
            return None
        return link

    async def _resync(self, record: Mapping[str, Any]) -> None:
        """Re-derive state (``state all``: the current one, and whether it was connected),
        counters, and the pushed options (``log all``)."""
        for cmd in ("state on", "bytecount 1"):
            self._send(cmd)
        logs = await asyncio.wait_for(self._send("log all"), 5.0)
        if isinstance(logs, mp.Block):
            for line in logs.lines:
                parts = line.split(",", 2)
                if len(parts) == 3:
                    self._on_log(parts[2])
        reply = await asyncio.wait_for(self._send("state all"), 5.0)
        history: list[mp.State] = []
        if isinstance(reply, mp.Block):
            history = [s for line in reply.lines if (s := mp.parse_state_fields(line))]
        if not history:
            raise RasError(errors.ERROR_UNKNOWN, "openvpn did not say its state")
        current = history[-1]
        raw_at = record.get("connected_at")
        if current.name == "CONNECTED":
            self.connected_at = float(raw_at) if isinstance(raw_at, int | float) else time.time()
        self._log.clear()  # old history must not explain a new failure
        # A restart after CONNECTED (openvpn then sits in CONNECTING/HOLD) is a drop we missed.
        names = [s.name for s in history]
        last_up = max((i for i, n in enumerate(names) if n == "CONNECTED"), default=None)
        ended = [s for s in history[(last_up or 0) :] if s.name in ("RECONNECTING", "EXITING")]
        if ended and (last_up is not None or ended[-1].name == "EXITING"):
            self._connected = last_up is not None
            end = ended[0] if last_up is not None else ended[-1]
            code = mp.reason_error(end.reason, connected=self._connected)
            self._finish(code, f"openvpn {end.name.lower()}: {end.reason}")
            return
        self._resyncing = False
        self._holds = 1
        if current.name != "CONNECTED":
            self._send("hold release")  # still dialing: go on (it may be held)
            loop = asyncio.get_running_loop()
            self._dial_timer = loop.call_later(dial_timeout(self.spec.entry), self._dial_timed_out)
        self._on_state(current)

    # ------------------------------------------------------------------ information

    async def statistics(self) -> LinkStats:
        counters = _iface_counters(self.ifname)
        if counters is not None:
            return counters
        return LinkStats(bytes_received=self._bytes[0], bytes_sent=self._bytes[1])

    async def projection(self) -> Projection | None:
        line = self._connected_line
        if not self._connected or line is None:
            return None
        push = self._push or mp.PushInfo()
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
        return {
            "pid": self.pid,
            "ifname": self.ifname,
            "state": self._state.name if self._state else None,
            "push": asdict(self._push) if self._push else None,
        }


def _iface_counters(ifname: str) -> LinkStats | None:
    """Counters of ``ifname`` in this thread's network namespace (``/proc/.../net/dev``)."""
    try:
        with open("/proc/thread-self/net/dev") as fh:
            lines = fh.readlines()
    except OSError:
        return None
    for line in lines[2:]:
        name, sep, rest = line.partition(":")
        if not sep or name.strip() != ifname:
            continue
        f = [int(x) for x in rest.split()]
        if len(f) < 11:
            return None
        return LinkStats(
            bytes_received=f[0], frames_received=f[1], bytes_sent=f[8], frames_sent=f[9],
            errors=f[2] + f[10],
        )  # fmt: skip
    return None


def _remove_leftovers(ifname: str, run_dir: Path) -> None:
    _delete_link(ifname)
    shutil.rmtree(run_dir, ignore_errors=True)


def _delete_link(ifname: str) -> None:
    """Delete ``ifname`` if it still exists (openvpn removes its tun unless SIGKILLed)."""
    if _iface_counters(ifname) is None:
        return
    try:
        from pyroute2 import IPRoute

        with IPRoute() as ipr:
            idx = ipr.link_lookup(ifname=ifname)
            if idx:
                ipr.link("del", index=idx[0])
    except Exception as exc:  # never let cleanup raise past wait_closed
        log.warning("cannot delete leftover interface %s: %s", ifname, exc)
