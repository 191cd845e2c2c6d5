"""rasphone's dialogs and detail views (everything above the connections table)."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Checkbox, DataTable, Footer, Header, Input, Sparkline, Static
from textual.worker import Worker

from openras import errors
from openras.records import Event
from openras.tui.host import Host
from openras.tui.view import (
    Credentials,
    EntryChoice,
    describe,
    entry_properties,
    error_line,
    fmt_bytes,
    fmt_duration,
    list_entries,
    owner_name,
    phase_label,
    state_name,
)

_DIALOG_CSS = """
    {name} {{ align: center middle; }}
    {name} > #dialog {{
        width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: round $accent; padding: 0 1; background: $surface;
    }}
    {name} .title {{ text-style: bold; }}
    {name} .hint {{ color: $text-muted; }}
"""


#: How a saved password is shown (Windows' RasGetCredentials gives 16 asterisks back).
SAVED_MASK = "*" * 16


def _host(screen: Screen[Any]) -> Host:
    app = screen.app
    assert isinstance(app, Host)
    return app


class ConfirmHangUp(ModalScreen[bool]):
    """Asks before hanging up; closes by itself if every connection it names ends meanwhile."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="ConfirmHangUp")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes, hang up"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, labels: dict[int, str]) -> None:
        super().__init__()
        self.labels = dict(labels)
        self.handles = set(labels)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self._question(), id="question", classes="title", markup=False)
            yield Static("y: hang up    n / Esc: keep", classes="hint", markup=False)
        yield Footer()

    def _question(self) -> str:
        names = [self.labels[h] for h in sorted(self.labels)]
        if len(names) == 1:
            return f"Hang up {names[0]}?"
        return f"Hang up all {len(names)} connections?\n{', '.join(names)}"

    def action_answer(self, ok: bool) -> None:
        self.dismiss(ok and bool(self.handles))

    def vanished(self, handle: int, label: str) -> None:
        """The connection ended before the answer: drop it; with none left, close."""
        self.handles.discard(handle)
        self.labels.pop(handle, None)
        if self.handles:
            if self.is_mounted:
                self.query_one("#question", Static).update(Text(self._question()))
            return
        _host(self).tell(f"{label} ended before the hang-up was confirmed.", severity="warning")
        if self.app.screen is self:
            self.dismiss(False)


class EntryPicker(ModalScreen[EntryChoice | None]):
    """The phonebook entries (all-users and the user's, or ``-f``): Enter picks one."""

    DEFAULT_CSS = (
        _DIALOG_CSS.format(name="EntryPicker")
        + """
    EntryPicker #entries { height: auto; max-height: 12; }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("e", "properties", "Entry"),
        Binding("n", "app.new_entry", "New"),
        Binding("E", "edit", "Edit"),
        Binding("r", "rename", "Rename"),
        Binding("delete", "delete", "Delete"),
        Binding("i", "app.import_entries", "Import"),
    ]

    def __init__(self, phonebook: Path | None) -> None:
        super().__init__()
        self.phonebook = phonebook
        self.choices: list[EntryChoice] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("Dial: choose an entry", classes="title", markup=False)
            table: DataTable[Text] = DataTable(id="entries", cursor_type="row")
            table.add_column("Entry", key="name")
            table.add_column("Device", key="device")
            table.add_column("Host / number", key="host")
            table.add_column("Phonebook", key="book")
            yield table
            yield Static(id="problems", markup=False)
            yield Static(
                "Enter: dial    e: properties    E: edit    r: rename    Del: delete\n"
                "n: new entry    i: import a .pbk, .ovpn or .conf file    Esc: cancel",
                classes="hint",
                markup=False,
            )
        yield Footer()

    def on_mount(self) -> None:
        self.reload()

    def reload(self, select: str | None = None) -> None:
        """(Re)list the entries; the cursor goes to ``select`` when given, else stays."""
        table = self.query_one("#entries", DataTable)
        at = table.cursor_row
        table.clear()
        self.choices, problems = list_entries(self.phonebook)
        if select is not None:
            folded = select.casefold()
            at = next((i for i, c in enumerate(self.choices) if c.name.casefold() == folded), at)
        for i, c in enumerate(self.choices):
            table.add_row(
                Text(c.name), Text(c.device), Text(c.host), Text(c.book_label), key=str(i)
            )
        lines = list(problems)
        if not self.choices and not problems:
            from openras.phonebook import system_phonebook_path, user_phonebook_path

            books = (
                [self.phonebook]
                if self.phonebook
                else [system_phonebook_path(), user_phonebook_path()]
            )
            lines.append("No entries to dial in " + " or ".join(map(str, books)) + ".")
        self.query_one("#problems", Static).update(Text("\n".join(lines)))
        if self.choices:
            table.move_cursor(row=max(0, min(at, len(self.choices) - 1)))
        table.focus()

    def _highlighted(self) -> EntryChoice | None:
        table = self.query_one("#entries", DataTable)
        if not self.choices:
            return None
        return self.choices[min(table.cursor_row, len(self.choices) - 1)]

    def on_data_table_row_selected(self, message: DataTable.RowSelected) -> None:
        message.stop()
        if message.row_key.value is not None:
            self.dismiss(self.choices[int(message.row_key.value)])

    def action_properties(self) -> None:
        choice = self._highlighted()
        if choice is not None:
            self.app.push_screen(EntryScreen(choice.book, choice.name))

    def _chosen(self) -> EntryChoice | None:
        choice = self._highlighted()
        if choice is None:
            _host(self).tell(
                "There is no entry to change: n adds one, i imports.", severity="warning"
            )
        return choice

    def action_edit(self) -> None:
        if choice := self._chosen():
            _host(self).edit_entry(choice.book, choice.name)

    def action_rename(self) -> None:
        if choice := self._chosen():
            _host(self).rename_entry(choice.book, choice.name)

    def action_delete(self) -> None:
        if choice := self._chosen():
            _host(self).delete_entry(choice.book, choice.name)


class SaveBox(Checkbox, inherit_bindings=False):
    """A checkbox Space ticks; Enter goes to the form (dials), as in the fields."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_button", "Toggle", show=False),
    ]


class CredentialsScreen(ModalScreen[Credentials | None]):
    """User name and (masked) password for one dial, and "Save password": when ticked, the
    app saves them through the daemon once the dial has succeeded (a mistyped password is
    never kept); unticked while a password is saved, it forgets that one."""

    DEFAULT_CSS = (
        _DIALOG_CSS.format(name="CredentialsScreen")
        + """
    CredentialsScreen #save { margin-top: 1; }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("enter", "submit", "Dial", show=False),
    ]

    def __init__(
        self, entry: str, user: str = "", *, saved_password: bool = False, needed: bool = False
    ) -> None:
        super().__init__()
        self.entry = entry
        self.user = user
        self.saved_password = saved_password
        #: The daemon refused a dial without them (``needs="credentials"``): say so.
        self.needed = needed

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"Connect {self.entry}", classes="title", markup=False)
            yield Static("User name:", markup=False)
            yield Input(value=self.user, placeholder="user name", id="user")
            yield Static("Password:", markup=False)
            yield Input(password=True, placeholder="password", id="password")
            yield SaveBox(
                "Save password (once the dial succeeds)",
                self.saved_password,
                id="save",
                compact=True,
            )
            if self.needed:
                yield Static(
                    f"{self.entry} needs a user name and password.",
                    classes="hint",
                    markup=False,
                )
            elif self.saved_password:
                yield Static(
                    f"A saved password ({SAVED_MASK}) did not work: type it again.",
                    classes="hint",
                    markup=False,
                )
            yield Static(
                "Enter: dial    Tab: next field (Space ticks the box)    Esc: cancel",
                classes="hint",
                markup=False,
            )
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#password" if self.user else "#user", Input).focus()

    def on_input_submitted(self, message: Input.Submitted) -> None:
        message.stop()
        if message.input.id == "user":
            self.query_one("#password", Input).focus()
            return
        self.action_submit()

    def action_submit(self) -> None:
        self.dismiss(
            Credentials(
                self.query_one("#user", Input).value,
                self.query_one("#password", Input).value,
                self.query_one("#save", Checkbox).value,
            )
        )


class QuestionScreen(ModalScreen[str | None]):
    """The server's question while dialing (a one-time code: RASCS_Interactive), typed
    masked unless the server says the answer may be shown. None: cancelled (the attempt is
    hung up)."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="QuestionScreen")
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, entry: str, prompt: str, echo: bool) -> None:
        super().__init__()
        self.entry = entry
        self.prompt = prompt
        self.echo = echo

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"{self.entry} asks", classes="title", markup=False)
            yield Static(self.prompt, markup=False)
            yield Input(password=not self.echo, id="answer")
            yield Static("Enter: answer    Esc: cancel the dial", classes="hint", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#answer", Input).focus()

    def on_input_submitted(self, message: Input.Submitted) -> None:
        message.stop()
        self.dismiss(message.value or None)


class PresharedKeyScreen(ModalScreen[str | None]):
    """An L2TP/IPsec entry's pre-shared key (Windows keeps it with the entry: Security,
    Advanced settings), asked for when none is saved, typed masked; the app saves it
    through the daemon for the entry, never in the phonebook. None: cancelled."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="PresharedKeyScreen")
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, entry: str) -> None:
        super().__init__()
        self.entry = entry

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"Pre-shared key for {self.entry}", classes="title", markup=False)
            yield Static(
                "This L2TP/IPsec entry needs the key its server's administrator gave you. "
                "It is kept for the entry by rasman (a root-only file), not in the phonebook.",
                markup=False,
            )
            yield Input(password=True, placeholder="pre-shared key", id="psk")
            yield Static("Enter: save and dial    Esc: cancel", classes="hint", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#psk", Input).focus()

    def on_input_submitted(self, message: Input.Submitted) -> None:
        message.stop()
        if message.value:
            self.dismiss(message.value)


class DialScreen(ModalScreen[str]):
    """Dials one entry and shows each state; on failure the error and code, and the failed
    handle is hung up (as a RasDial caller must). Result: connected|failed|cancelled|retry, or
    credentials when the daemon refused the dial for lacking a user name and password (the
    app then asks for them instead of showing the error)."""

    DEFAULT_CSS = (
        _DIALOG_CSS.format(name="DialScreen")
        + """
    DialScreen #progress { height: auto; max-height: 12; }
    DialScreen #outcome { text-style: bold; }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Cancel / close"),
        Binding("enter", "close", "Close", show=False),
        Binding("r", "retry", "Retry"),
    ]

    def __init__(self, choice: EntryChoice, user: str = "", password: str = "") -> None:
        super().__init__()
        self.choice = choice
        self._user = user
        self._password = password
        self.handle = 0
        self.outcome = "dialing"
        self.lines: list[str] = []
        self._worker: Worker[None] | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"Dialing {self.choice.name}", classes="title", markup=False)
            yield Static(id="progress", markup=False)
            yield Static(id="outcome", markup=False)
            yield Static("Esc: cancel", id="keys", classes="hint", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self._worker = self.run_worker(self._dial(), name="dial", exit_on_error=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "retry":
            return self.outcome == "failed" and self.choice.needs_credentials
        return True

    def _progress(self, line: str) -> None:
        self.lines.append(line)
        self.query_one("#progress", Static).update(Text("\n".join(self.lines[-12:])))

    def _on_state(self, event: Event) -> None:
        if event.handle:
            self.handle = event.handle
        failed = f": failed ({event.error})" if event.phase == "failed" else ""
        self._progress(f"{state_name(event.state)}{failed}")

    def _finish(self, outcome: str, text: str) -> None:
        self.outcome = outcome
        self.query_one("#outcome", Static).update(Text(text))
        keys = "r: retry with other credentials    " if self.check_action("retry", ()) else ""
        self.query_one("#keys", Static).update(Text(f"{keys}Enter / Esc: close"))
        self.refresh_bindings()

    async def _dial(self) -> None:
        app = _host(self)
        client = app.client
        if client is None:
            self._finish("failed", "The connection manager is not reachable; cannot dial.")
            return
        self._progress("Dialing…")
        try:
            await client.dial(
                self.choice.name,
                self.choice.dial_phonebook,
                user=self._user,
                password=self._password,
                on_state=self._on_state,
                on_input=self._ask,
            )
        except (errors.RasError, OSError) as exc:
            if isinstance(exc, errors.RasError) and exc.needs == errors.NEEDS_CREDENTIALS:
                # Refused before anything started (no handle): not an error to show.
                self.outcome = "credentials"
                self.dismiss("credentials")
                return
            handle = exc.handle if isinstance(exc, errors.RasError) and exc.handle else self.handle
            text = describe(exc)
            if handle:
                try:
                    await client.hang_up(handle, wait=False)
                    text += "\nThe failed attempt was hung up."
                except (errors.RasError, OSError) as hang_exc:
                    text += f"\nHanging up the failed attempt failed too: {describe(hang_exc)}"
            self._finish("failed", text)
            return
        app.tell(f"Connected to {self.choice.name}.")
        self.outcome = "connected"
        self.dismiss("connected")

    async def _ask(self, prompt: str, echo: bool) -> str | None:
        """The server's question, answered in a dialog (the dial worker waits for it)."""
        self._progress(f"Waiting for your answer: {prompt}")
        return await self.app.push_screen_wait(QuestionScreen(self.choice.name, prompt, echo))

    def action_retry(self) -> None:
        if self.outcome == "failed":
            self.dismiss("retry")

    async def action_close(self) -> None:
        if self.outcome != "dialing":
            self.dismiss(self.outcome)
            return
        # Cancel: stop following the attempt and hang it up (it belongs to no one else).
        self.outcome = "cancelled"
        if self._worker is not None:
            self._worker.cancel()
        client = _host(self).client
        if self.handle and client is not None:
            with contextlib.suppress(errors.RasError, OSError):
                await client.hang_up(self.handle, wait=False)
        self.dismiss("cancelled")


class DetailsScreen(Screen[None]):
    """One connection: status, projection, statistics with a throughput graph, recent events."""

    DEFAULT_CSS = """
    DetailsScreen #body { padding: 0 1; }
    DetailsScreen .section { text-style: bold; margin-top: 1; }
    DetailsScreen #graph { height: 3; margin: 0 0; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,backspace", "app.pop_screen", "Back"),
        Binding("h", "hang_up", "Hang up"),
        Binding("e", "entry", "Entry"),
        Binding("q", "app.pop_screen", "Back", show=False),
    ]

    def __init__(self, handle: int) -> None:
        super().__init__()
        self.handle = handle
        self._ready = False  # is_mounted turns true only after on_mount returns

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="body"):
            yield Static(id="status", markup=False)
            yield Static("Projection", classes="section", markup=False)
            yield Static(id="projection", markup=False)
            yield Static("Statistics", classes="section", markup=False)
            yield Static(id="stats", markup=False)
            yield Sparkline([], id="graph")
            yield Static("Recent events (newest first)", classes="section", markup=False)
            yield Static(id="events", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self._ready = True
        self.show()

    def show(self) -> None:
        """Redraw from the app's current knowledge (called on every change and each second)."""
        if not self._ready:
            return
        app = _host(self)
        row = app.rows.get(self.handle)
        status = self.query_one("#status", Static)
        if row is None:
            status.update(
                Text(f"Handle {self.handle}: {app.ended.get(self.handle, 'Disconnected.')}")
            )
        else:
            i = row.info
            lines = [
                f"{row.label}   handle {i.handle}   {phase_label(i, hanging_up=row.hanging_up)}",
                f"State: {i.state.rascs_name} ({int(i.state)})   phase {i.phase}"
                + (f"   {error_line(i.error)}" if i.error else ""),
                f"Device: {row.device}   Owner: {owner_name(i.owner)}   References: {i.refs}",
                f"Phonebook: {i.phonebook or '-'}" + ("  (all users)" if i.all_users else ""),
                f"Connected for: {fmt_duration(row.duration(time.time())) or '-'}",
            ]
            status.update(Text("\n".join(lines)))
        p = row.projection if row is not None else None
        if p is None:
            proj = "Not available (the connection is not projected)."
        else:
            proj = (
                f"Interface {p.interface or '-'}   local {p.local_address or '-'}   remote {p.remote_address or '-'}"
                + (
                    f"\nIPv6 local {p.local_address_v6}   remote {p.remote_address_v6}"
                    if p.local_address_v6
                    else ""
                )
                + (f"\nDNS {', '.join(p.dns)}" if p.dns else "")
            )
        self.query_one("#projection", Static).update(Text(proj))
        s = row.stats if row is not None else None
        rates = list(row.rates) if row is not None else []
        if s is None:
            stats = "No statistics yet."
        else:
            now_rate = f"{fmt_bytes(int(rates[-1]))}/s" if rates else "-"
            peak = f"{fmt_bytes(int(max(rates)))}/s" if rates else "-"
            stats = (
                f"In {fmt_bytes(s.bytes_received)} ({s.frames_received} frames)   "
                f"Out {fmt_bytes(s.bytes_sent)} ({s.frames_sent} frames)   errors {s.errors}\n"
                f"Throughput now {now_rate}, peak {peak} (graph: last {len(rates)} s)"
            )
        self.query_one("#stats", Static).update(Text(stats))
        self.query_one("#graph", Sparkline).data = rates or [0.0]
        events = list(reversed(app.recent.get(self.handle, ())))[:10]  # newest first
        self.query_one("#events", Static).update(Text("\n".join(events) or "None seen yet."))

    def action_hang_up(self) -> None:
        app = _host(self)
        if self.handle in app.rows:
            app.confirm_hang_up([self.handle])
        else:
            app.tell("This connection has already ended.", severity="warning")

    def action_entry(self) -> None:
        app = _host(self)
        row = app.rows.get(self.handle)
        if row is not None:
            app.show_entry(row.info)


class EntryScreen(ModalScreen[None]):
    """An entry's properties, block by block, as the phonebook holds them (secrets masked)."""

    DEFAULT_CSS = (
        _DIALOG_CSS.format(name="EntryScreen")
        + """
    EntryScreen #props { height: auto; max-height: 18; }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,q", "dismiss(None)", "Close"),
        Binding("e", "edit", "Edit"),
    ]

    def __init__(self, book: Path, name: str) -> None:
        super().__init__()
        self.book = book
        self.entry = name

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"Entry {self.entry}  ({self.book})", classes="title", markup=False)
            with VerticalScroll(id="props"):
                yield Static(id="text", markup=False)
            yield Static("e: edit    Esc: close", classes="hint", markup=False)
        yield Footer()

    def action_edit(self) -> None:
        app = _host(self)
        self.dismiss(None)
        app.edit_entry(self.book, self.entry)

    def on_mount(self) -> None:
        try:
            blocks = entry_properties(self.book, self.entry)
        except errors.RasError as exc:
            text = describe(exc)
        else:
            out: list[str] = []
            for title, items in blocks:
                out.append(title)
                out.extend(f"  {k} = {v}" for k, v in items)
            text = "\n".join(out)
        self.query_one("#text", Static).update(Text(text))
        self.query_one("#props", VerticalScroll).focus()
