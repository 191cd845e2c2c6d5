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
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

# The states the device walks; numbers as RASCONNSTATE (kept literal: this program imports
# nothing of openras so that it starts fast and stands alone).
SEQUENCE = (0, 1, 2, 3, 4, 5, 14, 10, 18, 0x2000)
CONNECTED = 0x2000
HEARTBEAT_S = 0.05
PAYLOAD = b"openras-loopback-heartbeat-0123456789abcdef"


class Program:
    def __init__(self, cfg: dict[str, Any]) -> None:
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
        self.answer: asyncio.Future[str] | None = None
        self.phase = "hold"
        self.state = 0
        self.error = 0
        self.connected_at = 0.0
        self.sent = self.received = self.frames_sent = self.frames_received = 0
        self.watchers: set[asyncio.StreamWriter] = set()
        self.done = asyncio.Event()
        self.started = False
        self.stopping = False
        self.tasks: set[asyncio.Task[None]] = set()

    # ---------------------------------------------------------------- events
    def publish(self, event: dict[str, Any]) -> None:
        line = (json.dumps(event) + "\n").encode()
        for w in list(self.watchers):
            try:
                w.write(line)
            except (ConnectionError, RuntimeError):
                self.watchers.discard(w)

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

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # ---------------------------------------------------------------- life
    async def dial(self, password: str) -> None:
        self.phase = "dialing"
        for state in SEQUENCE:
            if self.stopping:
                return
            self.state = state
            self.publish({"event": "state", "state": state})
            if state == CONNECTED:
                break
            if self.fail_state is not None and state == self.fail_state:
                await self.fail(
                    self.fail_code or 635, "scripted failure (OpenRasLoopbackFailState)"
                )
                return
            if state == 5 and self.password is not None and password != self.password:
                await asyncio.sleep(self.step)
                await self.fail(691, "the password is not the entry's OpenRasLoopbackPassword")
                return
            if state == 5 and self.challenge:
                self.answer = asyncio.get_running_loop().create_future()
                self.publish({"event": "ask", "prompt": self.challenge, "echo": False})
                if await self.answer != self.challenge_answer:
                    await self.fail(691, "wrong answer to OpenRasLoopbackChallenge")
                    return
            await asyncio.sleep(self.step)
        self.phase = "connected"
        self.connected_at = time.time()
        self.spawn(self.heartbeat())
        if self.drop_after is not None:
            await asyncio.sleep(int(self.drop_after) / 1000)
            if not self.stopping:
                self.phase = "dropped"
                self.error = 629
                self.publish({"event": "dropped", "error": 629, "detail": "remote end hung up"})
                await self.finish()

    async def fail(self, code: int, detail: str) -> None:
        self.phase = "failed"
        self.error = code
        self.publish({"event": "failed", "error": code, "state": self.state, "detail": detail})
        await self.finish()

    async def finish(self) -> None:
        for w in list(self.watchers):
            with contextlib.suppress(Exception):
                await w.drain()
        self.done.set()

    def request_stop(self) -> None:
        if self.ignore_hangup or self.stopping:
            return
        self.stopping = True
        self.phase = "stopping"
        self.spawn(self._stop())

    async def _stop(self) -> None:
        await asyncio.sleep(self.hangup)
        self.done.set()

    async def heartbeat(self) -> None:
        """Real traffic: our half sends, the peer half echoes, both over 127.0.0.1 UDP."""
        loop = asyncio.get_running_loop()
        ours = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        ours.bind(("127.0.0.1", 0))
        peer.bind(("127.0.0.1", 0))
        ours.connect(peer.getsockname())
        peer.connect(ours.getsockname())
        ours.setblocking(False)
        peer.setblocking(False)
        try:
            while not self.done.is_set():
                await loop.sock_sendall(ours, PAYLOAD)
                self.sent += len(PAYLOAD)
                self.frames_sent += 1
                data = await loop.sock_recv(peer, 2048)
                await loop.sock_sendall(peer, data)
                echo = await loop.sock_recv(ours, 2048)
                self.received += len(echo)
                self.frames_received += 1
                await asyncio.sleep(HEARTBEAT_S)
        finally:
            ours.close()
            peer.close()

    # ---------------------------------------------------------------- control socket
    async def client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                try:
                    msg = json.loads(line)
                    cmd = msg.get("cmd")
                except (ValueError, AttributeError):
                    break
                if cmd == "watch":
                    self.watchers.add(writer)
                elif cmd == "status":
                    writer.write((json.dumps(self.status()) + "\n").encode())
                elif cmd == "start" and not self.started:
                    # The starter follows the dial (whatever order its commands came in).
                    self.watchers.add(writer)
                    self.started = True
                    self.spawn(self.dial(str(msg.get("password", ""))))
                elif cmd == "stop":
                    self.request_stop()
                elif cmd == "answer" and self.answer is not None and not self.answer.done():
                    self.answer.set_result(str(msg.get("text", "")))
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            self.watchers.discard(writer)
            writer.close()


async def amain(args: argparse.Namespace) -> int:
    cfg = read_config(args)
    prog = Program(cfg)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, prog.request_stop)
    old = os.umask(0o077)
    try:
        server = await asyncio.start_unix_server(prog.client, path=args.control)
    finally:
        os.umask(old)
    if args.control_fd is not None:
        # The daemon's end of a socket pair it made at the spawn: its first connection,
        # there before this program listens (the daemon never waits for the path).
        reader, writer = await asyncio.open_connection(sock=socket.socket(fileno=args.control_fd))
        prog.spawn(prog.client(reader, writer))
    async with server:
        await prog.done.wait()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(args.control)
    return 0 if prog.phase in ("stopping", "connected", "hold", "dialing") else 1


def read_config(args: argparse.Namespace) -> dict[str, Any]:
    """The settings, once, before serving (from the file or the inherited descriptor)."""
    if args.config_fd is None:
        return dict(json.loads(Path(args.config).read_text(encoding="utf-8")))
    with os.fdopen(args.config_fd, "rb") as fh:
        return dict(json.loads(fh.read()))


def main() -> None:
    parser = argparse.ArgumentParser(description="openras loopback link program")
    parser.add_argument("--control", required=True)
    parser.add_argument("--control-fd", type=int, help="an inherited, connected control socket")
    parser.add_argument("--log", help="append stdout and stderr to this file (created 0600)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config")
    source.add_argument("--config-fd", type=int)
    args = parser.parse_args()
    if args.log:
        log = os.open(args.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    sys.exit(asyncio.run(amain(args)))


if __name__ == "__main__":
    main()
