"""The connection table: every connection's phase, state and references, decided purely.

Theory of operation (DESIGN.md §2). A connection lives through these phases::

    DIALING --Connected--> CONNECTED --last hang-up / drop--> DISCONNECTING --link gone--> DELETED
       |                                                           ^
       +--a state fails--> FAILED --hang-up-----------------------+

Rules kept here, and nowhere else:

* A handle is a positive integer from a counter that is persisted and never goes back, so a
  stale handle never reaches a newer connection.
* Hang-up returns at once. The handle stays readable (state Disconnected) until the link
  reports it is gone; only then is the row deleted and the handle answers 6.
* A failed attempt keeps its handle, state and error until hung up; if the session that dialed
  it goes away, it is reaped after a grace period.
* Dialing a connected entry adds a reference; the link drops with the last reference.
* Non-root callers see and touch only their own rows.

Every method is synchronous, takes ``now`` and returns :class:`Action` values for the I/O layer
(start/stop a link, publish an event, persist). No ``await`` ever splits a decision.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any, Final

import msgspec

from openras import errors
from openras.states import RasConnState

#: Seconds a failed, abandoned handle stays readable after its owner's session closed.
REAP_GRACE: Final = 60.0
#: Disconnect reasons kept for ``History``.
HISTORY_SIZE: Final = 64
#: The longest failure detail kept (a line or two of the program's own words).
MAX_DETAIL: Final = 400
ROOT: Final = 0

#: The row's deadlines (``Table.next_deadline``).
_DEADLINES: Final = frozenset({"reap_at", "redial_at"})
#: A row's JSON: msgspec encodes the dataclass's fields (enums by value) as to_record has them.
_encode_row = msgspec.json.Encoder().encode


class Phase(enum.StrEnum):
    DIALING = "dialing"
    CONNECTED = "connected"
    FAILED = "failed"
    DISCONNECTING = "disconnecting"


@dataclass
class Conn:
    """One row of the table (persisted as is)."""

    handle: int
    owner: int
    key: str
    entry_name: str
    phonebook: str
    phone_number: str
    device_type: str
    device_name: str
    driver: str
    guid: str = ""
    all_users: bool = False
    phase: Phase = Phase.DIALING
    state: RasConnState = RasConnState.OpenPort
    error: int = 0
    refs: int = 1
    created: float = 0.0
    connected_at: float | None = None
    link_running: bool = False
    #: The driver's record of its program (pid, sockets...), for adoption.
    link: dict[str, Any] | None = None
    redial_left: int = 0
    redial_seconds: float = 0.0
    redial_at: float | None = None
    #: The client process (pid from SO_PEERCRED) that dialed; its failed handles are reaped
    #: only after all its connections are gone.
    session: int = 0
    reap_at: float | None = None
    #: Why the link failed or dropped, in the link program's own words (the driver's reading
    #: of it: "TLS handshake failed", "Cannot ioctl TUNSETIFF: ..."), for the caller.
    detail: str = ""
    #: The number the link dials now, as dialed (a modem's, after the dialing rules; the
    #: alternate being tried); "" until a link says: ``phone_number`` is what was asked.
    dialed_number: str = ""

    def __setattr__(self, name: str, value: Any) -> None:
        # Any change drops the row's cached encoding (``encoded``); a deadline set tells the
        # table's set of timed rows (``Table.next_deadline``). A plain dataclass, so every
        # attribute lives in ``__dict__``.
        attrs = self.__dict__
        attrs[name] = value
        attrs["_encoded"] = None
        if value is not None and name in _DEADLINES:
            timed: set[int] | None = attrs.get("_timed")
            if timed is not None:
                timed.add(self.handle)

    def encoded(self) -> msgspec.Raw:
        """The row's JSON (what :meth:`to_record` encodes to), made again only after a
        change: the table is written after every burst of changes, and encoding each of
        1,000 unchanged rows on every write was most of a write's cost."""
        raw: msgspec.Raw | None = self.__dict__.get("_encoded")
        if raw is None:
            raw = msgspec.Raw(_encode_row(self))
            self.__dict__["_encoded"] = raw
        return raw

    @property
    def display_name(self) -> str:
        """Entry name, or ``.`` + number when dialed without an entry (as RASCONN has it)."""
        return self.entry_name or f".{self.phone_number}"

    def to_record(self) -> dict[str, Any]:
        # A shallow copy: the record is encoded at once, and dataclasses.asdict (a recursive deep
        # copy) made persisting a 1,000-row table cost ~60 ms, on every change, in the event loop.
        rec = {f.name: getattr(self, f.name) for f in fields(self)}
        rec["phase"] = self.phase.value
        rec["state"] = int(self.state)
        return rec

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Conn:
        data = dict(rec)
        data["phase"] = Phase(data["phase"])
        data["state"] = RasConnState(data["state"])
        return cls(**data)


# ---------------------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class StartLink:
    handle: int


@dataclass(frozen=True)
class StopLink:
    handle: int


@dataclass(frozen=True)
class Publish:
    """An event for subscribers (and for a dialer following its attempt)."""

    event: dict[str, Any]


@dataclass(frozen=True)
class Deleted:
    """The row is gone; the I/O layer drops the link object and wakes waiters."""

    handle: int


Action = StartLink | StopLink | Publish | Deleted


@dataclass(frozen=True)
class DialRequest:
    owner: int
    key: str
    entry_name: str
    phonebook: str
    phone_number: str
    device_type: str
    device_name: str
    driver: str
    guid: str = ""
    all_users: bool = False
    session: int = 0
    redial_attempts: int = 0
    redial_seconds: float = 0.0


@dataclass(frozen=True)
class DialStarted:
    conn: Conn
    actions: list[Action]
    joined: bool = False


@dataclass(frozen=True)
class MustWait:
    """The entry is still tearing down; retry once ``handle`` is deleted."""

    handle: int


@dataclass
class Table:
    next_handle: int = 1
    rows: dict[int, Conn] = field(default_factory=dict)
    history: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=HISTORY_SIZE))
    #: Client processes with at least one open connection (not persisted: none survive us).
    live_sessions: set[int] = field(default_factory=set)
    #: A row changed in a way no action shows (a reference dropped, a reap deadline set or
    #: cleared, a link recorded): the I/O layer writes the table and clears this.
    changed: bool = field(default=False, compare=False)
    #: Handles of rows that may have a deadline (a superset: kept by the rows themselves,
    #: pruned by ``next_deadline``), so that finding the next one costs no pass over every
    #: row: the I/O layer asks after each change.
    timed: set[int] = field(default_factory=set, compare=False, repr=False)

    def _add(self, conn: Conn) -> None:
        self.rows[conn.handle] = conn
        conn.__dict__["_timed"] = self.timed
        if conn.reap_at is not None or conn.redial_at is not None:
            self.timed.add(conn.handle)

    # ------------------------------------------------------------------------------ queries

    def visible(self, handle: int, uid: int) -> Conn | None:
        """The row if it exists and ``uid`` may see it (root sees all)."""
        conn = self.rows.get(handle)
        if conn is None or (uid != ROOT and conn.owner != uid):
            return None
        return conn

    def listing(self, uid: int, include_pending: bool = False) -> list[Conn]:
        out = []
        for conn in self.rows.values():
            if uid != ROOT and conn.owner != uid:
                continue
            if conn.phase is Phase.CONNECTED or include_pending:
                out.append(conn)
        return out

    def _live_for_key(self, key: str) -> Conn | None:
        for conn in self.rows.values():
            if conn.key == key and conn.phase is not Phase.FAILED:
                return conn
        return None

    # ------------------------------------------------------------------------------ commands

    def dial(self, req: DialRequest, now: float) -> DialStarted | MustWait:
        """Start an attempt, join a connected one, or say to wait; raise RasError otherwise."""
        live = self._live_for_key(req.key)
        if live is not None:
            if live.owner != req.owner and req.owner != ROOT:
                raise errors.RasError(
                    errors.ERROR_PORT_NOT_AVAILABLE, "the entry is in use by another user"
                )
            if live.phase is Phase.CONNECTED:
                live.refs += 1
                return DialStarted(live, [], joined=True)
            if live.phase is Phase.DIALING:
                raise errors.DialInProgress()
            return MustWait(live.handle)
        handle = self.next_handle
        self.next_handle += 1
        conn = Conn(
            handle=handle,
            owner=req.owner,
            key=req.key,
            entry_name=req.entry_name,
            phonebook=req.phonebook,
            phone_number=req.phone_number,
            device_type=req.device_type,
            device_name=req.device_name,
            driver=req.driver,
            guid=req.guid,
            all_users=req.all_users,
            created=now,
            session=req.session,
            redial_left=req.redial_attempts,
            redial_seconds=req.redial_seconds,
            link_running=True,
        )
        self._add(conn)
        return DialStarted(conn, [StartLink(handle), self._event("created", conn)])

    def hang_up(self, handle: int, uid: int, now: float) -> list[Action]:
        """Drop one reference; raise InvalidHandle for unknown or foreign handles."""
        conn = self.visible(handle, uid)
        if conn is None:
            raise errors.InvalidHandle()
        if conn.phase is Phase.DISCONNECTING:
            return []
        if conn.refs > 1:
            # Another caller still holds it (also while it redials after a link failure).
            conn.refs -= 1
            self.changed = True
            return []
        return self._begin_teardown(
            conn, errors.ERROR_USER_DISCONNECTION if conn.phase is Phase.DIALING else 0, now
        )

    def _begin_teardown(self, conn: Conn, reason: int, now: float) -> list[Action]:
        was = conn.phase
        conn.phase = Phase.DISCONNECTING
        conn.redial_at = None
        conn.reap_at = None
        if was is not Phase.FAILED:
            conn.error = reason
        old = conn.state
        conn.state = RasConnState.Disconnected
        actions: list[Action] = [self._event("state", conn, old=old)]
        if not conn.link_running:
            actions += self._delete(conn, now)
        else:
            actions.insert(0, StopLink(conn.handle))
        return actions

    # ------------------------------------------------------------------------------ link events

    def link_state(self, handle: int, state: RasConnState, now: float) -> list[Action]:
        conn = self.rows.get(handle)
        if conn is None or conn.phase is not Phase.DIALING or state == conn.state:
            return []
        if state is RasConnState.Disconnected:
            return self.link_failed(handle, errors.ERROR_DISCONNECTION, now)
        old = conn.state
        conn.state = state
        if state is RasConnState.Connected:
            conn.phase = Phase.CONNECTED
            conn.connected_at = now
            conn.error = 0
            conn.detail = ""
        return [self._event("state", conn, old=old)]

    def link_input(self, handle: int, prompt: str, echo: bool) -> list[Action]:
        """The link waits for the dialer's answer to ``prompt`` (RASCS_Interactive, a
        paused state: the attempt goes on once answered). The prompt travels in the event
        only; it is the dialer's, who follows the attempt."""
        conn = self.rows.get(handle)
        if conn is None or conn.phase is not Phase.DIALING:
            return []
        old = conn.state
        conn.state = RasConnState.Interactive
        publish = self._event("state", conn, old=old)
        publish.event.update(prompt=prompt[:MAX_DETAIL], echo=echo)
        return [publish]

    def link_failed(self, handle: int, error: int, now: float, detail: str = "") -> list[Action]:
        """The attempt failed in its current state (only meaningful while dialing)."""
        conn = self.rows.get(handle)
        if conn is None:
            return []
        if conn.phase is Phase.CONNECTED:
            return self.link_dropped(handle, error, now, detail)
        if conn.phase is not Phase.DIALING:
            return []
        conn.error = error or errors.ERROR_UNKNOWN
        conn.detail = detail[:MAX_DETAIL]
        if conn.redial_left > 0 and conn.connected_at is not None:
            # A redial after a link failure: try again while attempts last.
            return self._schedule_redial(conn, now)
        conn.phase = Phase.FAILED
        if conn.session not in self.live_sessions:
            conn.reap_at = now + REAP_GRACE
        actions: list[Action] = [self._event("state", conn, old=conn.state)]
        if conn.link_running:
            actions.append(StopLink(handle))
        return actions

    def link_dropped(self, handle: int, error: int, now: float, detail: str = "") -> list[Action]:
        """An established link went down by itself."""
        conn = self.rows.get(handle)
        if conn is None or conn.phase is not Phase.CONNECTED:
            return []
        reason = error or errors.ERROR_DISCONNECTION
        conn.detail = detail[:MAX_DETAIL]
        if conn.redial_left > 0:
            self._remember(conn, reason, now, redialing=True)
            conn.error = reason
            return self._schedule_redial(conn, now)
        return self._begin_teardown(conn, reason, now)

    def _schedule_redial(self, conn: Conn, now: float) -> list[Action]:
        conn.redial_left -= 1
        conn.phase = Phase.DIALING
        old = conn.state
        conn.state = RasConnState.OpenPort
        conn.redial_at = now + conn.redial_seconds
        actions: list[Action] = [self._event("state", conn, old=old, redial=True)]
        if conn.link_running:
            actions.append(StopLink(conn.handle))
        return actions

    def link_gone(self, handle: int, now: float) -> list[Action]:
        """The program exited and its leftovers are removed."""
        conn = self.rows.get(handle)
        if conn is None:
            return []
        conn.link_running = False
        conn.link = None
        self.changed = True
        if conn.phase is Phase.DISCONNECTING:
            return self._delete(conn, now)
        if conn.phase is Phase.DIALING:
            if conn.redial_at is not None:
                return self._maybe_redial(conn, now)
            return self.link_failed(handle, conn.error or errors.ERROR_DISCONNECTION, now)
        if conn.phase is Phase.CONNECTED:
            return self.link_dropped(handle, errors.ERROR_DISCONNECTION, now)
        return []

    def link_number(self, handle: int, number: str) -> None:
        """The link dials ``number`` now (RASCONNSTATUS's szPhoneNumber)."""
        conn = self.rows.get(handle)
        if conn is not None and conn.dialed_number != number:
            conn.dialed_number = number[:MAX_DETAIL]
            self.changed = True

    def link_recorded(self, handle: int, link: dict[str, Any]) -> None:
        """What finds the row's link again after a restart (its record and entry), set by
        the I/O layer when the link starts and once its program runs."""
        conn = self.rows.get(handle)
        if conn is not None:
            conn.link = link
            self.changed = True

    def _maybe_redial(self, conn: Conn, now: float) -> list[Action]:
        if conn.link_running or conn.redial_at is None or conn.redial_at > now:
            return []
        conn.redial_at = None
        conn.link_running = True
        return [StartLink(conn.handle)]

    # ------------------------------------------------------------------------------ sessions, time

    def session_closed(self, session: int, now: float) -> list[Action]:
        """Every connection of the client that dialed is gone: its failed handles are
        reaped after a grace period unless it comes back."""
        self.live_sessions.discard(session)
        for conn in self.rows.values():
            if conn.session == session and conn.phase is Phase.FAILED and conn.reap_at is None:
                conn.reap_at = now + REAP_GRACE
                self.changed = True
        return []

    def session_opened(self, session: int) -> None:
        """A client process connected (again): its failed handles are not abandoned."""
        self.live_sessions.add(session)
        for conn in self.rows.values():
            if conn.session == session and conn.phase is Phase.FAILED and conn.reap_at is not None:
                conn.reap_at = None
                self.changed = True

    def next_deadline(self) -> float | None:
        """When :meth:`tick` next has work. A redial still waiting for its old program to exit
        is no deadline (``link_gone`` starts it): the I/O layer re-arms its one timer from this,
        and a past deadline that ``tick`` cannot act on would make that timer fire in a loop."""
        times: list[float] = []
        for handle in list(self.timed):
            c = self.rows.get(handle)
            if c is None or (c.reap_at is None and c.redial_at is None):
                self.timed.discard(handle)
                continue
            if c.reap_at is not None:
                times.append(c.reap_at)
            if c.redial_at is not None and not c.link_running:
                times.append(c.redial_at)
        return min(times, default=None)

    def tick(self, now: float) -> list[Action]:
        actions: list[Action] = []
        for conn in list(self.rows.values()):
            if conn.reap_at is not None and conn.reap_at <= now and conn.phase is Phase.FAILED:
                actions += self._begin_teardown(conn, 0, now)
            elif conn.redial_at is not None and conn.phase is Phase.DIALING:
                actions += self._maybe_redial(conn, now)
        return actions

    # ------------------------------------------------------------------------------ restart

    def restored(self, now: float) -> None:
        """After a daemon restart no client session exists: failed rows start their grace."""
        for conn in self.rows.values():
            if conn.phase is Phase.FAILED and conn.reap_at is None:
                conn.reap_at = now + REAP_GRACE

    def to_record(self) -> dict[str, Any]:
        return {
            "next_handle": self.next_handle,
            "rows": [c.to_record() for c in self.rows.values()],
            "history": list(self.history),
        }

    def to_encodable(self) -> dict[str, Any]:
        """What :meth:`to_record` gives, with each row as its own JSON (``Conn.encoded``,
        spliced in as it is by msgspec): copying each row into a dict first was most of the
        daemon's CPU per dial with 100 dials at once, and encoding every unchanged row on
        every write still cost O(rows) of it (the table is written after every burst of
        changes)."""
        return {
            "next_handle": self.next_handle,
            "rows": [conn.encoded() for conn in self.rows.values()],
            "history": list(self.history),
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Table:
        table = cls(next_handle=int(rec.get("next_handle", 1)))
        for row in rec.get("rows", []):
            conn = Conn.from_record(row)
            table._add(conn)
            table.next_handle = max(table.next_handle, conn.handle + 1)
        table.history.extend(rec.get("history", []))
        return table

    # ------------------------------------------------------------------------------ helpers

    def _delete(self, conn: Conn, now: float) -> list[Action]:
        del self.rows[conn.handle]
        self._remember(conn, conn.error or errors.ERROR_USER_DISCONNECTION, now)
        ev = self._event("disconnected", conn)
        return [ev, Deleted(conn.handle)]

    def _remember(self, conn: Conn, reason: int, now: float, *, redialing: bool = False) -> None:
        self.history.append(
            {
                "redialing": redialing,
                "handle": conn.handle,
                "entry": conn.display_name,
                "owner": conn.owner,
                "error": reason,
                "time": now,
                "connected_at": conn.connected_at,
                "detail": conn.detail,
            }
        )

    @staticmethod
    def _event(
        kind: str, conn: Conn, *, old: RasConnState | None = None, redial: bool = False
    ) -> Publish:
        ev: dict[str, Any] = {
            "event": kind,
            "handle": conn.handle,
            "owner": conn.owner,
            "entry": conn.display_name,
            "phase": conn.phase.value,
            "state": int(conn.state),
            "error": conn.error,
        }
        if conn.detail and conn.error:
            ev["detail"] = conn.detail
        if conn.dialed_number:  # a telephone number: the dialer may promote an alternate
            ev["dialed_number"] = conn.dialed_number
        if old is not None:
            ev["old_state"] = int(old)
        if redial:
            ev["redial"] = True
        return Publish(ev)


def handles(rows: Iterable[Conn]) -> list[int]:
    return [c.handle for c in rows]
