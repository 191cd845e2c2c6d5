"""The entry half of rasapi and the daemon's credential store, against a real rasman."""

from __future__ import annotations

import stat

from openras import rasapi as r


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
        code, h = r.RasDial(None, pb, r.RASDIALPARAMS(szEntryName="Secret", szUserName=user, szPassword=password))
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
    assert r.RasGetCredentials(str(rasman.phonebook), "Nope")[0] == r.ERROR_CANNOT_FIND_PHONEBOOK_ENTRY


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
