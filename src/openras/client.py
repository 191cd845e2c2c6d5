"""The blocking Pythonic client (imports no asyncio)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from openras import errors, paths, promote
from openras.records import ConnectionInfo, Disconnect, Event, ProjectionInfo, Statistics
from openras.wire import protocol as P
from openras.wire.follow import DialFollower, Question
from openras.wire.transport import Transport, connect

StateCallback = Callable[[Event], None]
#: Asked the link's question (a one-time code): ``(prompt, echo)`` -> the answer, or None to
#: give up (the attempt is hung up).
InputCallback = Callable[[str, bool], "str | None"]


def dial_parameters(
    entry: str,
    phonebook: str | os.PathLike[str] | None,
    *,
    user: str = "",
    password: str = "",
    domain: str = "",
    phone_number: str = "",
    callback_number: str = "",
    interactive: bool = False,
) -> dict[str, Any]:
    """The Dial call's parameters; the caller's own phonebook path travels with it.
    ``interactive``: the dialer answers the link's questions (else such a dial fails, 703)."""
    params = {
        **_entry_target(entry, phonebook),
        "user": user,
        "password": password,
        "domain": domain,
        "phone_number": phone_number,
        "callback_number": callback_number,
    }
    if interactive:
        params["interactive"] = True
    return params


def dial_outcome(final: dict[str, Any]) -> int:
    """The handle of a finished attempt, or the attempt's RasError raised (carrying it)."""
    follower = DialFollower("")
    follower.feed(final, continues=False)
    return follower.outcome()


@dataclass(frozen=True)
class SavedCredentials:
    user: str
    domain: str
    has_password: bool
    #: An IPsec pre-shared key (RASCM_PreSharedKey) is saved for the entry.
    has_psk: bool = False

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> SavedCredentials:
        return cls(
            user=d["user"],
            domain=d["domain"],
            has_password=bool(d["has_password"]),
            has_psk=bool(d.get("has_psk")),
        )


# The requests both clients make (no I/O): Client and AsyncClient differ only in how they
# send them.


def credentials_query(
    entry: str, phonebook: str | os.PathLike[str] | None, all_users: bool
) -> dict[str, Any]:
    return {**_entry_target(entry, phonebook), "default": all_users}


def credentials_update(
    entry: str,
    phonebook: str | os.PathLike[str] | None,
    user: str | None,
    password: str | None,
    domain: str | None,
    *,
    all_users: bool,
    psk: str | None = None,
) -> dict[str, Any]:
    """SetCredentials of the fields given (None: left as it is)."""
    return {
        **credentials_query(entry, phonebook, all_users),
        "user": user or "",
        "password": password or "",
        "domain": domain or "",
        "psk": psk or "",
        "mask": {"user": user is not None, "password": password is not None,
                 "domain": domain is not None, "psk": psk is not None},
    }  # fmt: skip


def credentials_forget(
    entry: str, phonebook: str | os.PathLike[str] | None, all_users: bool
) -> dict[str, Any]:
    return {
        **credentials_query(entry, phonebook, all_users),
        "clear": True,
        "mask": {"user": True, "password": True, "domain": True, "psk": True},
    }


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
        on_input: InputCallback | None = None,
    ) -> Connection:
        """Dial and return when Connected; a failure raises RasError with ``.handle`` set.

        ``on_input`` answers what the link asks while dialing (a server's one-time code:
        RASCS_Interactive); without it such a dial fails with 703."""
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
        follower = DialFollower(entry)
        for msg in self._t.stream(P.DIAL, params):
            step = follower.feed(msg, continues=True)
            if on_state is not None and step.event is not None:
                on_state(step.event)
            if step.question is not None and on_input is not None:
                self._answer(step.question, on_input(step.question.prompt, step.question.echo))
        handle = follower.outcome()
        promote.after_connected(self._t.call, handle, follower.dialed_number)
        return Connection(self, handle)

    def _answer(self, question: Question, text: str | None) -> None:
        """Send the answer on a connection of its own (the dial holds this one); None:
        hang the attempt up."""
        t = self._extra()
        try:
            if text is None:
                t.call(P.HANG_UP, {"handle": question.handle})
            else:
                t.call(P.DIAL_INPUT, {"handle": question.handle, "text": text})
        finally:
            t.close()

    def provide_input(self, handle: int, text: str) -> None:
        """Answer the question of a dial waiting in RASCS_Interactive (another program
        than the dialer may, for the same user)."""
        self._t.call(P.DIAL_INPUT, {"handle": handle, "text": text})

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
        return SavedCredentials.from_wire(
            self._t.call(P.GET_CREDENTIALS, credentials_query(entry, phonebook, all_users))
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
        psk: str | None = None,
    ) -> None:
        """Save the fields given (None leaves a field as it is) in the daemon's store;
        ``all_users`` (root only): the defaults every user's dial of the all-users entry
        gets when they saved none of their own. ``psk``: an L2TP/IPsec entry's pre-shared
        key."""
        self._t.call(
            P.SET_CREDENTIALS,
            credentials_update(
                entry, phonebook, user, password, domain, all_users=all_users, psk=psk
            ),
        )

    def forget_credentials(
        self,
        entry: str,
        phonebook: str | os.PathLike[str] | None = None,
        *,
        all_users: bool = False,
    ) -> None:
        self._t.call(P.SET_CREDENTIALS, credentials_forget(entry, phonebook, all_users))

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
