"""Phonebook model: reading keys and blocks, editing in place, entry management, errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from openras.errors import EntryNotFound, InvalidParameter, PhonebookError, RasError
from openras.phonebook import (
    MAX_PHONEBOOK_BYTES,
    Phonebook,
    edit,
    load,
    parse,
    phonebooks_for,
    system_phonebook_path,
    tokenize,
    user_phonebook_path,
    validate_entry_name,
)

VPN = (
    b"; exported\r\n"
    b"[Office VPN]\r\n"
    b"Encoding=1\r\n"
    b"Type=2\r\n"
    b"Guid=5B6C2E4F1A2B4C3D8E9F0A1B2C3D4E5F\r\n"
    b"VpnStrategy=7\r\n"
    b"RedialAttempts=5\r\n"
    b"RedialSeconds=30\r\n"
    b"IdleDisconnectSeconds=600\r\n"
    b"RedialOnLinkFailure=1\r\n"
    b"OpenRasDevice=strongswan\r\n"
    b"CustomKey=one\r\n"
    b"CustomKey=two\r\n"
    b"\r\n"
    b"NETCOMPONENTS=\r\n"
    b"ms_msclient=1\r\n"
    b"\r\n"
    b"MEDIA=rastapi\r\n"
    b"Port=VPN2-0\r\n"
    b"Device=WAN Miniport (IKEv2)\r\n"
    b"\r\n"
    b"DEVICE=vpn\r\n"
    b"PhoneNumber=vpn.example.com\r\n"
    b"\r\n"
    b"[Second]\r\n"
    b"Type=1\r\n"
    b"\r\n"
    b"DEVICE=modem\r\n"
    b"PhoneNumber=5551234\r\n"
)


@pytest.fixture
def pb() -> Phonebook:
    return parse(VPN, "test.pbk")


def changed_lines(before: bytes, after: bytes) -> list[tuple[int, bytes, bytes]]:
    a, b = before.split(b"\n"), after.split(b"\n")
    assert len(a) == len(b)
    return [(i, x, y) for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]


def test_phonebook_reads_entries_and_keys(pb: Phonebook) -> None:
    assert pb.names() == ["Office VPN", "Second"]
    e = pb.find("office vpn")
    assert e is not None
    assert e.name == "Office VPN"
    assert e.get("type") == "2"
    assert e.get("TYPE") == "2"
    assert e.get("Missing") is None
    assert e.get("Missing", "x") == "x"
    assert e.get_all("customkey") == ["one", "two"]
    assert e.phone_number == "vpn.example.com"
    assert e.device_type == "vpn"
    assert e.device_name == "WAN Miniport (IKEv2)"
    assert e.guid == "5B6C2E4F1A2B4C3D8E9F0A1B2C3D4E5F"
    assert e.vpn_strategy == 7
    assert e.redial_attempts == 5
    assert e.redial_seconds == 30
    assert e.idle_disconnect_seconds == 600
    assert e.redial_on_link_failure is True
    assert e.openras("Device") == "strongswan"
    assert e.openras("OpenRasDevice") == "strongswan"
    assert e.entry_type == 2
    second = pb["SECOND"]
    assert second.device_type == "modem"
    assert second.phone_number == "5551234"
    assert second.redial_attempts == 3  # Windows default when absent
    assert pb.find("nope") is None
    german = parse("[Straße]\n".encode())
    assert german.find("STRASSE") is None  # per-character case folding, as Windows
    assert german.find("STRAßE") is not None
    assert "second" in pb
    assert len(pb) == 2


def test_phonebook_device_key_case_distinguishes_blocks(pb: Phonebook) -> None:
    e = pb["Office VPN"]
    # Device= is a key of the MEDIA block, DEVICE= opens the device block.
    assert e.get("Device") is None  # not in the main block
    assert e.get("device", block="MEDIA") == "WAN Miniport (IKEv2)"
    kinds = [(b.kind, b.value) for b in e.blocks]
    assert kinds == [("main", ""), ("NETCOMPONENTS", ""), ("MEDIA", "rastapi"), ("DEVICE", "vpn")]
    assert e.items("NETCOMPONENTS") == [("ms_msclient", "1")]
    assert e.get_all("PhoneNumber", block=None) == ["vpn.example.com"]


def test_phonebook_unchanged_roundtrip_is_identical(pb: Phonebook) -> None:
    assert pb.dumps() == VPN


def test_phonebook_edit_one_key_changes_only_that_line(pb: Phonebook) -> None:
    pb["Office VPN"].set("VpnStrategy", 3)
    diff = changed_lines(VPN, pb.dumps())
    assert diff == [(5, b"VpnStrategy=7\r", b"VpnStrategy=3\r")]


def test_phonebook_edit_keeps_original_key_spelling_and_eol() -> None:
    data = b"[a]\n  vpnSTRATEGY = 7\r\nOther=1\n"
    pb = parse(data)
    pb["a"].vpn_strategy = 2
    assert pb.dumps() == b"[a]\n  vpnSTRATEGY = 2\r\nOther=1\n"


def test_phonebook_set_phone_number_edits_device_block(pb: Phonebook) -> None:
    pb["Office VPN"].phone_number = "other.example.com"
    diff = changed_lines(VPN, pb.dumps())
    assert diff == [(22, b"PhoneNumber=vpn.example.com\r", b"PhoneNumber=other.example.com\r")]


def test_phonebook_set_new_key_appends_to_main_block(pb: Phonebook) -> None:
    e = pb["Office VPN"]
    e.set("NewKey", "v")
    out = pb.dumps()
    assert b"CustomKey=two\r\nNewKey=v\r\n\r\nNETCOMPONENTS=" in out
    assert parse(out)["Office VPN"].get("newkey") == "v"
    # Sub-block append goes after the block's last key.
    e.set("Extra", "1", block="MEDIA")
    assert b"Device=WAN Miniport (IKEv2)\r\nExtra=1\r\n" in pb.dumps()


def test_phonebook_set_on_unterminated_last_line() -> None:
    pb = parse(b"[a]\nType=2")
    pb["a"].set("X", "1")
    assert pb.dumps() == b"[a]\nType=2\nX=1"
    pb["a"].set("Type", "3")
    assert pb.dumps() == b"[a]\nType=3\nX=1"


def test_phonebook_remove_key_and_unknown_keys_survive(pb: Phonebook) -> None:
    e = pb["Office VPN"]
    assert e.remove("CustomKey") == 2
    assert e.remove("CustomKey") == 0
    e.set("Type", "2")
    e.vpn_strategy = 1
    out = parse(pb.dumps())
    assert out["Office VPN"].openras("Device") == "strongswan"
    assert out["Office VPN"].get_all("CustomKey") == []
    assert out["Office VPN"].get("ms_msclient", block="NETCOMPONENTS") == "1"


def test_phonebook_bad_keys_and_values_are_refused(pb: Phonebook) -> None:
    e = pb["Office VPN"]
    for key in ["", " x", "a=b", "[x", ";c", "#c", "a\nb"]:
        with pytest.raises(InvalidParameter):
            e.set(key, "v")
    with pytest.raises(InvalidParameter):
        e.set("Comment", "two\nlines")
    with pytest.raises(InvalidParameter):
        e.set("DEVICE", "vpn")
    with pytest.raises(InvalidParameter):
        e.set("X", "1", block="MEDIA", index=5)
    assert pb.dumps() == VPN


def test_phonebook_add_entry_generates_guid_and_blocks(pb: Phonebook) -> None:
    new = pb.add_entry(
        "New VPN",
        [
            ("Type", "2"),
            ("VpnStrategy", "7"),
            ("MEDIA", "rastapi"),
            ("Device", "WAN Miniport (IKEv2)"),
            ("DEVICE", "vpn"),
            ("PhoneNumber", "new.example.com"),
        ],
    )
    assert new.guid is not None
    assert len(new.guid) == 32
    int(new.guid, 16)
    out = pb.dumps()
    assert out.startswith(VPN)  # existing bytes untouched
    again = parse(out)
    e = again["new vpn"]
    assert (e.device_type, e.device_name, e.phone_number) == (
        "vpn",
        "WAN Miniport (IKEv2)",
        "new.example.com",
    )
    assert e.get("Guid") == new.guid
    kw = pb.add_entry("Kw", Type="1")
    assert kw.get("Type") == "1"
    assert kw.guid


def test_phonebook_add_entry_after_unterminated_file() -> None:
    pb = parse(b"[a]\nType=2")
    pb.add_entry("b", {"Type": "1", "Guid": "00"})
    assert pb.dumps() == b"[a]\nType=2\n\n[b]\nType=1\nGuid=00\n\n"
    empty = Phonebook()
    empty.add_entry("x", {"Guid": "1"})
    assert empty.dumps() == b"[x]\r\nGuid=1\r\n\r\n"


def test_phonebook_add_entry_name_rules(pb: Phonebook) -> None:
    with pytest.raises(RasError) as bad:
        pb.add_entry("bad/name")
    assert bad.value.code == 123
    with pytest.raises(RasError) as dup:
        pb.add_entry("OFFICE vpn")
    assert dup.value.code == 183


def test_phonebook_remove_and_rename_entry(pb: Phonebook) -> None:
    pb.rename_entry("office vpn", "Renamed")
    assert pb.names() == ["Renamed", "Second"]
    diff = changed_lines(VPN, pb.dumps())
    assert diff == [(1, b"[Office VPN]\r", b"[Renamed]\r")]
    pb.rename_entry("renamed", "RENAMED")  # case-only change is allowed
    with pytest.raises(RasError) as taken:
        pb.rename_entry("RENAMED", "second")
    assert taken.value.code == 183
    with pytest.raises(RasError) as badname:
        pb.rename_entry("RENAMED", ".hidden")
    assert badname.value.code == 123
    with pytest.raises(EntryNotFound):
        pb.rename_entry("ghost", "x")
    pb.remove_entry("second")
    assert pb.names() == ["RENAMED"]
    assert pb.find("Second") is None
    with pytest.raises(EntryNotFound):
        pb.remove_entry("second")
    assert b"[Second]" not in pb.dumps()


def test_phonebook_duplicate_sections_find_first() -> None:
    pb = parse(b"[A]\nK=1\n[a]\nK=2\n")
    assert pb.names() == ["A", "a"]
    e = pb.find("A")
    assert e is not None
    assert e.get("K") == "1"
    pb.remove_entry("a")
    e2 = pb.find("a")
    assert e2 is not None
    assert e2.get("K") == "2"


def test_phonebook_typed_defaults_and_bad_numbers() -> None:
    e = parse(b"[a]\nVpnStrategy=x\nRedialAttempts=1_0\nRedialSeconds=-5\n")["a"]
    assert e.vpn_strategy == 0
    assert e.redial_attempts == 3
    assert e.redial_seconds == -5
    assert e.idle_disconnect_seconds == 0
    assert e.redial_on_link_failure is False
    assert e.device_type is None
    assert e.device_name is None
    assert e.phone_number is None
    assert e.entry_type is None
    assert parse(b"[a]\nType=5\n")["a"].device_type == "pppoe"
    assert parse(b"[a]\nType=2\nPreferredDevice=X\n")["a"].device_name == "X"
    assert parse(b"[a]\nPhoneNumber=1\n")["a"].phone_number == "1"


def test_phonebook_cp1252_edit_with_new_characters_switches_to_utf8() -> None:
    data = "[Büro]\r\nComment=Café\r\n".encode("cp1252")
    pb = parse(data)
    assert pb.encoding == "cp1252"
    pb["büro"].set("Type", "2")
    assert pb.dumps() == data + b"Type=2\r\n"
    pb["büro"].set("Comment", "☕")
    out = pb.dumps()
    assert pb.encoding == "utf-8"
    assert parse(out)["Büro"].get("Comment") == "☕"


@pytest.mark.parametrize(
    ("data", "line", "what"),
    [
        (b"[ok]\nType=2\n[]\n", 3, "no name"),
        (b"[ok]\n[   ]\n", 2, "no name"),
        (b"Type=2\n[ok]\n", 1, "before the first"),
        (b"[ok]\r\nType=2\r\njunk line\r\n", 3, "expected Key=Value"),
        (b"[ok]\n=value\n", 2, "empty key"),
        (b"[ok]\n[unterminated\n", 2, "closing"),
        (b"[ok]\nA=1\nB=\x00\x01\x02\n", 3, "control character"),
        (b"[ok]\nA=1\rB=2\n", 2, "bare CR"),
        (b"\xef\xbb\xbf[ok]\nA=\xff\n", 2, "invalid utf-8"),
    ],
)
def test_phonebook_parse_errors_name_file_and_line(data: bytes, line: int, what: str) -> None:
    with pytest.raises(PhonebookError) as exc:
        parse(data, "/some/dir/rasphone.pbk")
    assert exc.value.code == 625
    assert f"/some/dir/rasphone.pbk:{line}: " in str(exc.value)
    assert what in str(exc.value)


def test_phonebook_load_errors(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pbk"
    with pytest.raises(PhonebookError) as exc:
        load(missing)
    assert exc.value.code == 621
    assert str(missing) in str(exc.value)
    with pytest.raises(PhonebookError) as exc:
        load(tmp_path)
    assert exc.value.code == 621
    fifo = tmp_path / "fifo.pbk"
    os.mkfifo(fifo)
    with pytest.raises(PhonebookError) as exc:
        load(fifo)  # must not block
    assert exc.value.code == 621
    bad = tmp_path / "bad.pbk"
    bad.write_bytes(b"[a]\nType=2\nnonsense\n")
    with pytest.raises(PhonebookError) as exc:
        load(bad)
    assert exc.value.code == 625
    assert f"{bad}:3:" in str(exc.value)


def test_phonebook_refuses_huge_file(tmp_path: Path) -> None:
    big = tmp_path / "big.pbk"
    with big.open("wb") as f:  # sparse 50 MB file: cheap to make
        f.truncate(50 * 1024 * 1024)
    with pytest.raises(PhonebookError) as exc:
        load(big)
    assert exc.value.code == 622
    assert str(big) in str(exc.value)
    assert str(MAX_PHONEBOOK_BYTES) in str(exc.value)


def test_phonebook_file_vanishing_between_list_and_read(tmp_path: Path) -> None:
    p = tmp_path / "rasphone.pbk"
    p.write_bytes(b"[a]\n")
    books = phonebooks_for(p)
    p.unlink()
    with pytest.raises(PhonebookError) as exc:
        load(books[0][0])
    assert exc.value.code == 621


def test_phonebook_save_and_reload(tmp_path: Path) -> None:
    p = tmp_path / "sub" / "rasphone.pbk"
    pb = parse(VPN)
    pb.save(p)
    assert pb.path == p
    assert p.read_bytes() == VPN
    pb["Second"].set("Type", "2")
    pb.save()
    assert load(p)["second"].get("Type") == "2"
    assert not [q for q in p.parent.iterdir() if q.name.endswith(".tmp")]


def test_phonebook_save_without_path_fails() -> None:
    with pytest.raises(PhonebookError) as exc:
        Phonebook().save()
    assert exc.value.code == 624


def test_phonebook_save_keeps_mode(tmp_path: Path) -> None:
    p = tmp_path / "rasphone.pbk"
    p.write_bytes(VPN)
    p.chmod(0o640)
    pb = load(p)
    pb["Second"].set("Type", "2")
    pb.save()
    assert p.stat().st_mode & 0o777 == 0o640


def test_phonebook_save_writes_through_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real.pbk"
    real.write_bytes(VPN)
    link = tmp_path / "link.pbk"
    link.symlink_to(real)
    pb = load(link)
    pb["Second"].set("Type", "9")
    pb.save()
    assert link.is_symlink()
    assert load(real)["Second"].get("Type") == "9"


def test_phonebook_edit_function_and_context(tmp_path: Path) -> None:
    p = tmp_path / "rasphone.pbk"
    assert edit(p, lambda pb: pb.add_entry("One").name) == "One"
    with edit(p) as pb:
        pb.add_entry("Two")
    assert load(p).names() == ["One", "Two"]
    mtime = p.stat().st_mtime_ns
    assert edit(p, lambda pb: len(pb)) == 2  # no change: file not rewritten
    assert p.stat().st_mtime_ns == mtime

    def failing_edit() -> None:
        with edit(p) as pb:
            pb.add_entry("Three")
            raise RuntimeError

    with pytest.raises(RuntimeError):
        failing_edit()
    assert load(p).names() == ["One", "Two"]
    with pytest.raises(PhonebookError) as exc:
        edit(tmp_path / "absent.pbk", len, create=False)
    assert exc.value.code == 621
    assert edit(tmp_path / "nothing.pbk", len) == 0
    assert not (tmp_path / "nothing.pbk").exists()


def test_phonebook_validate_entry_name(pb: Phonebook) -> None:
    assert validate_entry_name("Office") == 0
    assert validate_entry_name("a" * 256) == 0
    assert validate_entry_name("my [vpn] = 1") == 0
    for bad in ["", "   ", "\t", "a" * 257, ".hidden", "a|b", "a>b", "a<b", "a?b", "a*b"]:
        assert validate_entry_name(bad) == 123, bad
    for bad in ["a\\b", "a/b", "a:b", "a\nb", "a\x00b"]:
        assert validate_entry_name(bad) == 123, bad
    assert validate_entry_name("office VPN", pb) == 183
    assert validate_entry_name("fresh", pb) == 0


def test_phonebook_locations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("OPENRAS_SYSTEM_PHONEBOOK", str(tmp_path / "etc" / "rasphone.pbk"))
    user = user_phonebook_path()
    system = system_phonebook_path()
    assert user == tmp_path / "cfg" / "openras" / "rasphone.pbk"
    assert system == tmp_path / "etc" / "rasphone.pbk"
    assert phonebooks_for(None) == []
    user.parent.mkdir(parents=True)
    user.write_bytes(b"")
    assert phonebooks_for(None) == [(user, False)]
    system.parent.mkdir(parents=True)
    system.write_bytes(b"")
    assert phonebooks_for(None) == [(system, True), (user, False)]
    assert phonebooks_for(str(tmp_path / "x.pbk")) == [(tmp_path / "x.pbk", False)]
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/ignored")
    assert user_phonebook_path() == Path.home() / ".config" / "openras" / "rasphone.pbk"
    assert user_phonebook_path(home="/home/bob") == Path("/home/bob/.config/openras/rasphone.pbk")
    monkeypatch.delenv("OPENRAS_SYSTEM_PHONEBOOK")
    assert system_phonebook_path() == Path("/etc/openras/rasphone.pbk")


def test_phonebook_tokenize_reports_lines() -> None:
    toks = tokenize("; c\n[A]\r\nK = v \n\n")
    assert [(t.kind.name, t.lineno, t.key, t.value) for t in toks] == [
        ("COMMENT", 1, "", ""),
        ("SECTION", 2, "A", ""),
        ("KEY", 3, "K", "v"),
        ("BLANK", 4, "", ""),
    ]
