"""The manager's I/O layer: performs the table's actions and turns link I/O into table events.

The :class:`~openras.manager.table.Table` decides; this class starts and stops links, fans
events out to subscribers, persists the table after every burst of changes, adopts links
after a crash, and keeps one timer for the table's next deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import msgspec

from openras import errors, policy
from openras.dns.service import DnsService
from openras.links.base import (
    DialParams,
    InputNeeded,
    Link,
    LinkEvent,
    LinkFailed,
    LinkLost,
    LinkSpec,
    NumberDialed,
    RecordChanged,
    StateReached,
)
from openras.links.journal import Journal
from openras.links.process import find_marked, kill_and_wait, marker_of
from openras.links.registry import attempts_for, driver_name, load_driver, needs_system_daemon
from openras.links.supervisor import drop_spares
from openras.manager import persist, rows
from openras.manager.credentials import CredentialStore
from openras.manager.entries import EntrySnapshot
from openras.manager.persist import ParamStore, StateStore, boot_id, new_instance_id
from openras.manager.table import (
    Action,
    Conn,
    Deleted,
    DialRequest,
    DialStarted,
    MustWait,
    Phase,
    Publish,
    StartLink,
    StopLink,
    Table,
)
from openras.states import RasConnState

log = logging.getLogger("openras.rasman")

#: How long a dial waits for the same entry's previous connection to finish tearing down.
TEARDOWN_WAIT = 30.0
#: Live rates are measured between statistics calls at least this far apart (seconds)...
RATE_WINDOW = 0.5
#: ... and no further apart than this (else: the average over the whole connection).
RATE_STALE = 60.0
_RUN_DIR = re.compile(r"link-\d{1,18}")


def _table_of(record: dict[str, Any] | None) -> Table | None:
    """The table in a state record, or None if the record does not hold a readable one."""
    if record is None:
        return None
    try:
        return Table.from_record(record.get("table", {}))
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _handle_of_marker(pid: int) -> int | None:
    """The handle in a link process's ``OPENRAS_LINK`` (``instance:handle``), if readable."""
    value = marker_of(pid) or ""
    try:
        return int(value.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return None


#: Events a subscriber may have waiting. One that falls this far behind (its client stopped
#: reading) is dropped and its client disconnected, instead of the daemon's memory growing.
SUBSCRIBER_QUEUE = 4096


def _bounded_queue() -> asyncio.Queue[dict[str, Any] | None]:
    return asyncio.Queue(SUBSCRIBER_QUEUE)


@dataclass(eq=False, slots=True, weakref_slot=True)
class Subscriber:
    """A stream of events for one client call (filtered by the caller's uid)."""

    uid: int
    #: Events; None (put by the session) wakes a reader when its client went away.
    queue: asyncio.Queue[dict[str, Any] | None] = field(default_factory=_bounded_queue)
    handle: int | None = None
    #: Called once when the queue overflows (the server disconnects that client).
    on_overflow: Callable[[], None] | None = None
    dropped: bool = False

    def wants(self, event: dict[str, Any]) -> bool:
        if self.uid != 0 and event.get("owner") != self.uid:
            return False
        return self.handle is None or event.get("handle") == self.handle


class Subscribers:
    """The live event streams, indexed by the handle each follows (None: all of the caller's),
    so that an event is offered only to its own followers: asking every stream made 100
    dials at once cost the daemon quadratically (a dial's stream follows only its handle)."""

    def __init__(self) -> None:
        self._by_handle: dict[int | None, set[Subscriber]] = {}
        #: The key each stream was filed under (its handle when added).
        self._key: dict[Subscriber, int | None] = {}

    def add(self, sub: Subscriber) -> None:
        self.discard(sub)
        self._key[sub] = sub.handle
        self._by_handle.setdefault(sub.handle, set()).add(sub)

    def discard(self, sub: Subscriber) -> None:
        if sub not in self._key:
            return
        key = self._key.pop(sub)
        filed = self._by_handle[key]
        filed.discard(sub)
        if not filed:
            del self._by_handle[key]

    def __contains__(self, sub: object) -> bool:
        return sub in self._key

    def __len__(self) -> int:
        return len(self._key)

    def __iter__(self) -> Iterator[Subscriber]:
        return iter(list(self._key))

    def for_event(self, event: dict[str, Any]) -> list[Subscriber]:
        """The streams that want ``event`` (a copy: delivering may drop one)."""
        followers = list(self._by_handle.get(None, ()))
        handle = event.get("handle")
        if handle is not None:
            followers += self._by_handle.get(handle, ())
        return [sub for sub in followers if sub.wants(event)]


@dataclass(slots=True)
class LinkSlot:
    """What the manager keeps for one handle besides its table row: dropped as one piece
    when the row is deleted (``Manager._forget``)."""

    entry: EntrySnapshot
    params: DialParams
    #: What validate read for the dial, until the link's first start takes it.
    prepared: object | None = field(default=None, repr=False)
    link: Link | None = None
    #: The dial parameters are on disk (for a redial after a daemon restart).
    params_saved: bool = False
    #: A parameters file may exist (False once the save wrote none: the row's deletion,
    #: on the way to status 6, then has no file to remove).
    params_file: bool = True
    #: A hang-up came before the link object existed: stop it as soon as it does.
    stop_wanted: bool = False
    #: The dialer answers the link's questions (RASCS_Interactive); else 703 when asked.
    interactive: bool = False
    #: (monotonic time, bytes sent, bytes received, send bps, receive bps) of the last
    #: statistics call.
    rate_sample: tuple[float, int, int, int, int] | None = None
    #: Link events that came while its Connected waits for its DNS (in order), else None.
    held: list[LinkEvent] | None = None


@dataclass(frozen=True)
class Prepared:
    """What a driver's validate returned for one dial (None for most drivers)."""

    value: object | None = field(default=None, repr=False)


class Manager:
    def __init__(self, state_dir: Path, clock: Callable[[], float] = time.time) -> None:
        self.state_dir = state_dir
        self.links_dir = state_dir / "links"
        self.clock = clock
        self.store = StateStore(state_dir)
        self._dirty = False
        #: Futures of :meth:`persisted`, resolved by the next write.
        self._flush_waiters: list[asyncio.Future[None]] = []
        self.param_store = ParamStore(state_dir)
        self.credentials = CredentialStore(state_dir)
        #: The administrator's dial policy (openras.policy), re-read when the file changes.
        self.policy = policy.Source()
        self.prior_instances: list[str] = []
        self.table = Table()
        self.instance = new_instance_id()
        self.boot = boot_id()
        #: handle -> what the manager keeps of it besides its row (one piece, one lifetime).
        self.slots: dict[int, LinkSlot] = {}
        #: Each row's wire encoding, made again only when the row changes (enumeration).
        self.row_cache = rows.RowCache()
        self.subscribers = Subscribers()
        #: Resolved when the handle's row is deleted (waiters share it; never cancelled).
        self.deleted: dict[int, asyncio.Future[None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None
        #: Each connected link's DNS (openras.dns), journalled in the state dir.
        self.dns = DnsService(state_dir / "dns")

    def link_of(self, handle: int) -> Link | None:
        slot = self.slots.get(handle)
        return slot.link if slot is not None else None

    def entry_of(self, handle: int) -> EntrySnapshot | None:
        slot = self.slots.get(handle)
        return slot.entry if slot is not None else None

    # ------------------------------------------------------------------ start-up and recovery

    async def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.links_dir.mkdir(exist_ok=True, mode=0o700)
        drop_spares(self.links_dir)  # a previous life's
        record = self.store.load()
        table = _table_of(record)
        if record is not None and table is None:
            self.store.set_aside(msgspec.json.encode(record))  # decodable, but not a table
        ids = self.store.load_ids()
        #: Instances whose link markers may be out there: ours, and any a corrupt file names.
        self.prior_instances = persist.instances_in(ids=ids, corrupt=self.store.corrupt)
        if table is not None and record is not None:
            self.instance = str(record.get("instance") or self.instance)
            self.table = table
            if record.get("boot_id") != self.boot:
                # Nothing of a previous boot survives; the handle counter does.
                self.table.rows.clear()
        else:
            if record is not None or self.store.corrupt:
                log.error(
                    "state file %s was unreadable; kept as .corrupt, links it knew are stopped",
                    self.store.path,
                )
            if self.prior_instances:
                self.instance = self.prior_instances[0]
        run_dirs = [d.name for d in self.links_dir.iterdir()] if self.links_dir.is_dir() else []
        self.table.next_handle = max(
            self.table.next_handle,
            persist.handle_floor(ids=ids, corrupt=self.store.corrupt, run_dirs=run_dirs),
        )
        self.table.restored(self.clock())
        self._persist()
        await self.dns.start()
        await self._recover()
        self.flush()
        self._schedule_tick()

    async def _recover(self) -> None:
        """Adopt the links a crashed daemon left, clean up the dead ones, kill strays."""
        adopted: set[int] = set()
        dead: list[int] = []
        for conn in list(self.table.rows.values()):
            info = conn.link or {}
            entry = EntrySnapshot.from_record(info.get("entry", {"name": conn.entry_name}))
            slot = self.slots[conn.handle] = LinkSlot(entry, self._saved_params(conn))
            link: Link | None = None
            if info.get("record") is not None:
                try:
                    cls = load_driver(conn.driver)
                    spec = self._spec(conn, entry, slot.params)
                    link = await cls.adopt(spec, info["record"], self._emitter(conn.handle))
                except errors.RasError as exc:
                    log.warning("handle %d: cannot adopt its link: %s", conn.handle, exc)
            if link is None:
                dead.append(conn.handle)
                if info.get("record") is None:
                    # Started, never recorded (a crash between the spawn and the save): its
                    # journal says what it made, process or not (a kernel interface has none).
                    await self._cleanup_orphan(conn.handle)
                continue
            adopted.add(conn.handle)
            slot.link = link
            log.info("handle %d %s: adopted (%s)", conn.handle, conn.display_name, conn.phase.value)
            self._supervise(conn.handle, link)
            if conn.phase is Phase.DISCONNECTING or conn.phase is Phase.FAILED:
                self._stop_link(conn.handle)
        # Links spawned but never recorded (a crash between spawn and save), or known only to an
        # unreadable table: stop them and clean up after them before their rows go.
        await self._stop_unrecorded(adopted)
        # Adopted links keep their DNS; what dead and unrecorded links left is undone.
        await self.dns.recover(adopted)
        for handle in dead:
            conn = self.table.rows[handle]
            log.info(
                "handle %d %s: link gone while the manager was down", handle, conn.display_name
            )
            if conn.phase is Phase.CONNECTED:
                self._apply(
                    self.table.link_dropped(handle, errors.ERROR_DISCONNECTION, self.clock())
                )
            self._apply(self.table.link_gone(handle, self.clock()))
        for orphan in self.links_dir.iterdir():
            if _RUN_DIR.fullmatch(orphan.name) and int(orphan.name[5:]) not in self.table.rows:
                # A row the table lost (unreadable): what its journal says goes, then the dir.
                await Journal(orphan).replay()
                shutil.rmtree(orphan, ignore_errors=True)
        for handle in self.param_store.handles():
            if handle not in self.table.rows:
                self.param_store.delete(handle)
        self._persist()

    def _saved_params(self, conn: Conn) -> DialParams:
        """What the dial was made with (for a redial): kept params, else saved credentials."""
        kept = self.param_store.load(conn.handle)
        if kept is not None:
            return kept
        admin = False
        try:
            saved = self.credentials.get(conn.owner, conn.phonebook, conn.entry_name)
            entry = self.entry_of(conn.handle)
            if saved is None and (conn.owner == 0 or (entry is not None and entry.all_users)):
                # The all-users defaults, on the same terms as at dial time (server.py).
                saved = self.credentials.get(None, conn.phonebook, conn.entry_name)
                admin = saved is not None and conn.owner != 0
                number = entry.get("PhoneNumber") if entry is not None else None
                if admin and conn.phone_number and conn.phone_number != (number or ""):
                    saved, admin = None, False
        except Exception:  # an unreadable credentials file is no reason to lose a link
            log.warning("handle %d: saved credentials unreadable", conn.handle)
            saved = None
        if saved is None:
            return DialParams(entry_name=conn.entry_name, phone_number=conn.phone_number)
        return DialParams(
            entry_name=conn.entry_name,
            phone_number=conn.phone_number,
            user=saved.user,
            password=saved.password or "",
            domain=saved.domain,
            admin_credentials=admin,
            psk=saved.psk or "",
        )

    async def _stop_unrecorded(self, adopted: set[int]) -> None:
        for prefix in dict.fromkeys([self.instance, *self.prior_instances]):
            for ident in find_marked(f"{prefix}:"):
                handle = _handle_of_marker(ident.pid)
                if prefix == self.instance and handle in adopted:
                    continue
                log.warning("killing unrecorded link process %d (handle %s)", ident.pid, handle)
                await kill_and_wait(ident, 5.0)
                if handle is not None and prefix == self.instance:
                    await self._cleanup_orphan(handle)

    async def _cleanup_orphan(self, handle: int) -> None:
        """What a driver left of a link it never recorded: its hook (if any), the run dir;
        with no row (a crash before the dial's first table write), the run dir's journal."""
        conn = self.table.rows.get(handle)
        if conn is None:
            await Journal(self.links_dir / f"link-{handle}").replay()
        else:
            try:
                cls = load_driver(conn.driver)
                hook = getattr(cls, "cleanup_orphan", None)
                if hook is not None:
                    spec = self._spec(conn, self.slots[handle].entry, DialParams())
                    await asyncio.wait_for(hook(spec), 30)
            except Exception:
                log.exception("handle %d: cleanup of its unrecorded link failed", handle)
        shutil.rmtree(self.links_dir / f"link-{handle}", ignore_errors=True)

    async def shutdown(self) -> None:
        """Stop serving; links keep running (they belong to no client and outlive us)."""
        if self._timer is not None:
            self._timer.cancel()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        self.flush()
        self.store.close()
        drop_spares(self.links_dir)

    # ------------------------------------------------------------------ requests

    def validate(self, uid: int, entry: EntrySnapshot, params: DialParams) -> Prepared:
        """The driver's checks of ``entry`` (blocking: call it in a worker thread). No table
        decision depends on it; what the driver read goes to the link's first start."""
        driver = driver_name(entry)
        why = needs_system_daemon(driver) if os.geteuid() != 0 else None
        if why:
            raise errors.RasError(errors.ERROR_ACCESS_DENIED, why)
        self.grant(uid, entry, params, driver)  # refused by policy: error 5 before anything
        provisional = Conn(
            0, uid, conn_key(uid, entry), entry.name, entry.phonebook, "", "", "", driver
        )
        return Prepared(load_driver(driver).validate(self._spec(provisional, entry, params)))

    def grant(
        self, uid: int, entry: EntrySnapshot, params: DialParams, driver: str
    ) -> policy.Grant:
        """What the policy lets ``uid`` do with this dial; RasError 5 naming the line if
        it may not dial it at all."""
        if uid == 0:
            return _ROOT_ADMIN_GRANT if params.admin_credentials else _ROOT_GRANT
        # A list of attempts runs other drivers: each must be allowed (and the refusal names
        # the real one, not "attempts", which no administrator writes in a policy).
        drivers = (
            [driver] if driver != "attempts" else sorted({d for _, d, _ in attempts_for(entry)})
        )
        current, caller = self.policy.current(), policy.Caller.of(uid)
        grants = [
            policy.decide(current, caller, driver=d, all_users=entry.all_users) for d in drivers
        ]
        return replace(grants[0], admin_credentials=params.admin_credentials)

    async def dial(
        self,
        *,
        uid: int,
        session: int,
        entry: EntrySnapshot,
        params: DialParams,
        subscriber: Subscriber | None = None,
        prepared: Prepared | None = None,
        interactive: bool = False,
    ) -> tuple[Conn, bool]:
        """Start (or join) a connection. Returns the row and whether it was joined.

        ``prepared`` is what :meth:`validate` returned for this entry (the caller ran it in
        a worker thread); without it, it is run here, off the loop.
        """
        driver = driver_name(entry)
        cls = load_driver(driver)
        key = conn_key(uid, entry)
        if prepared is None:
            # Off the event loop: a driver may read profiles or run a helper as the owner
            # (seconds at worst), and every other client would wait.
            prepared = await asyncio.to_thread(self.validate, uid, entry, params)
        deadline = time.monotonic() + TEARDOWN_WAIT
        while True:
            req = DialRequest(
                owner=uid,
                key=key,
                entry_name=entry.name,
                phonebook=entry.phonebook,
                phone_number=params.phone_number or entry.get("PhoneNumber") or "",
                device_type=cls.device_type,
                device_name=cls.device_name,
                driver=driver,
                guid=entry.get("Guid") or "",
                all_users=entry.all_users,
                session=session,
                redial_attempts=_int(entry.get("RedialAttempts"))
                if entry.get("RedialOnLinkFailure") == "1"
                else 0,
                redial_seconds=float(_int(entry.get("RedialSeconds"))),
            )
            result = self.table.dial(req, self.clock())
            if isinstance(result, MustWait):
                gone = self.deleted_future(result.handle)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise errors.RasError(
                        errors.ERROR_PORT_NOT_AVAILABLE, "previous connection still tearing down"
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(gone), remaining)
                continue
            assert isinstance(result, DialStarted)
            if not result.joined:
                self.slots[result.conn.handle] = LinkSlot(
                    entry, params, prepared=prepared.value, interactive=interactive
                )
            if subscriber is not None:
                subscriber.handle = result.conn.handle
                self.subscribers.add(subscriber)
            self._apply(result.actions)
            if result.joined:
                self._persist()
            return result.conn, result.joined

    def _save_params(self, handle: int) -> None:
        slot = self.slots.get(handle)
        conn = self.table.rows.get(handle)
        if slot is None or conn is None or slot.params_saved:
            return
        slot.params_saved = True
        if slot.params == DialParams(entry_name=conn.entry_name, phone_number=conn.phone_number):
            # Nothing a restart could not rebuild from the row (``_saved_params``): no file
            # to create, and remove, per dial.
            slot.params_file = False
            return
        slot.params_file = self.param_store.save(handle, slot.params)

    def hang_up(self, uid: int, handle: int, *, force: bool = False) -> None:
        """RasHangUp: idempotent, the link stopped gracefully then killed at its deadline.
        ``force`` (the owner or root): killed now, for a link that will not stop; a plain
        repeated RasHangUp never turns a graceful stop into a kill, as Windows code calls it
        in loops."""
        if force:
            self._force_stop(uid, handle)
            self._persist()
            return
        self._apply(self.table.hang_up(handle, uid, self.clock()))

    def _force_stop(self, uid: int, handle: int) -> None:
        conn = self.table.visible(handle, uid)
        if conn is None:
            raise errors.InvalidHandle()
        # Every reference goes: each call drops one, the last begins the teardown.
        while conn.phase is not Phase.DISCONNECTING and handle in self.table.rows:
            self._apply(self.table.hang_up(handle, uid, self.clock()))
        link = self.link_of(handle)
        if link is not None:
            log.warning("handle %d: killed at once (forced hang-up by uid %d)", handle, uid)
            link.kill()

    def provide_input(self, uid: int, handle: int, text: str) -> None:
        """The dialer's answer to the link's question (RASCS_Interactive)."""
        conn = self.table.visible(handle, uid)
        if conn is None:
            raise errors.InvalidHandle()
        link = self.link_of(handle)
        if conn.state is not RasConnState.Interactive or link is None:
            raise errors.InvalidParameter(detail="the connection is not waiting for an answer")
        if not link.provide_input(text):
            raise errors.InvalidParameter(detail="the connection is not waiting for an answer")

    def status(self, uid: int, handle: int) -> Conn:
        conn = self.table.visible(handle, uid)
        if conn is None:
            raise errors.InvalidHandle()
        return conn

    async def statistics(self, uid: int, handle: int) -> dict[str, Any]:
        conn = self.status(uid, handle)
        link = self.link_of(handle)
        stats = (
            await link.statistics() if link is not None and conn.phase is Phase.CONNECTED else None
        )
        duration = (
            int((self.clock() - conn.connected_at) * 1000)
            if conn.connected_at and conn.phase is Phase.CONNECTED
            else 0
        )
        sent = stats.bytes_sent if stats else 0
        received = stats.bytes_received if stats else 0
        send_bps, receive_bps = self._rates(handle, sent, received, duration)
        return {
            "bytes_sent": sent,
            "bytes_received": received,
            "frames_sent": stats.frames_sent if stats else 0,
            "frames_received": stats.frames_received if stats else 0,
            "errors": stats.errors if stats else 0,
            "bps": (stats.bps if stats and stats.bps else send_bps + receive_bps),
            "send_bps": send_bps,
            "receive_bps": receive_bps,
            "duration_ms": duration,
        }

    def _rates(self, handle: int, sent: int, received: int, duration_ms: int) -> tuple[int, int]:
        """Live bits per second each way: since the previous statistics call (at least
        RATE_WINDOW ago), else over the whole connection. No sampler runs: a rate costs
        only the calls that ask for it."""
        now = time.monotonic()
        slot = self.slots.get(handle)
        prev = slot.rate_sample if slot is not None else None
        if prev is not None and now - prev[0] < RATE_WINDOW:
            return prev[3], prev[4]
        if prev is not None and now - prev[0] <= RATE_STALE:
            dt = now - prev[0]
            rates = (int((sent - prev[1]) * 8 / dt), int((received - prev[2]) * 8 / dt))
        elif duration_ms > 0:
            rates = (sent * 8000 // duration_ms, received * 8000 // duration_ms)
        else:
            # Within a millisecond of Connected there is no rate yet; not kept as a sample,
            # or it would answer 0 for RATE_WINDOW though bytes flow (a link program that
            # answers its status fast made the next calls see it).
            return (0, 0)
        rates = (max(0, rates[0]), max(0, rates[1]))
        if slot is not None:
            slot.rate_sample = (now, sent, received, *rates)
        return rates

    async def projection(self, uid: int, handle: int) -> dict[str, Any]:
        conn = self.status(uid, handle)
        if conn.phase is not Phase.CONNECTED and conn.state < RasConnState.Projected:
            raise errors.RasError(errors.ERROR_PROJECTION_NOT_COMPLETE)
        link = self.link_of(handle)
        proj = await link.projection() if link is not None else None
        if proj is None:
            raise errors.RasError(errors.ERROR_PROJECTION_NOT_COMPLETE)
        return {
            "interface": proj.interface,
            "local_address": proj.local_address,
            "remote_address": proj.remote_address,
            "local_address_v6": proj.local_address_v6,
            "remote_address_v6": proj.remote_address_v6,
            "dns": list(proj.dns),
            "extra": {**dict(proj.extra), **self.dns.status(handle)},
        }

    def session_closed(self, session: int) -> None:
        # Its failed rows go on the reaper's clock (the table says it changed).
        self._apply(self.table.session_closed(session, self.clock()))

    def session_opened(self, session: int) -> None:
        self.table.session_opened(session)
        self._apply([])

    # ------------------------------------------------------------------ actions

    def _apply(self, actions: list[Action]) -> None:
        # With no action, a deadline may still have moved (a redial that must wait
        # RedialSeconds once its old program is gone): the one timer is re-armed below.
        for action in actions:
            if isinstance(action, StartLink):
                self._start_link(action.handle)
            elif isinstance(action, StopLink):
                self._stop_link(action.handle)
            elif isinstance(action, Publish):
                self._publish(action.event)
            elif isinstance(action, Deleted):
                self._forget(action.handle)
        if actions or self.table.changed:
            self._persist()
        self._schedule_tick()

    def _publish(self, event: dict[str, Any]) -> None:
        kind = event["event"]
        # A dial passes half a dozen states in milliseconds; at INFO only how it ends (the
        # intermediate ones at DEBUG): a log record per state cost a dial about a millisecond.
        level = (
            logging.INFO
            if kind != "state" or event.get("error") or event["state"] == RasConnState.Connected
            else logging.DEBUG
        )
        for sub in self.subscribers.for_event(event):
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                self._drop_subscriber(sub)
        # The line is logged a loop turn later, after the replies this event wakes and the
        # program a new row's StartLink starts (0.1-0.2 ms of CPU each, cold, that stood
        # between a dial's call and its spawn, and between Connected and its reply).
        later = asyncio.get_running_loop().call_soon
        if kind == "state" and log.isEnabledFor(level):
            later(
                log.log,
                level,
                "%d %s %s -> %s%s",
                event["handle"],
                event["entry"],
                _state_name(event.get("old_state")),
                _state_name(event["state"]),
                f" (error {event['error']})" if event.get("error") else "",
            )
        elif kind in ("created", "disconnected"):
            later(
                log.info,
                "%d %s %s%s",
                event["handle"],
                event["entry"],
                kind,
                f" (reason {event['error']})" if event.get("error") else "",
            )

    def _drop_subscriber(self, sub: Subscriber) -> None:
        log.warning("dropping a subscriber of uid %d: %d events unread", sub.uid, sub.queue.qsize())
        self.subscribers.discard(sub)
        sub.dropped = True
        while not sub.queue.empty():
            sub.queue.get_nowait()
        if sub.on_overflow is not None:
            sub.on_overflow()

    def _forget(self, handle: int) -> None:
        slot = self.slots.pop(handle, None)
        self.row_cache.discard(handle)
        if slot is None or slot.params_file:
            self.param_store.delete(handle)
        gone = self.deleted.pop(handle, None)
        if gone is not None and not gone.done():
            gone.set_result(None)

    def deleted_future(self, handle: int) -> asyncio.Future[None]:
        """Done once ``handle``'s row is deleted (a plain future: waiting on it with
        ``asyncio.wait`` costs no helper task). Done at once for an unknown handle."""
        gone = self.deleted.get(handle)
        if gone is None:
            gone = asyncio.get_running_loop().create_future()
            if handle in self.table.rows:
                self.deleted[handle] = gone
            else:
                gone.set_result(None)
        return gone

    async def wait_deleted(self, handle: int) -> None:
        await asyncio.shield(self.deleted_future(handle))

    def _stop_link(self, handle: int) -> None:
        # The link's DNS goes first: lookups must not wait on a tunnel being torn down.
        self._spawn(self.dns.revert(handle))
        link = self.link_of(handle)
        if link is None:
            slot = self.slots.get(handle)
            if slot is not None:
                slot.stop_wanted = True
            return
        link.request_stop()  # the link escalates to SIGKILL by its kill deadline itself

    # ------------------------------------------------------------------ links

    def _spec(self, conn: Conn, entry: EntrySnapshot, params: DialParams) -> LinkSpec:
        run_dir = self.links_dir / f"link-{conn.handle}"
        return LinkSpec(
            handle=conn.handle,
            owner_uid=conn.owner,
            entry=entry,
            params=params,
            run_dir=run_dir,
            marker=f"{self.instance}:{conn.handle}",
            phonebook=_book_path(entry.phonebook) if entry.phonebook else None,
            grant=self._grant_or_least(conn, entry, params),
        )

    def _grant_or_least(self, conn: Conn, entry: EntrySnapshot, params: DialParams) -> policy.Grant:
        """The grant for a link being (re)started or adopted: a policy that no longer lets
        its owner dial it leaves the least (no full tunnel) rather than failing here."""
        try:
            return self.grant(conn.owner, entry, params, conn.driver)
        except errors.RasError as exc:
            return policy.Grant(full_tunnel=False, full_tunnel_rule=exc.detail or "policy")

    def _emitter(self, handle: int) -> Callable[[LinkEvent], None]:
        # A partial, not a closure: one small object per link.
        return functools.partial(self._link_event, handle)

    def _link_event(self, handle: int, event: LinkEvent) -> None:
        slot = self.slots.get(handle)
        held = slot.held if slot is not None else None
        if held is not None:
            held.append(event)  # after the Connected that waits for its DNS
            return
        if (
            isinstance(event, StateReached)
            and event.state is RasConnState.Connected
            and self.dns.enabled
            and slot is not None
            and slot.link is not None
        ):
            # Connected is reported once the link's DNS is in place (as Windows does in
            # its Projected phase): a caller's first lookup after the dial goes through it.
            slot.held = []
            self._spawn(self._connected_with_dns(handle, self._emitter(handle)))
            return
        now = self.clock()
        if isinstance(event, RecordChanged):
            if slot is not None and slot.link is not None:
                record = {"record": slot.link.record(), "entry": slot.entry.to_record()}
                self.table.link_recorded(handle, record)
                self._apply([])
            return
        if isinstance(event, NumberDialed):
            self.table.link_number(handle, event.number)
            self._apply([])
            return
        if isinstance(event, InputNeeded):
            link = self.link_of(handle)
            if slot is not None and slot.interactive:
                self._apply(self.table.link_input(handle, event.prompt, event.echo))
            elif link is not None:
                # Nobody to ask: the attempt fails (703), as Windows fails a dial whose
                # application allows no interaction.
                asyncio.get_running_loop().call_soon(link.provide_input, None)
            return
        if isinstance(event, StateReached):
            self._apply(self.table.link_state(handle, event.state, now))
        elif isinstance(event, LinkFailed):
            if event.detail:
                log.info("handle %d: attempt failed: %s", handle, event.detail)
            self._apply(self.table.link_failed(handle, event.error, now, event.detail))
        elif isinstance(event, LinkLost):
            log.info("handle %d: link dropped: %s", handle, event.detail or event.error)
            self._apply(self.table.link_dropped(handle, event.error, now, event.detail))

    async def _connected_with_dns(self, handle: int, emit: Callable[[LinkEvent], None]) -> None:
        """Apply the link's DNS (bounded; a failure is reported, never fatal), then let its
        Connected, and whatever the link said meanwhile, reach the table."""
        link = self.link_of(handle)
        conn = self.table.rows.get(handle)
        slot = self.slots.get(handle)
        entry = slot.entry if slot is not None else None
        live = conn is not None and conn.phase is not Phase.DISCONNECTING
        if link is not None and entry is not None and live:
            task = self.dns.apply_soon(
                handle, link.projection, entry, may_take_all=link.spec.grant.full_tunnel
            )
            await asyncio.wait({task})
        held: list[LinkEvent] = []
        if slot is not None:
            held, slot.held = slot.held or [], None
        self._apply(self.table.link_state(handle, RasConnState.Connected, self.clock()))
        for event in held:
            emit(event)

    def _start_link(self, handle: int) -> None:
        """Make the link of a StartLink and run it; its entry is in the same write as the
        row (a dial's first reply waits for both), so starting it costs no write of its own.

        The program starts before that write, first in the next loop turn (its task is made
        before the write is scheduled): the dial's table write and first reply no longer
        stand between the call and the spawn. A crash in between leaves a
        marked program and a run dir that no row on disk names; the restart kills the one
        and replays the other's journal (``_stop_unrecorded``, ``_cleanup_orphan``)."""
        conn = self.table.rows.get(handle)
        if conn is None:
            return
        slot = self.slots[handle]
        entry = slot.entry
        prepared, slot.prepared = slot.prepared, None  # a redial reads afresh
        spec = replace(self._spec(conn, entry, slot.params), prepared=prepared)
        link = load_driver(conn.driver)(spec, self._emitter(handle))
        slot.link = link
        self.table.link_recorded(handle, {"record": None, "entry": entry.to_record()})
        self._spawn(self._run_link(handle, link, entry))
        self._apply([])

    async def _run_link(self, handle: int, link: Link, entry: EntrySnapshot) -> None:
        try:
            await link.start()
        except errors.RasError as exc:
            log.info("handle %d: link did not start: %s", handle, exc)
            self._apply(self.table.link_failed(handle, exc.code, self.clock()))
        except Exception as exc:
            log.exception("handle %d: driver error", handle)
            self._apply(self.table.link_failed(handle, errors.ERROR_UNKNOWN, self.clock()))
            del exc
        else:
            self.table.link_recorded(handle, {"record": link.record(), "entry": entry.to_record()})
            self._apply([])
        # Once the program runs, and after what start() left to do (the program's first
        # words): only a redial after a daemon restart reads them.
        asyncio.get_running_loop().call_soon(self._save_params, handle)
        self._supervise(handle, link)

    def _supervise(self, handle: int, link: Link) -> None:
        """Wait for the link's close once its stop begins (a hang-up, or its own end): a
        live link holds no task of the manager's while it runs."""
        slot = self.slots.get(handle)
        if slot is not None and slot.stop_wanted:
            slot.stop_wanted = False
            self._stop_link(handle)
        link.when_stopping(functools.partial(self._link_stopping, handle, link))

    def _link_stopping(self, handle: int, link: Link) -> None:
        self._spawn(self._closed(handle, link))

    async def _closed(self, handle: int, link: Link) -> None:
        try:
            await link.wait_closed()
            # Nothing of the link is left when status answers 6: its DNS neither.
            await self.dns.revert(handle)
        finally:
            # The link removed its run directory (after replaying its journal).
            slot = self.slots.get(handle)
            if slot is not None and slot.link is link:
                slot.link = None
        self._apply(self.table.link_gone(handle, self.clock()))

    # ------------------------------------------------------------------ housekeeping

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("internal task failed", exc_info=task.exception())

    def _persist(self) -> None:
        """Note that the table changed; it is written once the current callbacks are done.

        Deferred (``call_soon``): a burst of changes (a dial makes half a dozen in a few
        milliseconds) costs one write, made after the replies and events it caused were
        sent. A write takes 0.1-0.8 ms under load, and every client would wait for each.
        Replies whose truth must survive a crash call :meth:`flush` first.
        """
        if not self._dirty:
            self._dirty = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Write the table now if it changed since the last write."""
        waiters, self._flush_waiters = self._flush_waiters, []
        try:
            if self._dirty:
                self._dirty = False
                self.table.changed = False
                table = self.table
                self.store.save_table(
                    boot_id=self.boot,
                    instance=self.instance,
                    next_handle=table.next_handle,
                    rows=[conn.encoded() for conn in table.rows.values()],
                    history=list(table.history),
                )
        except BaseException as exc:
            for fut in waiters:
                if not fut.done():
                    fut.set_exception(exc)
            raise
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    async def persisted(self) -> None:
        """Return once the table as it is now is on disk, by the write already scheduled
        (:meth:`_persist`): what waits for it in one loop turn shares that write. A burst of
        dials each flushing at once (for its new row, then before its program starts) wrote
        the whole table twice per dial: O(n) writes of O(n) rows."""
        if not self._dirty:
            return
        fut = asyncio.get_running_loop().create_future()
        self._flush_waiters.append(fut)
        await fut

    @property
    def persist_pending(self) -> bool:
        """Whether a change to the table is not on disk yet (its write is scheduled)."""
        return self._dirty

    def _schedule_tick(self) -> None:
        deadline = self.table.next_deadline()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if deadline is None:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, deadline - self.clock())
        self._timer = loop.call_later(delay, self._tick)

    def _tick(self) -> None:
        self._timer = None
        self._apply(self.table.tick(self.clock()))
        self._schedule_tick()


#: Root's grants, shared by its links (a Grant is frozen).
_ROOT_GRANT = policy.Grant()
_ROOT_ADMIN_GRANT = policy.Grant(admin_credentials=True)


@functools.lru_cache(maxsize=64)
def _book_path(phonebook: str) -> Path:
    """One Path per phonebook for the links' specs (most links share a few books)."""
    return Path(phonebook)


def conn_key(uid: int, entry: EntrySnapshot) -> str:
    """What makes two dials "the same connection": the same user, phonebook and entry.
    Users never share a connection (nor its reference count), so one user's dial can
    neither join nor block another's."""
    return f"{uid}\0{entry.phonebook}\0{entry.name.lower()}"


def _int(raw: str | None) -> int:
    try:
        return int((raw or "0").strip())
    except ValueError:
        return 0


def _state_name(value: object) -> str:
    if value is None:
        return "-"
    try:
        return RasConnState(int(str(value))).name
    except ValueError:
        return str(value)
