"""ssh's ControlMaster protocol, spoken by the daemon itself: the alive check and the exit.

``ssh -O check`` and ``ssh -O exit`` start an ssh client process that connects to the
master's control socket, exchanges hellos and sends one request (openssh's PROTOCOL.mux,
sections 1, 4 and 5). A process per request cost the dial a few milliseconds each time it
asked whether the master was up, and the hang-up its own start before the master heard
anything (the hang-up ratio against ``ssh -O exit`` run by hand was 1.13-1.37). These are
the same messages from the daemon: fixed bytes out, replies read to a bound, never a byte
of the master's interpreted beyond its type and request id.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from pathlib import Path
from typing import Final

MUX_MSG_HELLO: Final = 0x00000001
MUX_C_ALIVE_CHECK: Final = 0x10000004
MUX_C_TERMINATE: Final = 0x10000005
MUX_S_OK: Final = 0x80000001
MUX_S_ALIVE: Final = 0x80000005
#: The protocol version both ends speak (the only one openssh has had since 2010).
VERSION: Final = 4
#: Replies here are a few words; a master's hello may carry extensions (none defined).
_MAX_PACKET: Final = 64 * 1024
_REQUEST_ID: Final = 1


class MuxError(Exception):
    """The master refused, closed, or answered something else."""


class MasterClosed(MuxError):
    """The master closed the connection before it answered (``after_request``: once it
    had our request, not during the hellos)."""

    after_request: bool = False


def packet(*words: int) -> bytes:
    """One mux message of uint32 words: its length, then the words (SSH wire format)."""
    body = struct.pack(f">{len(words)}I", *words)
    return struct.pack(">I", len(body)) + body


def parse_reply(body: bytes, want: int) -> tuple[int, ...]:
    """The words after the type and request id of a ``want`` reply to our request."""
    if len(body) < 8:
        raise MuxError(f"short reply ({len(body)} bytes)")
    kind, request = struct.unpack_from(">II", body)
    if kind != want or request != _REQUEST_ID:
        raise MuxError(f"reply 0x{kind:08x} to request {request}, wanted 0x{want:08x}")
    rest = body[8:]
    return struct.unpack(f">{len(rest) // 4}I", rest[: len(rest) // 4 * 4])


def check_hello(body: bytes) -> None:
    if len(body) < 8:
        raise MuxError("short hello")
    kind, version = struct.unpack_from(">II", body)
    if kind != MUX_MSG_HELLO or version != VERSION:
        raise MuxError(f"hello 0x{kind:08x} version {version}, wanted version {VERSION}")


async def _read_packet(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> bytes:
    head = await _read_exactly(loop, sock, 4)
    (length,) = struct.unpack(">I", head)
    if length > _MAX_PACKET:
        raise MuxError(f"a {length}-byte message")
    return await _read_exactly(loop, sock, length)


async def _read_exactly(loop: asyncio.AbstractEventLoop, sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = await loop.sock_recv(sock, n - len(data))
        if not chunk:
            raise MasterClosed("the master closed the connection")
        data += chunk
    return data


async def request(control: Path, kind: int, want: int, *, within: float) -> tuple[int, ...]:
    """Hello exchange, then one request of ``kind`` on ``control``; the ``want`` reply's
    words. MuxError (or OSError, TimeoutError) when there is no such answer in time."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    sock.setblocking(False)
    try:
        async with asyncio.timeout(within):
            await loop.sock_connect(sock, str(control))
            await loop.sock_sendall(sock, packet(MUX_MSG_HELLO, VERSION))
            check_hello(await _read_packet(loop, sock))
            await loop.sock_sendall(sock, packet(kind, _REQUEST_ID))
            try:
                reply = await _read_packet(loop, sock)
            except (MasterClosed, ConnectionResetError) as exc:
                closed = MasterClosed(str(exc))
                closed.after_request = True
                raise closed from None
            return parse_reply(reply, want)
    finally:
        sock.close()


async def alive(control: Path, *, within: float = 5) -> int | None:
    """The master's pid when it answers an alive check (``ssh -O check``); else None."""
    try:
        words = await request(control, MUX_C_ALIVE_CHECK, MUX_S_ALIVE, within=within)
    except (MuxError, OSError, TimeoutError):
        return None
    return words[0] if words else None


async def terminate(control: Path, *, within: float = 3) -> bool:
    """Ask the master to exit (``ssh -O exit``); whether it took the request: it answered
    OK, or closed the connection once it had the request (openssh's master often exits
    before its OK goes out: "exit happens too soon", mux.c says; ``ssh -O exit`` does not
    wait for the answer either)."""
    try:
        await request(control, MUX_C_TERMINATE, MUX_S_OK, within=within)
    except MasterClosed as exc:
        return exc.after_request
    except (MuxError, OSError, TimeoutError):
        return False
    return True
