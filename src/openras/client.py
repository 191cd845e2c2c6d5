"""The blocking Pythonic client (imports no asyncio)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from openras import errors, paths
from openras.records import ConnectionInfo, Disconnect, Event, ProjectionInfo, Statistics
from openras.states import RasConnState
from openras.wire import protocol as P
from openras.wire.transport import Transport, connect

StateCallback = Callable[[Event], None]


def dial_parameters(
    entry: str,
    phonebook: str | os.PathLike[str] | None,
    *,
    user: str = "",
    password: str = "",
    domain: str = "",
    phone_number: str = "",
    callback_number: str = "",
) -> dict[str, Any]:
    """The Dial call's parameters; the caller's own phonebook path travels with it."""
    return {
        **_entry_target(entry, phonebook),
        "user": user,
        "password": password,
        "domain": domain,
        "phone_number": phone_number,
        "callback_number": callback_number,
    }


def dial_outcome(final: dict[str, Any]) -> int:
    """The handle of a finished attempt, or the attempt's RasError raised (carrying it)."""
    handle = int(final["handle"])
    error = int(final.get("error", 0))
    state = int(final.get("state", 0))
    if error or state != RasConnState.Connected:
        raise errors.RasError.from_code(
            error or errors.ERROR_DISCONNECTION, final.get("detail") or None, handle=handle
        )
    return handle


@dataclass(frozen=True)
class SavedCredentials:
    user: str
    domain: str
    has_password: bool


def _entry_target(entry: str, phonebook: str | os.PathLike[str] | None) -> dict[str, Any]:
    return {
        "entry": entry,
        "phonebook": os.path.abspath(phonebook) if phonebook else "",
        "user_phonebook": str(paths.user_phonebook()),
    }


class Client:
    """A session with rasman. Closing it ends the session, never the connections."""

    def __init__(
        self,
        socket: str | os.PathLike[str] | None = None,
        *,
        autostart: bool = True,
        timeout: float | None = None,
    ):
        self._path = Path(socket) if socket else None
        self._timeout = timeout
        self._autostart = autostart
        self._t: Transport = connect(self._path, autostart=autostart, timeout=timeout)

    def _extra(self) -> Transport:
        return connect(self._path or self._t.path, autostart=False, timeout=self._timeout)

    def close(self) -> None:
        self._t.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._t.call(method, params)

    # -------------------------------------------------------------- dialing
    def dial(
        self,
        entry: str,
        phonebook: str | os.PathLike[str] | None = None,
        *,
        user: str = "",
        password: str = "",
        domain: str = "",
        phone_number: str = "",
        callback_number: str = "",
        on_state: StateCallback | None = None,
    ) -> Connection:
        """Dial and return when Connected; a failure raises RasError with ``.handle`` set."""
        params = dial_parameters(
            entry,
            phonebook,
            user=user,
            password=password,
            domain=domain,
            phone_number=phone_number,
            callback_number=callback_number,
        )
        final: dict[str, Any] = {}
        for msg in self._t.stream(P.DIAL, params):
            final = msg
            if on_state is not None and msg.get("event") == "state":
                on_state(Event.from_wire(msg))
            elif on_state is not None and "event" not in msg and not msg.get("joined"):
                on_state(
                    Event(
                        kind="state",
                        handle=int(msg["handle"]),
                        entry=entry,
                        state=RasConnState(int(msg["state"])),
                        phase=str(msg.get("phase", "")),
                    )
                )
        return Connection(self, dial_outcome(final))

    # -------------------------------------------------------------- reading
    def connections(self, include_pending: bool = False) -> list[ConnectionInfo]:
        reply = self._t.call(P.ENUM, {"include_pending": include_pending})
        return [ConnectionInfo.from_wire(c) for c in reply["connections"]]

    def status(self, handle: int) -> ConnectionInfo:
        return ConnectionInfo.from_wire(self._t.call(P.GET_STATUS, {"handle": handle}))

    def statistics(self, handle: int) -> Statistics:
        return Statistics.from_wire(self._t.call(P.STATISTICS, {"handle": handle}))

    def projection(self, handle: int) -> ProjectionInfo:
        return ProjectionInfo.from_wire(self._t.call(P.PROJECTION, {"handle": handle}))

    def history(self) -> list[Disconnect]:
        return [Disconnect.from_wire(d) for d in self._t.call(P.HISTORY)["disconnects"]]

    def connection(self, handle: int) -> Connection:
        self.status(handle)
        return Connection(self, handle)

    # -------------------------------------------------------------- saved credentials
    def credentials(
        self,
        entry: str,
        phonebook: str | os.PathLike[str] | None = None,
        *,
        all_users: bool = False,
    ) -> SavedCredentials:
        """What the daemon keeps for ``entry`` (never the password itself); ``all_users``:
        the default ones root saved for every user."""
        d = self._t.call(
            P.GET_CREDENTIALS, {**_entry_target(entry, phonebook), "default": all_users}
        )
        return SavedCredentials(
            user=d["user"], domain=d["domain"], has_password=bool(d["has_password"])
        )

    def save_credentials(
        self,
        entry: str,
        phonebook: str | os.PathLike[str] | None = None,
        *,
        user: str | None = None,
        password: str | None = None,
        domain: str | None = None,
        all_users: bool = False,
    ) -> None:
        """Save the fields given (None leaves a field as it is) in the daemon's store;
        ``all_users`` (root only): the defaults every user's dial of the all-users entry
        gets when they saved none of their own."""
        params = {
            **_entry_target(entry, phonebook),
            "default": all_users,
            "user": user or "",
            "password": password or "",
            "domain": domain or "",
            "mask": {
                "user": user is not None,
                "password": password is not None,
                "domain": domain is not None,
            },
        }
        self._t.call(P.SET_CREDENTIALS, params)

    def forget_credentials(
        self,
        entry: str,
        phonebook: str | os.PathLike[str] | None = None,
        *,
        all_users: bool = False,
    ) -> None:
        params = {
            **_entry_target(entry, phonebook),
            "default": all_users,
            "clear": True,
            "mask": {"user": True, "password": True, "domain": True},
        }
        self._t.call(P.SET_CREDENTIALS, params)

    # -------------------------------------------------------------- ending
    def hang_up(
        self,
        handle: int,
        *,
        wait: bool = True,
        timeout: float | None = 30.0,
        force: bool = False,
    ) -> None:
        """Request the hang-up; with ``wait``, return once the handle is invalid (all gone).

        The wait is the same call (``HangUp`` with ``wait``): one round trip. If it times
        out (RasError 638) the session is replaced by a fresh one, since the late reply
        would otherwise answer the next call. ``force``: every reference goes and the link
        program is killed at once instead of stopped gracefully (a link that will not stop).
        """
        if not wait:
            self._t.call(P.HANG_UP, {"handle": handle, "force": force})
            return
        sock = self._t.sock
        before = sock.gettimeout()
        sock.settimeout(timeout)
        try:
            self._t.call(P.HANG_UP, {"handle": handle, "wait": True, "force": force})
        except TimeoutError:
            self._t.close()
            self._t = connect(self._path or self._t.path, autostart=False, timeout=self._timeout)
            raise errors.RasError(
                errors.ERROR_REQUEST_TIMEOUT, f"handle {handle} still tearing down"
            ) from None
        finally:
            if self._t.sock is sock:  # not replaced: as it was before this call
                sock.settimeout(before)

    def wait_gone(self, handle: int, timeout: float | None = 30.0) -> None:
        """Block until ``handle`` answers ERROR_INVALID_HANDLE; RasError(638) on timeout."""
        t = connect(self._path or self._t.path, autostart=False, timeout=timeout)
        try:
            t.call(P.WAIT_DELETED, {"handle": handle})
        except TimeoutError:
            raise errors.RasError(
                errors.ERROR_REQUEST_TIMEOUT, f"handle {handle} still tearing down"
            ) from None
        finally:
            t.close()

    # -------------------------------------------------------------- events
    def events(self, handle: int | None = None) -> Iterator[Event]:
        """Live events (created, state, disconnected) until the iterator is closed."""
        t = self._extra()
        params: dict[str, Any] = {} if handle is None else {"handle": handle}
        try:
            for msg in t.stream(P.SUBSCRIBE, params):
                if msg.get("event") == "subscribed":
                    continue
                yield Event.from_wire(msg)
        finally:
            t.close()


class Connection:
    """A handle with methods; the connection itself belongs to rasman."""

    def __init__(self, client: Client, handle: int) -> None:
        self.client = client
        self.handle = handle

    def __repr__(self) -> str:
        return f"<Connection handle={self.handle}>"

    def status(self) -> ConnectionInfo:
        return self.client.status(self.handle)

    def statistics(self) -> Statistics:
        return self.client.statistics(self.handle)

    def projection(self) -> ProjectionInfo:
        return self.client.projection(self.handle)

    def hang_up(
        self, *, wait: bool = True, timeout: float | None = 30.0, force: bool = False
    ) -> None:
        self.client.hang_up(self.handle, wait=wait, timeout=timeout, force=force)
