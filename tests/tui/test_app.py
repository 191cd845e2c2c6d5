"""rasphone's UI against a real rasman: live rows, hang-up, dialing, faults, reconnection."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from tui_support import (
    Rasman,
    cells,
    client_of,
    daemon,
    make_app,
    online,
    other_dial,
    other_process,
    screen_text,
    shows,
    state_of,
    until,
)

from openras import errors
from openras.states import RasConnState
from openras.tui.app import ConnectionTable, MainScreen, RasphoneApp
from openras.tui.screens import (
    ConfirmHangUp,
    CredentialsScreen,
    DetailsScreen,
    DialScreen,
    EntryPicker,
    EntryScreen,
)
from openras.tui.view import owner_name

DIALING_NAMES = {s.name for s in RasConnState if not s.is_done}


async def test_rows_follow_another_process(rasman: Rasman, book: Path) -> None:
    """Another program (a separate process) dials and hangs up; the rows follow live."""
    app = make_app(rasman, book)
    async with app.run_test() as pilot:
        await online(pilot, app)
        dial = asyncio.ensure_future(other_process(rasman, "dial", "Crawl", str(book)))
        seen: list[str] = []

        def progress() -> bool:
            for h in app.rows:
                state = state_of(app, h)
                if state and (not seen or seen[-1] != state):
                    seen.append(state)
            return "Connected" in seen

        await until(pilot, progress, "the row to walk to Connected")
        handle = int(await dial)
        dialing = [s for s in seen if s in DIALING_NAMES]
        assert len(dialing) >= 3, seen  # the states showed as they changed
        row = cells(app, handle)
        assert row["entry"] == "Crawl"
        assert row["owner"] == owner_name(os.getuid())
        assert "loopback" in row["device"]
        await until(
            pilot, lambda: cells(app, handle).get("address") == "127.0.0.1", "the local address"
        )
        await until(
            pilot, lambda: cells(app, handle).get("time", "").startswith("0:00:0"), "the duration"
        )
        await until(pilot, lambda: cells(app, handle).get("in", "").endswith("B"), "bytes in")

        await other_process(rasman, "hangup", str(handle))
        await until(
            pilot, lambda: handle not in app.rows and not cells(app, handle), "the row to leave"
        )


@pytest.mark.parametrize("key", ["h", "delete"])
async def test_end_selected_row_shows_teardown_until_invalid_handle(
    rasman: Rasman, book: Path, key: str
) -> None:
    app = make_app(rasman, book)
    async with app.run_test() as pilot:
        await online(pilot, app)
        slow = await other_dial(rasman, "Slow", book)
        demo = await other_dial(rasman, "Demo", book)
        await until(
            pilot, lambda: state_of(app, slow) == state_of(app, demo) == "Connected", "both rows"
        )

        await pilot.press("down", "up")  # select Slow (the first row) with the arrows
        assert app.selected_handle() == slow
        await pilot.press(key)
        await until(pilot, lambda: isinstance(app.screen, ConfirmHangUp), "the confirmation")
        await shows(pilot, "Hang up Slow?")
        await pilot.press("y")

        await until(pilot, lambda: state_of(app, slow) == "Disconnecting", "the teardown to show")
        info = await daemon(rasman, "status", slow)  # still tearing down: the handle answers
        assert info.state is RasConnState.Disconnected
        await until(pilot, lambda: slow not in app.rows, "the row to leave", timeout=20)
        with pytest.raises(errors.InvalidHandle):
            await daemon(rasman, "status", slow)
        assert state_of(app, demo) == "Connected"  # only the selected one ended


async def test_hang_up_all(rasman: Rasman, book: Path) -> None:
    app = make_app(rasman, book)
    async with app.run_test() as pilot:
        await online(pilot, app)
        handles = [await other_dial(rasman, name, book) for name in ("Demo", "Slow")]
        await until(
            pilot, lambda: all(state_of(app, h) == "Connected" for h in handles), "two rows"
        )
        await pilot.press("H")
        await until(pilot, lambda: isinstance(app.screen, ConfirmHangUp), "the confirmation")
        await shows(pilot, "Hang up all 2 connections?")
        await pilot.press("y")
        await until(pilot, lambda: not app.rows, "every row to leave", timeout=20)
        assert await daemon(rasman, "connections", True) == []


async def test_cancel_keeps_the_connection(rasman: Rasman, book: Path) -> None:
    app = make_app(rasman, book)
    async with app.run_test() as pilot:
        await online(pilot, app)
        h = await other_dial(rasman, "Demo", book)
        await until(pilot, lambda: state_of(app, h) == "Connected", "the row")
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, ConfirmHangUp), "the confirmation")
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the dialog to close")
        assert (await daemon(rasman, "status", h)).phase == "connected"


async def test_failed_dial_shows_error_and_hangs_up_then_retry(rasman: Rasman, book: Path) -> None:
    app = make_app(rasman, book)
    async with app.run_test() as pilot:
        await online(pilot, app)
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, EntryPicker), "the entry list")
        picker = app.screen
        assert [c.name for c in picker.choices] == ["Demo", "Slow", "Secret", "Drop", "Crawl"]
        await pilot.press("down", "down", "enter")  # Secret: it has a password, so credentials
        await until(
            pilot, lambda: isinstance(app.screen, CredentialsScreen), "the credentials form"
        )
        await pilot.press(*"bob", "enter", *"wrong")
        await shows(pilot, "•••••")
        assert "wrong" not in screen_text(app)  # the password is masked
        await pilot.press("enter")

        await until(pilot, lambda: isinstance(app.screen, DialScreen), "the progress dialog")
        dial = app.screen
        assert isinstance(dial, DialScreen)
        await until(pilot, lambda: dial.outcome == "failed", "the failure")
        await shows(pilot, "Error 691", "The failed attempt was hung up.")
        assert "Authenticate: failed (691)" in dial.lines
        assert "OpenPort" in dial.lines  # progress state by state
        await until(pilot, lambda: not app.rows, "the failed handle to be deleted")
        with pytest.raises(errors.InvalidHandle):
            await daemon(rasman, "status", dial.handle)

        await pilot.press("r")  # retry: the form again, the user name kept
        await until(pilot, lambda: isinstance(app.screen, CredentialsScreen), "the form again")
        await pilot.press(*"secret", "enter")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the dial to finish")
        await until(
            pilot, lambda: any(state_of(app, h) == "Connected" for h in app.rows), "the new row"
        )
        assert ("information", "Connected to Secret.") in app.notices


async def test_dial_without_credentials(rasman: Rasman, book: Path) -> None:
    app = make_app(rasman, book)
    async with app.run_test() as pilot:
        await online(pilot, app)
        await pick_entry(pilot, app, "enter")  # Demo needs no credentials: straight to dialing
        await until(
            pilot, lambda: ("information", "Connected to Demo.") in app.notices, "the connection"
        )
        assert isinstance(app.screen, MainScreen)
        [info] = await daemon(rasman, "connections")
        assert info.entry == "Demo"


async def test_dial_from_default_phonebooks(rasman: Rasman) -> None:
    """Without -f: the all-users book (dialed with a NULL phonebook) and the user's book."""
    # The shared fixture points both at its tmp_path, for the daemon and for us.
    Path(os.environ["OPENRAS_SYSTEM_PHONEBOOK"]).write_text(
        "[Corp]\nOpenRasDevice=loopback\nOpenRasLoopbackStepMs=10\n"
    )
    user_book = Path(os.environ["XDG_CONFIG_HOME"]) / "openras" / "rasphone.pbk"
    user_book.parent.mkdir(parents=True)
    user_book.write_text("[Mine]\nOpenRasDevice=loopback\nOpenRasLoopbackStepMs=10\n")
    app = make_app(rasman, None)
    async with app.run_test() as pilot:
        await online(pilot, app)
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, EntryPicker), "the entry list")
        assert [(c.name, c.all_users) for c in app.screen.choices] == [
            ("Corp", True),
            ("Mine", False),
        ]
        await shows(pilot, "all users")
        await pilot.press("enter")
        await until(pilot, lambda: ("information", "Connected to Corp.") in app.notices, "Corp")
        await pick_entry(pilot, app, "down", "enter")
        await until(pilot, lambda: ("information", "Connected to Mine.") in app.notices, "Mine")
        conns = {c.entry: c for c in await daemon(rasman, "connections")}
        assert conns["Corp"].all_users
        assert conns["Mine"].phonebook == str(user_book)


async def test_cancel_while_dialing_hangs_up(rasman: Rasman, book: Path) -> None:
    app = make_app(rasman, book)
    async with app.run_test() as pilot:
        await online(pilot, app)
        await pick_entry(pilot, app, "down", "down", "down", "down", "enter")  # Crawl: slow
        await until(
            pilot, lambda: isinstance(app.screen, DialScreen) and app.screen.handle, "an attempt"
        )
        handle = app.screen.handle
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the dialog to close")
        await until(pilot, lambda: handle not in app.rows, "the attempt to be gone", timeout=20)
        with pytest.raises(errors.InvalidHandle):
            await daemon(rasman, "status", handle)


async def test_drop_while_confirming_closes_dialog_and_shows_reason(
    rasman: Rasman, book: Path
) -> None:
    app = make_app(rasman, book)
    async with app.run_test() as pilot:
        await online(pilot, app)
        h = await other_dial(rasman, "Drop", book)
        await until(pilot, lambda: state_of(app, h) == "Connected", "the row")
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, ConfirmHangUp), "the confirmation")
        # The link drops by itself (629) while the question is open.
        await until(
            pilot, lambda: isinstance(app.screen, MainScreen), "the dialog to close", timeout=20
        )
        await until(pilot, lambda: h not in app.rows, "the row to leave")
        texts = [t for _, t in app.notices]
        assert "Drop ended before the hang-up was confirmed." in texts
        assert f"Drop disconnected: Error 629: {errors.message(629)}" in texts
        assert ("error", f"Drop disconnected: Error 629: {errors.message(629)}") in app.notices


async def test_details_and_entry_properties(rasman: Rasman, book: Path) -> None:
    app = make_app(rasman, book)
    async with app.run_test() as pilot:
        await online(pilot, app)
        h = await other_dial(rasman, "Secret", book, password="secret")
        await until(pilot, lambda: state_of(app, h) == "Connected", "the row")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailsScreen), "the details")
        await until(
            pilot, lambda: len(app.rows[h].rates) >= 2, "two throughput samples", timeout=10
        )
        await shows(
            pilot,
            "Secret   handle",
            "RASCS_Connected",
            "local 127.0.0.1",
            "Throughput now",
            "Recent events",
        )
        assert list(app.screen.query_one("#graph").data) == list(app.rows[h].rates)

        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, EntryScreen), "the entry")
        await shows(pilot, "OpenRasLoopbackPassword = ********")
        assert "= secret" not in screen_text(app)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DetailsScreen), "back to details")

        await daemon(rasman, "hang_up", h)  # ended elsewhere while we look at it
        await until(pilot, lambda: "Disconnected." in screen_text(app), "the ended note")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the table")


async def test_reconnects_after_daemon_restart(rasman: Rasman, book: Path) -> None:
    app = make_app(rasman, book)
    async with app.run_test() as pilot:
        await online(pilot, app)
        h = await other_dial(rasman, "Demo", book)
        await until(pilot, lambda: state_of(app, h) == "Connected", "the row")

        await asyncio.to_thread(rasman.kill9)
        await until(pilot, lambda: "not reachable" in app.banner, "the banner")
        await shows(pilot, "Connection manager not reachable")
        assert h in app.rows  # kept (links outlive the daemon), marked stale by the banner

        await asyncio.to_thread(rasman.start)
        await until(pilot, lambda: not app.banner and app.client is not None, "the banner to go")
        await until(
            pilot, lambda: "not reachable" not in screen_text(app), "the banner to leave the screen"
        )
        await until(pilot, lambda: state_of(app, h) == "Connected", "the adopted row")

        # And the live feed works again: a new connection appears, the old one ends.
        h2 = await other_dial(rasman, "Secret", book, password="secret")
        await until(pilot, lambda: state_of(app, h2) == "Connected", "a new row after reconnecting")
        await daemon(rasman, "hang_up", h)
        await until(pilot, lambda: h not in app.rows, "the old row to leave")


async def test_daemon_absent_at_start(rasman: Rasman, book: Path) -> None:
    rasman.stop()
    app = make_app(rasman, book)
    async with app.run_test() as pilot:
        await until(pilot, lambda: "not reachable" in app.banner, "the banner")
        await pick_entry(pilot, app, "enter")
        await until(
            pilot,
            lambda: isinstance(app.screen, DialScreen) and app.screen.outcome == "failed",
            "a refusal",
        )
        await shows(pilot, "not reachable")
        await pilot.press("escape")
        await asyncio.to_thread(rasman.start)
        await until(pilot, lambda: not app.banner and app.client is not None, "the banner to go")


async def test_hang_up_that_fails_is_shown(rasman: Rasman, book: Path) -> None:
    app = make_app(rasman, book)
    async with app.run_test() as pilot:
        await online(pilot, app)
        h = await other_dial(rasman, "Demo", book)
        await until(pilot, lambda: state_of(app, h) == "Connected", "the row")
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, ConfirmHangUp), "the confirmation")
        await asyncio.to_thread(rasman.kill9)
        await until(pilot, lambda: app.client is None, "the loss")
        await pilot.press("y")
        await until(pilot, lambda: any(s == "error" for s, _ in app.notices), "an error notice")
        assert isinstance(app.screen, MainScreen)
        assert app.is_running
        assert state_of(app, h) == "Connected"  # unchanged: nothing was hung up
        await asyncio.to_thread(rasman.start)  # the fixture hangs up what is left


async def test_no_color(rasman: Rasman, book: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """NO_COLOR: Textual renders in monochrome; the banner stands out by reverse video instead."""
    monkeypatch.setenv("NO_COLOR", "1")
    rasman.stop()  # so that the banner shows
    app = make_app(rasman, book)
    assert app.no_color
    async with app.run_test() as pilot:
        await until(pilot, lambda: "not reachable" in app.banner, "the banner")
        banner = app.screen.query_one("#banner")
        assert banner.styles.text_style.reverse
        await pilot.press("q")
    assert app.return_code == 0


async def test_picker_reports_unreadable_or_empty_books(rasman: Rasman, tmp_path: Path) -> None:
    app = make_app(rasman, tmp_path / "missing.pbk")
    async with app.run_test() as pilot:
        await online(pilot, app)
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, EntryPicker), "the entry list")
        await shows(pilot, "Error 621: The system could not open the phone book file.")
        await pilot.press("enter")  # nothing to pick: stays open
        assert isinstance(app.screen, EntryPicker)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the table")

    app = make_app(rasman, None)  # no all-users or per-user book exists
    async with app.run_test() as pilot:
        await online(pilot, app)
        await pilot.press("d")
        await shows(pilot, "No entries to dial in")


async def test_entry_key_on_the_table(rasman: Rasman, book: Path) -> None:
    app = make_app(rasman, book)
    async with app.run_test() as pilot:
        await online(pilot, app)
        await pilot.press("e")  # nothing selected: a hint, no crash
        assert ("warning", "Select a connection first.") in app.notices
        h = await other_dial(rasman, "Demo", book)
        await until(pilot, lambda: state_of(app, h) == "Connected", "the row")
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, EntryScreen), "the entry")
        await shows(pilot, "[Demo]", "OpenRasLoopbackStepMs = 10")


async def test_mouse_click_selects_a_row_and_a_second_click_opens_it(
    rasman: Rasman, book: Path
) -> None:
    app = make_app(rasman, book)
    async with app.run_test() as pilot:
        await online(pilot, app)
        demo = await other_dial(rasman, "Demo", book)
        slow = await other_dial(rasman, "Slow", book)
        await until(
            pilot, lambda: state_of(app, demo) == state_of(app, slow) == "Connected", "two rows"
        )
        assert app.selected_handle() == demo
        # Row 0 of the table is its header; Slow is on the second row below it.
        assert await pilot.click(ConnectionTable, offset=(3, 2))
        await until(pilot, lambda: app.selected_handle() == slow, "the click to select Slow")
        assert isinstance(app.screen, MainScreen)  # a first click only selects
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, ConfirmHangUp), "the confirmation")
        await shows(pilot, "Hang up Slow?")
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the dialog to close")
        await pilot.click(ConnectionTable, offset=(3, 1))
        await until(pilot, lambda: app.selected_handle() == demo, "the click to select Demo")
        await pilot.click(ConnectionTable, offset=(3, 1))  # again on the selected row: open it
        await until(pilot, lambda: isinstance(app.screen, DetailsScreen), "the details")
        assert app.screen.handle == demo


async def pick_entry(pilot: Pilot[Any], app: RasphoneApp, *keys: str) -> None:
    """``d``, wait for the entry list, then ``keys`` (moves and Enter) in it."""
    await pilot.press("d")
    await until(pilot, lambda: isinstance(app.screen, EntryPicker), "the entry list")
    await pilot.press(*keys)


async def save_credentials(ras: Rasman, entry: str, book: Path, user: str, password: str) -> None:
    def run() -> None:
        with client_of(ras) as c:
            c.save_credentials(entry, book, user=user, password=password)

    await asyncio.to_thread(run)


async def test_saved_credentials_dial_without_the_form(rasman: Rasman, book: Path) -> None:
    """Secret asks for a password, but one is saved: no form, the daemon uses the saved one."""
    await save_credentials(rasman, "Secret", book, "bob", "secret")
    app = make_app(rasman, book)
    async with app.run_test() as pilot:
        await online(pilot, app)
        await pick_entry(pilot, app, "down", "down", "enter")  # Secret
        await until(
            pilot, lambda: ("information", "Connected to Secret.") in app.notices, "the dial"
        )
        assert not any(isinstance(s, CredentialsScreen) for s in app.screen_stack)
        [info] = await daemon(rasman, "connections")
        assert info.entry == "Secret"


async def test_wrong_saved_password_fails_then_the_form_asks(rasman: Rasman, book: Path) -> None:
    await save_credentials(rasman, "Secret", book, "bob", "stale")
    app = make_app(rasman, book)
    async with app.run_test() as pilot:
        await online(pilot, app)
        await pick_entry(pilot, app, "down", "down", "enter")
        await until(
            pilot,
            lambda: isinstance(app.screen, DialScreen) and app.screen.outcome == "failed",
            "the saved password to fail",
        )
        await shows(pilot, "Error 691")
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, CredentialsScreen), "the form")
        form = app.screen
        assert isinstance(form, CredentialsScreen)
        assert form.user == "bob"  # the saved user name, never the password
        await pilot.press(*"secret", "enter")
        await until(
            pilot, lambda: ("information", "Connected to Secret.") in app.notices, "the dial"
        )


async def test_a_stale_status_never_brings_a_dropped_row_back(rasman: Rasman, book: Path) -> None:
    """A status read before the handle went but applied after its row was dropped (a
    hang-up's read and the feed's crossing) is stale: handles are never reused."""
    from openras.client import ConnectionInfo

    app = make_app(rasman, book)
    async with app.run_test() as pilot:
        await online(pilot, app)
        client = app.client
        assert client is not None
        stale = ConnectionInfo(handle=9999, entry="Office", state=RasConnState.Disconnected,
                               phase="disconnecting", entry_name="Office")  # fmt: skip
        await app._apply(client, stale)
        assert 9999 in app.rows  # a handle the app has not seen go: shown
        app._drop_row(9999, None)
        await app._apply(client, stale)
        assert 9999 not in app.rows and str(9999) not in app.table.rows
