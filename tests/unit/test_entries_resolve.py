"""Resolving a dial's entry: the phonebook read as the caller, typos get a suggestion."""

from __future__ import annotations

from pathlib import Path

import pytest

from openras import errors
from openras.manager import entries


def test_a_typo_gets_did_you_mean(tmp_path: Path):
    book = tmp_path / "b.pbk"
    book.write_text("[Office VPN]\nOpenRasDevice=loopback\n\n[Home]\nOpenRasDevice=loopback\n")
    with pytest.raises(errors.EntryNotFound) as info:
        entries.resolve(0, "office vnp", str(book), None)
    assert info.value.detail == "no entry 'office vnp' (did you mean 'Office VPN'?)"
    with pytest.raises(errors.EntryNotFound) as info:
        entries.resolve(0, "Zebra", str(book), None)
    assert info.value.detail == "no entry 'Zebra'"
    assert entries.resolve(0, "HOME", str(book), None).name == "Home"


def test_a_named_phonebook_that_is_missing_is_621(tmp_path: Path):
    with pytest.raises(errors.PhonebookError) as info:
        entries.resolve(0, "x", str(tmp_path / "absent.pbk"), None)
    assert info.value.code == errors.ERROR_CANNOT_OPEN_PHONEBOOK


def test_same_bytes_are_parsed_once_and_changed_bytes_again(tmp_path: Path) -> None:
    from openras.manager import entries

    path = tmp_path / "p.pbk"
    first = entries.parse_cached(b"[Office]\nPhoneNumber=1\n", path)
    assert entries.parse_cached(b"[Office]\nPhoneNumber=1\n", path) is first
    other = entries.parse_cached(b"[Office]\nPhoneNumber=2\n", path)
    assert other is not first and other.find("Office").phone_number == "2"
    assert entries.parse_cached(b"[Office]\nPhoneNumber=1\n", tmp_path / "q.pbk") is not first
    with pytest.raises(errors.PhonebookError):
        entries.parse_cached(b"[Office\n", path)  # a bad book is an error every time
    with pytest.raises(errors.PhonebookError):
        entries.parse_cached(b"[Office\n", path)
    big = b"[Office]\nPhoneNumber=1\n" + b"; " + b"x" * entries.PARSED_MAX_BYTES + b"\n"
    assert entries.parse_cached(big, path) is not entries.parse_cached(big, path)


def test_a_corrupt_all_users_book_does_not_block_the_users_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = tmp_path / "all-users.pbk"
    system.write_text("[Shared]\nOpenRasDevice=loopback\n[Broken\n")
    monkeypatch.setenv("OPENRAS_SYSTEM_PHONEBOOK", str(system))
    mine = tmp_path / "mine.pbk"
    mine.write_text("[Mine]\nOpenRasDevice=loopback\n")
    assert entries.resolve(0, "Mine", None, str(mine)).name == "Mine"
    with pytest.raises(errors.PhonebookError) as info:  # maybe in the broken book: say where
        entries.resolve(0, "Shared", None, str(mine))
    assert info.value.code == errors.ERROR_CORRUPT_PHONEBOOK
    assert f"{system}:3" in str(info.value)
    with pytest.raises(errors.PhonebookError):  # named, it is its error at once
        entries.resolve(0, "Mine", str(system), None)
