"""rasphone's phonebook changes against a real rasman: new, edit, rename, delete, import, and
"Save password". Each test checks the phonebook file's bytes afterwards: everything but the
change stays byte for byte (CRLF, comments, Windows keys and blocks)."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, Static, TextArea
from tui_support import Rasman, client_of, daemon, make_app, online, screen_text, shows, until

from openras import errors
from openras.tui.app import MainScreen, RasphoneApp
from openras.tui.forms import ConfirmDelete, EntryForm, ImportScreen, RenameScreen
from openras.tui.screens import CredentialsScreen, DialScreen, EntryPicker, EntryScreen

#: A book as Windows writes it (CRLF, a comment, Windows keys, a DEVICE block) plus two
#: loopback entries rasman can dial without root.
WINDOWS_BOOK = (
    b"; written by Windows\r\n"
    b"\r\n"
    b"[Office]\r\n"
    b"Encoding=1\r\n"
    b"PBVersion=6\r\n"
    b"Type=2\r\n"
    b"AutoLogon=0\r\n"
    b"OpenRasDevice=loopback\r\n"
    b"OpenRasLoopbackStepMs=10\r\n"
    b"Guid=0123456789ABCDEF0123456789ABCDEF\r\n"
    b"VpnStrategy=7\r\n"
    b"\r\n"
    b"NETCOMPONENTS=\r\n"
    b"ms_server=1\r\n"
    b"\r\n"
    b"MEDIA=rastapi\r\n"
    b"Port=VPN2-0\r\n"
    b"Device=WAN Miniport (IKEv2)\r\n"
    b"\r\n"
    b"DEVICE=vpn\r\n"
    b"PhoneNumber=vpn.example.com\r\n"
    b"AreaCode=\r\n"
    b"\r\n"
    b"[Home]\r\n"
    b"OpenRasDevice=loopback\r\n"
    b"OpenRasLoopbackStepMs=10\r\n"
    b"OpenRasLoopbackPassword=secret\r\n"
    b"\r\n"
)


@pytest.fixture
def winbook(tmp_path: Path) -> Path:
    path = tmp_path / "win.pbk"
    path.write_bytes(WINDOWS_BOOK)
    return path


async def picker(pilot: Pilot[Any], app: RasphoneApp, *keys: str) -> EntryPicker:
    """Open the entry list (d), then press ``keys`` in it."""
    await pilot.press("d")
    await until(pilot, lambda: isinstance(app.screen, EntryPicker), "the entry list")
    screen = app.screen
    assert isinstance(screen, EntryPicker)
    await pilot.press(*keys)
    return screen


async def screen_of(pilot: Pilot[Any], app: RasphoneApp, kind: type[Any]) -> Any:
    await until(pilot, lambda: isinstance(app.screen, kind), kind.__name__)
    return app.screen


def field(app: RasphoneApp, selector: str) -> Input:
    return app.screen.query_one(selector, Input)


def error_of(app: RasphoneApp) -> str:
    """The open form's refusal (the screen wraps it; this is its text in one line)."""
    return str(app.screen.query_one("#error", Static).content)


async def refused(pilot: Pilot[Any], app: RasphoneApp, text: str) -> None:
    await until(pilot, lambda: text in error_of(app), f"the refusal {text!r}")


async def has_saved(ras: Rasman, entry: str, book: Path) -> bool:
    """Whether the daemon holds a password for ``entry`` (False once there is no entry)."""
    try:
        return bool((await daemon(ras, "credentials", entry, book)).has_password)
    except errors.EntryNotFound:
        return False


def told(app: RasphoneApp, text: str) -> bool:
    return any(text in t for _, t in app.notices)


# ------------------------------------------------------------------------------------ new


async def test_new_entry_is_appended_and_dials(rasman: Rasman, winbook: Path) -> None:
    app = make_app(rasman, winbook)
    async with app.run_test() as pilot:
        await online(pilot, app)
        await picker(pilot, app, "n")
        form = await screen_of(pilot, app, EntryForm)
        await pilot.press(*"Lab", "enter")  # Name, then on to the device (loopback)
        field(app, "#host").value = "lab.example.net"
        form.query_one("#keys", TextArea).text = "OpenRasLoopbackStepMs=5\n"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: told(app, "Added Lab to"), "the notice")
        assert isinstance(app.screen, EntryPicker)
        assert [c.name for c in app.screen.choices][-1] == "Lab"
        await pilot.press("end", "enter")  # dial it at once
        await until(pilot, lambda: told(app, "Connected to Lab."), "the dial")
    data = winbook.read_bytes()
    assert data.startswith(WINDOWS_BOOK)  # nothing before it moved
    added = data[len(WINDOWS_BOOK) :].decode()
    lines = added.split("\r\n")
    assert lines[:4] == [
        "[Lab]",
        "OpenRasDevice=loopback",
        "PhoneNumber=lab.example.net",
        "OpenRasLoopbackStepMs=5",
    ]
    assert lines[4].startswith("Guid=")


async def test_new_entry_refusals_are_shown_and_change_nothing(
    rasman: Rasman, winbook: Path, tmp_path: Path
) -> None:
    app = make_app(rasman, winbook)
    async with app.run_test() as pilot:
        await online(pilot, app)
        await pilot.press("n")  # from the main screen too
        form = await screen_of(pilot, app, EntryForm)
        await pilot.press("ctrl+s")
        await refused(pilot, app, "Give the entry a name.")
        field(app, "#name").value = "Typo"
        form.query_one("#keys", TextArea).text = "OpenRasLoopbackStepMz=5"
        await pilot.press("ctrl+s")
        await refused(pilot, app, "Unknown key OpenRasLoopbackStepMz (did you mean")
        assert "(did you mean OpenRasLoopbackStepMs?)" in error_of(app)
        form.query_one("#keys", TextArea).text = "no equals sign"
        await pilot.press("ctrl+s")
        await refused(pilot, app, "Line 1 ('no equals sign') is not KEY=VALUE.")
        form.query_one("#keys", TextArea).text = ""
        field(app, "#name").value = "office"  # taken (names compare case-insensitively)
        await pilot.press("ctrl+s")
        await refused(pilot, app, "Error 183")
        await refused(pilot, app, "Choose another name")
        # An OpenVPN entry needs its profile, and the file must exist.
        form.query_one("#device").value = "openvpn"
        field(app, "#name").value = "Vpn"
        await pilot.press("ctrl+s")
        await refused(pilot, app, "Give the OpenVPN profile")
        field(app, "#main").value = str(tmp_path / "nowhere.ovpn")
        await pilot.press("ctrl+s")
        await refused(pilot, app, "there is no file")
        assert isinstance(app.screen, EntryForm)  # still open, to fix the field
        await pilot.press("escape")
        await screen_of(pilot, app, MainScreen)
    assert winbook.read_bytes() == WINDOWS_BOOK


# ------------------------------------------------------------------------------------ edit


async def test_edit_changes_only_the_edited_lines(rasman: Rasman, winbook: Path) -> None:
    app = make_app(rasman, winbook)
    async with app.run_test() as pilot:
        await online(pilot, app)
        await picker(pilot, app, "E")  # Office
        form = await screen_of(pilot, app, EntryForm)
        keys = form.query_one("#keys", TextArea)
        assert keys.text == "OpenRasLoopbackStepMs=10"  # the openras keys; Windows' stay out
        assert field(app, "#host").value == "vpn.example.com"
        field(app, "#host").value = "vpn2.example.com"
        keys.text = "OpenRasLoopbackStepMs=20\nOpenRasDialTimeoutMs=9000\nAutoLogon=1\n"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: told(app, "Saved Office."), "the notice")
    expected = (
        WINDOWS_BOOK.replace(
            b"OpenRasLoopbackStepMs=10\r\nGuid=0123", b"OpenRasLoopbackStepMs=20\r\nGuid=0123"
        )
        .replace(b"AutoLogon=0", b"AutoLogon=1")
        .replace(b"PhoneNumber=vpn.example.com", b"PhoneNumber=vpn2.example.com")
    )
    data = winbook.read_bytes()
    # The new key joins the main block; everything else is as it was.
    assert data.replace(b"OpenRasDialTimeoutMs=9000\r\n", b"", 1) == expected
    assert data.count(b"OpenRasDialTimeoutMs=9000\r\n") == 1
    assert data.index(b"OpenRasDialTimeoutMs") < data.index(b"NETCOMPONENTS=")


async def test_edit_removes_a_deleted_line_keeps_a_masked_secret_and_refuses_typos(
    rasman: Rasman, winbook: Path
) -> None:
    app = make_app(rasman, winbook)
    async with app.run_test() as pilot:
        await online(pilot, app)
        await picker(pilot, app, "down", "e")  # Home's properties, then e edits
        await screen_of(pilot, app, EntryScreen)
        await pilot.press("e")
        form = await screen_of(pilot, app, EntryForm)
        keys = form.query_one("#keys", TextArea)
        assert keys.text == "OpenRasLoopbackStepMs=10\nOpenRasLoopbackPassword=********"
        keys.text = "OpenRasLoopbackPasword=x\nOpenRasLoopbackPassword=********"
        await pilot.press("ctrl+s")
        await refused(pilot, app, "Unknown key OpenRasLoopbackPasword")
        assert winbook.read_bytes() == WINDOWS_BOOK
        keys.text = "OpenRasLoopbackPassword=********"  # StepMs removed, the secret kept
        await pilot.press("ctrl+s")
        await until(pilot, lambda: told(app, "Saved Home."), "the notice")
        assert isinstance(app.screen, EntryPicker)  # back where the edit began
    assert winbook.read_bytes() == WINDOWS_BOOK.replace(
        b"[Home]\r\nOpenRasDevice=loopback\r\nOpenRasLoopbackStepMs=10\r\n",
        b"[Home]\r\nOpenRasDevice=loopback\r\n",
    )


async def test_all_users_phonebook_is_read_only_for_users(
    rasman: Rasman, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = Path(os.environ["OPENRAS_SYSTEM_PHONEBOOK"])
    system.write_bytes(b"[Corp]\r\nOpenRasDevice=loopback\r\n")
    monkeypatch.setattr("openras.tui.entries.os.geteuid", lambda: 1000)
    app = make_app(rasman, None)
    async with app.run_test() as pilot:
        await online(pilot, app)
        for key in ("E", "r", "delete"):
            app.notices.clear()
            await picker(pilot, app, key)
            await until(pilot, lambda: told(app, "only root may change it"), "the refusal")
            assert isinstance(app.screen, EntryPicker)
            await pilot.press("escape")
        assert any("Import its entries into your own phonebook" in t for _, t in app.notices)
    assert system.read_bytes() == b"[Corp]\r\nOpenRasDevice=loopback\r\n"


# ------------------------------------------------------------------------------------ rename


async def test_rename_changes_the_header_and_the_saved_credentials_follow(
    rasman: Rasman, winbook: Path
) -> None:
    await daemon_save(rasman, "Home", winbook, "bob", "secret")
    app = make_app(rasman, winbook)
    async with app.run_test() as pilot:
        await online(pilot, app)
        await picker(pilot, app, "down", "r")
        await screen_of(pilot, app, RenameScreen)
        assert field(app, "#name").value == "Home"
        field(app, "#name").value = "Office"
        await pilot.press("enter")
        await refused(pilot, app, "Error 183")  # taken
        field(app, "#name").value = "Home Office"
        await pilot.press("enter")
        await until(pilot, lambda: told(app, "Renamed Home to Home Office."), "the notice")
        picked = app.screen
        assert isinstance(picked, EntryPicker)
        assert [c.name for c in picked.choices] == ["Office", "Home Office"]

        for _ in range(100):  # the daemon is told after the rename
            if await has_saved(rasman, "Home Office", winbook):
                break
            await pilot.pause(0.05)
        assert await has_saved(rasman, "Home Office", winbook)
        assert not await has_saved(rasman, "Home", winbook)
    assert winbook.read_bytes() == WINDOWS_BOOK.replace(b"[Home]", b"[Home Office]")


# ------------------------------------------------------------------------------------ delete


async def test_delete_asks_then_removes_only_that_entry(rasman: Rasman, winbook: Path) -> None:
    await daemon_save(rasman, "Home", winbook, "bob", "secret")
    app = make_app(rasman, winbook)
    async with app.run_test() as pilot:
        await online(pilot, app)
        await picker(pilot, app, "down", "delete")
        await screen_of(pilot, app, ConfirmDelete)
        await shows(pilot, "Delete the entry Home?")
        await pilot.press("n")  # keep
        await screen_of(pilot, app, EntryPicker)
        assert winbook.read_bytes() == WINDOWS_BOOK
        await pilot.press("delete")
        await screen_of(pilot, app, ConfirmDelete)
        await pilot.press("y")
        await until(pilot, lambda: told(app, "Deleted Home from"), "the notice")
        assert [c.name for c in app.screen.choices] == ["Office"]
    assert winbook.read_bytes() == WINDOWS_BOOK[: WINDOWS_BOOK.index(b"[Home]")]
    # A new entry of the same name does not inherit the deleted one's password.
    with winbook.open("ab") as f:
        f.write(b"[Home]\r\nOpenRasDevice=loopback\r\n")
    assert not await has_saved(rasman, "Home", winbook)


async def test_delete_of_a_connected_entry_is_refused(rasman: Rasman, winbook: Path) -> None:
    with client_of(rasman) as c:
        handle = c.dial("Office", winbook).handle
    app = make_app(rasman, winbook)
    async with app.run_test() as pilot:
        await online(pilot, app)
        await until(pilot, lambda: handle in app.rows, "the row")
        await picker(pilot, app, "delete")
        await screen_of(pilot, app, ConfirmDelete)
        await pilot.press("y")
        await until(pilot, lambda: told(app, "Office was not deleted: Error 817"), "the refusal")
        assert any("Hang it up first." in t for _, t in app.notices)
    assert winbook.read_bytes() == WINDOWS_BOOK
    await daemon(rasman, "hang_up", handle)


# ------------------------------------------------------------------------------------ import


async def test_import_a_pbk_appends_its_entries(
    rasman: Rasman, winbook: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.pbk"
    other.write_bytes(b"[Branch]\nOpenRasDevice=loopback\nOpenRasLoopbackStepMs=10\nX=1\n")
    app = make_app(rasman, winbook)
    async with app.run_test() as pilot:
        await online(pilot, app)
        await picker(pilot, app, "i")
        await screen_of(pilot, app, ImportScreen)
        field(app, "#file").value = str(winbook)
        await pilot.press("enter", "enter")
        await refused(pilot, app, "is the phonebook being imported into")
        field(app, "#file").value = str(tmp_path / "missing.pbk")
        await pilot.press("ctrl+s")
        await refused(pilot, app, "There is no file")
        field(app, "#file").value = str(other)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: told(app, "Imported 1 entry"), "the notice")
        assert [c.name for c in app.screen.choices][-1] == "Branch"
        # Again: the name is taken now, and nothing is imported.
        await pilot.press("i")
        await screen_of(pilot, app, ImportScreen)
        field(app, "#file").value = str(other)
        await pilot.press("ctrl+s")
        await refused(pilot, app, "Already in")
        await pilot.press("escape")
    data = winbook.read_bytes()
    assert data.startswith(WINDOWS_BOOK)
    tail = data[len(WINDOWS_BOOK) :].decode().split("\r\n")
    assert tail[:4] == ["[Branch]", "OpenRasDevice=loopback", "OpenRasLoopbackStepMs=10", "X=1"]


async def test_import_an_ovpn_copies_it_0600_and_adds_an_entry(
    rasman: Rasman, winbook: Path, tmp_path: Path
) -> None:
    profile = tmp_path / "downloads" / "branch-office.ovpn"
    profile.parent.mkdir()
    profile.write_text("client\nremote vpn.example.com 1194\ndev tun\n")
    profile.chmod(0o644)
    wg = tmp_path / "downloads" / "wg0.conf"
    wg.write_text(
        "[Interface]\nPrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\n"
        "Address = 10.9.0.2/24\n[Peer]\nPublicKey = xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=\n"
        "Endpoint = 127.0.0.1:51820\nAllowedIPs = 10.9.0.0/24\n"
    )
    app = make_app(rasman, winbook)
    async with app.run_test() as pilot:
        await online(pilot, app)
        await pilot.press("i")  # from the main screen
        await screen_of(pilot, app, ImportScreen)
        field(app, "#file").value = str(profile)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: told(app, "Imported 1 entry"), "the notice")
        await pilot.press("i")
        await screen_of(pilot, app, ImportScreen)
        field(app, "#file").value = str(wg)
        field(app, "#name").value = "Home WG"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: told(app, "Home WG"), "the second notice")
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "openras"
    copy, wg_copy = config / "branch-office.ovpn", config / "wg0.conf"
    assert copy.read_bytes() == profile.read_bytes()  # nothing to inline or drop in it
    assert wg_copy.read_bytes() == wg.read_bytes()
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert stat.S_IMODE(wg_copy.stat().st_mode) == 0o600
    data = winbook.read_bytes()
    assert data.startswith(WINDOWS_BOOK)
    tail = data[len(WINDOWS_BOOK) :].decode()
    assert tail.startswith(
        f"[branch-office]\r\nOpenRasDevice=openvpn\r\nOpenRasOpenVpnProfile={copy}\r\nGuid="
    )
    assert f"[Home WG]\r\nOpenRasDevice=wireguard\r\nOpenRasWireGuardConfig={wg_copy}\r\n" in tail


# ------------------------------------------------------------------------------------ save password


async def daemon_save(ras: Rasman, entry: str, book: Path, user: str, password: str) -> None:
    def run() -> None:
        with client_of(ras) as c:
            c.save_credentials(entry, book, user=user, password=password)

    await asyncio.to_thread(run)


async def test_save_password_then_dial_again_without_the_form(
    rasman: Rasman, winbook: Path
) -> None:
    app = make_app(rasman, winbook)
    async with app.run_test() as pilot:
        await online(pilot, app)
        await picker(pilot, app, "down", "enter")  # Home: a password is needed
        form = await screen_of(pilot, app, CredentialsScreen)
        assert not form.query_one("#save", Checkbox).value
        await pilot.press(*"bob", "enter", *"secret", "tab", "space")
        assert form.query_one("#save", Checkbox).value
        await pilot.press("enter")  # on the box: Enter dials, as in the fields
        await until(pilot, lambda: told(app, "Password saved for Home"), "the save")
        saved = await daemon(rasman, "credentials", "Home", winbook)
        assert saved.user == "bob" and saved.has_password
        assert "secret" not in str(saved)
        [conn] = await daemon(rasman, "connections")
        await daemon(rasman, "hang_up", conn.handle)
        await until(pilot, lambda: not app.rows, "the hang-up")

        app.notices.clear()
        await picker(pilot, app, "down", "enter")
        await until(pilot, lambda: told(app, "Connected to Home."), "the second dial")
        assert not any(isinstance(s, CredentialsScreen) for s in app.screen_stack)
    assert winbook.read_bytes() == WINDOWS_BOOK  # credentials never go into the phonebook


async def test_a_failed_dial_saves_nothing(rasman: Rasman, winbook: Path) -> None:
    app = make_app(rasman, winbook)
    async with app.run_test() as pilot:
        await online(pilot, app)
        await picker(pilot, app, "down", "enter")
        form = await screen_of(pilot, app, CredentialsScreen)
        await pilot.press(*"bob", "enter", *"wrong")
        form.query_one("#save", Checkbox).value = True
        await pilot.press("enter")
        await until(
            pilot,
            lambda: isinstance(app.screen, DialScreen) and app.screen.outcome == "failed",
            "the failure",
        )
        assert not (await daemon(rasman, "credentials", "Home", winbook)).has_password
        await pilot.press("r")  # the form again; tick kept off for a retry without saving
        form = await screen_of(pilot, app, CredentialsScreen)
        await pilot.press(*"secret", "enter")
        await until(pilot, lambda: told(app, "Connected to Home."), "the dial")
        assert not (await daemon(rasman, "credentials", "Home", winbook)).has_password


async def test_unticking_save_password_forgets_the_saved_one(rasman: Rasman, winbook: Path) -> None:
    """A saved password that fails: the retry form shows it ticked and masked (16 asterisks,
    never the password); unticked, the successful dial forgets it and keeps the user name."""
    await daemon_save(rasman, "Home", winbook, "bob", "stale")
    app = make_app(rasman, winbook)
    async with app.run_test() as pilot:
        await online(pilot, app)
        await picker(pilot, app, "down", "enter")
        await until(
            pilot,
            lambda: isinstance(app.screen, DialScreen) and app.screen.outcome == "failed",
            "the saved password to fail",
        )
        await pilot.press("r")
        form = await screen_of(pilot, app, CredentialsScreen)
        box = form.query_one("#save", Checkbox)
        assert box.value
        await shows(pilot, "A saved password (" + "*" * 16 + ") did not work")
        assert "stale" not in screen_text(app)
        box.value = False
        field(app, "#password").focus()
        await pilot.press(*"secret", "enter")
        await until(pilot, lambda: told(app, "saved password of Home was forgotten"), "forget")
        saved = await daemon(rasman, "credentials", "Home", winbook)
        assert saved.user == "bob" and not saved.has_password
