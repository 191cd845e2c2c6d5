"""The OpenVPN interpreter's challenge/response, fed openvpn's own management lines.

The expected answers are those of openvpn's management-notes.txt ("Challenge/Response"):
a static challenge answers ``password "Auth" "SCRV1:<b64 password>:<b64 response>"``, a
dynamic one (the server's ``CRV1:flags:state:b64user:text`` in the verification failure)
answers, when openvpn asks again, ``username "Auth" <user from the challenge>`` and
``password "Auth" "CRV1::<state>::<response>"``; ``CR_TEXT`` answers ``cr-response <b64>``.
"""

from __future__ import annotations

import base64

from openras import errors
from openras.links.openvpn import parser as mp
from openras.links.openvpn.interpreter import Action, Ask, End, Interpreter, Send
from openras.policy import Grant


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def interp() -> Interpreter:
    return Interpreter(
        credentials=lambda: ("alice", "pw"), recent_log=lambda: [], grant=Grant(), early=False
    )


def feed(it: Interpreter, *lines: str) -> list[Action]:
    out: list[Action] = []
    for ev in mp.ManagementParser().feed("".join(line + "\n" for line in lines).encode()):
        out += it.event(ev)
    return out


def test_static_challenge_asks_then_sends_scrv1() -> None:
    it = interp()
    asked = feed(it, ">PASSWORD:Need 'Auth' username/password SC:1,Enter PIN")
    assert asked == [Ask("Enter PIN", echo=True)]
    assert it.answer("123456") == [
        Send(('username "Auth" "alice"', f'password "Auth" "SCRV1:{b64("pw")}:{b64("123456")}"'),
             secret=True)
    ]  # fmt: skip


def test_static_challenge_concat_flag_appends_the_response() -> None:
    it = interp()
    assert feed(it, ">PASSWORD:Need 'Auth' username/password SC:2,OTP") == [Ask("OTP", False)]
    assert it.answer("99") == [Send(('username "Auth" "alice"', 'password "Auth" "pw99"'), True)]


def test_dynamic_challenge_answers_when_openvpn_asks_again() -> None:
    it = interp()
    assert feed(it, ">PASSWORD:Need 'Auth' username/password") == [
        Send(('username "Auth" "alice"', 'password "Auth" "pw"'), secret=True)
    ]
    crv1 = f"CRV1:R,E:Om01u7Fh4LrGBS7uh0SWmzwabUiGiW6l:{b64('alice@corp')}:Enter the code"
    asked = feed(it, f">PASSWORD:Verification Failed: 'Auth' ['{crv1}']")
    assert asked == [Ask("Enter the code", echo=True)]
    assert it.answer("424242") == []  # goes with openvpn's next request
    assert feed(it, ">PASSWORD:Need 'Auth' username/password") == [
        Send(
            ('username "Auth" "alice@corp"',
             'password "Auth" "CRV1::Om01u7Fh4LrGBS7uh0SWmzwabUiGiW6l::424242"'),
            secret=True,
        )
    ]  # fmt: skip
    # A refusal of the answer itself is a plain 691, not a second question.
    ends = feed(it, f">PASSWORD:Verification Failed: 'Auth' ['{crv1}']")
    assert [type(a) for a in ends] == [Ask]  # the server may ask again: a new code
    assert it.answer("1") == []
    feed(it, ">PASSWORD:Need 'Auth' username/password")
    final = feed(it, ">PASSWORD:Verification Failed: 'Auth'")
    assert final and isinstance(final[0], End) and final[0].code == 691


def test_cr_text_answers_with_cr_response() -> None:
    it = interp()
    assert feed(it, ">INFOMSG:CR_TEXT:R,E:Approve, then type the code") == [
        Ask("Approve, then type the code", echo=True)
    ]
    assert it.answer("77") == [Send((f"cr-response {b64('77')}",), secret=True)]


def test_no_answer_allowed_is_703() -> None:
    it = interp()
    feed(it, ">PASSWORD:Need 'Auth' username/password SC:0,PIN")
    [end] = it.answer(None)
    assert isinstance(end, End) and end.code == errors.ERROR_INTERACTIVE_MODE
    assert "PIN" in end.detail


def test_an_answer_nobody_asked_for_does_nothing() -> None:
    assert interp().answer("x") == []


def test_a_line_break_in_the_answer_is_refused() -> None:
    it = interp()
    feed(it, ">PASSWORD:Need 'Auth' username/password SC:0,PIN")
    [end] = it.answer("1\nsignal SIGTERM")
    assert isinstance(end, End) and end.code == errors.ERROR_AUTHENTICATION_FAILURE


def test_web_authentication_still_fails_clearly() -> None:
    [end] = feed(interp(), ">INFOMSG:WEB_AUTH::https://sso.example/login")
    assert isinstance(end, End) and "web authentication" in end.detail


def test_dynamic_challenge_when_openvpn_asks_before_the_user_answers() -> None:
    """openvpn restarts at once after the challenge and asks for credentials again while
    the user still types: nothing goes until the answer, then the CRV1 login."""
    it = interp()
    feed(it, ">PASSWORD:Need 'Auth' username/password")
    crv1 = f"CRV1:R:state42:{b64('alice')}:Code"
    assert feed(it, f">PASSWORD:Verification Failed: 'Auth' ['{crv1}']") == [Ask("Code", False)]
    assert feed(it, ">STATE:1,RECONNECTING,auth-failure,,,,,") == []
    assert feed(it, ">PASSWORD:Need 'Auth' username/password") == []
    assert it.answer("7") == [
        Send(('username "Auth" "alice"', 'password "Auth" "CRV1::state42::7"'), secret=True)
    ]
