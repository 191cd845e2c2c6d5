"""The entry half of rasapi and the daemon's credential store, against a real rasman."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest
from rasman_helpers import python_for

from openras import RasError
from openras import rasapi as r
from openras.manager.credentials import CredentialStore, Saved
from openras.wire import protocol as P


def test_validate_names(rasman):
    """183 for an existing entry, 123 for bad names, 0 for a free good one."""
    pb = str(rasman.phonebook)
    assert r.RasValidateEntryName(pb, "demo") == r.ERROR_ALREADY_EXISTS
    assert r.RasValidateEntryName(pb, "Brand new") == 0
    for bad in ("a:b", ".hidden", "x" * 257, "   ", "a|b", "a/b"):
        assert r.RasValidateEntryName(pb, bad) == r.ERROR_INVALID_NAME, bad


def test_properties_round_trip_keeps_unknown_keys(rasman):
    """Set creates, get reads back, and keys RASENTRY does not model survive."""
    pb = str(rasman.phonebook)
    code, demo = r.RasGetEntryProperties(pb, "Demo")
    assert code == 0
    assert demo is not None
    assert demo.extra["OpenRasDevice"] == "loopback"
    demo.szLocalPhoneNumber = "vpn.example.test"
    demo.dwRedialCount = 3
    assert r.RasSetEntryProperties(pb, "Copy", demo) == 0
    code, copy = r.RasGetEntryProperties(pb, "Copy")
    assert code == 0
    assert copy is not None
    assert copy.szLocalPhoneNumber == "vpn.example.test"
    assert copy.dwRedialCount == 3
    assert copy.extra["OpenRasLoopbackStepMs"] == "5"
    assert copy.guidId  # a new entry gets a GUID
    assert r.RasGetEntryProperties(pb, "Missing")[0] == r.ERROR_CANNOT_FIND_PHONEBOOK_ENTRY


def test_rename_and_delete(rasman):
    """Rename refuses taken names; delete refuses a connected entry (817) and absent ones."""
    pb = str(rasman.phonebook)
    assert r.RasRenameEntry(pb, "Slow", "Demo") == r.ERROR_ALREADY_EXISTS
    assert r.RasRenameEntry(pb, "Slow", "Slower") == 0
    assert r.RasRenameEntry(pb, "Nope", "Other") == r.ERROR_CANNOT_FIND_PHONEBOOK_ENTRY
    code, h = r.RasDial(None, pb, r.RASDIALPARAMS(szEntryName="Demo"))
    assert code == 0
    assert r.RasDeleteEntry(pb, "Demo") == r.ERROR_CANNOT_DELETE
    assert r.RasHangUp(h) == 0
    assert r.RasDeleteEntry(pb, "Nope") == r.ERROR_INVALID_NAME
    assert r.RasDeleteEntry(pb, "Slower") == 0
    assert r.RasGetEntryProperties(pb, "Slower")[0] == r.ERROR_CANNOT_FIND_PHONEBOOK_ENTRY


def test_saved_credentials_dial_and_stay_secret(rasman):
    """A saved password reads back as 16 asterisks, dials, and sits in a 0600 root-only file."""
    pb = str(rasman.phonebook)
    before = rasman.phonebook.read_bytes()
    creds = r.RASCREDENTIALS(r.RASCM_UserName | r.RASCM_Password, "bob", "s3cret")
    assert r.RasSetCredentials(pb, "Secret", creds) == 0
    code, got = r.RasGetCredentials(pb, "Secret")
    assert code == 0
    assert got is not None
    assert got.szUserName == "bob"
    assert got.szPassword == "*" * 16
    assert got.dwMask & r.RASCM_Password
    code, params, has_password = r.RasGetEntryDialParams(pb, r.RASDIALPARAMS(szEntryName="Secret"))
    assert (code, has_password) == (0, True)
    assert params is not None
    # Dialing with no credentials, or with the asterisk handle, uses the saved password.
    for password in ("", "*" * 16):
        user = "" if not password else "bob"
        code, h = r.RasDial(
            None, pb, r.RASDIALPARAMS(szEntryName="Secret", szUserName=user, szPassword=password)
        )
        assert code == 0, code
        assert r.RasHangUp(h) == 0
        while r.RasGetConnectStatus(h)[0] != r.ERROR_INVALID_HANDLE:
            pass
    files = list((rasman.state_dir / "credentials").rglob("*.json"))
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(files[0].parent.stat().st_mode) == 0o700
    assert rasman.phonebook.read_bytes() == before  # nothing of it went into the phonebook
    assert b"s3cret" not in rasman.log.read_bytes()
    # Removing the password makes the next dial fail authentication (691), handle kept.
    assert r.RasSetEntryDialParams(pb, r.RASDIALPARAMS(szEntryName="Secret"), True) == 0
    assert r.RasGetEntryDialParams(pb, r.RASDIALPARAMS(szEntryName="Secret"))[2] is False
    code, h = r.RasDial(None, pb, r.RASDIALPARAMS(szEntryName="Secret"))
    assert code == r.ERROR_AUTHENTICATION_FAILURE
    assert h > 0
    assert r.RasGetConnectStatus(h)[1].dwError == r.ERROR_AUTHENTICATION_FAILURE
    assert r.RasHangUp(h) == 0


def test_credentials_for_unknown_entry(rasman):
    assert (
        r.RasGetCredentials(str(rasman.phonebook), "Nope")[0] == r.ERROR_CANNOT_FIND_PHONEBOOK_ENTRY
    )


def test_pythonic_saved_credentials(rasman):
    """The Pythonic face of the store: save, read back without the secret, dial, forget."""
    from openras import AuthenticationFailure, Client

    with Client(rasman.socket) as c:
        c.save_credentials("Secret", rasman.phonebook, user="bob", password="s3cret")
        saved = c.credentials("Secret", rasman.phonebook)
        assert (saved.user, saved.has_password) == ("bob", True)
        c.dial("Secret", rasman.phonebook).hang_up()
        c.forget_credentials("Secret", rasman.phonebook)
        assert c.credentials("Secret", rasman.phonebook).has_password is False
        try:
            c.dial("Secret", rasman.phonebook)
        except AuthenticationFailure as exc:
            assert exc.handle > 0
            c.hang_up(exc.handle)
        else:
            raise AssertionError("dial without the saved password succeeded")


# -- saved credentials follow a rename and go with a delete ----------------------------------


def _has_password(pb: str, entry: str, mask: int = 0) -> bool:
    code, got = r.RasGetCredentials(pb, entry, r.RASCM_Password | mask)
    assert code == 0, code
    assert got is not None
    return bool(got.dwMask & r.RASCM_Password) and got.szPassword == "*" * 16


def test_saved_credentials_follow_a_rename(rasman):
    """The password saved for Secret dials Vault after the rename; a new Secret has none."""
    pb = str(rasman.phonebook)
    creds = r.RASCREDENTIALS(r.RASCM_UserName | r.RASCM_Password, "bob", "s3cret")
    assert r.RasSetCredentials(pb, "Secret", creds) == 0
    default = r.RASCREDENTIALS(r.RASCM_Password | r.RASCM_DefaultCreds, "", "s3cret")
    assert r.RasSetCredentials(pb, "Secret", default) == 0
    assert r.RasRenameEntry(pb, "Secret", "Vault") == 0
    code, got = r.RasGetCredentials(pb, "Vault")
    assert code == 0
    assert got is not None
    assert (got.szUserName, got.szPassword) == ("bob", "*" * 16)
    assert _has_password(pb, "Vault", r.RASCM_DefaultCreds)  # root's rename moves the default ones
    code, h = r.RasDial(None, pb, r.RASDIALPARAMS(szEntryName="Vault"))  # the saved password
    assert code == 0, code
    assert r.RasHangUp(h) == 0
    # A new entry under the old name starts with nothing saved.
    code, demo = r.RasGetEntryProperties(pb, "Demo")
    assert code == 0
    assert r.RasSetEntryProperties(pb, "Secret", demo) == 0
    assert not _has_password(pb, "Secret")
    assert not _has_password(pb, "Secret", r.RASCM_DefaultCreds)
    # A case-only rename keeps them too.
    assert r.RasRenameEntry(pb, "Vault", "VAULT") == 0
    assert _has_password(pb, "VAULT")


def test_root_deleting_an_entry_drops_every_users_credentials(rasman):
    """Root's delete takes the default and every user's credentials of that entry, no more."""
    pb = str(rasman.phonebook)
    store = CredentialStore(rasman.state_dir)
    store.put(4242, pb, "Secret", Saved("eve", "pw", ""))  # another user's, saved earlier
    store.put(4242, pb, "Demo", Saved("eve", "pw", ""))
    assert r.RasSetCredentials(pb, "Secret", r.RASCREDENTIALS(r.RASCM_Password, "", "x")) == 0
    default = r.RASCREDENTIALS(r.RASCM_Password | r.RASCM_DefaultCreds, "", "x")
    assert r.RasSetCredentials(pb, "Secret", default) == 0
    assert r.RasDeleteEntry(pb, "Secret") == 0
    assert store.get(4242, pb, "Secret") is None
    assert store.get(0, pb, "Secret") is None
    assert store.get(None, pb, "Secret") is None
    assert store.get(4242, pb, "Demo") is not None


def test_entry_edit_calls_are_checked_against_the_phonebook(rasman):
    """The daemon moves or drops nothing for an edit that did not happen."""
    pb = str(rasman.phonebook)
    assert r.RasSetCredentials(pb, "Secret", r.RASCREDENTIALS(r.RASCM_Password, "", "x")) == 0
    refused = [
        (
            P.ENTRY_RENAMED,
            {"phonebook": pb, "old": "Secret", "new": "Demo"},
            183,
        ),  # old still there
        (P.ENTRY_RENAMED, {"phonebook": pb, "old": "Secret", "new": "Nowhere"}, 623),
        (P.ENTRY_RENAMED, {"phonebook": "", "old": "Secret", "new": "Demo"}, 87),
        (P.ENTRY_RENAMED, {"phonebook": pb, "old": "", "new": "Demo"}, 87),
        (P.ENTRY_DELETED, {"phonebook": pb, "entry": "Secret"}, 183),  # not deleted
        (P.ENTRY_DELETED, {"phonebook": pb, "entry": 7}, 87),
        (P.ENTRY_DELETED, {"phonebook": pb + ".missing", "entry": "Secret"}, 621),
    ]
    for method, params, code in refused:
        try:
            r._call(method, params)
        except RasError as exc:
            assert exc.code == code, (method, params, exc)
        else:
            raise AssertionError(f"{method} {params} was accepted")
    assert _has_password(pb, "Secret")


RAW_CALLS = r"""
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(30)
s.connect(sys.argv[1])
buf = b""
for method, params in json.loads(sys.argv[2]):
    if method == "write":
        with open(params["path"], "w") as f:
            f.write(params["text"])
        continue
    s.sendall(json.dumps({"method": method, "parameters": params}).encode() + b"\0")
    while b"\0" not in buf:
        data = s.recv(65536)
        if not data:
            raise SystemExit("closed")
        buf += data
    msg, _, buf = buf.partition(b"\0")
    print(msg.decode())
"""


def test_a_users_edit_carries_only_that_users_credentials(rasman, other_user):
    """A user renames then deletes an entry of their own phonebook: their credentials follow
    it; root's and the default ones for the same entry are not theirs to move or drop."""
    uid, gid = other_user
    python = python_for(uid, gid)
    if python is None:
        pytest.skip("no python3 the throwaway user may execute")

    def as_user(calls: list[tuple[str, dict[str, object]]]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                *("setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups"),
                *(python, "-c", RAW_CALLS, str(rasman.socket), json.dumps(calls)),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            cwd="/",
        )

    d = Path(tempfile.mkdtemp(prefix="oras-creds-", dir="/tmp"))
    try:
        d.chmod(0o755)
        os.chown(d, uid, gid)
        book = d / "rasphone.pbk"
        text = "[Mine]\nOpenRasDevice=loopback\n"
        book.write_text(text)
        os.chown(book, uid, gid)
        pb = str(book)
        store = CredentialStore(rasman.state_dir)
        store.put(0, pb, "Mine", Saved("root", "r", ""))
        store.put(None, pb, "Mine", Saved("all", "a", ""))
        mask = {"user": True, "password": True, "domain": False}
        calls = [
            (
                P.SET_CREDENTIALS,
                {"phonebook": pb, "entry": "Mine", "user": "me", "password": "p", "mask": mask},
            ),
            ("write", {"path": pb, "text": text.replace("[Mine]", "[Yours]")}),
            (P.ENTRY_RENAMED, {"phonebook": pb, "old": "Mine", "new": "Yours"}),
            (P.GET_CREDENTIALS, {"phonebook": pb, "entry": "Yours"}),
        ]
        p = as_user(calls)
        assert p.returncode == 0, p.stderr
        replies = [json.loads(line) for line in p.stdout.splitlines()]
        assert replies[1] == {"parameters": {"moved": 1}}, replies
        got = replies[2]["parameters"]
        assert (got["user"], got["password"]) == ("me", "*" * 16)
        assert store.get(uid, pb, "Mine") is None
        assert store.get(0, pb, "Mine") == Saved("root", "r", "")
        assert store.get(None, pb, "Mine") == Saved("all", "a", "")
        store.put(0, pb, "Yours", Saved("root", "r", ""))
        calls = [
            ("write", {"path": pb, "text": ""}),
            (P.ENTRY_DELETED, {"phonebook": pb, "entry": "Yours"}),
        ]
        p = as_user(calls)
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout) == {"parameters": {"forgotten": 1}}
        assert store.get(uid, pb, "Yours") is None
        assert store.get(0, pb, "Yours") == Saved("root", "r", "")
    finally:
        shutil.rmtree(d)


def test_delete_by_real_path_of_an_entry_dialed_through_a_symlink(rasman, tmp_path):
    """817 whichever spelling dialed: the link goes through a symlink, the delete by the file."""
    link = tmp_path / "via-link.pbk"
    link.symlink_to(rasman.phonebook)
    code, h = r.RasDial(None, str(link), r.RASDIALPARAMS(szEntryName="Demo"))
    assert code == 0, code
    try:
        assert r.RasDeleteEntry(str(rasman.phonebook), "Demo") == r.ERROR_CANNOT_DELETE
        assert r.RasDeleteEntry(str(link), "Demo") == r.ERROR_CANNOT_DELETE
    finally:
        assert r.RasHangUp(h) == 0
    assert r.RasGetEntryProperties(str(rasman.phonebook), "Demo")[0] == 0  # still there


async def test_async_client_reads_saved_credentials(rasman):
    """AsyncClient.credentials answers as Client.credentials does, without the password."""
    from openras import AsyncClient, Client
    from openras.client import SavedCredentials

    with Client(rasman.socket) as c:
        c.save_credentials("Secret", rasman.phonebook, user="bob", password="s3cret", domain="LAB")
    async with AsyncClient(rasman.socket) as ac:
        saved = await ac.credentials("Secret", rasman.phonebook)
        assert saved == SavedCredentials(user="bob", domain="LAB", has_password=True)
        assert await ac.credentials("Demo", rasman.phonebook) == SavedCredentials("", "", False)
        with pytest.raises(RasError) as info:
            await ac.credentials("Nope", rasman.phonebook)
        assert info.value.code == r.ERROR_CANNOT_FIND_PHONEBOOK_ENTRY
