"""rasphone: the server's question while dialing (RASCS_Interactive, a one-time code) is
asked in a dialog, masked, and the answer goes back; Esc cancels the dial and hangs it up.

The loopback link asks ``OpenRasLoopbackChallenge`` as an OpenVPN server with a static
challenge does. A real rasman answers.
"""

from __future__ import annotations

from pathlib import Path

from tui_support import Rasman, daemon, make_app, online, screen_text, until

from openras.tui.app import MainScreen
from openras.tui.screens import DialScreen, EntryPicker, QuestionScreen

TOKEN = """\
[Token]
OpenRasDevice=loopback
OpenRasLoopbackStepMs=5
OpenRasLoopbackChallenge=Enter the code from your phone
OpenRasLoopbackChallengeAnswer=4242
PreviewUserPw=0
"""


async def test_the_question_is_asked_in_a_dialog(rasman: Rasman, tmp_path: Path) -> None:
    book = tmp_path / "token.pbk"
    book.write_text(TOKEN)
    app = make_app(rasman, book)
    async with app.run_test() as pilot:
        await online(pilot, app)
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, EntryPicker), "the entry list")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, QuestionScreen), "the question")
        assert "Enter the code from your phone" in screen_text(app)
        await pilot.press(*"4242")
        assert "4242" not in screen_text(app), "the answer is shown while typed"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the dial to finish")
        await until(
            pilot, lambda: ("information", "Connected to Token.") in app.notices, "the dial"
        )
        [info] = await daemon(rasman, "connections")
        assert info.entry == "Token"


async def test_escape_at_the_question_cancels_the_dial(rasman: Rasman, tmp_path: Path) -> None:
    book = tmp_path / "token.pbk"
    book.write_text(TOKEN)
    app = make_app(rasman, book)
    async with app.run_test() as pilot:
        await online(pilot, app)
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, EntryPicker), "the entry list")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, QuestionScreen), "the question")
        await pilot.press("escape")
        await until(
            pilot,
            lambda: isinstance(app.screen, DialScreen) and app.screen.outcome == "failed",
            "the cancelled dial to end",
        )
        assert "631" in screen_text(app) or "cancel" in screen_text(app).lower()

        async def nothing_left() -> bool:
            return await daemon(rasman, "connections") == []

        for _ in range(200):
            if await nothing_left():
                break
            await pilot.pause(0.05)
        assert await nothing_left()
