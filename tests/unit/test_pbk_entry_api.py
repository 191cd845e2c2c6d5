"""RASENTRY <-> phonebook: every field written as Windows writes it, and only when it changed.

These run the entry half of rasapi on real files with no daemon (the phonebook is edited in
the caller's process); the daemon-side parts are in tests/daemon/test_entries_*.py.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from openras import _rasentry as x
from openras.phonebook import load, parse

CORPUS = Path(__file__).parent / "pbk_corpus"


def copy(tmp_path: Path, name: str) -> Path:
    dest = tmp_path / name
    shutil.copyfile(CORPUS / name, dest)
    return dest


def changed_lines(before: bytes, after: bytes) -> list[tuple[bytes, bytes]]:
    a, b = before.split(b"\n"), after.split(b"\n")
    assert len(a) == len(b), "lines were added or removed"
    return [(p, q) for p, q in zip(a, b, strict=True) if p != q]


@pytest.mark.parametrize(
    "fname",
    ["export_all.pbk", "ikev2.pbk", "modem.pbk", "multilink.pbk", "pppoe.pbk", "cp1252.pbk"],
)
def test_pbk_get_then_set_changes_nothing(tmp_path: Path, fname: str) -> None:
    """Get then Set of an untouched struct leaves the file byte for byte."""
    path = copy(tmp_path, fname)
    before = path.read_bytes()
    for name in load(path).names():
        code, props = x.RasGetEntryProperties(str(path), name)
        assert code == 0
        assert props is not None
        assert x.RasSetEntryProperties(str(path), name, props) == 0
    assert path.read_bytes() == before


def test_pbk_numbers_read_base_10_and_odd_values_survive(tmp_path: Path) -> None:
    """ "010" is 10 (not octal, not an error) and "abc" is not silently rewritten as 0."""
    path = tmp_path / "odd.pbk"
    data = (
        b"[Odd]\r\nType=2\r\nRedialSeconds=010\r\nIdleDisconnectSeconds=abc\r\nRedialAttempts=3\r\n"
    )
    path.write_bytes(data)
    code, props = x.RasGetEntryProperties(str(path), "Odd")
    assert code == 0
    assert props is not None
    assert (props.dwRedialPause, props.dwIdleDisconnectSeconds) == (10, 0)
    assert x.RasSetEntryProperties(str(path), "Odd", props) == 0
    assert path.read_bytes() == data
    props.dwRedialCount = 5  # one real change: one line
    assert x.RasSetEntryProperties(str(path), "Odd", props) == 0
    assert changed_lines(data, path.read_bytes()) == [
        (b"RedialAttempts=3\r", b"RedialAttempts=5\r")
    ]


def test_pbk_new_entry_gets_media_and_device_blocks(tmp_path: Path) -> None:
    """A created entry has MEDIA= and DEVICE= blocks, in Windows' order, and reads back."""
    path = tmp_path / "new.pbk"
    props = x.RASENTRY(
        szLocalPhoneNumber="vpn.example.com",
        szDeviceType="vpn",
        szDeviceName="WAN Miniport (IKEv2)",
        dwVpnStrategy=7,
        dwfOptions=0x1000000 | 0x10 | 0x20 | 0x40000000,  # PreviewUserPw, gateway, no LCP, +1
        dwfOptions2=0x100 | 0x2000000 | 0x4,  # ReconnectIfDropped, CacheCredentials, +1
        dwFramingProtocol=1,
        szAlternates=["vpn2.example.com", "vpn3.example.com"],
    )
    assert x.RasSetEntryProperties(str(path), "Office", props) == 0
    entry = load(path)["Office"]
    kinds = [(b.kind, b.value) for b in entry.blocks]
    assert kinds == [
        ("main", ""),
        ("MEDIA", "rastapi"),
        ("DEVICE", "vpn"),
        ("DEVICE", "vpn"),
        ("DEVICE", "vpn"),
    ]
    assert entry.get("Port", block="MEDIA") == "VPN2-0"
    assert (entry.get("PreferredPort"), entry.get("PreferredDevice")) == (
        "VPN2-0",
        "WAN Miniport (IKEv2)",
    )
    assert entry.get("Device", block="MEDIA") == "WAN Miniport (IKEv2)"
    assert entry.get("PhoneNumber", block="DEVICE") == "vpn.example.com"
    assert entry.alternates == ["vpn2.example.com", "vpn3.example.com"]
    assert entry.get("PreviewUserPw") == "1"
    assert entry.get("LcpExtensions") == "0"
    assert entry.get("IpPrioritizeRemote") == "1"
    assert entry.get("CacheCredentials") == "1"
    assert entry.get("RedialOnLinkFailure") == "1"
    assert entry.get("OpenRasOptions") == str(0x40000000)
    assert entry.get("OpenRasOptions2") == "4"
    code, back = x.RasGetEntryProperties(str(path), "Office")
    assert code == 0
    assert back is not None
    for field in (
        "szLocalPhoneNumber",
        "szDeviceType",
        "szDeviceName",
        "dwVpnStrategy",
        "dwfOptions",
        "dwfOptions2",
        "dwFramingProtocol",
        "szAlternates",
    ):
        assert getattr(back, field) == getattr(props, field), field
    assert back.guidId


def test_pbk_set_fields_on_existing_entry_edit_their_lines(tmp_path: Path) -> None:
    """Device type, device name, one option bit, framing: each edit is its own line."""
    path = copy(tmp_path, "ikev2.pbk")
    before = path.read_bytes()
    code, props = x.RasGetEntryProperties(str(path), "IKEv2 Office")
    assert code == 0
    assert props is not None
    assert props.dwfOptions & 0x1000000  # PreviewUserPw=1 in the export
    props.dwfOptions &= ~0x1000000
    props.szDeviceName = "WAN Miniport (SSTP)"
    props.szDeviceType = "VPN"  # same type in other case: no edit
    assert x.RasSetEntryProperties(str(path), "IKEv2 Office", props) == 0
    assert sorted(changed_lines(before, path.read_bytes())) == sorted(
        [
            (b"PreviewUserPw=1\r", b"PreviewUserPw=0\r"),
            (b"PreferredDevice=WAN Miniport (IKEv2)\r", b"PreferredDevice=WAN Miniport (SSTP)\r"),
            (b"Device=WAN Miniport (IKEv2)\r", b"Device=WAN Miniport (SSTP)\r"),
            (b"PreferredPort=VPN2-0\r", b"PreferredPort=VPN1-0\r"),
            (b"Port=VPN2-0\r", b"Port=VPN1-0\r"),
        ]
    )
    props.dwFramingProtocol = 2
    props.szDeviceType = "PPPoE"
    assert x.RasSetEntryProperties(str(path), "IKEv2 Office", props) == 0
    entry = load(path)["IKEv2 Office"]
    assert entry.get("OpenRasFramingProtocol") == "2"
    assert [b.value for b in entry.blocks if b.kind == "DEVICE"] == ["PPPoE"]


def test_pbk_alternates_come_from_the_first_link_only(tmp_path: Path) -> None:
    """Multilink's second MEDIA/DEVICE pair is another link, not an alternate number."""
    assert load(CORPUS / "multilink.pbk")["Multilink ISDN"].alternates == []
    assert load(CORPUS / "modem.pbk")["Dial-up ISP"].alternates == ["5559876"]
    path = copy(tmp_path, "multilink.pbk")
    code, props = x.RasGetEntryProperties(str(path), "Multilink ISDN")
    assert code == 0
    assert props is not None
    assert props.szAlternates == []
    props.szAlternates = ["333"]
    assert x.RasSetEntryProperties(str(path), "Multilink ISDN", props) == 0
    entry = load(path)["Multilink ISDN"]
    assert entry.alternates == ["333"]
    numbers = [(b.kind, dict(b.items).get("PhoneNumber")) for b in entry.blocks]
    assert numbers == [
        ("main", None),
        ("MEDIA", None),
        ("DEVICE", "111"),
        ("DEVICE", "333"),  # inserted before the second link's MEDIA block
        ("MEDIA", None),
        ("DEVICE", "222"),
    ]
    props.szAlternates = []
    assert x.RasSetEntryProperties(str(path), "Multilink ISDN", props) == 0
    assert path.read_bytes() == (CORPUS / "multilink.pbk").read_bytes()


def test_pbk_alternates_setter_shrinks_and_grows() -> None:
    pb = parse((CORPUS / "modem.pbk").read_bytes())
    e = pb["Dial-up ISP"]
    e.alternates = ["1", "2", "3"]
    assert e.alternates == ["1", "2", "3"]
    e.alternates = ["9"]
    assert e.alternates == ["9"]
    assert e.phone_number == "5551234"
    bare = parse(b"[b]\nPhoneNumber=5\n")["b"]
    bare.alternates = ["6"]  # an entry without a DEVICE block gets one holding its number
    assert (bare.phone_number, bare.alternates) == ("5", ["6"])


def test_pbk_new_modem_entry_derives_device_type(tmp_path: Path) -> None:
    path = tmp_path / "m.pbk"
    props = x.RASENTRY(dwType=x.RASET_Phone, szLocalPhoneNumber="5551234")
    assert x.RasSetEntryProperties(str(path), "Modem", props) == 0
    entry = load(path)["Modem"]
    assert entry.device_type == "modem"
    assert entry.get("PhoneNumber", block="DEVICE") == "5551234"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown the file to another user")
def test_pbk_write_keeps_file_owner(tmp_path: Path) -> None:
    """A root edit of a user's phonebook leaves it the user's (mode kept too)."""
    path = copy(tmp_path, "ikev2.pbk")
    os.chown(path, 65534, 65534)
    path.chmod(0o640)
    code, props = x.RasGetEntryProperties(str(path), "IKEv2 Office")
    assert code == 0
    assert props is not None
    props.dwRedialCount = 9
    assert x.RasSetEntryProperties(str(path), "IKEv2 Office", props) == 0
    st = path.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (65534, 65534, 0o640)
    assert load(path)["IKEv2 Office"].get("RedialAttempts") == "9"


def test_pbk_enum_entries_none_merges_both_books(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RasEnumEntries(None, None): all-users entries (REN_AllUsers) then the user's (REN_User)."""
    from openras import rasapi

    system = tmp_path / "etc" / "rasphone.pbk"
    user = tmp_path / "cfg" / "openras" / "rasphone.pbk"
    for path, text in ((system, "[Corp]\nType=2\n[Lab]\nType=2\n"), (user, "[Home]\nType=2\n")):
        path.parent.mkdir(parents=True)
        path.write_text(text)
    monkeypatch.setenv("OPENRAS_SYSTEM_PHONEBOOK", str(system))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    code, names = rasapi.RasEnumEntries(None, None)
    assert code == 0
    got = [(n.szEntryName, n.dwFlags, n.szPhonebookPath) for n in names]
    assert got == [
        ("Corp", rasapi.REN_AllUsers, str(system)),
        ("Lab", rasapi.REN_AllUsers, str(system)),
        ("Home", rasapi.REN_User, str(user)),
    ]
    assert (rasapi.REN_AllUsers, rasapi.REN_User) == (1, 0)
    user.unlink()  # a missing book is simply not listed
    assert [n.szEntryName for n in rasapi.RasEnumEntries(None, None)[1]] == ["Corp", "Lab"]
    code, only = rasapi.RasEnumEntries(None, str(user))
    assert (code, only) == (621, [])  # an explicit missing book is an error


def test_pbk_validate_and_rename_follow_their_own_windows_rules(tmp_path: Path) -> None:
    """RasValidateEntryName wants a letter or digit; RasRenameEntry only length, blanks, dot."""
    path = tmp_path / "names.pbk"
    path.write_bytes(b"[Office]\r\nType=2\r\n")
    pb = str(path)
    for bad in ("---", "!!!", "\u3000", "a|b"):
        assert x.RasValidateEntryName(pb, bad) == 123, bad
    assert x.RasValidateEntryName(pb, "OFFICE") == 183
    assert x.RasRenameEntry(pb, "Office", ".dot") == 123
    assert x.RasRenameEntry(pb, "Office", "x" * 257) == 123
    assert x.RasRenameEntry(pb, "Office", "---") == 0
    assert x.RasRenameEntry(pb, "---", "a|b") == 0
    assert load(path).names() == ["a|b"]
    assert x.RasRenameEntry(pb, "nope", "Other") == 623


@pytest.mark.parametrize(
    ("device_block", "want"),
    [
        ("MEDIA=rastapi\nPort=VPN2-0\nDevice=WAN Miniport (IKEv2)\n\nDEVICE=vpn\n", x.RASET_Vpn),
        (
            "MEDIA=serial\nPort=COM1\nDevice=Standard 56000 bps Modem\n\nDEVICE=modem\n",
            x.RASET_Phone,
        ),
        (
            "MEDIA=rastapi\nPort=PPPoE5-0\nDevice=WAN Miniport (PPPOE)\n\nDEVICE=PPPoE\n",
            x.RASET_Broadband,
        ),
        ("", x.RASET_Vpn),
    ],
)
def test_an_entry_without_type_reads_as_windows_types_it(
    tmp_path: Path, device_block: str, want: int
) -> None:
    """Windows goes by the device when ``Type=`` is missing; dwType 0 is no RASET_ value."""
    path = tmp_path / "rasphone.pbk"
    path.write_text(f"[NoType]\nPhoneNumber=x\n\n{device_block}")
    before = path.read_bytes()
    code, props = x.RasGetEntryProperties(str(path), "NoType")
    assert code == 0 and props is not None and props.dwType == want
    assert x.RasSetEntryProperties(str(path), "NoType", props) == 0
    assert path.read_bytes() == before  # read then written back: nothing changed
