"""asyncio transport to rasman over the same codec (for the async API and the TUI)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from openras import errors, paths
from openras.wire import protocol as P
from openras.wire.codec import FrameDecoder, encode_plain
from openras.wire.transport import check_peer, ensure_daemon, may_autostart


class AsyncTransport:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.decoder = FrameDecoder()
        self.pending: list[dict[str, Any]] = []
        self.lock = asyncio.Lock()

    @classmethod
    async def _open(cls, target: Path) -> AsyncTransport:
        reader, writer = await asyncio.open_unix_connection(str(target))
        try:
            check_peer(writer.get_extra_info("socket"), target)
        except errors.RasError:
            writer.close()
            raise
        return cls(reader, writer)

    @classmethod
    async def connect(cls, path: Path | None = None, *, autostart: bool = True) -> AsyncTransport:
        if path is None and paths.prefers_system():
            with contextlib.suppress(FileNotFoundError, ConnectionRefusedError):
                return await cls._open(paths.system_socket())
        target = path or paths.default_socket()
        paths.check_runtime_dir(target)
        try:
            return await cls._open(target)
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            if not may_autostart(path, target, autostart):
                raise errors.ManagerUnavailable(
                    detail=f"no connection manager at {target}: {exc.strerror}"
                ) from None
        await asyncio.to_thread(ensure_daemon, target)  # blocks on the start lock
        try:
            return await cls._open(target)
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise errors.ManagerUnavailable(
                detail=f"rasman at {target} went away: {exc.strerror}"
            ) from None

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()

    async def _recv(self) -> dict[str, Any]:
        while not self.pending:
            data = await self.reader.read(65536)
            if not data:
                raise errors.ManagerUnavailable(
                    detail="the connection manager closed the connection"
                )
            try:
                self.pending.extend(self.decoder.feed(data))
            except errors.RemoteProtocolError as exc:
                raise errors.daemon_broke_protocol(exc) from None
        return self.pending.pop(0)

    async def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        async with self.lock:
            try:
                self.writer.write(encode_plain(P.call(method, params)))
                await self.writer.drain()
                return P.raise_for_error(await self._recv())
            except (ConnectionError, BrokenPipeError) as exc:
                raise errors.ManagerUnavailable(detail=str(exc)) from None

    async def stream(
        self, method: str, params: dict[str, Any] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Replies of a ``more`` call; holds this connection until the stream ends."""
        async with self.lock:
            try:
                self.writer.write(encode_plain(P.call(method, params, more=True)))
                await self.writer.drain()
                while True:
                    msg = await self._recv()
                    out = P.raise_for_error(msg)
                    yield out
                    if not msg.get("continues"):
                        return
            except (ConnectionError, BrokenPipeError) as exc:
                raise errors.ManagerUnavailable(detail=str(exc)) from None
