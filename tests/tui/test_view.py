"""The pure formatting and phonebook rules behind rasphone's screens."""

from __future__ import annotations

from pathlib import Path

import pytest

from openras import errors
from openras.phonebook import parse
from openras.records import ConnectionInfo, Statistics
from openras.states import RasConnState
from openras.tui.view import (
    MASK,
    Row,
    entry_properties,
    error_line,
    fmt_bytes,
    fmt_duration,
    list_entries,
    needs_credentials,
    phase_label,
)


def info(phase: str, state: RasConnState = RasConnState.Connected, **kw: object) -> ConnectionInfo:
    return ConnectionInfo(
        handle=7, entry="Office", state=state, phase=phase, entry_name="Office", **kw
    )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("phase", "state", "error", "label"),
    [
        ("dialing", RasConnState.AuthProject, 0, "AuthProject"),
        ("connected", RasConnState.Connected, 0, "Connected"),
        ("disconnecting", RasConnState.Disconnected, 629, "Disconnecting"),
        ("failed", RasConnState.Authenticate, 691, "Failed (691)"),
    ],
)
def test_phase_label(phase: str, state: RasConnState, error: int, label: str) -> None:
    assert phase_label(info(phase, state, error=error)) == label


def test_hanging_up_label_until_the_daemon_moves() -> None:
    assert phase_label(info("connected"), hanging_up=True) == "Hanging up…"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, ""), (0, "0:00:00"), (65.9, "0:01:05"), (3600 * 25 + 1, "1d 1:00:01"), (-3, "0:00:00")],
)
def test_fmt_duration(seconds: float | None, text: str) -> None:
    assert fmt_duration(seconds) == text


@pytest.mark.parametrize(
    ("n", "text"),
    [(None, ""), (0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (5 * 1024**3, "5.0 GiB")],
)
def test_fmt_bytes(n: int | None, text: str) -> None:
    assert fmt_bytes(n) == text


def test_error_line_has_code_and_windows_text() -> None:
    assert error_line(691).startswith("Error 691: ")
    assert errors.message(691) in error_line(691)


def test_row_cells_and_throughput() -> None:
    row = Row(info("connected", connected_at=1000.0))
    row.add_sample(Statistics(100, 200, 1, 2, 0, 0, 0), at=10.0)
    row.add_sample(Statistics(600, 700, 3, 4, 0, 0, 0), at=12.0)
    assert list(row.rates) == [500.0]  # (1300 - 300) bytes over 2 s
    cells = row.cells(now=1065.0)
    assert cells["entry"] == "Office"
    assert cells["time"] == "0:01:05"
    assert cells["in"] == "700 B"
    assert cells["out"] == "600 B"


def _entry(text: str):  # type: ignore[no-untyped-def]
    return parse(text.encode())


@pytest.mark.parametrize(
    ("body", "asks"),
    [
        ("PreviewUserPw=1\nOpenRasDevice=loopback\n", True),
        ("PreviewUserPw=0\nDEVICE=vpn\n", False),
        ("MEDIA=rastapi\nDEVICE=vpn\nPhoneNumber=vpn.example\n", True),
        ("OpenRasDevice=loopback\n", False),
        ("OpenRasDevice=loopback\nOpenRasLoopbackPassword=x\n", True),
        ("OpenRasDevice=wireguard\n", False),
        ("OpenRasDevice=openvpn\n", True),
        ("OpenRasDevice=ssh\nPhoneNumber=alice@host\n", True),  # password authentication
        ("OpenRasDevice=ssh\nOpenRasSshIdentity=id_ed25519\n", False),  # a key: no prompt
        ("OpenRasDevice=ssh\nOpenRasSshIdentity=\n", True),
    ],
)
def test_needs_credentials(body: str, asks: bool) -> None:
    entry = _entry("[E]\n" + body).find("E")
    assert entry is not None
    assert needs_credentials(entry) is asks


def test_list_entries_reports_unreadable_books(tmp_path: Path) -> None:
    choices, problems = list_entries(tmp_path / "missing.pbk")
    assert choices == []
    assert len(problems) == 1
    assert problems[0].startswith("Error 621: ")
    assert "missing.pbk" in problems[0]


def test_list_entries_all_users_dials_with_null_phonebook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = tmp_path / "system.pbk"
    system.write_text("[Corp]\nDEVICE=vpn\nPhoneNumber=vpn.corp\n")
    monkeypatch.setenv("OPENRAS_SYSTEM_PHONEBOOK", str(system))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "none"))
    (choice,), problems = list_entries(None)
    assert problems == []
    assert (choice.name, choice.host, choice.all_users, choice.dial_phonebook) == (
        "Corp",
        "vpn.corp",
        True,
        None,
    )


def test_entry_properties_mask_secrets(tmp_path: Path) -> None:
    book = tmp_path / "b.pbk"
    book.write_text(
        "[E]\nOpenRasDevice=loopback\nOpenRasLoopbackPassword=hunter2\nPreSharedKey=\nMEDIA=rastapi\nDevice=x\n"
    )
    blocks = dict(entry_properties(book, "e"))
    assert ("OpenRasLoopbackPassword", MASK) in blocks["[E]"]
    assert ("PreSharedKey", "") in blocks["[E]"]  # empty stays empty: nothing to hide
    assert blocks["MEDIA=rastapi"] == [("Device", "x")]
    with pytest.raises(errors.EntryNotFound):
        entry_properties(book, "nope")
