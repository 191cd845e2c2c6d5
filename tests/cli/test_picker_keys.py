"""The picker's pure part: key decoding and the choice rules, without a terminal."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openras.cli._picker import CANCEL, DOWN, END, ENTER, HOME, UP, Choice, decode


@pytest.mark.parametrize(
    ("data", "keys"),
    [
        ("\x1b[A\x1b[B", [UP, DOWN]),
        ("\x1bOA\x1bOB", [UP, DOWN]),
        ("\x1b[H\x1b[F\x1b[1~\x1b[4~", [HOME, END, HOME, END]),
        ("\x1b", [CANCEL]),
        ("\x1b[5~x", ["x"]),  # an unknown sequence (Page Up) is skipped whole
        ("12\r", ["1", "2", ENTER]),
        ("\x04", [CANCEL]),
    ],
)
def test_decode(data: str, keys: list[str]) -> None:
    assert decode(data) == keys


def feed(choice: Choice, *keys: str) -> Choice:
    for key in keys:
        if choice.feed(key):
            break
    return choice


def test_arrows_wrap_and_enter_chooses_the_marked_row() -> None:
    assert feed(Choice(3), DOWN, DOWN, DOWN, UP, ENTER).chosen == 2
    assert feed(Choice(3), END, ENTER).chosen == 2
    assert feed(Choice(3), END, HOME, ENTER).chosen == 0


def test_typed_numbers_choose_and_move_the_marker() -> None:
    c = feed(Choice(12), "1", "1")
    assert (c.current, c.typed, c.done) == (10, "11", False)
    assert feed(c, ENTER).chosen == 10
    assert feed(Choice(3), "3", "backspace", "2", ENTER).chosen == 1


def test_out_of_range_says_so_and_waits() -> None:
    c = feed(Choice(2), "7", ENTER)
    assert (c.done, c.message, c.typed) == (False, "Please type a number from 1-2, or q.", "")
    assert feed(c, "2", ENTER).chosen == 1


@pytest.mark.parametrize("keys", [["q"], [CANCEL], ["Q"]])
def test_cancel(keys: list[str]) -> None:
    c = feed(Choice(2), *keys)
    assert c.done
    assert c.chosen is None


@given(st.lists(st.sampled_from([UP, DOWN, HOME, END, ENTER, CANCEL, "1", "9", "q", "²", "x"])))
def test_any_keys_keep_the_marker_in_range(keys: list[str]) -> None:
    c = feed(Choice(4), *keys)
    assert 0 <= c.current < 4
    assert c.chosen is None or (c.done and 0 <= c.chosen < 4)
