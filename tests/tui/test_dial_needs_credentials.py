"""rasphone: a dial the daemon refuses for lacking a user name and password (691 with
``needs="credentials"``) asks for them in the dial dialog instead of showing the error.

The entry says ``PreviewUserPw=0`` (Windows: do not ask before dialing), so the first dial
goes out without credentials; ``OpenRasLoopbackNeedsPassword=1`` makes the loopback link
refuse that as an OpenVPN profile with ``auth-user-pass`` does. A real rasman answers.
"""

from __future__ import annotations

from pathlib import Path

from tui_support import Rasman, daemon, make_app, online, screen_text, shows, until

from openras.tui.app import MainScreen
from openras.tui.screens import CredentialsScreen, DialScreen, EntryPicker

LOCKED = """\
[Locked]
OpenRasDevice=loopback
OpenRasLoopbackStepMs=10
OpenRasLoopbackPassword=secret
OpenRasLoopbackNeedsPassword=1
PreviewUserPw=0
"""


async def test_missing_credentials_are_asked_not_shown_as_an_error(
    rasman: Rasman, tmp_path: Path
) -> None:
    book = tmp_path / "locked.pbk"
    book.write_text(LOCKED)
    app = make_app(rasman, book)
    seen: list[str] = []
    async with app.run_test() as pilot:
        await online(pilot, app)
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, EntryPicker), "the entry list")
        await pilot.press("enter")  # PreviewUserPw=0: straight to dialing, no form

        def form() -> bool:
            if isinstance(app.screen, DialScreen):
                seen.append(app.screen.outcome)
            return isinstance(app.screen, CredentialsScreen)

        await until(pilot, form, "the credentials form after the refusal")
        assert "failed" not in seen, "the refusal was shown as a failure"
        await shows(pilot, "Locked needs a user name and password.")
        assert "691" not in screen_text(app)
        await pilot.press(*"bob", "enter", *"secret", "enter")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the dial to finish")
        await until(
            pilot, lambda: ("information", "Connected to Locked.") in app.notices, "the dial"
        )
        [info] = await daemon(rasman, "connections")
        assert info.entry == "Locked"


async def test_a_wrong_password_is_still_an_error(rasman: Rasman, tmp_path: Path) -> None:
    """Only "none given" is asked for; a refused password shows the error as before."""
    book = tmp_path / "locked.pbk"
    book.write_text(LOCKED)
    app = make_app(rasman, book)
    async with app.run_test() as pilot:
        await online(pilot, app)
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, EntryPicker), "the entry list")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, CredentialsScreen), "the form")
        await pilot.press(*"bob", "enter", *"wrong", "enter")
        await until(
            pilot,
            lambda: isinstance(app.screen, DialScreen) and app.screen.outcome == "failed",
            "the wrong password to fail",
        )
        await shows(pilot, "Error 691")
