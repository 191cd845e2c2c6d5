"""rasphone: an L2TP/IPsec entry without a saved pre-shared key asks for it (masked) before
dialing and saves it for the entry through the daemon; the next dial does not ask again.

The entry is a Windows L2TP/IPsec export (``VpnStrategy=3``, ``DataEncryption=256``). A real
rasman answers (a per-user one here: the dial itself is then refused, which is not what is
tested; the key's path is: form, daemon, saved, never in the phonebook).
"""

from __future__ import annotations

from pathlib import Path

from tui_support import Rasman, daemon, make_app, online, screen_text, until

from openras.tui.app import MainScreen
from openras.tui.screens import CredentialsScreen, DialScreen, EntryPicker, PresharedKeyScreen
from openras.tui.view import list_entries

EXPORT = """\
[Office L2TP]
Encoding=1
Type=2
VpnStrategy=3
DataEncryption=256
PreferredDevice=WAN Miniport (L2TP)

MEDIA=rastapi
Port=VPN3-0
Device=WAN Miniport (L2TP)

DEVICE=vpn
PhoneNumber=192.0.2.1
"""
KEY = "lab-psk-7f3a"


def test_only_l2tp_entries_that_require_ipsec_need_a_key(tmp_path: Path) -> None:
    book = tmp_path / "rasphone.pbk"
    book.write_text(
        EXPORT
        + "\n"
        + EXPORT.replace("[Office L2TP]", "[Plain L2TP]").replace(
            "DataEncryption=256", "DataEncryption=0"
        )
        + "\n"
        + EXPORT.replace("[Office L2TP]", "[Office IKEv2]").replace(
            "VpnStrategy=3", "VpnStrategy=7"
        )
    )
    choices, problems = list_entries(book)
    assert problems == []
    assert {c.name: c.needs_psk for c in choices} == {
        "Office L2TP": True,
        "Plain L2TP": False,
        "Office IKEv2": False,
    }


async def test_the_key_is_asked_masked_saved_through_the_daemon_and_not_asked_again(
    rasman: Rasman, tmp_path: Path
) -> None:
    book = tmp_path / "rasphone.pbk"
    book.write_text(EXPORT)
    before = book.read_bytes()
    app = make_app(rasman, book)
    async with app.run_test() as pilot:
        await online(pilot, app)
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, EntryPicker), "the entry list")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, PresharedKeyScreen), "the key form")
        await pilot.press(*KEY)
        assert KEY not in screen_text(app)  # masked
        await pilot.press("enter")
        await until(
            pilot,
            lambda: ("information", "Pre-shared key saved for Office L2TP.") in app.notices,
            "the key to be saved",
        )
        saved = await daemon(rasman, "credentials", "Office L2TP", book)
        assert saved.has_psk and not saved.has_password
        # Then the dial goes on as any VPN dial: the user name and password.
        await until(pilot, lambda: isinstance(app.screen, CredentialsScreen), "the credentials")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")

        # The next dial finds the key saved: no key form.
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, EntryPicker), "the entry list")
        await pilot.press("enter")
        await until(
            pilot,
            lambda: isinstance(app.screen, CredentialsScreen | DialScreen),
            "the dial without the key form",
        )
        assert not isinstance(app.screen, PresharedKeyScreen)
        await pilot.press("escape")
    assert book.read_bytes() == before  # the key is the daemon's, never the phonebook's
    assert KEY.encode() not in book.read_bytes()


async def test_cancelling_the_key_form_dials_nothing(rasman: Rasman, tmp_path: Path) -> None:
    book = tmp_path / "rasphone.pbk"
    book.write_text(EXPORT)
    app = make_app(rasman, book)
    async with app.run_test() as pilot:
        await online(pilot, app)
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, EntryPicker), "the entry list")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, PresharedKeyScreen), "the key form")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        saved = await daemon(rasman, "credentials", "Office L2TP", book)
        assert not saved.has_psk
        assert await daemon(rasman, "connections") == []
