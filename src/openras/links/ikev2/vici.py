"""An asyncio client of strongSwan's VICI protocol (charon's control socket).

The ``vici`` package (strongSwan's own Python binding) encodes and decodes the messages; its
``Session`` is blocking (``listen`` never returns, ``initiate`` blocks for the whole IKE
exchange), which does not fit the daemon's event loop. So the transport is ours: a packet is
a 4-byte big-endian length and a payload; a command gets events it registered for (and the
``control-log`` lines of an ``initiate``) until its response comes. Commands on one
connection are answered in order, so one command at a time per connection; the driver keeps
a second connection for ``initiate``, which lasts as long as the IKE exchange.

Values come back as ``str`` (VICI carries bytes; everything charon sends us is ASCII).
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from vici.protocol import FiniteStream, Message, Packet

_HEADER: Final = struct.Struct("!I")
#: charon refuses larger packets (vici_socket.c's VICI_MESSAGE_SIZE_MAX).
MAX_PACKET: Final = 512 * 1024

Msg = dict[str, Any]
OnEvent = Callable[[str, Msg], None]


class ViciError(Exception):
    """charon answered a command with ``success = no`` (``errmsg`` is the text)."""


class ViciClosed(ConnectionError):
    """The socket closed (charon exited) before the answer came."""


def _text(value: Any) -> Any:
    """The decoded message with bytes as str (lists and sections recursively)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, Mapping):
        return {k: _text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_text(v) for v in value]
    return value


def encode_request(command: str, message: Mapping[str, Any] | None = None) -> bytes:
    """One framed CMD_REQUEST packet."""
    body = Message.serialize(dict(message)) if message else None
    packet: bytes = Packet.request(command, body)
    return _HEADER.pack(len(packet)) + packet


def decode_packet(payload: bytes) -> tuple[int, str, Msg]:
    """(packet type, event name or "", message) of one unframed packet."""
    parsed = Packet.parse(payload)
    name = ""
    if parsed.response_type == Packet.EVENT:
        name = parsed.event_type.decode("ascii", "replace")
    stream = parsed.payload
    body = Message.deserialize(stream) if isinstance(stream, FiniteStream) else {}
    return parsed.response_type, name, _text(body)


class ViciConnection:
    """One connection to charon's VICI socket."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._lock = asyncio.Lock()
        self._events: OnEvent | None = None
        self._listener: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, path: Path) -> ViciConnection:
        reader, writer = await asyncio.open_unix_connection(str(path))
        return cls(reader, writer)

    async def _read(self) -> tuple[int, str, Msg]:
        try:
            header = await self._reader.readexactly(_HEADER.size)
            (length,) = _HEADER.unpack(header)
            if length > MAX_PACKET:
                raise ViciClosed(f"charon sent a packet of {length} bytes")
            payload = await self._reader.readexactly(length)
        except (asyncio.IncompleteReadError, ConnectionError, OSError) as exc:
            raise ViciClosed(f"charon's control socket closed ({exc})") from None
        return decode_packet(payload)

    async def _write(self, data: bytes) -> None:
        try:
            self._writer.write(data)
            await self._writer.drain()
        except (ConnectionError, OSError) as exc:
            raise ViciClosed(f"charon's control socket closed ({exc})") from None

    async def request(
        self,
        command: str,
        message: Mapping[str, Any] | None = None,
        *,
        stream: str = "",
        on_event: OnEvent | None = None,
    ) -> Msg:
        """Send ``command``; raises ViciError when charon says ``success = no``.

        A command that streams its results as events (``list-sas`` as ``list-sa``,
        ``initiate``'s log as ``control-log``) sends them only to a connection registered
        for them: ``stream`` names that event, registered for the command's duration, and
        each one goes to ``on_event``."""
        async with self._lock:
            if stream:
                await self._register(stream, True, on_event)
            try:
                await self._write(encode_request(command, message))
                body, refused = await self._answer(command, on_event)
                if refused:
                    raise ViciError(refused)
                return body
            finally:
                if stream:
                    await self._register(stream, False, on_event)

    async def pipeline(self, command: str, messages: Sequence[Mapping[str, Any]]) -> list[str]:
        """Send ``command`` once per message, all in one write, then read the answers (in
        order: charon answers a connection's commands in turn); the ``errmsg`` of each one
        refused, "" for each done. For many small commands (a CA bundle's ``load-cert``s)
        the round trips go: charon's own work is what remains."""
        async with self._lock:
            await self._write(b"".join(encode_request(command, m) for m in messages))
            return [(await self._answer(command, None))[1] for _ in messages]

    async def _answer(self, command: str, on_event: OnEvent | None) -> tuple[Msg, str]:
        """The next command response (events before it go to ``on_event``): its message,
        and why charon refused the command ("" when it did not)."""
        while True:
            kind, name, body = await self._read()
            if kind == Packet.EVENT:
                if on_event is not None:
                    on_event(name, body)
                continue
            if kind == Packet.CMD_UNKNOWN:
                raise ViciError(f"charon does not know the command {command!r}")
            if kind != Packet.CMD_RESPONSE:
                raise ViciClosed(f"unexpected VICI packet type {kind} for {command!r}")
            refused = body.get("success", "yes") == "no"
            return body, (body.get("errmsg") or f"{command} failed") if refused else ""

    async def _register(self, event: str, on: bool, on_event: OnEvent | None) -> None:
        packet = Packet.register_event(event) if on else Packet.unregister_event(event)
        await self._write(_HEADER.pack(len(packet)) + packet)
        while True:
            kind, name, body = await self._read()
            if kind == Packet.EVENT:
                if on_event is not None:
                    on_event(name, body)
                continue
            if kind != Packet.EVENT_CONFIRM:
                raise ViciError(f"charon refused the event {event!r}")
            return

    async def subscribe(self, events: list[str], on_event: OnEvent) -> None:
        """Register for ``events`` (events arriving meanwhile go to ``on_event``); then
        :meth:`pump` hands each one to ``on_event``."""
        async with self._lock:
            for event in events:
                await self._register(event, True, on_event)

    async def pump(self, on_event: OnEvent) -> None:
        """Hand every event to ``on_event`` until the socket closes (ViciClosed); cancel the
        task to stop. Only on a connection that sends no commands any more."""
        async with self._lock:
            while True:
                kind, name, body = await self._read()
                if kind == Packet.EVENT:
                    on_event(name, body)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._writer.close()


__all__ = [
    "MAX_PACKET",
    "ViciClosed",
    "ViciConnection",
    "ViciError",
    "decode_packet",
    "encode_request",
]
