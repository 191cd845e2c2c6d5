"""The daemon's event stream, returned only once the daemon has registered it.

``AsyncClient.events()`` drops the daemon's ``subscribed`` confirmation, so its caller cannot
tell when changes start being delivered. The connection table must subscribe *first* and
enumerate *second*; otherwise a connection created between the two is never seen. This wraps
the same wire call and keeps that confirmation.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path
from typing import Any

from openras import errors
from openras.records import Event
from openras.wire import protocol as P
from openras.wire.atransport import AsyncTransport


class Subscription:
    """``sub = await Subscription.open(path)``; ``async for event in sub``; ``await sub.close()``.

    Iteration raises ManagerUnavailable when the daemon goes away (or ends the stream).
    """

    def __init__(self, transport: AsyncTransport, stream: AsyncIterator[dict[str, Any]]) -> None:
        self._transport = transport
        self._stream = stream

    @classmethod
    async def open(cls, socket: Path | None, *, autostart: bool = True) -> Subscription:
        transport = await AsyncTransport.connect(socket, autostart=autostart)
        stream = transport.stream(P.SUBSCRIBE, {})
        try:
            try:
                first = await anext(stream)
            except StopAsyncIteration:
                raise errors.ManagerUnavailable(
                    detail="the connection manager ended the event stream"
                ) from None
            if first.get("event") != "subscribed":
                raise errors.ProtocolError(detail="Subscribe did not start with 'subscribed'")
        except BaseException:
            await _close_stream(stream)
            await transport.close()
            raise
        return cls(transport, stream)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        try:
            msg = await anext(self._stream)
        except StopAsyncIteration:
            raise errors.ManagerUnavailable(
                detail="the connection manager ended the event stream"
            ) from None
        return Event.from_wire(msg)

    async def close(self) -> None:
        await _close_stream(self._stream)
        await self._transport.close()


async def _close_stream(stream: AsyncIterator[dict[str, Any]]) -> None:
    if isinstance(stream, AsyncGenerator):
        with contextlib.suppress(Exception):
            await stream.aclose()
