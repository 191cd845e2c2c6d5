"""The asyncio Pythonic client (for async apps and the TUI), over the same codec."""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from openras import errors, promote
from openras.client import (
    SavedCredentials,
    credentials_forget,
    credentials_query,
    credentials_update,
    dial_parameters,
)
from openras.records import ConnectionInfo, Disconnect, Event, ProjectionInfo, Statistics
from openras.wire import protocol as P
from openras.wire.atransport import AsyncTransport
from openras.wire.follow import DialFollower


class AsyncClient:
    """``async with AsyncClient() as c: conn = await c.dial("Office")``."""

    def __init__(
        self, socket: str | os.PathLike[str] | None = None, *, autostart: bool = True
    ) -> None:
        self._path = Path(socket) if socket else None
        self._autostart = autostart
        self._t: AsyncTransport | None = None

    async def connect(self) -> AsyncClient:
        if self._t is None:
            self._t = await AsyncTransport.connect(self._path, autostart=self._autostart)
        return self

    async def _extra(self) -> AsyncTransport:
        return await AsyncTransport.connect(self._path, autostart=self._autostart)

    @property
    def transport(self) -> AsyncTransport:
        if self._t is None:
            raise RuntimeError("AsyncClient is not connected (use 'async with' or await connect())")
        return self._t

    async def close(self) -> None:
        if self._t is not None:
            await self._t.close()
            self._t = None

    async def __aenter__(self) -> AsyncClient:
        return await self.connect()

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def dial(
        self,
        entry: str,
        phonebook: str | os.PathLike[str] | None = None,
        *,
        user: str = "",
        password: str = "",
        domain: str = "",
        phone_number: str = "",
        callback_number: str = "",
        on_state: Callable[[Event], Any] | None = None,
        on_input: Callable[[str, bool], Awaitable[str | None] | str | None] | None = None,
    ) -> AsyncConnection:
        """As :meth:`Client.dial <openras.Client.dial>`; ``on_input`` may be a coroutine."""
        params = dial_parameters(
            entry,
            phonebook,
            user=user,
            password=password,
            domain=domain,
            phone_number=phone_number,
            callback_number=callback_number,
            interactive=on_input is not None,
        )
        t = await self._extra()  # a dial holds its connection; keep the main one free
        follower = DialFollower(entry)
        try:
            async for msg in t.stream(P.DIAL, params):
                step = follower.feed(msg, continues=True)
                if on_state is not None and step.event is not None:
                    on_state(step.event)
                if step.question is not None and on_input is not None:
                    answer = on_input(step.question.prompt, step.question.echo)
                    if inspect.isawaitable(answer):
                        answer = await answer
                    await self._answer(step.question.handle, answer)
        finally:
            await t.close()
        handle = follower.outcome()
        await promote.after_connected_async(self.transport.call, handle, follower.dialed_number)
        return AsyncConnection(self, handle)

    async def _answer(self, handle: int, text: str | None) -> None:
        """The answer goes on the main connection (the dial holds its own); None: the
        attempt is hung up."""
        if text is None:
            await self.transport.call(P.HANG_UP, {"handle": handle})
        else:
            await self.transport.call(P.DIAL_INPUT, {"handle": handle, "text": text})

    async def provide_input(self, handle: int, text: str) -> None:
        """Answer the question of a dial waiting in RASCS_Interactive."""
        await self.transport.call(P.DIAL_INPUT, {"handle": handle, "text": text})

    async def connections(self, include_pending: bool = False) -> list[ConnectionInfo]:
        reply = await self.transport.call(P.ENUM, {"include_pending": include_pending})
        return [ConnectionInfo.from_wire(c) for c in reply["connections"]]

    async def status(self, handle: int) -> ConnectionInfo:
        return ConnectionInfo.from_wire(await self.transport.call(P.GET_STATUS, {"handle": handle}))

    async def statistics(self, handle: int) -> Statistics:
        return Statistics.from_wire(await self.transport.call(P.STATISTICS, {"handle": handle}))

    async def projection(self, handle: int) -> ProjectionInfo:
        return ProjectionInfo.from_wire(await self.transport.call(P.PROJECTION, {"handle": handle}))

    async def history(self) -> list[Disconnect]:
        return [
            Disconnect.from_wire(d) for d in (await self.transport.call(P.HISTORY))["disconnects"]
        ]

    async def connection(self, handle: int) -> AsyncConnection:
        await self.status(handle)
        return AsyncConnection(self, handle)

    async def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.transport.call(method, params)

    async def credentials(
        self,
        entry: str,
        phonebook: str | os.PathLike[str] | None = None,
        *,
        all_users: bool = False,
    ) -> SavedCredentials:
        """What the daemon keeps for ``entry`` (never the password itself), as
        :meth:`Client.credentials <openras.Client.credentials>`."""
        return SavedCredentials.from_wire(
            await self.transport.call(
                P.GET_CREDENTIALS, credentials_query(entry, phonebook, all_users)
            )
        )

    async def save_credentials(
        self,
        entry: str,
        phonebook: str | os.PathLike[str] | None = None,
        *,
        user: str | None = None,
        password: str | None = None,
        domain: str | None = None,
        all_users: bool = False,
        psk: str | None = None,
    ) -> None:
        """As :meth:`Client.save_credentials <openras.Client.save_credentials>`."""
        await self.transport.call(
            P.SET_CREDENTIALS,
            credentials_update(
                entry, phonebook, user, password, domain, all_users=all_users, psk=psk
            ),
        )

    async def forget_credentials(
        self,
        entry: str,
        phonebook: str | os.PathLike[str] | None = None,
        *,
        all_users: bool = False,
    ) -> None:
        await self.transport.call(
            P.SET_CREDENTIALS, credentials_forget(entry, phonebook, all_users)
        )

    async def hang_up(
        self,
        handle: int,
        *,
        wait: bool = True,
        timeout: float | None = 30.0,  # noqa: ASYNC109 - the issue's API: hang_up(timeout=)
        force: bool = False,
    ) -> None:
        """Request the hang-up; with ``wait``, return once the handle is invalid (all gone).

        The wait is the same call (``HangUp`` with ``wait``) on a connection of its own, so
        the main one stays free and a timeout (RasError 638) leaves nothing behind.
        ``force``: killed at once, as :meth:`Client.hang_up <openras.Client.hang_up>`.
        """
        if not wait:
            await self.transport.call(P.HANG_UP, {"handle": handle, "force": force})
            return
        await self._until_gone(P.HANG_UP, {"handle": handle, "wait": True, "force": force}, timeout)

    async def wait_gone(
        self,
        handle: int,
        timeout: float | None = None,  # noqa: ASYNC109 - same shape as Client.wait_gone
    ) -> None:
        """Wait until ``handle`` answers ERROR_INVALID_HANDLE; RasError(638) after ``timeout``.

        Another reference (a second dial of the entry) keeps the connection up, so without a
        timeout this waits as long as that holder wants (callers with their own
        ``asyncio.timeout`` rely on that); ``hang_up`` passes 30 s unless told otherwise.
        """
        await self._until_gone(P.WAIT_DELETED, {"handle": handle}, timeout)

    async def _until_gone(
        self,
        method: str,
        params: dict[str, Any],
        timeout: float | None,  # noqa: ASYNC109 - bounds the one call, as wait_gone's
    ) -> None:
        """A call that returns once ``params["handle"]`` is deleted, on its own connection."""
        t = await self._extra()
        try:
            async with asyncio.timeout(timeout):
                await t.call(method, params)
        except TimeoutError:
            raise errors.RasError(
                errors.ERROR_REQUEST_TIMEOUT, f"handle {params['handle']} still tearing down"
            ) from None
        finally:
            await t.close()

    async def events(self, handle: int | None = None) -> AsyncIterator[Event]:
        """Live events until the consumer stops iterating (or the daemon goes away)."""
        t = await self._extra()
        try:
            async for msg in t.stream(P.SUBSCRIBE, {} if handle is None else {"handle": handle}):
                if msg.get("event") != "subscribed":
                    yield Event.from_wire(msg)
        finally:
            await t.close()


class AsyncConnection:
    def __init__(self, client: AsyncClient, handle: int) -> None:
        self.client = client
        self.handle = handle

    def __repr__(self) -> str:
        return f"<AsyncConnection handle={self.handle}>"

    async def status(self) -> ConnectionInfo:
        return await self.client.status(self.handle)

    async def statistics(self) -> Statistics:
        return await self.client.statistics(self.handle)

    async def projection(self) -> ProjectionInfo:
        return await self.client.projection(self.handle)

    async def hang_up(
        self,
        *,
        wait: bool = True,
        timeout: float | None = 30.0,  # noqa: ASYNC109 - the issue's API: hang_up(timeout=)
        force: bool = False,
    ) -> None:
        await self.client.hang_up(self.handle, wait=wait, timeout=timeout, force=force)
