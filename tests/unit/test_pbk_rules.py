"""Name rules, the name index, legacy encodings, size limit, driver choice, credential store."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from openras import errors
from openras.errors import PhonebookError, RasError
from openras.links.registry import attempts_for, driver_name
from openras.manager.credentials import CredentialStore, Saved
from openras.manager.entries import EntrySnapshot, snapshot
from openras.phonebook import MAX_PHONEBOOK_BYTES, Phonebook, edit, load, parse, validate_entry_name
from openras.phonebook import model as model_mod
from openras.phonebook.names import validate_new_name

CORPUS = Path(__file__).parent / "pbk_corpus"


# -- names --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["---", "!!!", "\u3000", " - ", "_-_", "()"])
def test_pbk_name_needs_a_letter_or_digit(name: str) -> None:
    assert validate_entry_name(name) == errors.ERROR_INVALID_NAME


@pytest.mark.parametrize("name", ["a", "7", "Büro", "東京", "- x -", "V.P.N"])
def test_pbk_name_with_a_letter_or_digit_is_fine(name: str) -> None:
    assert validate_entry_name(name) == 0


def test_pbk_rename_uses_windows_looser_rules() -> None:
    """RasRenameEntry checks only length, blanks and a leading dot."""
    for ok in ("---", "a|b", "a:b", "x" * 256):
        assert validate_new_name(ok) == 0, ok
    for bad in (".x", "   ", "", "x" * 257, "a\nb", 5):
        assert validate_new_name(bad) == errors.ERROR_INVALID_NAME, bad
    pb = parse(b"[A]\nK=1\n")
    pb.rename_entry("a", "---")
    assert pb.names() == ["---"]
    with pytest.raises(RasError) as exc:
        pb.rename_entry("---", ".hidden")
    assert exc.value.code == errors.ERROR_INVALID_NAME


# -- the name index ---------------------------------------------------------------------------


def test_pbk_adds_do_not_rebuild_the_name_index(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each add costs O(1) name computations, not one per entry already in the book."""
    pb = Phonebook()
    for i in range(300):
        pb.add_entry(f"E{i}")
    calls = 0
    real = model_mod.name_key

    def counting(name: str) -> str:
        nonlocal calls
        calls += 1
        return real(name)

    monkeypatch.setattr(model_mod, "name_key", counting)
    for i in range(300, 400):
        pb.add_entry(f"E{i}")
    assert calls <= 100 * 3, calls
    assert pb.find("e350") is not None


def test_pbk_index_follows_remove_and_rename() -> None:
    pb = parse(b"[A]\nK=1\n[b]\nK=2\n[a]\nK=3\n")
    assert pb["a"].get("K") == "1"
    pb.rename_entry("A", "Z")
    assert pb["a"].get("K") == "3"  # the duplicate section takes the old name over
    assert pb["z"].get("K") == "1"
    pb.remove_entry("a")
    assert pb.find("a") is None
    pb.rename_entry("z", "Z")  # case only
    assert pb["Z"].get("K") == "1"
    pb.add_entry("A")
    assert pb["a"].get("K") is None
    assert pb.names() == ["Z", "b", "A"]


# -- size limit -------------------------------------------------------------------------------


def test_pbk_limit_fits_10000_full_exports() -> None:
    full = len((CORPUS / "ikev2.pbk").read_bytes())
    assert full * 10_000 < MAX_PHONEBOOK_BYTES < 50 * 1000 * 1000


# -- legacy encodings -------------------------------------------------------------------------


def test_pbk_cp1252_hole_becomes_the_c1_character_in_utf8(tmp_path: Path) -> None:
    """An undefined cp1252 byte (0x81) is written as Windows reads it, never raw in UTF-8."""
    path = tmp_path / "old.pbk"
    path.write_bytes(b"[B\xfcro]\r\nComment=a\x81b\r\n")
    with edit(path) as pb:
        assert pb.encoding == "cp1252"
        pb["büro"].set("Note", "☕")
    data = path.read_bytes()
    text = data.decode("utf-8")  # valid UTF-8 now
    assert "Comment=a\x81b" in text
    assert "[Büro]" in text
    again = load(path)
    assert again.encoding == "utf-8"
    assert again["Büro"].get("Note") == "☕"
    assert again["Büro"].get("Comment") == "a\x81b"


def test_pbk_codepage_setting_reads_and_refuses_loss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENRAS_PBK_CODEPAGE", "cp1251")
    path = tmp_path / "ru.pbk"
    original = "[Офис]\r\nComment=ok\r\n".encode("cp1251") + b"X=\x98\r\n"  # 0x98: undefined
    path.write_bytes(original)
    pb = load(path)
    assert pb.encoding == "cp1251"
    assert pb.names() == ["Офис"]
    assert pb.dumps() == original
    pb["офис"].set("Comment", "日本")  # not in cp1251: the book must become UTF-8 ...
    with pytest.raises(PhonebookError) as exc:
        pb.dumps()  # ... but 0x98 has no meaning in cp1251: refuse, naming file and line
    assert exc.value.code == errors.ERROR_CANNOT_WRITE_PHONEBOOK
    assert f"{path}:3:" in str(exc.value)
    assert "0x98" in str(exc.value)

    def change(book: Phonebook) -> None:
        book["офис"].set("Comment", "日本")

    with pytest.raises(PhonebookError):
        edit(path, change)
    assert path.read_bytes() == original
    monkeypatch.setenv("OPENRAS_PBK_CODEPAGE", "no-such-codepage")
    with pytest.raises(PhonebookError) as bad:
        load(path)
    assert bad.value.code == errors.ERROR_CANNOT_LOAD_PHONEBOOK
    assert "OPENRAS_PBK_CODEPAGE" in str(bad.value)


def test_pbk_lone_surrogate_in_utf8_book_is_a_clear_error() -> None:
    pb = parse(b"[a]\nK=1\n", "u.pbk")
    pb["a"].set("K", "\ud800")
    with pytest.raises(PhonebookError) as exc:
        pb.dumps()
    assert "u.pbk:2:" in str(exc.value)


# -- the daemon's view of an entry -------------------------------------------------------------


def test_pbk_snapshot_knows_the_device_type() -> None:
    """The device type sits in the DEVICE block: the snapshot carries it (an L2TP export
    goes to the l2tp driver), and a type no driver runs is refused, saying which."""
    snap = snapshot(load(CORPUS / "l2tp.pbk")["L2TP Lab"], CORPUS / "l2tp.pbk", False)
    assert snap.device_type == snap.to_record()["device_type"] == "vpn"
    assert EntrySnapshot.from_record(snap.to_record()) == snap
    assert driver_name(snap) == "l2tp"
    says = "device type 'atm' has no driver"
    with pytest.raises(RasError) as exc:
        driver_name(EntrySnapshot("e", {}, device_type="atm"))
    assert exc.value.code == 609
    assert errors.symbol(609) == "ERROR_DEVICETYPE_DOES_NOT_EXIST"
    assert says in str(exc.value)
    assert "not available" in str(exc.value)


def test_pbk_windows_ikev2_export_runs_the_ikev2_driver() -> None:
    snap = snapshot(load(CORPUS / "ikev2.pbk")["IKEv2 Office"], CORPUS / "ikev2.pbk", False)
    assert driver_name(snap) == "ikev2"  # DEVICE=vpn with VpnStrategy=7, nothing else


@pytest.mark.parametrize(
    ("fname", "entry", "driver"),
    [
        ("pppoe.pbk", "DSL", "ppp"),
        # Two numbers and TryNextAlternateOnFail=1: the ppp driver per number, in a list.
        ("modem.pbk", "Dial-up ISP", "attempts"),
    ],
)
def test_pbk_modem_and_pppoe_entries_run_the_ppp_driver(
    fname: str, entry: str, driver: str
) -> None:
    snap = snapshot(load(CORPUS / fname)[entry], CORPUS / fname, False)
    assert driver_name(snap) == driver  # the Windows keys alone (DEVICE=modem, DEVICE=PPPoE)
    assert {d for _, d, _ in attempts_for(snap)} == {"ppp"}
    if driver == "attempts":
        assert [n for n, _, _ in attempts_for(snap)] == ["5551234", "5559876"]


def test_pbk_entry_never_names_a_program() -> None:
    for device in ("/usr/bin/python3", "../openvpn", "openras.links.ssh.driver:SshLink"):
        snap = EntrySnapshot("x", {"openrasdevice": device})
        with pytest.raises(RasError) as exc:
            driver_name(snap)
        assert exc.value.code == 609
    assert driver_name(EntrySnapshot("x", {"openrasdevice": "Loopback"})) == "loopback"
    old = EntrySnapshot.from_record({"name": "x", "keys": {"type": "2"}})  # before device_type
    assert driver_name(old) == "attempts"  # a VPN with no strategy: Automatic


# -- credential store ------------------------------------------------------------------------


def test_pbk_credential_store_forget_and_move(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path)
    pb = str(tmp_path / "rasphone.pbk")
    store.put(1000, pb, "Old", Saved("bob", "pw", "D"))
    store.put(None, pb, "Old", Saved("all", "pw2", ""))
    store.put(1001, pb, "Other", Saved("eve", "x", ""))
    assert store.move_entry(pb, "Old", "New") == 2
    assert store.get(1000, pb, "Old") is None
    assert store.get(1000, pb, "new") == Saved("bob", "pw", "D")
    assert store.get(None, pb, "New") == Saved("all", "pw2", "")
    assert store.move_entry(pb, "new", "NEW") == 2  # case only: still there
    assert store.get(1000, pb, "New") == Saved("bob", "pw", "D")
    assert store.forget_entry(pb, "New") == 2
    assert store.lookup(1000, pb, "New") is None
    assert store.get(1001, pb, "Other") is not None  # another entry untouched
    assert CredentialStore(tmp_path / "empty").owners() == []


def test_pbk_credential_files_are_private(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path)
    store.put(1000, "/x.pbk", "E", Saved("u", "secret", ""))
    (f,) = (tmp_path / "credentials").rglob("*.json")
    st = f.stat()
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_uid == os.geteuid()
    for d in (f.parent, tmp_path / "credentials"):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700
    assert json.loads(f.read_bytes())["password"] == "secret"
