"""``_term``: tables line up when cells are coloured, and colour obeys the terminal rules."""

from __future__ import annotations

import io
import re

import pytest
from cli_support import Cli, on_pty

from openras.cli import _term

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def coloured() -> _term.Style:
    style = _term.Style(io.StringIO())
    style.enabled = True  # as on a terminal without NO_COLOR
    return style


def starts(line: str) -> list[int]:
    """Column where each two-space-separated cell of ``line`` starts."""
    return [m.start() for m in re.finditer(r"(?:^|(?<=  ))\S", line)]


def test_coloured_cells_do_not_shift_the_columns() -> None:
    style = coloured()
    rows = [
        ["1", "Demo", style("Connected", "green"), "loopback"],
        ["22", "Branch VPN", style("ConnectDevice", "yellow"), "openvpn"],
    ]
    text = _term.table(rows, ["#", "ENTRY", "STATE", "DEVICE"], style)
    assert "\x1b[" in text  # colour is really on
    plain = [ANSI.sub("", ln) for ln in text.splitlines()]
    assert plain[0].startswith("#   ENTRY       STATE          DEVICE")
    assert starts(plain[0]) == starts(plain[1]) == starts(plain[2])
    assert plain[1] == "1   Demo        Connected      loopback"


def test_plain_table_is_unchanged_without_colour() -> None:
    text = _term.table([["a", "bbb"], ["cc", "d"]], ["X", "Y"])
    assert text.splitlines() == ["X   Y", "a   bbb", "cc  d"]


@pytest.mark.parametrize(
    ("text", "width"), [("", 0), ("abc", 3), ("\x1b[32mabc\x1b[0m", 3), ("\x1b[1;32m\x1b[0m", 0)]
)
def test_visible_len_ignores_escapes(text: str, width: int) -> None:
    assert _term.visible_len(text) == width


def test_no_color_and_pipes_stay_plain(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not _term.Style(io.StringIO()).enabled  # not a terminal
    monkeypatch.setenv("NO_COLOR", "1")
    assert not _term.use_colour(io.StringIO())


def test_list_on_a_terminal_lines_up_under_its_header(cli: Cli) -> None:
    """The audit's bug: on a pty the header after STATE sat 9 columns right of the rows."""
    assert cli.openras("dial", "Demo").returncode == 0
    status, out = on_pty(cli, "list", env={**cli.env, "TERM": "xterm"})
    assert status == 0
    assert "\x1b[32mConnected" in out  # coloured on the terminal
    header, row = [ANSI.sub("", ln) for ln in out.splitlines()[:2]]
    assert header.split() == ["HANDLE", "ENTRY", "STATE", "DEVICE", "PHONE", "CONNECTED"]
    assert starts(header) == starts(row), (header, row)
