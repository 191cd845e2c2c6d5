"""When a dial's reads may be made on the daemon's event loop (entries.cheap_to_read)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from openras.manager.entries import INLINE_PHONEBOOK_MAX, cheap_to_read


def test_direct_reads_of_small_books_are_cheap(tmp_path: Path) -> None:
    book = tmp_path / "rasphone.pbk"
    book.write_text("[A]\nOpenRasDevice=loopback\n")
    me = os.geteuid()
    assert cheap_to_read(me, str(book), None)
    assert cheap_to_read(me, str(tmp_path / "missing.pbk"), None)  # resolve reports it
    book.write_bytes(b";" * (INLINE_PHONEBOOK_MAX + 1))
    assert not cheap_to_read(me, str(book), None)  # a big book parses in a worker thread


def test_another_users_reads_always_go_to_a_thread(tmp_path: Path) -> None:
    book = tmp_path / "rasphone.pbk"
    book.write_text("[A]\n")
    assert not cheap_to_read(os.geteuid() + 1, str(book), None)


def test_without_a_named_book_both_default_books_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system, user = tmp_path / "system.pbk", tmp_path / "user.pbk"
    monkeypatch.setenv("OPENRAS_SYSTEM_PHONEBOOK", str(system))
    me = os.geteuid()
    assert cheap_to_read(me, None, str(user))  # neither exists yet
    user.write_bytes(b";" * (INLINE_PHONEBOOK_MAX + 1))
    assert not cheap_to_read(me, None, str(user))
    user.write_text("[A]\n")
    system.write_bytes(b";" * (INLINE_PHONEBOOK_MAX + 1))
    assert not cheap_to_read(me, None, str(user))
