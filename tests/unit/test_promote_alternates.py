"""PromoteAlternates: the alternate number that answered becomes the entry's number, in the
user's own book, only when the entry asks; everything else in the file stays as it was."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from openras import promote
from openras.phonebook import load
from openras.wire import protocol as P

ENTRY = (
    "[Dial-up ISP]\r\nEncoding=1\r\nType=1\r\nPreferredDevice=Standard 56000 bps Modem\r\n"
    "\r\nMEDIA=rastapi\r\nPort=COM3\r\nDevice=Standard 56000 bps Modem\r\n"
    "\r\nDEVICE=modem\r\nPhoneNumber=555-0000\r\nAreaCode=\r\nCountryCode=0\r\n"
    "PromoteAlternates={promote}\r\nTryNextAlternateOnFail=1\r\n"
    "\r\nDEVICE=modem\r\nPhoneNumber=555-0100\r\n"
    "\r\nDEVICE=modem\r\nPhoneNumber=555-0200\r\n"
    "\r\n[Other]\r\nType=2\r\nPhoneNumber=vpn.example.net\r\n"
)


def test_the_answered_number_goes_first_the_others_keep_their_order() -> None:
    assert promote.promoted(["a", "b", "c"], "b") == ["b", "a", "c"]
    assert promote.promoted(["a", "b", "c"], "c") == ["c", "a", "b"]
    assert promote.promoted(["a", "b"], "a") is None  # the primary answered
    assert promote.promoted(["a", "b"], "z") is None  # not the entry's (the caller's own)


def _book(tmp_path: Path, flag: str) -> Path:
    path = tmp_path / "rasphone.pbk"
    path.write_bytes(ENTRY.format(promote=flag).encode())
    return path


def test_the_book_is_rewritten_only_where_the_numbers_are(tmp_path: Path) -> None:
    path = _book(tmp_path, "1")
    before = path.read_bytes()
    assert promote.promote_in_book(str(path), "dial-up isp", "555-0200")
    entry = load(path)["Dial-up ISP"]
    assert entry.phone_number == "555-0200"
    assert entry.alternates == ["555-0000", "555-0100"]
    after = path.read_bytes()
    # only the three numbers changed: every other line, and the CR LF endings, are kept
    changed = [
        (a, b) for a, b in zip(before.split(b"\r\n"), after.split(b"\r\n"), strict=True) if a != b
    ]
    assert changed == [
        (b"PhoneNumber=555-0000", b"PhoneNumber=555-0200"),
        (b"PhoneNumber=555-0100", b"PhoneNumber=555-0000"),
        (b"PhoneNumber=555-0200", b"PhoneNumber=555-0100"),
    ]


def test_an_entry_without_the_flag_is_left_alone(tmp_path: Path) -> None:
    path = _book(tmp_path, "0")
    before = path.read_bytes()
    assert not promote.promote_in_book(str(path), "Dial-up ISP", "555-0200")
    assert path.read_bytes() == before


class _Daemon:
    """What the dialer asks the daemon after Connected (its replies as the wire has them)."""

    def __init__(self, path: Path, extra: dict[str, str]) -> None:
        self.path, self.extra = path, extra
        self.calls: list[str] = []

    def __call__(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(method)
        if method == P.PROJECTION:
            return {"extra": self.extra}
        return {"phonebook": str(self.path), "entry_name": "Dial-up ISP"}


@pytest.mark.parametrize(
    ("dialed", "extra", "changed"),
    [
        ("5550200", {"dialed_number": "555-0200", "numbers_failed_before": "555-0000 678"}, True),
        # the entry's first number answered: nothing to promote
        ("5550000", {"dialed_number": "555-0000", "numbers_failed_before": ""}, False),
    ],
)
def test_after_a_dial_the_dialer_promotes_what_answered(
    tmp_path: Path, dialed: str, extra: dict[str, str], changed: bool
) -> None:
    path = _book(tmp_path, "1")
    daemon = _Daemon(path, extra)
    assert promote.after_connected(daemon, 7, dialed) is changed
    assert (load(path)["Dial-up ISP"].phone_number == "555-0200") is changed


def test_a_link_that_dialed_no_number_costs_no_call(tmp_path: Path) -> None:
    daemon = _Daemon(_book(tmp_path, "1"), {})
    assert not promote.after_connected(daemon, 7, "")
    assert daemon.calls == []


def test_a_book_the_user_may_not_write_does_not_fail_the_dial(tmp_path: Path) -> None:
    path = _book(tmp_path, "1")
    extra = {"dialed_number": "555-0200", "numbers_failed_before": "555-0000 678"}
    daemon = _Daemon(tmp_path / "missing" / "rasphone.pbk", extra)
    assert not promote.after_connected(daemon, 7, "5550200")
    assert load(path)["Dial-up ISP"].phone_number == "555-0000"
