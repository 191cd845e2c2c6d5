"""RASCS_Interactive: a link's question while dialing (a server's one-time code), answered by
the dialer through ``Client.dial(on_input=...)`` / ``DialInput``, against a real rasman.

The loopback link asks ``OpenRasLoopbackChallenge`` after the password, as an OpenVPN server
with a static challenge does (tests/links/test_openvpn_challenge.py runs the real one).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from openras import errors
from openras.aclient import AsyncClient
from openras.client import Client
from openras.states import RasConnState

BOOK = """\
[Token]
OpenRasDevice=loopback
OpenRasLoopbackStepMs=5
OpenRasLoopbackChallenge=Enter PIN
OpenRasLoopbackChallengeAnswer=4242
"""


@pytest.fixture
def book(tmp_path: Path) -> Path:
    path = tmp_path / "token.pbk"
    path.write_text(BOOK)
    return path


def test_the_question_reaches_the_dialer_and_the_answer_connects(rasman, book: Path) -> None:
    asked: list[tuple[str, bool]] = []
    states: list[RasConnState] = []

    def answer(prompt: str, echo: bool) -> str:
        asked.append((prompt, echo))
        return "4242"

    with Client(rasman.socket) as c:
        conn = c.dial("Token", book, on_input=answer, on_state=lambda e: states.append(e.state))
        assert asked == [("Enter PIN", False)]
        assert RasConnState.Interactive in states
        assert states.index(RasConnState.Interactive) < states.index(RasConnState.Connected)
        assert c.status(conn.handle).state is RasConnState.Connected
        conn.hang_up(wait=True)
    assert "4242" not in rasman.log.read_text()


def test_a_dialer_that_allows_no_questions_gets_703(rasman, book: Path) -> None:
    with Client(rasman.socket) as c:
        with pytest.raises(errors.RasError) as info:
            c.dial("Token", book)
        assert info.value.code == errors.ERROR_INTERACTIVE_MODE
        assert info.value.handle, "a failed dial still has its handle"
        c.hang_up(info.value.handle, wait=True)


def test_a_wrong_answer_is_691(rasman, book: Path) -> None:
    with Client(rasman.socket) as c:
        with pytest.raises(errors.RasError) as info:
            c.dial("Token", book, on_input=lambda prompt, echo: "1111")
        assert info.value.code == errors.ERROR_AUTHENTICATION_FAILURE
        c.hang_up(info.value.handle, wait=True)


def test_no_answer_hangs_the_attempt_up(rasman, book: Path) -> None:
    with Client(rasman.socket) as c:
        with pytest.raises(errors.RasError) as info:
            c.dial("Token", book, on_input=lambda prompt, echo: None)
        assert info.value.code == errors.ERROR_USER_DISCONNECTION
        c.wait_gone(info.value.handle, timeout=10)


def test_an_answer_nobody_asked_for_is_refused(rasman, book: Path) -> None:
    with Client(rasman.socket) as c:
        conn = c.dial("Token", book, on_input=lambda prompt, echo: "4242")
        with pytest.raises(errors.RasError) as info:
            c.provide_input(conn.handle, "4242")
        assert info.value.code == errors.ERROR_INVALID_PARAMETER
        with pytest.raises(errors.RasError) as bad:
            c.provide_input(conn.handle + 1000, "4242")
        assert bad.value.code == errors.ERROR_INVALID_HANDLE
        conn.hang_up(wait=True)


async def test_the_async_client_awaits_a_coroutine_answer(rasman, book: Path) -> None:
    async def answer(prompt: str, echo: bool) -> str:
        await asyncio.sleep(0)
        return "4242" if prompt == "Enter PIN" else "?"

    async with AsyncClient(rasman.socket) as c:
        conn = await c.dial("Token", book, on_input=answer)
        assert (await c.status(conn.handle)).state is RasConnState.Connected
        await c.hang_up(conn.handle, wait=True)


def test_rasdial_paused_states_resume_with_the_answer(rasman, book: Path) -> None:
    """Win32: with RDEOPT_PausedStates the notifier sees RASCS_Interactive and the dial waits;
    RasDial again with the paused handle, the answer in szPassword, resumes it."""
    import queue

    from openras import rasapi as r

    states: queue.Queue[tuple[int, int]] = queue.Queue()
    ext = r.RASDIALEXTENSIONS(dwfOptions=r.RDEOPT_PausedStates)
    code, h = r.RasDial(
        ext, str(book), r.RASDIALPARAMS(szEntryName="Token"), 0,
        lambda msg, state, error: states.put((state, error)),
    )  # fmt: skip
    assert code == 0 and h

    def next_state() -> tuple[int, int]:
        return states.get(timeout=10)

    seen = [next_state()]
    while seen[-1][0] != RasConnState.Interactive:
        assert seen[-1][1] == 0, seen
        seen.append(next_state())
    assert r.RasGetConnectStatus(h)[1].rasconnstate == RasConnState.Interactive
    assert r.RasDial(ext, str(book), r.RASDIALPARAMS("Token", szPassword="4242"), hrasconn=h) == (
        0,
        h,
    )
    while seen[-1][0] != RasConnState.Connected:
        assert seen[-1][1] == 0, seen
        seen.append(next_state())
    assert r.RasHangUp(h) == 0


def test_rasdial_without_paused_states_is_703(rasman, book: Path) -> None:
    from openras import rasapi as r

    code, h = r.RasDial(None, str(book), r.RASDIALPARAMS(szEntryName="Token"))
    assert code == errors.ERROR_INTERACTIVE_MODE
    assert r.RasHangUp(h) == 0
