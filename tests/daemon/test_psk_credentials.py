"""An L2TP/IPsec entry's pre-shared key as Windows keeps it: per entry, set and read through
RasSetCredentials/RasGetCredentials with RASCM_PreSharedKey (szPassword carries it), kept
by the daemon beside the saved password and never given back."""

from __future__ import annotations

import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from openras import rasapi as r
from openras.links.base import DialParams
from openras.manager import server
from openras.manager.credentials import CredentialStore, Saved

PSK = "l2tp-psk-8d1f"


def _psk_saved(pb: str, entry: str, mask: int = 0) -> bool:
    code, got = r.RasGetCredentials(pb, entry, r.RASCM_PreSharedKey | mask)
    assert code == 0, code
    assert got is not None
    return bool(got.dwMask & r.RASCM_PreSharedKey) and got.szPassword == "*" * 16


def test_psk_is_set_read_as_a_handle_and_cleared(rasman: Any) -> None:
    pb = str(rasman.phonebook)
    before = rasman.phonebook.read_bytes()
    assert not _psk_saved(pb, "Secret")
    psk = r.RASCREDENTIALS(r.RASCM_PreSharedKey, "", PSK)
    assert r.RasSetCredentials(pb, "Secret", psk) == 0
    assert _psk_saved(pb, "Secret")
    store = CredentialStore(rasman.state_dir)
    saved = store.get(0, pb, "Secret")
    assert saved is not None and saved.psk == PSK and not saved.has_password
    # the password is its own field: setting it leaves the key, the handle keeps the key
    creds = r.RASCREDENTIALS(r.RASCM_UserName | r.RASCM_Password, "bob", "s3cret")
    assert r.RasSetCredentials(pb, "Secret", creds) == 0
    again = r.RASCREDENTIALS(r.RASCM_PreSharedKey, "", "*" * 16)
    assert r.RasSetCredentials(pb, "Secret", again) == 0
    saved = store.get(0, pb, "Secret")
    assert saved is not None and (saved.psk, saved.password) == (PSK, "s3cret")
    # one szPassword cannot be both the password and the key
    both = r.RASCREDENTIALS(r.RASCM_Password | r.RASCM_PreSharedKey, "", "x")
    assert r.RasSetCredentials(pb, "Secret", both) == r.ERROR_INVALID_PARAMETER
    files = list((rasman.state_dir / "credentials").rglob("*.json"))
    assert len(files) == 1 and stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert PSK.encode() not in rasman.log.read_bytes()
    assert rasman.phonebook.read_bytes() == before
    assert r.RasSetCredentials(pb, "Secret", psk, clear=True) == 0
    assert not _psk_saved(pb, "Secret")
    saved = store.get(0, pb, "Secret")
    assert saved is not None and saved.psk is None and saved.password == "s3cret"


def _session(tmp_path: Path, uid: int) -> Any:
    return SimpleNamespace(uid=uid, server=SimpleNamespace(credentials=CredentialStore(tmp_path)))


def test_a_dial_gets_the_entrys_psk_whatever_the_caller_gives(tmp_path: Path) -> None:
    """The key is the entry's: the caller's own saved one, else root's for an all-users
    entry; a caller dialing with their own user name and password still gets it."""
    pb = str(tmp_path / "rasphone.pbk")
    s = _session(tmp_path, 1000)
    entry: Any = SimpleNamespace(
        phonebook=pb, name="Office", all_users=False, device_type="vpn", get=lambda k: None
    )
    dial = DialParams(entry_name="Office", user="alice", password="pw")
    assert server._with_saved_psk(s, entry, dial).psk == ""
    store = s.server.credentials
    store.put(None, pb, "Office", Saved(psk="root-psk"))
    assert server._with_saved_psk(s, entry, dial).psk == ""  # not an all-users entry
    shared: Any = SimpleNamespace(
        phonebook=pb, name="Office", all_users=True, device_type="vpn", get=lambda k: None
    )
    got = server._with_saved_credentials(s, shared, dial)
    assert (got.psk, got.user, got.password) == ("root-psk", "alice", "pw")
    # Root's key goes only to the entry's own server, never to a number the caller names.
    elsewhere = DialParams(entry_name="Office", user="alice", password="pw", phone_number="x.test")
    assert server._with_saved_psk(s, shared, elsewhere).psk == ""
    assert server._with_saved_psk(_session(tmp_path, 0), shared, elsewhere).psk == "root-psk"
    store.put(1000, pb, "Office", Saved(psk="own-psk"))
    assert server._with_saved_psk(s, shared, dial).psk == "own-psk"
    assert "own-psk" not in repr(server._with_saved_psk(s, shared, dial))
    modem: Any = SimpleNamespace(phonebook=pb, name="Office", all_users=True,
                                 device_type="modem", get=lambda k: None)  # fmt: skip
    assert server._with_saved_psk(s, modem, dial).psk == ""  # not a VPN: not even read
