"""The rasphone Textual app: a live table of connections, fed by rasman's event stream.

State comes from events, never from polling: each event names a handle and the app asks the
daemon for that handle's status (as RasConnectionNotification users call RasGetConnectStatus),
so the table shows the daemon's truth even if events are coalesced or arrive around a resync.
Only statistics and the duration refresh on a one-second timer. The daemon may be absent or
restart at any time: a banner says so, the feed reconnects with backoff and then resyncs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Final

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static
from textual.widgets.data_table import CellDoesNotExist

from openras import errors
from openras.aclient import AsyncClient
from openras.client import Client, SavedCredentials
from openras.records import ConnectionInfo, Event
from openras.tui.feed import Subscription
from openras.tui.host import Host
from openras.tui.view import (
    COLUMNS,
    Credentials,
    EntryChoice,
    Row,
    describe,
    error_line,
    state_name,
)
from openras.wire import protocol as P

log = logging.getLogger("openras.rasphone")

#: Lines of recent events kept per connection for the details screen.
RECENT_EVENTS: Final = 50
#: Ended connections whose events and end note stay viewable.
KEEP_ENDED: Final = 100
#: Seconds the daemon may take to answer the feed's calls before it counts as unreachable.
CALL_TIMEOUT: Final = 15.0
#: Bound on waiting for a hang-up to finish (the daemon kills a stuck link well before this).
TEARDOWN_TIMEOUT: Final = 60.0
_QUIET_REASONS: Final = frozenset({0, errors.ERROR_USER_DISCONNECTION})


def _unreachable(exc: BaseException) -> bool:
    """The daemon is gone (the feed reconnects), as opposed to a refusal of one request."""
    return isinstance(exc, errors.ManagerUnavailable | OSError | TimeoutError)


def _cell(value: str) -> Text:
    """A table cell: plain text (never markup), cut with an ellipsis in a fixed column."""
    return Text(value, no_wrap=True, overflow="ellipsis")


class ConnectionTable(DataTable[Text]):
    """The connections, one row per handle (row key = the handle as text)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Details"),
    ]


class MainScreen(Screen[None]):
    """Banner, connections table and key help."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "app.dial", "Dial"),
        Binding("h", "app.hang_up", "Hang up"),
        Binding("delete", "app.hang_up", "Hang up", show=False),
        Binding("H", "app.hang_up_all", "Hang up all"),
        Binding("e", "app.entry", "Entry"),
        # Not in the footer (80 columns): the hint line and the entry list name them.
        Binding("n", "app.new_entry", "New entry", show=False),
        Binding("i", "app.import_entries", "Import", show=False),
        Binding("q", "app.quit", "Quit"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="banner", markup=False)
        table = ConnectionTable(id="connections", cursor_type="row", zebra_stripes=True)
        for key, label, width in COLUMNS:
            table.add_column(label, key=key, width=width)
        yield table
        yield Static(id="hint", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(ConnectionTable).focus()
        app = self.app
        assert isinstance(app, RasphoneApp)
        app.view_ready = True
        app.sync_view()  # the feed may have run before this screen was ready

    def on_data_table_row_selected(self, message: DataTable.RowSelected) -> None:
        if message.row_key.value is not None:
            app = self.app
            assert isinstance(app, RasphoneApp)
            app.open_details(int(message.row_key.value))


class RasphoneApp(App[int]):
    """``RasphoneApp(socket=path, phonebook=file).run()``; exit code 0."""

    TITLE = "rasphone"
    SUB_TITLE = "Remote Access connections"
    CSS = """
    #banner { display: none; height: auto; padding: 0 1; background: $error; color: $text; }
    #banner.-shown { display: block; }
    App:nocolor #banner { text-style: reverse bold; }
    #connections { height: 1fr; }
    #connections.-stale { opacity: 60%; }
    #hint { height: 1; width: 100%; padding: 0 1; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        socket: str | Path | None = None,
        phonebook: str | Path | None = None,
        *,
        autostart: bool = True,
        retry_min: float = 0.25,
        retry_max: float = 5.0,
    ) -> None:
        super().__init__()
        self.socket_path = Path(socket) if socket else None
        self.phonebook = Path(phonebook) if phonebook else None
        self.autostart = autostart
        self.retry_min = retry_min
        self.retry_max = retry_max
        #: The live session with rasman (None while it is unreachable).
        self.client: AsyncClient | None = None
        self.rows: dict[int, Row] = {}
        self.recent: dict[int, deque[str]] = {}
        #: Why the last connection ended, kept for a details screen still open on it.
        self.ended: dict[int, str] = {}
        #: Handles whose row was dropped (they answered 6, or vanished): never shown again.
        self.gone: dict[int, None] = {}
        self.banner: str = ""
        #: Every notification shown (severity, text): the toasts vanish, this is for tests.
        self.notices: list[tuple[str, str]] = []
        self._main = MainScreen()
        #: The main screen's widgets exist (changes before that are drawn by sync_view).
        self.view_ready = False
        self._ticking = False

    # ------------------------------------------------------------------ framework hooks

    def get_default_screen(self) -> Screen[None]:
        return self._main

    def on_mount(self) -> None:
        self._set_banner("Connecting to the connection manager…")
        self.run_worker(self._feed(), name="feed", group="feed", exit_on_error=False)
        self.set_interval(1.0, self._tick)

    # ------------------------------------------------------------------ small helpers

    @property
    def table(self) -> ConnectionTable:
        return self._main.query_one(ConnectionTable)

    def tell(self, text: str, *, severity: SeverityLevel = "information", title: str = "") -> None:
        """Notify without markup (texts carry entry names and daemon messages)."""
        self.notices.append((severity, text))
        self.notify(text, title=title, severity=severity, markup=False)

    def _set_banner(self, text: str) -> None:
        self.banner = text
        if not self.view_ready:
            return
        banner = self._main.query_one("#banner", Static)
        banner.update(Text(text))
        banner.set_class(bool(text), "-shown")
        self.table.set_class(bool(text), "-stale")
        self._update_hint()

    def sync_view(self) -> None:
        """Draw everything known so far: banner, rows, hint (updates before mount are skipped)."""
        self._set_banner(self.banner)
        for row in list(self.rows.values()):
            self._render_row(row)
        self._update_hint()

    def _update_hint(self) -> None:
        if not self.view_ready:
            return
        n = len(self.rows)
        what = (
            "no connections (d dials, n adds an entry, i imports)"
            if n == 0
            else f"{n} connection{'s' * (n != 1)}"
        )
        where = "offline" if self.client is None else "connected to rasman"
        self._main.query_one("#hint", Static).update(Text(f"{what} · {where}"))

    def selected_handle(self) -> int | None:
        table = self.table
        if table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        except CellDoesNotExist:  # the cursor sits outside the rows while they change
            return None
        return int(key.value) if key.value is not None else None

    # ------------------------------------------------------------------ the live feed

    async def _feed(self) -> None:
        """Subscribe, resync, follow events; on loss show the banner and retry with backoff."""
        delay = self.retry_min
        attempt = 0
        while True:
            client = AsyncClient(self.socket_path, autostart=self.autostart)
            sub: Subscription | None = None
            reason = "the event stream ended"
            try:
                async with asyncio.timeout(CALL_TIMEOUT):
                    await client.connect()
                    sub = await Subscription.open(self.socket_path, autostart=self.autostart)
                    self.client = client
                    await self._resync(client)
                self._set_banner("")
                delay, attempt = self.retry_min, 0
                async for event in sub:
                    # A daemon that stops answering is treated as gone: reconnecting
                    # closes this client, which also frees anyone waiting on it.
                    async with asyncio.timeout(CALL_TIMEOUT):
                        await self._on_event(client, event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep the UI alive whatever happens on the wire
                reason = describe(exc)
                if not _unreachable(exc):
                    log.exception("rasphone feed")
            finally:
                self.client = None
                if sub is not None:
                    await sub.close()
                await client.close()
            attempt += 1
            self._set_banner(
                f"! Connection manager not reachable: {reason}. "
                f"Retrying in {delay:.1f} s (attempt {attempt}); the rows may be out of date."
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.retry_max)

    async def _resync(self, client: AsyncClient) -> None:
        infos = await client.connections(include_pending=True)
        current = {info.handle for info in infos}
        for handle in list(self.rows):
            if handle not in current:
                self._drop_row(handle, "gone while the connection manager was unreachable")
        for info in infos:
            await self._apply(client, info)
        self._update_hint()

    async def _on_event(self, client: AsyncClient, event: Event) -> None:
        self._remember(event)
        row = self.rows.get(event.handle)
        dropped = event.phase == "disconnecting" or event.kind == "disconnected"
        was_up = row is not None and row.info.connected_at is not None and not row.announced
        if dropped and event.error not in _QUIET_REASONS and row is not None and was_up:
            row.announced = True
            self.tell(
                f"{row.label} disconnected: {error_line(event.error)}",
                severity="error",
                title="Link dropped",
            )
        if event.kind == "disconnected":
            self.ended[event.handle] = (
                f"Disconnected: {error_line(event.error)}"
                if event.error not in _QUIET_REASONS
                else "Disconnected."
            )
        await self.refresh_handle(client, event.handle)

    def _remember(self, event: Event) -> None:
        lines = self.recent.setdefault(event.handle, deque(maxlen=RECENT_EVENTS))
        stamp = time.strftime("%H:%M:%S")
        what = state_name(event.state) if event.kind == "state" else event.kind
        reason = f" — {error_line(event.error)}" if event.error else ""
        lines.append(f"{stamp} {what} ({event.phase}){reason}")

    async def refresh_handle(self, client: AsyncClient, handle: int) -> None:
        """Show the daemon's current record of ``handle``; drop the row once it answers 6."""
        try:
            info = await client.status(handle)
        except errors.InvalidHandle:
            self._drop_row(handle, None)
            return
        await self._apply(client, info)

    async def _apply(self, client: AsyncClient, info: ConnectionInfo) -> None:
        row = self.rows.get(info.handle)
        if row is None and info.handle in self.gone:
            # A status answered before the handle went, read after its row was dropped:
            # handles are never reused, so it is stale (it brought a "Disconnecting" row
            # back for good when a hang-up's and the feed's reads crossed).
            return
        if row is None:
            row = self.rows[info.handle] = Row(info)
        row.info = info
        if info.phase == "connected" and row.projection is None:
            try:
                row.projection = await client.projection(info.handle)
            except errors.RasError as exc:
                if _unreachable(exc):
                    raise
        self._render_row(row)
        self._notify_views(info.handle)

    def _render_row(self, row: Row) -> None:
        if not self.view_ready:
            return
        table = self.table
        key = str(row.handle)
        cells = row.cells(time.time())
        if key in table.rows:
            for column, value in cells.items():
                table.update_cell(key, column, _cell(value), update_width=True)
        else:
            table.add_row(*(_cell(cells[k]) for k, _, _ in COLUMNS), key=key)
        self._update_hint()

    def _forget_old(self) -> None:
        """Keep the event logs and end notes of recent handles only (the UI may run for weeks)."""
        for book in (self.recent, self.ended, self.gone):
            for handle in list(book)[: max(0, len(book) - KEEP_ENDED)]:
                if handle not in self.rows:
                    del book[handle]

    def _drop_row(self, handle: int, why: str | None) -> None:
        self._forget_old()
        row = self.rows.pop(handle, None)
        self.gone[handle] = None
        if why is not None:
            self.ended.setdefault(handle, f"Gone: {why}.")
        else:
            self.ended.setdefault(handle, "Disconnected.")
        if self.view_ready and str(handle) in self.table.rows:
            self.table.remove_row(str(handle))
        self._update_hint()
        from openras.tui.screens import ConfirmHangUp

        for screen in list(self.screen_stack):
            if isinstance(screen, ConfirmHangUp) and handle in screen.handles:
                label = row.label if row is not None else f"handle {handle}"
                screen.vanished(handle, label)
        self._notify_views(handle)

    def _notify_views(self, handle: int) -> None:
        from openras.tui.screens import DetailsScreen

        for screen in self.screen_stack:
            if isinstance(screen, DetailsScreen) and screen.handle == handle:
                screen.show()

    async def _tick(self) -> None:
        """Once a second: statistics of connected rows (bytes, throughput) and durations."""
        if self._ticking:
            return
        self._ticking = True
        try:
            client = self.client
            for row in list(self.rows.values()):
                if client is not None and row.info.phase == "connected":
                    try:
                        row.add_sample(await client.statistics(row.handle), time.monotonic())
                    except errors.RasError as exc:
                        if _unreachable(exc):
                            client = None  # the feed shows the banner and reconnects
                    except OSError:
                        client = None
                elif client is not None and row.info.phase == "disconnecting":
                    # Going: read it again, so a row whose last status was read just before
                    # the handle went (no later event to say so) is dropped within a second.
                    try:
                        await self.refresh_handle(client, row.handle)
                    except (errors.RasError, OSError):
                        client = None
                if self.rows.get(row.handle) is row:
                    self._render_row(row)
                    self._notify_views(row.handle)
        except Exception:  # a refresh must never take the UI down
            log.exception("rasphone statistics refresh")
        finally:
            self._ticking = False

    # ------------------------------------------------------------------ actions

    def _need_client(self) -> AsyncClient | None:
        if self.client is None:
            self.tell(
                "The connection manager is not reachable; try again when it is back.",
                severity="error",
            )
        return self.client

    def action_hang_up(self) -> None:
        handle = self.selected_handle()
        if handle is None or handle not in self.rows:
            self.tell("Select a connection first.", severity="warning")
            return
        self.confirm_hang_up([handle])

    def action_hang_up_all(self) -> None:
        if not self.rows:
            self.tell("There are no connections to hang up.", severity="warning")
            return
        self.confirm_hang_up(sorted(self.rows))

    def confirm_hang_up(self, handles: Iterable[int]) -> None:
        from openras.tui.screens import ConfirmHangUp

        wanted = {h: self.rows[h].label for h in handles if h in self.rows}

        def done(ok: bool | None) -> None:
            if ok:
                for handle in sorted(screen.handles):
                    self.run_worker(self.hang_up(handle), group="hang-up", exit_on_error=False)

        screen = ConfirmHangUp(wanted)
        self.push_screen(screen, done)

    async def hang_up(self, handle: int) -> None:
        """End ``handle``: the row shows the teardown until the handle answers 6."""
        client = self._need_client()
        row = self.rows.get(handle)
        label = row.label if row is not None else f"handle {handle}"
        if client is None:
            return
        if row is not None:
            row.hanging_up = True
            self._render_row(row)
        try:
            await client.hang_up(handle, wait=False)
            info = await client.status(handle)
            if info.phase == "connected":
                # Another program dialed the same entry: only our reference went.
                self.tell(
                    f"{label} stays up: another program still uses it ({info.refs} left).",
                    severity="warning",
                )
                if row is not None:
                    row.hanging_up = False
                await self._apply(client, info)
                return
            await self._apply(client, info)
            async with asyncio.timeout(TEARDOWN_TIMEOUT):
                await client.wait_gone(handle)
            await self.refresh_handle(client, handle)
        except errors.InvalidHandle:
            self._drop_row(handle, None)
        except TimeoutError:
            self.tell(
                f"{label} is still tearing down after {TEARDOWN_TIMEOUT:g} s.", severity="warning"
            )
        except (errors.RasError, OSError) as exc:
            if row is not None and self.rows.get(handle) is row:
                row.hanging_up = False
                self._render_row(row)
            self.tell(
                f"Hang-up of {label} failed: {describe(exc)}",
                severity="error",
                title="Hang-up failed",
            )

    def action_dial(self) -> None:
        self.run_worker(self._dial_flow(), group="dial", exclusive=True, exit_on_error=False)

    async def _dial_flow(self) -> None:
        from openras.tui.screens import CredentialsScreen, DialScreen, EntryPicker

        choice = await self.push_screen_wait(EntryPicker(self.phonebook))
        if choice is None:
            return
        for row in self.rows.values():
            if (
                row.info.phase == "connected"
                and row.info.entry_name.casefold() == choice.name.casefold()
                and Path(row.info.phonebook) == choice.book
            ):
                self.tell(f"{choice.name} is already connected.", severity="warning")
                return
        if choice.needs_psk and not await self._psk_saved(choice):
            return
        user = password = ""
        saved = await self.saved_credentials(choice) if choice.needs_credentials else None
        if saved is not None:
            user = saved.user
        # Saved credentials are used as they are (an empty user and password tell the daemon
        # so); a retry after a failure always asks, since what is saved may be what failed.
        ask = choice.needs_credentials and not (saved is not None and saved.has_password)
        has_saved = saved is not None and saved.has_password
        creds: Credentials | None = None
        needed = False  # the daemon said the dial lacks a user name and password
        while True:
            if ask:
                creds = await self.push_screen_wait(
                    CredentialsScreen(choice.name, user, saved_password=has_saved, needed=needed)
                )
                if creds is None:
                    return
                user, password = creds.user, creds.password
            dial_user = user if ask else ""
            outcome = await self.push_screen_wait(DialScreen(choice, dial_user, password))
            if outcome == "connected" and creds is not None:
                await self.keep_credentials(choice, creds, had_password=has_saved)
            if outcome not in ("retry", "credentials"):
                return
            ask, needed = True, outcome == "credentials"

    async def keep_credentials(
        self, choice: EntryChoice, creds: Credentials, *, had_password: bool
    ) -> None:
        """After a successful dial: save what was typed when "Save password" was ticked; forget
        a saved password when it was unticked (as Windows does). Through the daemon, which
        keeps them in root-only files; the password is never shown again."""
        if not creds.save and not had_password:
            return
        socket, autostart = self.socket_path, self.autostart
        book = choice.dial_phonebook

        def run() -> None:
            with Client(socket, autostart=autostart, timeout=CALL_TIMEOUT) as client:
                if creds.save:
                    client.save_credentials(
                        choice.name, book, user=creds.user, password=creds.password
                    )
                else:
                    client.forget_credentials(choice.name, book)
                    if creds.user:
                        client.save_credentials(choice.name, book, user=creds.user)

        try:
            await asyncio.to_thread(run)
        except (errors.RasError, OSError) as exc:
            self.tell(
                f"The password for {choice.name} was not saved: {describe(exc)}. "
                "The next dial asks again.",
                severity="error",
            )
            return
        if creds.save:
            self.tell(f"Password saved for {choice.name}; the next dial uses it.")
        else:
            self.tell(f"The saved password of {choice.name} was forgotten.")

    async def saved_credentials(self, choice: EntryChoice) -> SavedCredentials | None:
        """What the daemon has saved for the entry (never the password), or None when it
        has nothing or cannot say (then the form asks, as without saved credentials)."""
        saved = await self._saved(choice)
        return saved if saved is not None and (saved.user or saved.has_password) else None

    async def _saved(self, choice: EntryChoice) -> SavedCredentials | None:
        client = self.client
        if client is None:
            return None
        try:
            async with asyncio.timeout(CALL_TIMEOUT):
                return await client.credentials(choice.name, choice.dial_phonebook)
        except (errors.RasError, OSError) as exc:  # TimeoutError is an OSError
            log.info("saved credentials of %s unknown: %s", choice.name, describe(exc))
            return None

    async def _psk_saved(self, choice: EntryChoice) -> bool:
        """An L2TP/IPsec entry has its pre-shared key saved, or the user types it now and
        it is saved for the entry through the daemon (as Windows keeps it with the entry).
        False: cancelled, or it could not be saved (said why)."""
        from openras.tui.screens import PresharedKeyScreen

        saved = await self._saved(choice)
        if saved is not None and saved.has_psk:
            return True
        key = await self.push_screen_wait(PresharedKeyScreen(choice.name))
        if key is None:
            return False
        socket, autostart, book = self.socket_path, self.autostart, choice.dial_phonebook

        def run() -> None:
            with Client(socket, autostart=autostart, timeout=CALL_TIMEOUT) as client:
                client.save_credentials(choice.name, book, psk=key)

        try:
            await asyncio.to_thread(run)
        except (errors.RasError, OSError) as exc:
            self.tell(
                f"The pre-shared key for {choice.name} was not saved: {describe(exc)}.",
                severity="error",
            )
            return False
        self.tell(f"Pre-shared key saved for {choice.name}.")
        return True

    def open_details(self, handle: int) -> None:
        from openras.tui.screens import DetailsScreen

        if handle in self.rows:
            self.push_screen(DetailsScreen(handle))

    def action_entry(self) -> None:
        handle = self.selected_handle()
        row = self.rows.get(handle) if handle is not None else None
        if row is None:
            self.tell("Select a connection first.", severity="warning")
            return
        self.show_entry(row.info)

    def show_entry(self, info: ConnectionInfo) -> None:
        from openras.tui.screens import EntryScreen

        if not info.entry_name or not info.phonebook:
            self.tell("This connection was dialed without a phonebook entry.", severity="warning")
            return
        self.push_screen(EntryScreen(Path(info.phonebook), info.entry_name))

    # ------------------------------------------------------------------ phonebook changes

    @property
    def target_book(self) -> Path:
        """Where new and imported entries go: ``-f FILE``, else the user's own phonebook."""
        from openras.tui.entries import target_book

        return target_book(self.phonebook)

    def _refused(self, book: Path) -> bool:
        """Tell and return True when ``book`` may not be changed by this user."""
        from openras.tui.entries import Refused, refuse_read_only

        try:
            refuse_read_only(book)
        except Refused as exc:
            self.tell(str(exc), severity="error", title="Read-only phonebook")
            return True
        return False

    def _changed(self, text: str | None, select: str | None = None) -> None:
        """A form closed: say what it did and redraw the entry lists."""
        if not text:
            return
        self.tell(text)
        from openras.tui.screens import EntryPicker

        for screen in self.screen_stack:
            if isinstance(screen, EntryPicker):
                screen.reload(select)

    def action_new_entry(self) -> None:
        from openras.tui.forms import EntryForm

        book = self.target_book
        if self._refused(book):
            return
        form = EntryForm(book)

        def done(text: str | None) -> None:
            self._changed(text, form.query_one("#name", Input).value.strip() if text else None)

        self.push_screen(form, done)

    def action_import_entries(self) -> None:
        from openras.tui.forms import ImportScreen

        book = self.target_book
        if self._refused(book):
            return
        form = ImportScreen(book)
        self.push_screen(
            form, lambda text: self._changed(text, form.added[0] if form.added else None)
        )

    def edit_entry(self, book: Path, name: str) -> None:
        from openras.tui.forms import EntryForm

        if not self._refused(book):
            self.push_screen(EntryForm(book, name), lambda text: self._changed(text, name))

    def rename_entry(self, book: Path, name: str) -> None:
        from openras.tui.forms import RenameScreen

        if self._refused(book):
            return
        form = RenameScreen(book, name)

        def done(text: str | None) -> None:
            if text:
                self.run_worker(
                    self._tell_daemon(book, P.ENTRY_RENAMED, {"old": name, "new": form.new_name}),
                    group="entries",
                    exit_on_error=False,
                )
            self._changed(text, form.new_name)

        self.push_screen(form, done)

    def delete_entry(self, book: Path, name: str) -> None:
        from openras.tui.forms import ConfirmDelete

        if self._refused(book):
            return

        def done(ok: bool | None) -> None:
            if ok:
                self.run_worker(self._delete(book, name), group="entries", exit_on_error=False)

        self.push_screen(ConfirmDelete(book, name), done)

    async def _delete(self, book: Path, name: str) -> None:
        """RasDeleteEntry's rules: refused while the entry is connected (817); its saved
        credentials go with it."""
        from openras.tui.entries import Refused, delete, spellings

        client = self.client
        if client is None:
            self.tell(
                f"{name} was not deleted: the connection manager is not reachable, so it "
                "cannot be checked that nothing is connected with it. Try again when it is back.",
                severity="error",
            )
            return
        try:
            async with asyncio.timeout(CALL_TIMEOUT):
                conns = await client.connections(include_pending=True)
        except (errors.RasError, OSError) as exc:
            self.tell(f"{name} was not deleted: {describe(exc)}.", severity="error")
            return
        where = set(spellings(book))
        if any(
            c.phonebook
            and set(spellings(Path(c.phonebook))) & where
            and c.entry_name.casefold() == name.casefold()
            for c in conns
        ):
            self.tell(
                f"{name} was not deleted: {error_line(errors.ERROR_CANNOT_DELETE)} "
                "Hang it up first.",
                severity="error",
            )
            return
        try:
            await asyncio.to_thread(delete, book, name)
        except Refused as exc:
            self.tell(str(exc), severity="error")
            return
        await self._tell_daemon(book, P.ENTRY_DELETED, {"entry": name})
        self._changed(f"Deleted {name} from {book}.")

    async def _tell_daemon(self, book: Path, method: str, params: dict[str, str]) -> None:
        """The daemon re-files or drops the saved credentials of a renamed or deleted entry
        (best effort, as RasRenameEntry/RasDeleteEntry: the phonebook change stands)."""
        from openras.tui.entries import spellings

        client = self.client
        if client is None:
            return
        for where in spellings(book):
            try:
                async with asyncio.timeout(CALL_TIMEOUT):
                    await client.transport.call(method, {**params, "phonebook": where})
            except (errors.RasError, OSError) as exc:
                log.info("%s for %s: %s", method, where, describe(exc))


if TYPE_CHECKING:

    def _is_a_host(app: RasphoneApp) -> Host:
        return app  # mypy checks that the app gives the screens what they ask of it
