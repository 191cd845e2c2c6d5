"""Snapshots of rasphone's main screens at 80x24, from the public SVG export.

pytest-textual-snapshot is not used: it pins syrupy 4.8, which requires pytest < 9. Instead the
SVG's text is compared with ``snapshots/<name>.txt`` for screens whose content is stable, and
checked for key content where it is live (durations, byte counts). The SVGs are saved in the
test's tmp_path. To accept new output: ``RASPHONE_UPDATE_SNAPSHOTS=1 pytest tests/tui``.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from tui_support import (
    Rasman,
    daemon,
    make_app,
    online,
    other_dial,
    screen_text,
    state_of,
    svg_lines,
    until,
)

from openras.tui.app import MainScreen, RasphoneApp
from openras.tui.screens import (
    CredentialsScreen,
    DetailsScreen,
    DialScreen,
    EntryPicker,
    EntryScreen,
)

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("RASPHONE_UPDATE_SNAPSHOTS") == "1"


def normalise(text: str) -> str:
    """Replace what differs between runs (retry timings) by fixed placeholders."""
    return re.sub(r"Retrying in [0-9.]+ s \(attempt \d+\)", "Retrying in N s (attempt N)", text)


def take(app: RasphoneApp, tmp_path: Path, name: str) -> str:
    svg = app.export_screenshot()
    (tmp_path / f"{name}.svg").write_text(svg)
    text = normalise("\n".join(svg_lines(svg)))
    assert app.size == (80, 24)
    assert len(svg_lines(svg)) <= 24 and all(len(line) <= 80 for line in svg_lines(svg))
    return text


def compare(text: str, name: str) -> None:
    path = SNAPSHOTS / f"{name}.txt"
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text + "\n")
        return
    if not path.exists():
        pytest.fail(f"no snapshot {path.name}; run with RASPHONE_UPDATE_SNAPSHOTS=1 and review it")
    assert text + "\n" == path.read_text(), f"screen {name} changed:\n{text}"


async def settle(pilot: Any, *markers: str) -> None:
    """Wait until the screen shows ``markers`` and two frames in a row are the same: the
    screen is repainted on a timer, so a change is in the SVG only after the next frame."""
    app = pilot.app
    last = [""]

    def steady() -> bool:
        # A blinking input cursor is not a change (under load every sample may catch it
        # in the other phase).
        now = screen_text(app).replace("▍", " ")
        same, last[0] = now == last[0], now
        return same and all(m in now for m in markers)

    try:
        await until(pilot, steady, f"a steady screen showing {markers}", timeout=30)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the screen:\n{last[0]}") from None


async def test_snapshot_empty_table(rasman: Rasman, book: Path, tmp_path: Path) -> None:
    app = make_app(rasman, book)
    async with app.run_test() as pilot:
        await online(pilot, app)
        await settle(pilot, "no connections", "Quit")
        text = take(app, tmp_path, "main_empty")
        for key in ("Dial", "Hang up", "Hang up all", "Entry", "Quit", "Details"):
            assert key in text.splitlines()[-1]  # the footer's key help
        compare(text, "main_empty")


async def test_snapshot_banner(book: Path, tmp_path: Path) -> None:
    sock_dir = Path(tempfile.mkdtemp(prefix="rp-", dir="/tmp"))  # fixed length: the text wraps
    try:
        app = RasphoneApp(
            socket=sock_dir / "s.sock", phonebook=book, autostart=False, retry_min=30, retry_max=30
        )
        async with app.run_test() as pilot:
            await until(pilot, lambda: "not reachable" in app.banner, "the banner")
            await settle(pilot, "not reachable", "offline", "Quit")
            text = take(app, tmp_path, "banner").replace(str(sock_dir), "/tmp/rp-XXXXXXXX")
            assert "! Connection manager not reachable: no connection manager at" in text
            compare(text, "banner")
    finally:
        sock_dir.rmdir()


async def test_snapshot_entry_picker_and_properties(
    rasman: Rasman, book: Path, tmp_path: Path
) -> None:
    short = Path(tempfile.mkdtemp(prefix="rp-", dir="/tmp"))  # the entry screen shows the path
    try:
        copy = short / "book.pbk"
        copy.write_bytes(book.read_bytes())
        app = make_app(rasman, copy)
        async with app.run_test() as pilot:
            await online(pilot, app)
            await pilot.press("d")
            await until(pilot, lambda: isinstance(app.screen, EntryPicker), "the picker")
            await settle(pilot, "Crawl", "no connections", "Cancel")
            compare(take(app, tmp_path, "picker"), "picker")
            await pilot.press("down", "down", "e")
            await until(pilot, lambda: isinstance(app.screen, EntryScreen), "the properties")
            await settle(pilot, "OpenRasLoopbackPassword", "Close")
            text = take(app, tmp_path, "entry").replace(str(short), "/tmp/rp-XXXXXXXX")
            assert "OpenRasLoopbackPassword = ********" in text
            compare(text, "entry")
    finally:
        shutil.rmtree(short)


async def test_snapshot_credentials_and_failed_dial(
    rasman: Rasman, book: Path, tmp_path: Path
) -> None:
    app = make_app(rasman, book)
    async with app.run_test() as pilot:
        await online(pilot, app)
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, EntryPicker), "the picker")
        await pilot.press("down", "down", "enter")
        await until(pilot, lambda: isinstance(app.screen, CredentialsScreen), "the form")
        await pilot.press(*"bob", "enter", *"hunter2")
        await settle(pilot, "•••••••", "Cancel")
        text = take(app, tmp_path, "credentials")
        assert "hunter2" not in text
        assert "•••••••" in text  # masked, one dot per character
        compare(text, "credentials")

        await pilot.press("enter")
        await until(
            pilot,
            lambda: isinstance(app.screen, DialScreen) and app.screen.outcome == "failed",
            "failure",
        )
        await until(pilot, lambda: not app.rows, "the failed handle to go")
        await settle(pilot, "The failed attempt was hung up.", "no connections", "Retry")
        compare(take(app, tmp_path, "dial_failed"), "dial_failed")


async def test_snapshot_live_table_and_details(rasman: Rasman, book: Path, tmp_path: Path) -> None:
    app = make_app(rasman, book)
    async with app.run_test() as pilot:
        await online(pilot, app)
        h = await other_dial(rasman, "Demo", book)
        await until(
            pilot,
            lambda: state_of(app, h) == "Connected" and app.rows[h].stats and app.rows[h].address,
            "a live row",
        )
        await settle(pilot, "Connected", "Quit")
        text = take(app, tmp_path, "main_connected")
        lines = text.splitlines()
        header = next(line for line in lines if "Entry" in line and "State" in line)
        # Entry, device, state, duration and bytes fit in 80 columns, in that order.
        assert re.search(r"Entry +Device +State +Time +In +Out", header), header
        row = next(line for line in lines if line.lstrip().startswith("Demo"))
        assert re.search(
            r"Demo +loopback +Connected +0:00:\d\d +\d+(\.\d)? \w+ +\d+(\.\d)? \w+", row
        ), row
        assert "1 connection · connected to rasman" in text

        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailsScreen), "details")
        await until(pilot, lambda: len(app.rows[h].rates) >= 2, "samples")
        await settle(pilot, "Throughput now", "Back")
        text = take(app, tmp_path, "details")
        for expected in (
            "Demo   handle",
            "State: RASCS_Connected (8192)",
            "local 127.0.0.1",
            "Throughput now",
            "Back",
        ):
            assert expected in text
        assert any(
            set(line.strip()) <= set("▁▂▃▄▅▆▇█") and line.strip() for line in text.splitlines()
        )
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the table")
        await daemon(rasman, "hang_up", h)


async def test_long_entry_names_keep_the_byte_columns_on_screen(
    rasman: Rasman, tmp_path: Path
) -> None:
    """A 40-character name is cut with an ellipsis; Device to Out stay within 80 columns."""
    name = "Branch Office VPN via the backup line 42"
    book = tmp_path / "long.pbk"
    book.write_text(f"[{name}]\nOpenRasDevice=loopback\nOpenRasLoopbackStepMs=5\n")
    app = make_app(rasman, book)
    async with app.run_test() as pilot:
        await online(pilot, app)
        h = await other_dial(rasman, name, book)
        await until(
            pilot, lambda: state_of(app, h) == "Connected" and app.rows[h].stats, "a live row"
        )
        await settle(pilot, "Connected", "Quit")
        lines = take(app, tmp_path, "long_name").splitlines()
        row = next(line for line in lines if "Connected" in line)
        assert "Branch Office V…" in row
        assert re.search(r"loopback +Connected +0:00:\d\d +\d+(\.\d)? \w+ +\d+(\.\d)? \w+", row), (
            row
        )
        await daemon(rasman, "hang_up", h)


async def test_snapshot_phonebook_forms(
    rasman: Rasman, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New entry (an OpenVPN one, so the profile row shows), edit, rename, delete, import."""
    from textual.widgets import Input, Select

    from openras.tui.forms import ConfirmDelete, EntryForm, ImportScreen, RenameScreen

    short = Path(tempfile.mkdtemp(prefix="rp-", dir="/tmp"))  # the forms show the paths
    try:
        monkeypatch.setenv("XDG_CONFIG_HOME", str(short / "cfg"))
        copy = short / "book.pbk"
        copy.write_bytes(
            b"[Office]\r\nOpenRasDevice=loopback\r\nOpenRasLoopbackStepMs=10\r\n"
            b"OpenRasLoopbackPassword=secret\r\nAutoLogon=0\r\n\r\n"
            b"DEVICE=vpn\r\nPhoneNumber=vpn.example.com\r\n"
        )
        app = make_app(rasman, copy)

        def shot(name: str) -> str:
            return take(app, tmp_path, name).replace(str(short), "/tmp/rp-XXXXXXXX")

        async with app.run_test() as pilot:
            await online(pilot, app)
            await pilot.press("d")
            await until(pilot, lambda: isinstance(app.screen, EntryPicker), "the picker")
            await pilot.press("n")
            await until(pilot, lambda: isinstance(app.screen, EntryForm), "the new form")
            await pilot.press(*"Branch")
            app.screen.query_one("#device", Select).value = "openvpn"
            app.screen.query_one("#host", Input).focus()
            await settle(pilot, "New entry", "OpenVPN profile", "Branch")
            compare(shot("entry_new"), "entry_new")
            await pilot.press("escape")

            await until(pilot, lambda: isinstance(app.screen, EntryPicker), "the picker")
            await pilot.press("E")
            await until(pilot, lambda: isinstance(app.screen, EntryForm), "the edit form")
            await settle(pilot, "Edit Office", "OpenRasLoopbackPassword=********")
            text = shot("entry_edit")
            assert "secret" not in text
            compare(text, "entry_edit")
            await pilot.press("escape")

            await until(pilot, lambda: isinstance(app.screen, EntryPicker), "the picker")
            await pilot.press("r")
            await until(pilot, lambda: isinstance(app.screen, RenameScreen), "rename")
            await settle(pilot, "Rename Office", "New name")
            compare(shot("entry_rename"), "entry_rename")
            await pilot.press("escape")

            await until(pilot, lambda: isinstance(app.screen, EntryPicker), "the picker")
            await pilot.press("delete")
            await until(pilot, lambda: isinstance(app.screen, ConfirmDelete), "delete")
            await settle(pilot, "Delete the entry Office?", "Yes, delete")
            compare(shot("entry_delete"), "entry_delete")
            await pilot.press("n")

            await until(pilot, lambda: isinstance(app.screen, EntryPicker), "the picker")
            await pilot.press("i")
            await until(pilot, lambda: isinstance(app.screen, ImportScreen), "import")
            await pilot.press("ctrl+s")  # no file given: the refusal says what to do
            await settle(pilot, "Import into", "Give the path of a .pbk, .ovpn or .conf file.")
            compare(shot("entry_import"), "entry_import")
        assert copy.read_bytes().startswith(b"[Office]\r\n")
    finally:
        shutil.rmtree(short)
