"""rasphone's phonebook forms: new entry, edit, rename, delete (confirmed) and import.

Each form does its change itself (in a thread: the phonebook lock may be held a moment by
another writer) and stays open showing the reason when it is refused, so the user can fix
the field; on success it closes with a sentence the app shows as a notification.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Select, Static, TextArea

from openras import errors
from openras.phonebook import load
from openras.tui import entries
from openras.tui.entries import DEVICES, Change, NewEntry, Refused
from openras.tui.screens import _DIALOG_CSS
from openras.tui.view import describe, device_of

_FORM_CSS = """
    {name} .row {{ height: 1; margin-top: 1; }}
    {name} .label {{ width: 16; }}
    {name} .row Input, {name} .row Select {{ width: 1fr; }}
    {name} #keys {{ height: 5; background: $boost; }}
    {name} #error {{ color: $error; height: auto; }}
    {name} .note {{ color: $text-muted; height: auto; }}
"""


def _css(name: str) -> str:
    return _DIALOG_CSS.format(name=name) + _FORM_CSS.format(name=name)


def _row(label: str, widget: Input | Select[str], row_id: str = "") -> Horizontal:
    return Horizontal(
        Static(label, classes="label", markup=False), widget, classes="row", id=row_id or None
    )


class _Form(ModalScreen[str | None]):
    """Shared: Ctrl+S (or Enter in the last field) saves, Esc cancels, refusals shown."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("ctrl+s", "save", "Save"),
    ]
    _busy = False

    def show_error(self, text: str) -> None:
        self.query_one("#error", Static).update(Text(text))

    async def save(self) -> str:  # pragma: no cover - each form has its own
        raise NotImplementedError

    async def action_save(self) -> None:
        if self._busy:
            return
        self._busy = True
        try:
            done = await self.save()
        except Refused as exc:
            self.show_error(str(exc))
        except (errors.RasError, OSError) as exc:  # not foreseen: still no traceback
            self.show_error(f"{describe(exc)}. Nothing was changed.")
        else:
            self.dismiss(done)
        finally:
            self._busy = False

    async def on_input_submitted(self, message: Input.Submitted) -> None:
        """Enter moves to the next field; in the last one it saves."""
        message.stop()
        fields = [w for w in self.query("Input, Select, TextArea") if w.display and w.can_focus]
        i = fields.index(message.input) if message.input in fields else -1
        if 0 <= i < len(fields) - 1:
            fields[i + 1].focus()
        else:
            await self.action_save()


class EntryForm(_Form):
    """New entry (``name`` None) or the edit of an existing one in ``book``."""

    DEFAULT_CSS = _css("EntryForm")

    def __init__(self, book: Path, name: str | None = None) -> None:
        super().__init__()
        self.book = book
        self.entry = name
        self._device = ""  # the edited entry's OpenRasDevice ("" when it has none)
        self._host = ""
        self._lines = ""
        self._windows_device = ""

    def _load(self) -> None:
        """The edited entry's current values (Refused when it is gone or unreadable)."""
        assert self.entry is not None
        try:
            entry = load(self.book).find(self.entry)
        except errors.RasError as exc:
            raise Refused(f"Cannot read {self.book}: {errors.message(exc.code)}") from None
        if entry is None:
            raise Refused(f"{self.entry} is no longer in {self.book}.")
        self._device = (entry.openras("Device") or "").strip().lower()
        self._windows_device = "" if self._device else device_of(entry)
        self._host = entry.phone_number or ""
        self._lines = "\n".join(f"{k}={v}" for k, v in entries.editable_lines(entry))

    def compose(self) -> ComposeResult:
        problem = ""
        if self.entry is not None:
            try:
                self._load()
            except Refused as exc:
                problem = str(exc)
        new = self.entry is None
        title = "New entry" if new else f"Edit {self.entry}"
        options = [(d, d) for d in DEVICES]
        with Vertical(id="dialog"):
            yield Static(f"{title}  ({self.book})", classes="title", markup=False)
            if new:
                yield _row("Name", Input(placeholder="e.g. Office VPN", id="name", compact=True))
            device: Select[str] = Select(
                options,
                value=self._device
                if self._device in DEVICES
                else (Select.NULL if not new else "loopback"),
                allow_blank=not new,
                prompt=f"(Windows: {self._windows_device or 'none'}; unchanged)",
                id="device",
                compact=True,
            )
            yield _row("Device", device)
            yield _row(
                "Host / number",
                Input(
                    self._host,
                    placeholder="host, host:port or phone number",
                    id="host",
                    compact=True,
                ),
            )
            if new:
                yield _row("Profile", Input(id="main", compact=True), row_id="main-row")
                yield Static("Other keys, one KEY=VALUE a line (optional):", classes="note row")
            else:
                yield Static(
                    "openras keys, one KEY=VALUE a line (delete a line to remove the key; "
                    "Windows keys you add are set, the others stay as they are):",
                    classes="note row",
                    markup=False,
                )
            yield TextArea(self._lines, id="keys", compact=True, soft_wrap=False)
            yield Static(problem, id="error", markup=False)
            yield Static(
                "Ctrl+S: save    Enter: next field    Esc: cancel", classes="hint", markup=False
            )
        yield Footer()

    def on_mount(self) -> None:
        self._sync_main()
        keys = self.query_one("#keys", TextArea)
        keys.move_cursor(keys.document.end)  # typing adds to what is there
        self.query_one("#name" if self.entry is None else "#host", Input).focus()

    def on_select_changed(self, message: Select.Changed) -> None:
        message.stop()
        self._sync_main()

    def _chosen_device(self) -> str:
        value = self.query_one("#device", Select).value
        return value if isinstance(value, str) else ""

    def _sync_main(self) -> None:
        """The main key's field follows the device (none for loopback)."""
        if self.entry is not None:
            return
        spec = DEVICES.get(self._chosen_device())
        row = self.query_one("#main-row", Horizontal)
        row.display = spec is not None
        if spec is not None:
            key, label, placeholder = spec
            row.query_one(".label", Static).update(Text(label))
            main = self.query_one("#main", Input)
            main.placeholder = placeholder
            main.tooltip = key

    async def save(self) -> str:
        device = self._chosen_device()
        host = self.query_one("#host", Input).value
        lines = self.query_one("#keys", TextArea).text
        if self.entry is None:
            new = NewEntry(
                name=self.query_one("#name", Input).value.strip(),
                device=device,
                host=host,
                main=self.query_one("#main", Input).value,
                extra=lines,
            )
            await asyncio.to_thread(entries.create, self.book, new)
            return f"Added {new.name} to {self.book}."
        change = Change(name=self.entry, host=host, device=device, lines=lines)
        changed = await asyncio.to_thread(entries.apply_change, self.book, change)
        return f"Saved {self.entry}." if changed else f"{self.entry}: nothing changed."


class RenameScreen(_Form):
    """A new name for one entry; saved credentials follow (the app tells the daemon)."""

    DEFAULT_CSS = _css("RenameScreen")

    def __init__(self, book: Path, name: str) -> None:
        super().__init__()
        self.book = book
        self.entry = name
        self.new_name = ""

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"Rename {self.entry}  ({self.book})", classes="title", markup=False)
            yield _row("New name", Input(self.entry, id="name", compact=True))
            yield Static(id="error", markup=False)
            yield Static("Enter: rename    Esc: cancel", classes="hint", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    async def save(self) -> str:
        new = self.query_one("#name", Input).value.strip()
        if new == self.entry:
            raise Refused("Type the new name (it is the same as the old one).")
        await asyncio.to_thread(entries.rename, self.book, self.entry, new)
        self.new_name = new
        return f"Renamed {self.entry} to {new}."


class ConfirmDelete(ModalScreen[bool]):
    """Asks before deleting an entry (y / n)."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="ConfirmDelete")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "dismiss(True)", "Yes, delete"),
        Binding("n,escape", "dismiss(False)", "No"),
    ]

    def __init__(self, book: Path, name: str) -> None:
        super().__init__()
        self.book = book
        self.entry = name

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"Delete the entry {self.entry}?", classes="title", markup=False)
            yield Static(
                f"It is removed from {self.book}, and its saved credentials are forgotten.",
                markup=False,
            )
            yield Static("y: delete    n / Esc: keep", classes="hint", markup=False)
        yield Footer()


class ImportScreen(_Form):
    """A .pbk's entries, or an OpenVPN / WireGuard profile copied next to the phonebook."""

    DEFAULT_CSS = _css("ImportScreen")

    def __init__(self, book: Path) -> None:
        super().__init__()
        self.book = book
        self.added: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"Import into {self.book}", classes="title", markup=False)
            yield _row(
                "File",
                Input(placeholder="path, e.g. ~/Downloads/office.ovpn", id="file", compact=True),
            )
            yield _row(
                "Entry name",
                Input(
                    placeholder="default: the file's name without its extension",
                    id="name",
                    compact=True,
                ),
            )
            yield Static(
                "A .pbk adds all its entries (the name is not used). An OpenVPN .ovpn or a "
                f"wg-quick .conf is copied (mode 0600) into {entries.config_dir()} and one "
                "entry points at the copy.",
                classes="note row",
                markup=False,
            )
            yield Static(id="error", markup=False)
            yield Static("Enter: next field / import    Esc: cancel", classes="hint", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#file", Input).focus()

    async def save(self) -> str:
        source = self.query_one("#file", Input).value
        name = self.query_one("#name", Input).value
        self.added = await asyncio.to_thread(entries.import_file, self.book, source, name)
        n = len(self.added)
        return f"Imported {n} entr{'y' if n == 1 else 'ies'} into {self.book}: {', '.join(self.added)}."
