"""The loopback link program: a real process that plays a link's life by script.

It is supervised exactly like openvpn or wireguard-go (own session, no pipes, a control socket
the daemon connects to, adoption after a daemon crash), so the manager's supervision, crash and
teardown paths are the same for demos and for real links. Once "connected" it moves real bytes:
a heartbeat over UDP on 127.0.0.1 to its peer half, which echoes it; statistics count them.

Control protocol (one JSON object per line on a Unix stream socket):
  -> {"cmd": "watch"}            events follow: {"event": "state"|"failed"|"dropped", ...}
  -> {"cmd": "start", "user": U, "password": P}   (only once; the program holds until then)
  -> {"cmd": "status"}           <- {"event": "status", "phase", "state", "error", ...counters}
  -> {"cmd": "stop"}             graceful teardown (HangUpMs), then exit
The program listens on ``--control PATH``; ``--control-fd N`` is a connected socket it
inherits (the spawning daemon's end of a socket pair), served like a client of the path.
Config (JSON, read once: a file with ``--config``, or the inherited descriptor of
``--config-fd``, which the driver uses: nothing to create on disk per dial) holds the entry's
OpenRasLoopback* settings, no secrets.

Why it is written on one epoll set and the interpreter's C modules (``_socket``, ``_json``,
``_signal``) rather than asyncio, argparse and json: every dial starts a new interpreter, and
those imports were about 80 of its 90 ms of CPU (``python -X importtime``); with ``python -I
-S`` and these it starts in about 12 ms. It imports nothing of openras, so that it stands
alone (the driver runs it by its path, not as ``-m openras...``).
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # signal's C half: no enum to import
import _socket
import os
import select
import sys
import time

TYPE_CHECKING = False  # typing's constant, without importing typing (nor collections)
if TYPE_CHECKING:
    from collections.abc import Callable, Generator
    from typing import Any, ClassVar

# The states the device walks; numbers as RASCONNSTATE (kept literal: this program imports
# nothing of openras so that it starts fast and stands alone).
SEQUENCE = (0, 1, 2, 3, 4, 5, 14, 10, 18, 0x2000)
CONNECTED = 0x2000
HEARTBEAT_S = 0.05
PAYLOAD = b"openras-loopback-heartbeat-0123456789abcdef"
#: A command line longer than this closes its connection (as asyncio's readline limit did).
MAX_LINE = 65536
#: Above this much unsent output a client's further commands wait (asyncio's drain mark).
HIGH_WATER = 65536
#: How long an ending program tries to deliver what its watchers have not read yet.
FLUSH_S = 5.0

_IN = select.EPOLLIN
_OUT = select.EPOLLOUT
_WS = " \t\n\r"


# ---------------------------------------------------------------- JSON, as json.dumps/loads
def _json_codec() -> tuple[Callable[[Any], str], Callable[[str], Any]]:
    """``json.dumps`` (default options) and ``json.loads`` built on ``_json`` directly: the
    json package imports re and enum, a third of this program's start. Same bytes out."""
    try:
        import _json

        inf = float("inf")
        consts = {"-Infinity": -inf, "Infinity": inf, "NaN": inf - inf}

        class _Ctx:
            strict = True
            object_hook = None
            object_pairs_hook = None
            parse_float = float
            parse_int = int
            parse_constant = consts.__getitem__
            memo: ClassVar[dict[str, str]] = {}

        encoder = _json.make_encoder(
            None, _no_default, _json.encode_basestring_ascii, None, ": ", ", ", False, False, True
        )
        scanner = _json.make_scanner(_Ctx)  # type: ignore[arg-type]
    except (ImportError, TypeError):  # pragma: no cover - another interpreter's _json
        import json

        return json.dumps, json.loads

    def dumps(obj: Any) -> str:
        return "".join(encoder(obj, 0))

    def loads(text: str) -> Any:
        text = text.strip(_WS)
        try:
            obj, end = scanner(text, 0)
        except StopIteration:
            raise ValueError("not a JSON value") from None
        finally:
            _Ctx.memo.clear()
        if end != len(text):
            raise ValueError("extra data after the JSON value")
        return obj

    return dumps, loads


def _no_default(obj: Any) -> Any:
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


dumps, loads = _json_codec()


# ---------------------------------------------------------------- the loop
class Loop:
    """One epoll set and a few timers: all this program waits on."""

    def __init__(self) -> None:
        self.epoll = select.epoll()
        self.handlers: dict[int, Callable[[int], None]] = {}
        self.timers: list[tuple[float, Callable[[], None]]] = []
        self.running = True

    def add(self, fd: int, mask: int, handler: Callable[[int], None]) -> None:
        self.epoll.register(fd, mask)
        self.handlers[fd] = handler

    def modify(self, fd: int, mask: int) -> None:
        self.epoll.modify(fd, mask)

    def remove(self, fd: int) -> None:
        if self.handlers.pop(fd, None) is not None:
            try:  # noqa: SIM105 - contextlib is an import more at every start
                self.epoll.unregister(fd)
            except OSError:
                pass

    def later(self, delay: float, callback: Callable[[], None]) -> None:
        self.timers.append((time.monotonic() + delay, callback))

    def run(self) -> None:
        while self.running:
            timeout = -1.0
            if self.timers:
                timeout = max(0.0, min(t for t, _ in self.timers) - time.monotonic())
            for fd, events in self.epoll.poll(timeout):
                handler = self.handlers.get(fd)
                if handler is not None:
                    handler(events)
            if self.timers:
                now = time.monotonic()
                due = [cb for t, cb in self.timers if t <= now]
                if due:
                    self.timers = [(t, cb) for t, cb in self.timers if t > now]
                    for callback in due:
                        callback()


class Client:
    """One connection to the control socket: commands in, replies and events out."""

    def __init__(self, prog: Program, sock: _socket.socket) -> None:
        self.prog = prog
        self.sock = sock
        self.fd = sock.fileno()
        self.inbuf = b""
        self.outbuf = b""
        self.eof = False
        self.closed = False
        #: Input has ended: close once the output has gone.
        self.linger = False
        sock.setblocking(False)
        prog.loop.add(self.fd, _IN, self._ready)

    def write(self, data: bytes) -> None:
        if self.closed:
            return
        if not self.outbuf:
            try:
                sent = self.sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                self.close()
                return
            if sent == len(data):
                return
            data = data[sent:]
        self.outbuf += data
        self._arm()

    def _arm(self) -> None:
        if self.closed:
            return
        mask = _OUT if self.outbuf else 0
        if len(self.outbuf) <= HIGH_WATER and not self.eof:
            mask |= _IN
        self.prog.loop.modify(self.fd, mask)

    def _ready(self, events: int) -> None:
        if events & _OUT and self.outbuf:
            try:
                sent = self.sock.send(self.outbuf)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                self.close()
                return
            self.outbuf = self.outbuf[sent:]
            if self.linger and not self.outbuf:
                self.close()
                return
            if len(self.outbuf) <= HIGH_WATER:
                self._serve()
            self._arm()
            if self.prog.ending:
                self.prog.check_flushed()
            return
        if events & (_IN | select.EPOLLHUP | select.EPOLLERR) and not self.eof:
            try:
                data = self.sock.recv(MAX_LINE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data = b""
            if data:
                self.inbuf += data
            else:
                self.eof = True
            self._serve()
            if not self.closed:
                self._arm()

    def _serve(self) -> None:
        """Handle the complete lines (the last partial one too at the end of input), while
        the output already queued for this client stays under the high-water mark."""
        while not self.closed and not self.linger and len(self.outbuf) <= HIGH_WATER:
            end = self.inbuf.find(b"\n")
            if end < 0:
                if len(self.inbuf) > MAX_LINE:
                    self.close()
                elif self.eof:
                    line, self.inbuf = self.inbuf, b""
                    if line:
                        self.prog.command(self, line)
                    if self.outbuf and not self.closed:
                        self.linger = True  # as a stream's close: what is queued goes first
                        self.prog.watchers.discard(self)
                    else:
                        self.close()
                return
            if end > MAX_LINE:
                self.close()
                return
            line, self.inbuf = self.inbuf[: end + 1], self.inbuf[end + 1 :]
            self.prog.command(self, line)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.prog.watchers.discard(self)
        self.prog.clients.discard(self)
        self.prog.loop.remove(self.fd)
        self.sock.close()
        if self.prog.ending:
            self.prog.check_flushed()


class Program:
    def __init__(self, cfg: dict[str, Any], loop: Loop) -> None:
        self.loop = loop
        self.step = max(0, int(cfg.get("step_ms", 50))) / 1000
        self.password: str | None = cfg.get("password")
        self.fail_state: int | None = cfg.get("fail_state")
        self.fail_code = int(cfg.get("fail_code") or 0)
        self.drop_after = cfg.get("drop_after_ms")
        self.hangup = max(0, int(cfg.get("hangup_ms", 200))) / 1000
        self.ignore_hangup = bool(cfg.get("ignore_hangup"))
        #: A question asked after the password (a one-time code), and its right answer.
        self.challenge: str | None = cfg.get("challenge")
        self.challenge_answer = str(cfg.get("challenge_answer") or "")
        self.asking = False
        self.phase = "hold"
        self.state = 0
        self.error = 0
        self.connected_at = 0.0
        self.sent = self.received = self.frames_sent = self.frames_received = 0
        self.clients: set[Client] = set()
        self.watchers: set[Client] = set()
        self.started = False
        self.stopping = False
        #: The end has come: the loop stops once the watchers have their last events.
        self.ending = False
        self.done = False
        self._dial: Generator[float | None, str | None, None] | None = None

    # ---------------------------------------------------------------- events
    def publish(self, event: dict[str, Any]) -> None:
        line = (dumps(event) + "\n").encode()
        for client in list(self.watchers):
            client.write(line)

    def status(self) -> dict[str, Any]:
        return {
            "event": "status",
            "phase": self.phase,
            "state": self.state,
            "error": self.error,
            "bytes_sent": self.sent,
            "bytes_received": self.received,
            "frames_sent": self.frames_sent,
            "frames_received": self.frames_received,
            "connected_at": self.connected_at,
        }

    # ---------------------------------------------------------------- life
    def dial(self, password: str) -> Generator[float | None, str | None, None]:
        """The dial's script: yields a delay to sleep, or None to wait for an answer (sent
        back in)."""
        self.phase = "dialing"
        for state in SEQUENCE:
            if self.stopping:
                return
            self.state = state
            self.publish({"event": "state", "state": state})
            if state == CONNECTED:
                break
            if self.fail_state is not None and state == self.fail_state:
                self.fail(self.fail_code or 635, "scripted failure (OpenRasLoopbackFailState)")
                return
            if state == 5 and self.password is not None and password != self.password:
                yield self.step
                self.fail(691, "the password is not the entry's OpenRasLoopbackPassword")
                return
            if state == 5 and self.challenge:
                self.asking = True
                self.publish({"event": "ask", "prompt": self.challenge, "echo": False})
                if (yield None) != self.challenge_answer:
                    self.fail(691, "wrong answer to OpenRasLoopbackChallenge")
                    return
            yield self.step
        self.phase = "connected"
        self.connected_at = time.time()
        self.start_heartbeat()
        if self.drop_after is not None:
            yield int(self.drop_after) / 1000
            if not self.stopping:
                self.phase = "dropped"
                self.error = 629
                self.publish({"event": "dropped", "error": 629, "detail": "remote end hung up"})
                self.finish()

    def advance(self, value: str | None = None) -> None:
        """Run the dial's script on to its next wait."""
        if self._dial is None or self.done:
            return
        try:
            delay = self._dial.send(value)
        except StopIteration:
            self._dial = None
            return
        if delay is not None:
            self.loop.later(delay, self.advance)

    def fail(self, code: int, detail: str) -> None:
        self.phase = "failed"
        self.error = code
        self.publish({"event": "failed", "error": code, "state": self.state, "detail": detail})
        self.finish()

    def finish(self) -> None:
        """End once what the watchers were sent has gone out (or FLUSH_S has passed)."""
        self.ending = True
        self.loop.later(FLUSH_S, self.end)
        self.check_flushed()

    def check_flushed(self) -> None:
        if all(not c.outbuf for c in self.watchers):
            self.end()

    def end(self) -> None:
        self.done = True
        self.loop.running = False

    def request_stop(self) -> None:
        if self.ignore_hangup or self.stopping:
            return
        self.stopping = True
        self.phase = "stopping"
        self.loop.later(self.hangup, self.end)

    def start_heartbeat(self) -> None:
        """Real traffic: our half sends, the peer half echoes, both over 127.0.0.1 UDP."""
        ours = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
        peer = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
        ours.bind(("127.0.0.1", 0))
        peer.bind(("127.0.0.1", 0))
        ours.connect(peer.getsockname())
        peer.connect(ours.getsockname())
        ours.setblocking(False)
        peer.setblocking(False)

        def beat() -> None:
            if self.done:
                return
            try:
                ours.send(PAYLOAD)
            except (BlockingIOError, InterruptedError):
                self.loop.later(HEARTBEAT_S, beat)
                return
            self.sent += len(PAYLOAD)
            self.frames_sent += 1
            # Loopback UDP is delivered within the send: the exchange completes here, as
            # asyncio's sock_recv (which tries at once) did; else the loop calls these.
            echo(0)
            back(0)

        def echo(_events: int) -> None:
            try:
                data = peer.recv(2048)
            except (BlockingIOError, InterruptedError):
                return
            peer.send(data)

        def back(_events: int) -> None:
            try:
                data = ours.recv(2048)
            except (BlockingIOError, InterruptedError):
                return
            self.received += len(data)
            self.frames_received += 1
            self.loop.later(HEARTBEAT_S, beat)

        self.loop.add(peer.fileno(), _IN, echo)
        self.loop.add(ours.fileno(), _IN, back)
        beat()

    # ---------------------------------------------------------------- control socket
    def command(self, client: Client, line: bytes) -> None:
        try:
            msg = loads(line.decode())
            cmd = msg.get("cmd")
        except (ValueError, AttributeError):
            client.close()
            return
        if cmd == "watch":
            self.watchers.add(client)
        elif cmd == "status":
            client.write((dumps(self.status()) + "\n").encode())
        elif cmd == "start" and not self.started:
            # The starter follows the dial (whatever order its commands came in).
            self.watchers.add(client)
            self.started = True
            self._dial = self.dial(str(msg.get("password", "")))
            # Its first step a loop turn later, as the task it was: what came in the same
            # read (a watch, a status) is served first.
            self.loop.later(0, self.advance)
        elif cmd == "stop":
            self.request_stop()
        elif cmd == "answer" and self.asking:
            self.asking = False
            self.advance(str(msg.get("text", "")))

    def accept(self, server: _socket.socket) -> None:
        while True:
            try:
                fd, _ = server._accept()  # type: ignore[attr-defined]  # _socket's accept
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # out of descriptors, a connection reset before accept: next time
            self.clients.add(Client(self, _socket.socket(fileno=fd)))


def serve(cfg: dict[str, Any], control: str, control_fd: int | None) -> int:
    loop = Loop()
    prog = Program(cfg, loop)
    # Signals stop the link: their numbers come through the wake-up pipe, read by the loop.
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    _signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    loop.add(wake_r, _IN, lambda _e: _signalled(wake_r, prog))
    for sig in STOP_SIGNALS:
        _signal.signal(sig, _ignore)
    server = _listen(control)
    loop.add(server.fileno(), _IN, lambda _e: prog.accept(server))
    if control_fd is not None:
        # The daemon's end of a socket pair it made at the spawn: its first connection,
        # there before this program listens (the daemon never waits for the path).
        prog.clients.add(Client(prog, _socket.socket(fileno=control_fd)))
    loop.run()
    server.close()
    try:  # noqa: SIM105 - contextlib is an import more at every start
        os.unlink(control)
    except FileNotFoundError:
        pass
    for client in list(prog.clients):
        if client.outbuf:  # one last try, without waiting
            try:  # noqa: SIM105 - contextlib is an import more at every start
                client.sock.send(client.outbuf)
            except OSError:
                pass
    return 0 if prog.phase in ("stopping", "connected", "hold", "dialing") else 1


STOP_SIGNALS = (_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP)


def _ignore(_signum: int, _frame: object) -> None:
    """A Python-level handler, so that the signal's number reaches the wake-up pipe; the
    stop itself is the loop's (a handler runs between any two bytecodes)."""


def _signalled(fd: int, prog: Program) -> None:
    try:
        while data := os.read(fd, 512):
            if any(sig in STOP_SIGNALS for sig in data):
                prog.request_stop()
    except (BlockingIOError, InterruptedError):
        pass


def _listen(path: str) -> _socket.socket:
    """The control socket at ``path``, 0600 (a stale socket there is replaced)."""
    try:
        if (os.stat(path).st_mode & 0o170000) == 0o140000:  # S_ISSOCK
            os.unlink(path)
    except FileNotFoundError:
        pass
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    old = os.umask(0o077)
    try:
        sock.bind(path)
    except BaseException:
        sock.close()
        raise
    finally:
        os.umask(old)
    sock.listen(100)
    sock.setblocking(False)
    return sock


def read_config(config: str | None, config_fd: int | None) -> dict[str, Any]:
    """The settings, once, before serving (from the file or the inherited descriptor)."""
    if config_fd is None:
        assert config is not None
        with open(config, "rb") as fh:
            raw = fh.read()
    else:
        with os.fdopen(config_fd, "rb") as fh:
            raw = fh.read()
    return dict(loads(raw.decode()))


USAGE = (
    "usage: program --control PATH [--control-fd N] [--log PATH] (--config PATH | --config-fd N)\n"
)


def parse_args(argv: list[str]) -> dict[str, str]:
    """The options (``--name value`` or ``--name=value``); SystemExit(2) on a wrong line."""
    known = ("--control", "--control-fd", "--log", "--config", "--config-fd")
    opts: dict[str, str] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, value = arg.partition("=")
        if name not in known:
            _usage(f"unrecognized argument: {arg}")
        if not eq:
            i += 1
            if i >= len(argv):
                _usage(f"{name} expects a value")
            value = argv[i]
        opts[name] = value
        i += 1
    if "--control" not in opts:
        _usage("--control is required")
    if ("--config" in opts) == ("--config-fd" in opts):
        _usage("one of --config and --config-fd is required")
    for name in ("--control-fd", "--config-fd"):
        if name in opts and not opts[name].isdigit():
            _usage(f"{name}: not a descriptor number: {opts[name]!r}")
    return opts


def _usage(problem: str) -> None:
    sys.stderr.write(f"{USAGE}program: error: {problem}\n")
    raise SystemExit(2)


def main() -> None:
    opts = parse_args(sys.argv[1:])
    if "--log" in opts:
        log = os.open(opts["--log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
    _signal.signal(_signal.SIGPIPE, _signal.SIG_IGN)
    control_fd = opts.get("--control-fd")
    config_fd = opts.get("--config-fd")
    cfg = read_config(opts.get("--config"), int(config_fd) if config_fd is not None else None)
    sys.exit(serve(cfg, opts["--control"], int(control_fd) if control_fd is not None else None))


if __name__ == "__main__":
    main()
