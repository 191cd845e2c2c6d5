"""rasphone's phonebook edits without the UI (openras.tui.entries): the rules the forms use."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from openras.tui import entries
from openras.tui.entries import Change, NewEntry, Refused

WIN = b"[Office]\r\nOpenRasDevice=openvpn\r\nOpenRasOpenVpnProfile=gone.ovpn\r\n\r\nDEVICE=vpn\r\nPhoneNumber=a.example\r\n"


@pytest.fixture(autouse=True)
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("OPENRAS_SYSTEM_PHONEBOOK", str(tmp_path / "system.pbk"))
    return tmp_path / "config" / "openras"


def test_parse_lines() -> None:
    assert entries.parse_lines("A=1\n\n B = two words \nC=") == [
        ("A", "1"),
        ("B", "two words"),
        ("C", ""),
    ]
    with pytest.raises(Refused, match=r"Line 2 \('oops'\) is not KEY=VALUE"):
        entries.parse_lines("A=1\noops")
    with pytest.raises(Refused, match="Line 1"):
        entries.parse_lines("=value")


def test_phone_number_line_goes_where_windows_keeps_it_and_a_missing_profile_is_kept(
    tmp_path: Path,
) -> None:
    book = tmp_path / "b.pbk"
    book.write_bytes(WIN)
    lines = "OpenRasOpenVpnProfile=gone.ovpn\nPhoneNumber=b.example"
    assert entries.apply_change(book, Change("Office", None, "", lines))
    assert book.read_bytes() == WIN.replace(b"a.example", b"b.example")
    # A new path must exist (relative ones are the phonebook directory's, as the driver reads).
    with pytest.raises(Refused, match="there is no file"):
        entries.apply_change(book, Change("Office", None, "", "OpenRasOpenVpnProfile=new.ovpn"))
    (tmp_path / "new.ovpn").write_text("client\n")
    assert entries.apply_change(book, Change("Office", None, "", "OpenRasOpenVpnProfile=new.ovpn"))
    assert b"OpenRasOpenVpnProfile=new.ovpn\r\n" in book.read_bytes()
    before = book.read_bytes()
    assert not entries.apply_change(
        book, Change("Office", "b.example", "openvpn", "OpenRasOpenVpnProfile=new.ovpn")
    )
    assert book.read_bytes() == before


def test_unknown_device_and_keys_are_refused_together(tmp_path: Path) -> None:
    book = tmp_path / "b.pbk"
    with pytest.raises(Refused) as exc:
        entries.create(book, NewEntry("X", "loopback", extra="OpenRasDevice=modem\nOpenRasFoo=1"))
    assert "Unknown key OpenRasFoo" in str(exc.value)
    assert "unknown device 'modem'" in str(exc.value)
    assert not book.exists()


def test_the_all_users_book_is_read_only_for_users(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = tmp_path / "system.pbk"
    system.write_bytes(b"[Corp]\r\n")
    monkeypatch.setattr("openras.tui.entries.os.geteuid", lambda: 1000)
    for attempt in (
        lambda: entries.create(system, NewEntry("X", "loopback")),
        lambda: entries.rename(system, "Corp", "Y"),
        lambda: entries.delete(system, "Corp"),
        lambda: entries.import_file(system, str(tmp_path / "x.ovpn")),
    ):
        with pytest.raises(Refused, match="all-users phonebook: only root may change it"):
            attempt()
    assert system.read_bytes() == b"[Corp]\r\n"


def test_profile_kind() -> None:
    assert entries.profile_kind(Path("a.ovpn"), b"") == "openvpn"
    assert entries.profile_kind(Path("wg0.conf"), b"[Interface]\nPrivateKey=x\n") == "wireguard"
    assert entries.profile_kind(Path("c.conf"), b"client\nremote h 1194\n") == "openvpn"
    assert entries.profile_kind(Path("c.conf"), b"[section]\n") is None
    assert entries.profile_kind(Path("b.pbk"), b"[E]\n") is None


def test_import_profile_copies_once_and_never_overwrites(tmp_path: Path, config: Path) -> None:
    book = tmp_path / "b.pbk"
    src = tmp_path / "office.ovpn"
    src.write_text("client\nremote a 1194\n")
    assert entries.import_file(book, str(src)) == ["office"]
    # The same file again under another name reuses the identical copy.
    assert entries.import_file(book, str(src), "Office 2") == ["Office 2"]
    assert sorted(p.name for p in config.glob("*.ovpn")) == ["office.ovpn"]
    # Another file of the same name gets its own copy; the first one is untouched.
    other = tmp_path / "sub" / "office.ovpn"
    other.parent.mkdir()
    other.write_text("client\nremote b 1194\n")
    assert entries.import_file(book, str(other), "Office 3") == ["Office 3"]
    assert (config / "office.ovpn").read_text() == src.read_text()
    assert (config / "office-2.ovpn").read_text() == other.read_text()
    assert stat.S_IMODE((config / "office-2.ovpn").stat().st_mode) == 0o600
    # A taken name: refused, and the copy it made is removed again.
    third = tmp_path / "third.ovpn"
    third.write_text("client\nremote c 1194\n")
    with pytest.raises(Refused, match="Error 183"):
        entries.import_file(book, str(third), "office")
    assert not (config / "third.ovpn").exists()
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(Refused, match="not a phonebook"):
        entries.import_file(book, str(tmp_path / "notes.txt"))


def test_import_pbk_keeps_relative_profiles_pointing_at_the_same_file(tmp_path: Path) -> None:
    src = tmp_path / "from" / "old.pbk"
    src.parent.mkdir()
    src.write_bytes(b"[V]\r\nOpenRasDevice=openvpn\r\nOpenRasOpenVpnProfile=v.ovpn\r\nX=1\r\n")
    book = tmp_path / "to" / "new.pbk"
    assert entries.import_file(book, str(src)) == ["V"]
    assert (
        book.read_bytes()
        == (
            b"[V]\r\nOpenRasDevice=openvpn\r\n"
            + f"OpenRasOpenVpnProfile={src.parent / 'v.ovpn'}\r\n".encode()
            + b"X=1\r\n"
        )
        + book.read_bytes()[book.read_bytes().index(b"Guid=") :]
    )
