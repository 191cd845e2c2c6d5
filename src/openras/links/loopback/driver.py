"""The loopback driver: runs :mod:`openras.links.loopback.program` as a supervised link.

Entry keys (all optional): OpenRasLoopbackStepMs, OpenRasLoopbackPassword,
OpenRasLoopbackFailState + OpenRasLoopbackFailCode, OpenRasLoopbackDropAfterMs,
OpenRasLoopbackHangUpMs, OpenRasLoopbackIgnoreHangUp, OpenRasKillDeadlineMs,
OpenRasLoopbackNeedsPassword (1: a dial without a password fails at once with 691 and
``needs="credentials"``, as an OpenVPN profile with ``auth-user-pass`` does; for the clients'
password prompts), OpenRasLoopbackChallenge + OpenRasLoopbackChallengeAnswer (a question
asked after the password, RASCS_Interactive, as an OpenVPN server's one-time code; a wrong
answer is 691).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from openras import errors
from openras.links.base import (
    Emit,
    InputNeeded,
    Link,
    LinkFailed,
    LinkLost,
    LinkSpec,
    LinkStats,
    Projection,
    StateReached,
)
from openras.links.process import LinkProcess, ProcessIdentity, Watcher
from openras.links.supervisor import SupervisedLink
from openras.states import RasConnState

START_TIMEOUT = 10.0


def _int_key(spec: LinkSpec, key: str) -> int | None:
    raw = spec.entry.get(key)
    if raw is None or raw.strip() == "":
        return None
    try:
        return int(raw.strip(), 0)
    except ValueError:
        raise errors.RasError(
            errors.ERROR_CORRUPT_PHONEBOOK,
            f"entry {spec.entry.name!r}: {key}={raw!r} is not a number",
        ) from None


def config_of(spec: LinkSpec) -> dict[str, Any]:
    """The program's settings from the entry (validated; no secrets from the dial)."""
    fail_state: int | None = None
    raw_state = spec.entry.get("OpenRasLoopbackFailState")
    if raw_state:
        try:
            fail_state = int(RasConnState.parse(raw_state))
        except ValueError:
            raise errors.RasError(
                errors.ERROR_CORRUPT_PHONEBOOK,
                f"entry {spec.entry.name!r}: OpenRasLoopbackFailState={raw_state!r} is not a RAS state",
            ) from None
    return {
        "step_ms": _int_key(spec, "OpenRasLoopbackStepMs")
        if _int_key(spec, "OpenRasLoopbackStepMs") is not None
        else 50,
        "password": spec.entry.get("OpenRasLoopbackPassword"),
        "fail_state": fail_state,
        "fail_code": _int_key(spec, "OpenRasLoopbackFailCode"),
        "drop_after_ms": _int_key(spec, "OpenRasLoopbackDropAfterMs"),
        "hangup_ms": _int_key(spec, "OpenRasLoopbackHangUpMs")
        if _int_key(spec, "OpenRasLoopbackHangUpMs") is not None
        else 200,
        "ignore_hangup": (spec.entry.get("OpenRasLoopbackIgnoreHangUp") or "0").strip() == "1",
        "challenge": spec.entry.get("OpenRasLoopbackChallenge") or None,
        "challenge_answer": spec.entry.get("OpenRasLoopbackChallengeAnswer") or "",
    }


class _Control:
    """The link's end of the program's control socket, read and written on the loop itself
    (a reader callback; a send, buffered only when the socket is full): lines are handed
    to the link as they come. No task, future or stream waits per link; an asyncio
    transport with its buffers was 2.5 KB of the daemon's memory per link."""

    __slots__ = ("adopting", "buffer", "first_status", "link", "pending", "sock")

    #: A line longer than this is not the program's (it writes short JSON objects).
    MAX_LINE = 65536

    def __init__(self, link: LoopbackLink, sock: socket.socket, *, adopting: bool) -> None:
        self.link = link
        self.sock = sock
        self.adopting = adopting
        self.first_status = True
        self.buffer = b""
        self.pending = b""  # what the socket did not take yet
        sock.setblocking(False)
        Watcher.of().add(sock.fileno(), self._readable)

    def _readable(self) -> None:
        try:
            data = self.sock.recv(self.MAX_LINE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            # The program closed its end (it exits): nothing more to read. The socket stays
            # open until the link's close (a stop written now just goes nowhere).
            Watcher.of().remove(self.sock.fileno())
            return
        *lines, rest = (self.buffer + data).split(b"\n") if self.buffer else data.split(b"\n")
        self.buffer = rest
        if len(rest) > self.MAX_LINE:
            self.close()
            return
        for line in lines:
            if line:
                self.link._on_line(line, self)

    def is_closing(self) -> bool:
        return self.sock.fileno() < 0

    def write(self, data: bytes) -> bool:
        """Send ``data`` (in order after anything still pending); False once closed."""
        if self.sock.fileno() < 0:
            return False
        if self.pending:
            self.pending += data
            return True
        try:
            sent = self.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            return False  # the program is gone
        if sent < len(data):
            self.pending = data[sent:]
            asyncio.get_running_loop().add_writer(self.sock.fileno(), self._writable)
        return True

    def _writable(self) -> None:
        try:
            sent = self.sock.send(self.pending)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            sent = len(self.pending)  # the program is gone: nothing to deliver it to
        self.pending = self.pending[sent:]
        if not self.pending:
            asyncio.get_running_loop().remove_writer(self.sock.fileno())

    def close(self) -> None:
        fd = self.sock.fileno()
        if fd < 0:
            return
        Watcher.of().remove(fd)
        asyncio.get_running_loop().remove_writer(fd)
        self.sock.close()


class LoopbackLink(SupervisedLink[dict[str, Any]]):
    """The simulated link program: it reports its own failures and drops, so its events
    reach the manager as it sends them."""

    driver: ClassVar[str] = "loopback"
    device_type: ClassVar[str] = "loopback"
    device_name: ClassVar[str] = "openras loopback"
    default_kill_deadline: ClassVar[float] = 10.0
    #: A program that ignores the stop command is killed at the deadline, not SIGTERMed.
    term_after: ClassVar[float | None] = None

    __slots__ = ("_asking", "_connected_at", "_control", "_heard")

    def __init__(self, spec: LinkSpec, emit: Emit) -> None:
        super().__init__(spec, emit)
        self._control: _Control | None = None
        self._connected_at: float | None = None
        self._asking = False
        #: The program has said something on its control socket (it started).
        self._heard = False

    @property
    def control(self) -> Path:
        return self.spec.run_dir / "control.sock"

    @property
    def proc(self) -> LinkProcess | None:
        return self._proc

    @classmethod
    def validate(cls, spec: LinkSpec) -> dict[str, Any]:
        needs = (spec.entry.get("OpenRasLoopbackNeedsPassword") or "0").strip() == "1"
        if needs and not spec.params.password:
            raise errors.RasError(
                errors.ERROR_AUTHENTICATION_FAILURE,
                "the entry asks for a password and the dial has none",
                needs=errors.NEEDS_CREDENTIALS,
            )
        return config_of(spec)

    async def _launch(self, prepared: dict[str, Any]) -> None:
        # The settings go through an inherited memfd, the control connection is a socket pair
        # whose other end the program inherits, and the program opens its own log: the daemon
        # creates no file for them (an inode made and removed per dial was the largest part
        # of its CPU per dial on ext4), and retries no connect until the program listens.
        cfg = os.memfd_create("openras-loopback-config", os.MFD_CLOEXEC)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            os.write(cfg, json.dumps(prepared).encode())
            os.lseek(cfg, 0, os.SEEK_SET)
            argv = program_argv(
                "--control",
                str(self.control),
                "--control-fd",
                str(theirs.fileno()),
                "--config-fd",
                str(cfg),
                "--log",
                str(self.spec.run_dir / "link.log"),
            )
            self._spawn_program(
                argv, log_name=None, env=_program_env(), pass_fds=(cfg, theirs.fileno())
            )
        except BaseException:
            ours.close()
            raise
        finally:
            os.close(cfg)
            theirs.close()
        self._greet(_Control(self, ours, adopting=False), start=True)

    async def _attach(self) -> None:
        """After adoption: connect to the program's control socket (it listens already)."""
        self._heard = True  # it started long ago: an exit now is a drop, not a failed start
        proc = self._proc
        assert proc is not None
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + START_TIMEOUT
        path = str(self.control)
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.setblocking(False)
            try:
                await loop.sock_connect(sock, path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                sock.close()
                if proc.exited or time.monotonic() > deadline:
                    raise errors.RasError(
                        errors.ERROR_CONNECTING_DEVICE_NOT_FOUND, "loopback program did not start"
                    ) from None
                await asyncio.sleep(0.002)
            except BaseException:
                sock.close()
                raise
        self._greet(_Control(self, sock, adopting=True), start=False)

    def _greet(self, control: _Control, *, start: bool) -> None:
        self._control = control
        commands = b'{"cmd": "watch"}\n{"cmd": "status"}\n'
        if start:
            msg = {
                "cmd": "start",
                "user": self.spec.params.user,
                "password": self.spec.params.password,
            }
            # The start first: a daemon killed right after the spawn leaves these commands
            # in the socket pair, and the program must still start (and be adopted) though
            # its reply to the status finds nobody to read it.
            commands = json.dumps(msg).encode() + b"\n" + commands
        control.write(commands)

    def _program_exited(self, rc: int | None) -> tuple[int, str] | None:
        # Gone before it said a word (its first is the status it is asked for at once): it
        # did not start. Otherwise it reported its own end, or its drop is the close's.
        if self._heard:
            return None
        return (
            errors.ERROR_CONNECTING_DEVICE_NOT_FOUND,
            f"loopback program did not start (exit {rc})",
        )

    def _on_line(self, line: bytes, control: _Control) -> None:
        self._heard = True
        try:
            ev = json.loads(line)
        except ValueError:
            return
        kind = ev.get("event")
        if kind == "state":
            state = RasConnState(int(ev["state"]))
            if state is RasConnState.Connected:
                self._connected_at = time.time()
                self._mark_connected()
            self.emit(StateReached(state))
        elif kind == "failed":
            self.emit(LinkFailed(int(ev["error"]), str(ev.get("detail") or "attempt failed")))
        elif kind == "dropped":
            self.emit(LinkLost(int(ev["error"]), str(ev.get("detail", ""))))
        elif kind == "ask":
            self._asking = True
            self.emit(InputNeeded(str(ev.get("prompt", "")), bool(ev.get("echo"))))
        elif kind == "status" and control.first_status:
            control.first_status = False
            if control.adopting:
                self._replay(ev)

    def _replay(self, status: Mapping[str, Any]) -> None:
        """After adoption: tell the manager where the program really is."""
        phase = status.get("phase")
        if status.get("connected_at"):
            self._connected_at = float(status["connected_at"])
        if phase in ("dialing", "connected"):
            if phase == "connected":
                self._mark_connected()
            self.emit(StateReached(RasConnState(int(status["state"]))))
        elif phase == "failed":
            self.emit(LinkFailed(int(status.get("error") or errors.ERROR_UNKNOWN)))
        elif phase == "dropped":
            self.emit(LinkLost(int(status.get("error") or errors.ERROR_REMOTE_DISCONNECTION)))
        elif phase == "hold":
            # Started, never told to dial: the daemon that spawned it died first. Nobody
            # will: the attempt ends here (else the row would wait for ever).
            self._finish(errors.ERROR_DISCONNECTION, "the manager stopped before the dial began")

    def provide_input(self, text: str | None) -> bool:
        if not self._asking or self._ended() or self._control is None:
            return False
        self._asking = False
        if text is None:
            self._finish(errors.ERROR_INTERACTIVE_MODE, "the dial allows no questions")
        else:
            self._control.write(json.dumps({"cmd": "answer", "text": text}).encode() + b"\n")
        return True

    def _graceful_stop(self) -> bool:
        if self._control is None:
            return False
        return self._control.write(b'{"cmd": "stop"}\n')

    async def _release(self) -> None:
        if self._control is not None:
            self._control.close()

    def record(self) -> dict[str, Any]:
        assert self._proc is not None
        return {**self._proc.identity.to_record(), "control": str(self.control)}

    @classmethod
    async def adopt(cls, spec: LinkSpec, record: Mapping[str, Any], emit: Emit) -> Link | None:
        link = cls(spec, emit)
        proc = LinkProcess.adopt(ProcessIdentity.from_record(record))
        if proc is None:
            await link._abandon()
            return None
        link._watch_program(proc, journal=False)
        try:
            await link._attach()
        except errors.RasError:
            await link._abandon()
            return None
        return link

    async def statistics(self) -> LinkStats:
        try:
            reader, writer = await asyncio.open_unix_connection(str(self.control))
        except OSError:
            return LinkStats()
        try:
            writer.write(b'{"cmd": "status"}\n')
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), 2.0)
            st = json.loads(line) if line else {}
        except (OSError, TimeoutError, ValueError):
            st = {}
        finally:
            writer.close()
        return LinkStats(
            bytes_sent=int(st.get("bytes_sent", 0)),
            bytes_received=int(st.get("bytes_received", 0)),
            frames_sent=int(st.get("frames_sent", 0)),
            frames_received=int(st.get("frames_received", 0)),
        )

    async def projection(self) -> Projection | None:
        return Projection(interface="lo", local_address="127.0.0.1", remote_address="127.0.0.1")


#: The program runs by its own directory, in an isolated interpreter without site (``-I
#: -S``): as ``-m openras.links.loopback.program`` it imported runpy and openras's packages
#: too, and site its .pth files; it needs none of them (it imports only the interpreter's
#: own modules). Its compiled form is cached as any module's.
_LAUNCH = (
    f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
    "import program; program.main()"
)


def program_argv(*options: str) -> list[str]:
    """The command line that runs the loopback program with ``options``."""
    return [sys.executable, "-I", "-S", "-c", _LAUNCH, *options]


def _program_env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def run_dir_for(base: Path, handle: int) -> Path:
    return base / f"link-{handle}"
