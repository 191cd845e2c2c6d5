"""The Unix-socket front of rasman: sessions, SO_PEERCRED, dispatch, streams.

Each accepted connection is one client session. The caller's uid comes from SO_PEERCRED,
never from a message. Calls on one connection are served in order; a streaming call (``more``)
holds its connection until it ends. A malformed, oversized or truncated frame ends that client's
session only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import socket
import struct
import time
import weakref
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

from openras import __version__, errors, paths, policy
from openras.links.base import DialParams
from openras.manager import entries, rows
from openras.manager.credentials import PASSWORD_HANDLE, CredentialStore, Saved, apply_update
from openras.manager.quota import Limits, LogLimiter, Quota, QuotaExceeded, limits_for
from openras.manager.service import Manager, Prepared, Subscriber, conn_key
from openras.manager.table import Phase
from openras.wire import messages as wm
from openras.wire import protocol as P
from openras.wire.codec import MAX_REQUEST, MAX_REQUEST_DEPTH, FrameDecoder, encode

log = logging.getLogger("openras.rasman")

#: Calls a session may have queued unanswered (a client waits for each reply; a varlink
#: client pipelines a few at most): more is a protocol error that ends the session.
MAX_QUEUED_CALLS = 64
#: What one queued call is counted as beyond its frame (the decoded dict's own overhead).
QUEUED_CALL_OVERHEAD = 1024
#: The read size of a session (also the most one read adds before the quota is asked).
READ_CHUNK = 65536
#: Connections the kernel queues for the daemon before connect() blocks (or fails with
#: EAGAIN for a client with a timeout). Not more: while a user connects in a loop the queue
#: stays full, and a new client waits behind all of it (256 refusals take ~10 ms).
ACCEPT_BACKLOG = 256
#: Connections accepted per loop turn (then the loop serves the sessions it has: a call
#: takes a few loop turns, so this bounds what a connect flood adds to each).
ACCEPT_BATCH = 32
#: How long accepting pauses when accept() runs out of descriptors or memory.
ACCEPT_RETRY_DELAY = 1.0


#: The one receive buffer of every session: the loop reads a session's bytes into it and
#: hands them to the session at once (``BufferedProtocol``), so an idle session holds none.
_RECEIVE = bytearray(READ_CHUNK)
_RECEIVE_VIEW = memoryview(_RECEIVE)


class Session(asyncio.BufferedProtocol):
    """One client connection, served as the loop's protocol: no stream reader, writer or task
    while it waits; a task runs its calls, in order, only while it has some (each session
    used to be a StreamReader, a StreamWriter, a queue and three tasks: about 0.13 ms of the
    daemon's CPU per connection). What it makes the daemon hold (a partial request frame,
    calls queued unanswered, a reply the client has not taken yet) is counted against its
    uid's quota (:mod:`openras.manager.quota`); a uid over its total is cut off."""

    def __init__(self, server: Server, creds: tuple[int, int, int]) -> None:
        self.server = server
        self.manager = server.manager
        self.pid, self.uid, self.gid = creds
        self.transport: asyncio.Transport | None = None
        self.decoder = FrameDecoder(MAX_REQUEST, MAX_REQUEST_DEPTH)
        self.inbox: deque[tuple[dict[str, Any], int]] = deque()
        self._queued = 0  # bytes of the calls in ``inbox``
        #: The client went away, was cut off or broke the protocol: nothing more is answered.
        self.closed = False
        self._gone: asyncio.Future[None] | None = None
        self._subscribers: weakref.WeakSet[Subscriber] | None = None
        self._task: asyncio.Task[None] | None = None
        self._input_ended = False
        self._lost = False
        self._paused = False
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._finished = False

    # ------------------------------------------------------------ the loop's protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        return _RECEIVE_VIEW

    def buffer_updated(self, nbytes: int) -> None:
        if not self._input_ended:
            self._received(bytes(_RECEIVE_VIEW[:nbytes]))

    def eof_received(self) -> bool:
        if self.decoder.pending and not self._input_ended:
            self.note("truncated frame; closing")
        self._end_input()
        return True  # the transport stays open for the reply under way

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        waiters, self._drain_waiters = self._drain_waiters, []
        for fut in waiters:
            if not fut.done():
                if exc is None:
                    fut.set_result(None)
                else:
                    fut.set_exception(exc)
        self._close()
        self._end_input()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        waiters, self._drain_waiters = self._drain_waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    # ------------------------------------------------------------ reading
    def _received(self, data: bytes) -> None:
        """Frames go to ``inbox``; a bad frame ends the input, and so does a uid over its
        buffered-bytes quota (asked before the bytes are kept)."""
        quota = self.server.quota
        before = self.decoder.pending
        if not quota.fits(self.uid, self, self.held + len(data)):
            self.server.cut_off(self.uid, self.held + len(data))
            self._end_input()
            return
        try:
            msgs = self.decoder.feed(data)
            if msgs:
                weight = (before + len(data) - self.decoder.pending) // len(msgs)
                for msg in msgs:
                    self.inbox.append((msg, weight + QUEUED_CALL_OVERHEAD))
                    self._queued += weight + QUEUED_CALL_OVERHEAD
                if len(self.inbox) > MAX_QUEUED_CALLS:
                    raise errors.ProtocolError(
                        detail=f"more than {MAX_QUEUED_CALLS} calls queued unanswered"
                    )
        except errors.ProtocolError as exc:
            self.note(f"protocol error: {exc.detail}; closing")
            self._end_input()
            return
        self.account()
        if self._task is None and self.inbox:
            self._task = asyncio.get_running_loop().create_task(self._run())

    def _end_input(self) -> None:
        """No more calls are read: the session ends once the call under way has."""
        if self._input_ended:
            return
        self._input_ended = True
        self._close()
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.pause_reading()
        if self._task is None:
            self._finish()

    async def _run(self) -> None:
        """Answer the queued calls in order (a streaming call holds the session)."""
        try:
            while self.inbox and not self.closed:
                msg, weight = self.inbox.popleft()
                self._queued -= weight
                await self.dispatch(msg)
        except errors.ProtocolError as exc:
            self.note(f"protocol error: {exc.detail}; closing")
            self._close()
        except ConnectionError:
            self._close()
        finally:
            self._task = None
            if self.closed or self._input_ended:
                self._finish()

    def _finish(self) -> None:
        """The session is over: its quota, bookkeeping and socket go (once)."""
        if self._finished:
            return
        self._finished = True
        self._close()
        self.server._session_done(self)
        if self.transport is not None:
            self.transport.close()

    # ------------------------------------------------------------ state and writing
    @property
    def gone(self) -> asyncio.Future[None]:
        """Done when the client went away (a future, for ``asyncio.wait``; made on demand)."""
        if self._gone is None:
            self._gone = asyncio.get_running_loop().create_future()
            if self.closed:
                self._gone.set_result(None)
        return self._gone

    @property
    def held(self) -> int:
        """Bytes this session makes the daemon hold: a partial frame, queued calls, and
        replies not yet taken by the client."""
        transport = self.transport
        unsent = (
            0 if transport is None or transport.is_closing() else transport.get_write_buffer_size()
        )
        return self.decoder.pending + self._queued + unsent

    def account(self) -> None:
        """Tell the quota what this session holds now; cut the uid off if it is over."""
        if not self.server.quota.account(self.uid, self, self.held):
            self.server.cut_off(self.uid, self.server.quota.buffered(self.uid))

    def note(self, what: str) -> None:
        """Log a line about this client's misbehaviour (rate-limited per uid)."""
        self.server.note(
            self.uid, "client pid %d uid %d: %s", self.pid, self.uid, what, kind="protocol"
        )

    def _close(self) -> None:
        """The client is gone: every reader of this session's events wakes up to see it
        (again at the connection's loss: a reader may have taken the first wake-up)."""
        self.closed = True
        if self._gone is not None and not self._gone.done():
            self._gone.set_result(None)
        for sub in list(self._subscribers or ()):
            with contextlib.suppress(asyncio.QueueFull):  # a full one is never waited on
                sub.queue.put_nowait(None)

    async def send(self, msg: dict[str, Any]) -> None:
        await self.send_frames([encode(msg)])

    async def send_frames(self, frames: list[bytes]) -> None:
        """Write encoded frames in one write (one system call), and wait for the client to
        take them if it lags."""
        transport = self.transport
        assert transport is not None
        if self.closed and transport.is_closing():
            raise ConnectionResetError("the session was cut off")
        transport.write(frames[0] if len(frames) == 1 else b"".join(frames))
        if transport.is_closing() or transport.get_write_buffer_size():
            self.account()
            await self._drain()
        self.account()

    async def _drain(self) -> None:
        """As a stream writer's drain: wait while the transport's buffer is over its mark;
        ConnectionResetError once the connection is lost."""
        transport = self.transport
        if transport is not None and transport.is_closing():
            await asyncio.sleep(0)  # let the loss be seen first
        if self._lost:
            raise ConnectionResetError("Connection lost")
        if not self._paused:
            return
        fut = asyncio.get_running_loop().create_future()
        self._drain_waiters.append(fut)
        await fut

    def subscriber(self, handle: int | None = None) -> Subscriber:
        """An event queue for this session; if the client stops reading, it is cut off."""
        sub = Subscriber(self.uid, handle=handle, on_overflow=self.abort)
        if self._subscribers is None:
            self._subscribers = weakref.WeakSet()
        self._subscribers.add(sub)
        return sub

    def abort(self) -> None:
        """Disconnect this client now (it stopped reading; its events are dropped)."""
        self._close()
        if self.transport is not None:
            self.transport.abort()

    async def dispatch(self, msg: dict[str, Any]) -> None:
        method = msg.get("method")
        params = msg.get("parameters") or {}
        more = bool(msg.get("more"))
        if not isinstance(method, str) or not isinstance(params, dict):
            raise errors.ProtocolError(detail="a call needs a method name and parameter object")
        handler = self.server.methods.get(method)
        if handler is None:
            await self.send(
                {"error": "org.varlink.service.MethodNotFound", "parameters": {"method": method}}
            )
            return
        try:
            request = wm.decode(method, params, self.server.params[method])
            result = await handler(self, request, more)
        except errors.RasError as exc:
            await self.send(P.error_reply(exc))
            return
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception:
            self.server.note(
                self.uid,
                "internal error in %s",
                method,
                level=logging.ERROR,
                exc_info=True,
                kind="internal",
            )
            await self.send(
                P.error_reply(
                    errors.RasError(
                        errors.ERROR_UNKNOWN, "internal error in the connection manager"
                    )
                )
            )
            return
        if result is not None:
            await self.send(P.reply(result))

    async def next_event(self, sub: Subscriber) -> dict[str, Any] | None:
        """The subscriber's next event; None once the client left or was cut off.

        A plain wait on the queue (the session puts None in it when the client goes): a
        dial delivers half a dozen events, and two helper tasks per event cost each of them
        loop turns.
        """
        if sub.dropped or self.closed:
            return None
        event = await sub.queue.get()
        if event is None or sub.dropped or self.closed:
            return None
        return event

    async def stream(
        self, sub: Subscriber, first: dict[str, Any] | None, until: Callable[[dict[str, Any]], bool]
    ) -> None:
        """Send ``first`` then events until ``until(event)`` (sent once the table is on
        disk) or the client leaves.

        The events already waiting go out in one write: a dial passes half a dozen states in
        a few milliseconds, and a write (and its quota accounting) per state was much of the
        daemon's CPU per dial."""
        try:
            if first is not None:
                await self.send(P.reply(first, continues=True))
            while (event := await self.next_event(sub)) is not None:
                frames: list[bytes] = []
                gone = False
                while True:
                    last = until(event)
                    if last:
                        self.manager.flush()  # what ends the call is on disk first
                    frames.append(encode(P.reply(event, continues=not last)))
                    if last or sub.queue.empty():
                        break
                    ready = sub.queue.get_nowait()
                    if ready is None or sub.dropped or self.closed:
                        gone = True  # the client left: what came before it still goes
                        break
                    event = ready
                await self.send_frames(frames)
                if last or gone:
                    return
        finally:
            self.manager.subscribers.discard(sub)


# ------------------------------------------------------------------------------------- methods

Handler = Callable[[Session, Any, bool], Awaitable[dict[str, Any] | None]]


async def m_ping(s: Session, p: wm.NoParams, more: bool) -> dict[str, Any]:
    """Liveness, plus open sessions and event subscribers (a leak shows as a growing count)."""
    return {
        "version": __version__,
        "uid": s.uid,
        "pid": os.getpid(),
        "sessions": len(s.server._sessions),
        "subscribers": len(s.manager.subscribers),
    }


async def m_dial(s: Session, p: wm.DialIn, more: bool) -> dict[str, Any] | None:
    # The dial-rate quota first: nothing is read for a caller over it.
    s.server.quota.admit_dial(s.uid, time.monotonic())
    name, phone = p.entry, p.phone_number
    dial_params = DialParams(
        entry_name=name,
        phone_number=phone,
        callback_number=p.callback_number,
        user=p.user,
        password=p.password,
        domain=p.domain,
    )
    phonebook = p.phonebook or None
    user_pb = p.user_phonebook or None
    if not name:
        if not phone:
            raise errors.InvalidParameter(detail="an entry name or a phone number is needed")
        raise errors.RasError(
            errors.ERROR_CONNECTING_DEVICE_NOT_FOUND,
            "dialing a number without an entry needs a modem (PPP is not available)",
        )

    def prepare() -> tuple[entries.EntrySnapshot, DialParams, Prepared]:
        entry = entries.resolve(s.uid, name, phonebook, user_pb)
        params = _with_saved_credentials(s, entry, dial_params)
        return entry, params, s.manager.validate(s.uid, entry, params)

    # Reading the phonebook, the saved credentials and the files the entry names (as the
    # caller) may block: one trip to a worker thread, and the loop serves everyone else;
    # unless they are direct reads of small files, cheaper than the trip (entries.py). One
    # such trip per uid at a time: a user naming a huge phonebook in many dials at once
    # queues behind themselves, not in front of everyone else.
    if entries.cheap_to_read(s.uid, phonebook, user_pb):
        entry, dial_params, prepared = prepare()
    else:
        async with _preparing(s.uid):
            entry, dial_params, prepared = await asyncio.to_thread(prepare)
    _check_live_quota(s, entry)
    sub = s.subscriber()
    conn, joined = await s.manager.dial(
        uid=s.uid,
        session=s.pid,
        entry=entry,
        params=dial_params,
        subscriber=sub,
        prepared=prepared,
        interactive=p.interactive,
    )
    # The handle goes out only once its row is on disk: a daemon that dies right after
    # still knows it when it comes back (a failed one, to be hung up, as RasDial's are).
    # The dials of one loop turn share the write.
    await s.manager.persisted()
    first = {
        "handle": conn.handle,
        "state": int(conn.state),
        "error": conn.error,
        "phase": conn.phase.value,
        "joined": joined,
    }
    if joined or conn.phase is not Phase.DIALING:
        s.manager.subscribers.discard(sub)
        return first

    def terminal(ev: dict[str, Any]) -> bool:
        return ev.get("phase") != "dialing" or ev.get("event") == "disconnected"

    if more:
        await s.stream(sub, first, terminal)
        return None
    # Synchronous: one reply when the attempt ends.
    last: dict[str, Any] = first
    try:
        while True:
            ev = await s.next_event(sub)
            if ev is None:
                return None  # the dialer left; the attempt goes on without it
            last = ev
            if terminal(ev):
                break
    finally:
        s.manager.subscribers.discard(sub)
    # A client told how its dial ended must find it so after a daemon crash: on disk first.
    s.manager.flush()
    return {
        "handle": conn.handle,
        "state": last["state"],
        "error": last["error"],
        "phase": last["phase"],
        "joined": False,
        "detail": last.get("detail", ""),
    }


def _check_live_quota(s: Session, entry: entries.EntrySnapshot) -> None:
    """QuotaExceeded (5) if the caller holds as many live connections as a user may and this
    dial would start another (joining the caller's own connected entry starts none)."""
    key = conn_key(s.uid, entry)
    table = s.manager.table.rows.values()
    if any(c.key == key and c.phase is not Phase.FAILED for c in table):
        return
    s.server.quota.check_live(s.uid, sum(1 for c in table if c.owner == s.uid))


_PREPARING: dict[int, tuple[asyncio.Lock, list[int]]] = {}


@contextlib.asynccontextmanager
async def _preparing(uid: int) -> AsyncIterator[None]:
    """One dial preparation (phonebook read and parse, driver checks) per uid at a time."""
    lock, users = _PREPARING.setdefault(uid, (asyncio.Lock(), [0]))
    users[0] += 1
    try:
        async with lock:
            yield
    finally:
        users[0] -= 1
        if not users[0]:
            _PREPARING.pop(uid, None)


def _with_saved_credentials(
    s: Session, entry: entries.EntrySnapshot, params: DialParams
) -> DialParams:
    """Fill in what the caller left empty (or gave as the password handle) from the store.

    The caller's own saved credentials first; else, the default ones root saved for all
    users, but for a non-root caller only for an all-users entry (the administrator's
    phonebook, which the caller cannot edit) dialed at the entry's own number: the
    administrator's password never goes to a server the caller chose. The link then knows
    (``admin_credentials``) to check the server only against what the entry names.
    """
    params = _with_saved_psk(s, entry, params)
    wants_saved = (not params.user and not params.password) or params.password == PASSWORD_HANDLE
    if not wants_saved:
        return params
    store = s.server.credentials
    saved = store.get(s.uid, entry.phonebook, entry.name)
    admin = False
    if saved is None:
        saved = store.get(None, entry.phonebook, entry.name)
        admin = saved is not None and s.uid != 0
        if admin and not entry.all_users:
            saved, admin = None, False  # only the administrator's own phonebook
    if saved is None:
        return replace(params, password="") if params.password == PASSWORD_HANDLE else params
    if admin and params.phone_number and params.phone_number != (entry.get("PhoneNumber") or ""):
        raise errors.AccessDenied(
            detail=(
                f"the administrator's saved credentials for {entry.name!r} go only to the "
                "entry's own server: dial without a phone number, or give your own user name "
                "and password"
            )
        )
    return replace(
        params,
        user=params.user or saved.user,
        password=saved.password or "",
        domain=params.domain or saved.domain,
        admin_credentials=admin,
    )


#: Link types that never use an IPsec pre-shared key.
_NO_PSK_DEVICES: Final = frozenset({"openvpn", "wireguard", "ssh", "loopback"})


def _with_saved_psk(s: Session, entry: entries.EntrySnapshot, params: DialParams) -> DialParams:
    """The entry's IPsec pre-shared key (Windows keeps it per entry, not per dial): the
    caller's own saved one, else the one root saved for an all-users entry (or for root).
    Only VPN entries have one: other dials read no file for it, nor does a VPN entry whose
    link takes no key (openvpn, WireGuard, ssh: two look-ups in the store, 0.1 ms)."""
    from openras.links.registry import entry_device

    if entry_device(entry) != "vpn":
        return params
    if (entry.get("OpenRasDevice") or "").strip().lower() in _NO_PSK_DEVICES:
        return params
    store = s.server.credentials
    saved = store.get(s.uid, entry.phonebook, entry.name)
    if (saved is None or saved.psk is None) and (s.uid == 0 or entry.all_users):
        saved = store.get(None, entry.phonebook, entry.name)
        # The administrator's key goes only to the entry's own server, as its saved password
        # does: a responder of the caller's choosing could test guesses of it offline.
        own_server = not params.phone_number or params.phone_number == (
            entry.get("PhoneNumber") or ""
        )
        if s.uid != 0 and not own_server:
            saved = None
    if saved is None or saved.psk is None:
        return params
    return replace(params, psk=saved.psk)


def _cred_target(s: Session, p: wm.CredentialsIn) -> tuple[int | None, entries.EntrySnapshot]:
    if not p.entry:
        raise errors.InvalidParameter(detail="an entry name is needed")
    entry = entries.resolve(s.uid, p.entry, p.phonebook or None, p.user_phonebook or None)
    default = p.default
    if default and s.uid != 0:
        raise errors.AccessDenied(detail="default credentials need root")
    return (None if default else s.uid), entry


async def m_get_credentials(s: Session, p: wm.CredentialsIn, more: bool) -> dict[str, Any]:
    owner, entry = _cred_target(s, p)
    saved = s.server.credentials.get(owner, entry.phonebook, entry.name) or Saved()
    return {
        "entry": entry.name,
        "phonebook": entry.phonebook,
        "user": saved.user,
        "domain": saved.domain,
        "has_password": saved.has_password,
        "password": PASSWORD_HANDLE if saved.has_password else "",
        "has_psk": saved.has_psk,
    }


async def m_set_credentials(s: Session, p: wm.SetCredentialsIn, more: bool) -> dict[str, Any]:
    owner, entry = _cred_target(s, p)
    store = s.server.credentials
    new = apply_update(
        store.get(owner, entry.phonebook, entry.name),
        user=p.user,
        password=p.password,
        domain=p.domain,
        set_user=p.mask.user,
        set_password=p.mask.password,
        set_domain=p.mask.domain,
        clear=p.clear,
        psk=p.psk,
        set_psk=p.mask.psk,
    )
    if new is None:
        store.delete(owner, entry.phonebook, entry.name)
    else:
        store.put(owner, entry.phonebook, entry.name, new)
    return {}


def _edited_book(p: wm.EntryRenamedIn | wm.EntryDeletedIn) -> str:
    """The phonebook an entry edit happened in: a path is needed (no search order here)."""
    phonebook = p.phonebook
    if not phonebook:
        raise errors.InvalidParameter(detail="the phonebook the entry was edited in is needed")
    return phonebook


def _must_be_gone(uid: int, name: str, phonebook: str) -> None:
    """ERROR_ALREADY_EXISTS while ``name`` is still in ``phonebook`` (the edit did not happen)."""
    try:
        entries.resolve(uid, name, phonebook, None)
    except errors.EntryNotFound:
        return
    raise errors.RasError(errors.ERROR_ALREADY_EXISTS, f"{name!r} is still in {phonebook}")


def _cred_owners(s: Session) -> list[int | None] | None:
    """Whose saved credentials an entry edit carries: root's edit carries everyone's (the
    default ones and every user's, as only root edits the all-users phonebook); a user's
    edit carries only that user's own."""
    return None if s.uid == 0 else [s.uid]


async def m_entry_renamed(s: Session, p: wm.EntryRenamedIn, more: bool) -> dict[str, Any]:
    """Re-file saved credentials under an entry's new name, once the rename is a fact: the new
    name must resolve in that phonebook (as the caller reads it) and the old one must not."""
    phonebook, old, new = _edited_book(p), p.old, p.new
    if not old or not new:
        raise errors.InvalidParameter(detail="the old and the new entry name are needed")
    entry = await asyncio.to_thread(entries.resolve, s.uid, new, phonebook, None)
    if old.casefold() != new.casefold():
        await asyncio.to_thread(_must_be_gone, s.uid, old, phonebook)
    moved = s.server.credentials.move_entry(entry.phonebook, old, entry.name, _cred_owners(s))
    return {"moved": moved}


async def m_entry_deleted(s: Session, p: wm.EntryDeletedIn, more: bool) -> dict[str, Any]:
    """Drop a deleted entry's saved credentials, once it no longer resolves in that phonebook."""
    phonebook, name = _edited_book(p), p.entry
    if not name:
        raise errors.InvalidParameter(detail="an entry name is needed")
    await asyncio.to_thread(_must_be_gone, s.uid, name, phonebook)
    forgotten = s.server.credentials.forget_entry(phonebook, name, _cred_owners(s))
    return {"forgotten": forgotten}


async def m_dial_input(s: Session, p: wm.DialInputIn, more: bool) -> dict[str, Any]:
    """The dialer's answer to the link's question (a one-time code): RASCS_Interactive."""
    s.manager.provide_input(s.uid, p.handle, p.text)
    return {}


async def m_hang_up(s: Session, p: wm.HangUpIn, more: bool) -> dict[str, Any]:
    """Hang up; with ``wait``, reply once the handle is deleted (one round trip for what
    ``HangUp`` then ``WaitDeleted`` do in two)."""
    handle = p.handle
    s.manager.hang_up(s.uid, handle, force=p.force)
    # The reply says the hang-up is under way; a daemon that died right after must not
    # adopt the link as still wanted. The link is already being stopped meanwhile.
    s.manager.flush()
    if p.wait:
        await _wait_deleted(s, handle)
    return {}


async def m_status(s: Session, p: wm.HandleIn, more: bool) -> dict[str, Any]:
    conn = s.manager.status(s.uid, p.handle)
    return rows.record(conn, entry=s.manager.entry_of(conn.handle))


async def m_enum(s: Session, p: wm.EnumIn, more: bool) -> dict[str, Any]:
    """The caller's rows, each encoded once per change (:mod:`openras.manager.rows`): as
    records, or with ``rasconn`` as RASCONN arrays."""
    manager = s.manager
    cache, slots = manager.row_cache, manager.slots
    listed = manager.table.listing(s.uid, p.include_pending)
    if len(cache) > 2 * len(manager.table.rows) + 64:
        cache.prune(manager.table.rows)
    if p.rasconn:
        return {"rasconn": [cache.rasconn(c, _entry(slots, c.handle)) for c in listed]}
    return {"connections": [cache.full(c, _entry(slots, c.handle)) for c in listed]}


def _entry(slots: dict[int, Any], handle: int) -> entries.EntrySnapshot | None:
    slot = slots.get(handle)
    return slot.entry if slot is not None else None


async def m_stats(s: Session, p: wm.HandleIn, more: bool) -> dict[str, Any]:
    return await s.manager.statistics(s.uid, p.handle)


async def m_projection(s: Session, p: wm.HandleIn, more: bool) -> dict[str, Any]:
    return await s.manager.projection(s.uid, p.handle)


async def m_wait_deleted(s: Session, p: wm.HandleIn, more: bool) -> dict[str, Any]:
    """Return once ``handle`` is deleted (or at once if it is unknown to the caller)."""
    await _wait_deleted(s, p.handle)
    return {}


async def _wait_deleted(s: Session, handle: int) -> None:
    if s.manager.table.visible(handle, s.uid) is not None:
        gone = s.manager.deleted_future(handle)
        await asyncio.wait({gone, s.gone}, return_when=asyncio.FIRST_COMPLETED)
        s.manager.flush()  # gone from the table on disk too


async def m_subscribe(s: Session, p: wm.SubscribeIn, more: bool) -> dict[str, Any] | None:
    sub = s.subscriber(p.handle)
    s.manager.subscribers.add(sub)
    if not more:
        s.manager.subscribers.discard(sub)
        return {}
    await s.stream(sub, {"event": "subscribed"}, lambda ev: False)
    return None


async def m_history(s: Session, p: wm.NoParams, more: bool) -> dict[str, Any]:
    mine = [h for h in s.manager.table.history if s.uid == 0 or h.get("owner") == s.uid]
    return {"disconnects": mine}


async def m_get_info(s: Session, p: wm.NoParams, more: bool) -> dict[str, Any]:
    return {
        "vendor": "openras",
        "product": "rasman",
        "version": __version__,
        "url": "https://openras.invalid",
        "interfaces": ["org.varlink.service", P.INTERFACE],
    }


#: The interface in varlink's IDL, so that ``varlinkctl introspect`` can show it; made from
#: the message types (wire/messages.py), so it says what the daemon really takes.
INTERFACE_IDL = wm.interface_description(P.INTERFACE)


async def m_get_interface_description(s: Session, p: wm.InterfaceIn, more: bool) -> dict[str, Any]:
    if p.interface != P.INTERFACE:
        raise errors.InvalidParameter(detail="unknown interface")
    return {"description": INTERFACE_IDL}


#: The parameter type of each method (the interface's, and varlink's own two).
PARAMS: dict[str, type[Any]] = {
    **{f"{P.INTERFACE}.{name}": kinds[0] for name, kinds in wm.METHODS.items()},
    "org.varlink.service.GetInfo": wm.NoParams,
    "org.varlink.service.GetInterfaceDescription": wm.InterfaceIn,
}

METHODS: dict[str, Handler] = {
    P.PING: m_ping,
    P.DIAL: m_dial,
    P.DIAL_INPUT: m_dial_input,
    P.HANG_UP: m_hang_up,
    P.GET_STATUS: m_status,
    P.ENUM: m_enum,
    P.STATISTICS: m_stats,
    P.PROJECTION: m_projection,
    P.SUBSCRIBE: m_subscribe,
    P.HISTORY: m_history,
    P.WAIT_DELETED: m_wait_deleted,
    P.GET_CREDENTIALS: m_get_credentials,
    P.SET_CREDENTIALS: m_set_credentials,
    P.ENTRY_RENAMED: m_entry_renamed,
    P.ENTRY_DELETED: m_entry_deleted,
    "org.varlink.service.GetInfo": m_get_info,
    "org.varlink.service.GetInterfaceDescription": m_get_interface_description,
}


def _serve_socket(loop: asyncio.AbstractEventLoop, conn: socket.socket, session: Session) -> None:
    """Make ``session`` the protocol of the accepted ``conn`` now. The selector loop's own
    transport factory, without ``connect_accepted_socket``'s coroutine (a task and a future
    per connection just to wait for ``connection_made``); another loop gets that."""
    make = getattr(loop, "_make_socket_transport", None)
    if make is not None:
        make(conn, session)
        return

    def made(task: asyncio.Task[Any]) -> None:
        if task.cancelled() or task.exception() is not None:
            conn.close()
            session._end_input()

    loop.create_task(loop.connect_accepted_socket(lambda: session, conn)).add_done_callback(made)


class AlreadyRunning(Exception):
    """Another rasman owns this state dir or this socket; this one must not touch either."""


def policy_limits(manager: Manager, uid: int) -> Limits:
    """The quota caps of ``uid``: the defaults, with what the administrator's policy sets
    for that user or their groups (max-connections, dial-burst, dial-rate)."""
    base = limits_for(uid)
    if uid == 0:
        return base
    set_ = policy.quota_overrides(manager.policy.current(), policy.Caller.of(uid))
    if not set_:
        return base
    return replace(
        base,
        live=int(set_.get("max-connections", base.live or 0)) or base.live,
        dial_burst=int(set_.get("dial-burst", base.dial_burst or 0)) or base.dial_burst,
        dial_rate=set_.get("dial-rate", base.dial_rate),
    )


class Server:
    def _limits(self, uid: int) -> Limits:
        return policy_limits(self.manager, uid)

    def __init__(self, manager: Manager, socket_path: Path) -> None:
        self.manager = manager
        self.socket_path = socket_path
        self.methods = dict(METHODS)
        self.params = dict(PARAMS)
        self.credentials = CredentialStore(manager.state_dir)
        self._listener: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sessions: set[Session] = set()
        self._per_pid: Counter[int] = Counter()
        #: Per-uid quotas (sessions, buffered bytes; the Dial handler asks it for the dial
        #: rate and live connections: see openras.manager.quota).
        self.quota = Quota(self._limits)
        self._by_uid: dict[int, set[Session]] = {}
        self._log_limiter = LogLimiter()

    @staticmethod
    def check_socket_free(path: Path) -> None:
        """Raise AlreadyRunning if a daemon answers on ``path``; remove a stale socket.

        Unlinking a live socket would steal it: its daemon keeps running, unreachable.
        """
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
        except FileNotFoundError:
            return
        except ConnectionRefusedError:
            log.info("removing stale socket %s", path)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return
        except OSError as exc:
            raise AlreadyRunning(f"cannot use socket {path}: {exc.strerror}") from None
        finally:
            probe.close()
        raise AlreadyRunning(f"another daemon is listening on {path}")

    async def start(self) -> None:
        paths.check_runtime_dir(self.socket_path)
        self.socket_path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        self.check_socket_free(self.socket_path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o111 if os.geteuid() == 0 else 0o177)
        try:
            listener.bind(str(self.socket_path))
            listener.listen(ACCEPT_BACKLOG)
            listener.setblocking(False)
        except BaseException:
            listener.close()
            raise
        finally:
            os.umask(old)
        self._listener = listener
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if nofile != resource.RLIM_INFINITY:
            self.quota.set_session_budget(Quota.session_budget(nofile))
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(listener.fileno(), self._on_acceptable)

    def _on_acceptable(self) -> None:
        """Accept what the backlog holds (a loop turn's worth). A connection over its uid's
        quota is refused right here, without a transport or a task: one reply, one close, a
        few microseconds, so a user connecting in a loop cannot keep the backlog full for
        long. accept() out of descriptors or memory pauses accepting for a second (one
        rate-limited log line, not asyncio's traceback per attempt)."""
        listener = self._listener
        if listener is None:
            return
        for _ in range(ACCEPT_BATCH):
            try:
                conn, _ = listener.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:
                self.note(
                    -1,
                    "cannot accept a client: %s (sessions open: %d); pausing for %g s",
                    exc,
                    self.quota.total_sessions,
                    ACCEPT_RETRY_DELAY,
                    level=logging.WARNING,
                    kind="accept",
                )
                self._pause_accepting()
                return
            self._admit(conn)

    def _pause_accepting(self) -> None:
        if self._listener is None or self._loop is None:
            return
        self._loop.remove_reader(self._listener.fileno())

        def resume() -> None:
            if self._listener is not None and self._loop is not None:
                self._loop.add_reader(self._listener.fileno(), self._on_acceptable)

        self._loop.call_later(ACCEPT_RETRY_DELAY, resume)

    def _admit(self, conn: socket.socket) -> None:
        """A session for ``conn``, or one error reply naming the quota it is over."""
        try:
            conn.setblocking(False)
            creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        except OSError:
            conn.close()
            return
        pid, uid, gid = struct.unpack("3i", creds)
        try:
            self.quota.open_session(uid)
        except QuotaExceeded as exc:
            self.note(uid, "client pid %d uid %d refused: %s", pid, uid, exc.detail, kind="quota")
            with contextlib.suppress(OSError):
                conn.send(encode(P.error_reply(exc)))  # a small reply: the socket takes it
            conn.close()
            return
        assert self._loop is not None
        session = Session(self, (pid, uid, gid))
        try:
            _serve_socket(self._loop, conn, session)
        except BaseException:
            conn.close()
            self.quota.close_session(uid)
            raise
        self._sessions.add(session)
        self._by_uid.setdefault(uid, set()).add(session)
        self._per_pid[pid] += 1
        if self._per_pid[pid] == 1:
            self.manager.session_opened(pid)

    def note(
        self,
        uid: int,
        fmt: str,
        *args: Any,
        level: int = logging.INFO,
        exc_info: bool = False,
        kind: str = "",
    ) -> None:
        """Log a line about what ``uid`` did, at most LOG_BURST per minute per uid and
        ``kind`` (refusals do not hide a cut-off; the lines past that are counted, and the
        count is logged with the next line let through)."""
        verdict = self._log_limiter.check((uid, kind), time.monotonic())
        if verdict.log:
            if verdict.suppressed:
                fmt += f" ({verdict.suppressed} more lines about uid {uid} were suppressed)"
            log.log(level, fmt, *args, exc_info=exc_info)
        elif verdict.first_dropped:
            log.log(level, "uid %d: further lines like this are suppressed for a while", uid)

    def cut_off(self, uid: int, held: int) -> None:
        """``uid`` holds more than its buffered-bytes quota: close all its sessions."""
        victims = list(self._by_uid.get(uid, ()))
        self.note(
            uid,
            "uid %d holds %d bytes, over its quota of %d: closing its %d sessions",
            uid,
            held,
            self.quota.session_limits(uid).buffered or 0,
            len(victims),
            level=logging.WARNING,
            kind="cut-off",
        )
        for session in victims:
            session.abort()

    def _session_done(self, session: Session) -> None:
        """``session`` has ended: its uid's quota and the per-pid count let it go."""
        if session not in self._sessions:
            return
        self._sessions.discard(session)
        uid, pid = session.uid, session.pid
        mine = self._by_uid.get(uid)
        if mine is not None:
            mine.discard(session)
            if not mine:
                del self._by_uid[uid]
        self.quota.close_session(uid, session)
        self._per_pid[pid] -= 1
        if self._per_pid[pid] <= 0:
            del self._per_pid[pid]
            self.manager.session_closed(pid)

    async def close(self) -> None:
        if self._listener is not None:
            if self._loop is not None:
                self._loop.remove_reader(self._listener.fileno())
            self._listener.close()
            self._listener = None
        sessions = list(self._sessions)
        tasks = [t for t in (session._task for session in sessions) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        for session in sessions:
            session._finish()
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
