"""The entry API against a real rasman: 817 by any path spelling, credentials dying with their
entry, the asterisk handle, root-only files, and what a non-root caller is refused."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from openras import rasapi as r

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (to act as uid 65534)")
NOBODY = 65534


def _creds(pb: str, entry: str, mask: int = 0x7) -> r.RASCREDENTIALS:
    code, got = r.RasGetCredentials(pb, entry, mask)
    assert code == 0
    assert got is not None
    return got


def _hang_up(h: int) -> None:
    assert r.RasHangUp(h) == 0
    deadline = time.monotonic() + 10
    while r.RasGetConnectStatus(h)[0] != r.ERROR_INVALID_HANDLE:
        assert time.monotonic() < deadline, "hang-up did not finish"
        time.sleep(0.01)


def test_delete_by_relative_path_while_connected_is_817(
    rasman, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(rasman.phonebook.parent)
    rel = rasman.phonebook.name
    code, h = r.RasDial(None, rel, r.RASDIALPARAMS(szEntryName="Demo"))
    assert code == 0
    try:
        assert r.RasDeleteEntry(rel, "Demo") == r.ERROR_CANNOT_DELETE
        assert r.RasDeleteEntry(f"./{rel}", "demo") == r.ERROR_CANNOT_DELETE
        assert load_names(rasman.phonebook).count("Demo") == 1
    finally:
        _hang_up(h)
    assert r.RasDeleteEntry(rel, "Demo") == 0


def test_delete_through_a_symlink_while_connected_is_817(rasman, tmp_path: Path) -> None:
    link = tmp_path / "link.pbk"
    link.symlink_to(rasman.phonebook)
    code, h = r.RasDial(None, str(rasman.phonebook), r.RASDIALPARAMS(szEntryName="Demo"))
    assert code == 0
    try:
        assert r.RasDeleteEntry(str(link), "Demo") == r.ERROR_CANNOT_DELETE
    finally:
        _hang_up(h)
    assert r.RasDeleteEntry(str(link), "Demo") == 0
    assert link.is_symlink()  # written through, not replaced
    assert "Demo" not in load_names(rasman.phonebook)


def load_names(path: Path) -> list[str]:
    from openras.phonebook import load

    return load(path).names()


def test_deleted_entry_takes_its_credentials(rasman) -> None:
    """A new entry of a deleted one's name starts with no saved user, password or defaults."""
    pb = str(rasman.phonebook)
    section = "[Secret]\nOpenRasDevice=loopback\nOpenRasLoopbackStepMs=5\n"
    both = r.RASCM_UserName | r.RASCM_Password
    assert r.RasSetCredentials(pb, "Secret", r.RASCREDENTIALS(both, "bob", "s3cret")) == 0
    defaults = r.RASCREDENTIALS(both | r.RASCM_DefaultCreds, "all", "s3cret")
    assert r.RasSetCredentials(pb, "Secret", defaults) == 0
    assert len(list((rasman.state_dir / "credentials").rglob("*.json"))) == 2
    assert r.RasDeleteEntry(pb, "Secret") == 0
    assert list((rasman.state_dir / "credentials").rglob("*.json")) == []
    with rasman.phonebook.open("a") as f:
        f.write("\n" + section)
    mine = _creds(pb, "Secret")
    assert (mine.szUserName, mine.dwMask & r.RASCM_Password) == ("", 0)
    default = _creds(pb, "Secret", 0x7 | r.RASCM_DefaultCreds)
    assert (default.szUserName, default.dwMask & r.RASCM_Password) == ("", 0)


def test_password_handle_passed_back_keeps_the_password(rasman) -> None:
    """Get gives 16 asterisks; Set with them (and a new user name) keeps the real password."""
    pb = str(rasman.phonebook)
    mask = r.RASCM_UserName | r.RASCM_Password
    assert r.RasSetCredentials(pb, "Secret", r.RASCREDENTIALS(mask, "bob", "s3cret")) == 0
    got = _creds(pb, "Secret")
    assert got.szPassword == r.PASSWORD_HANDLE == "*" * 16
    got.szUserName = "bobby"
    assert r.RasSetCredentials(pb, "Secret", got) == 0
    again = _creds(pb, "Secret")
    assert (again.szUserName, again.szPassword) == ("bobby", "*" * 16)
    # The loopback entry accepts only the password s3cret: the saved one must still be it.
    code, h = r.RasDial(None, pb, r.RASDIALPARAMS(szEntryName="Secret"))
    assert code == 0
    _hang_up(h)


@needs_root
def test_credential_files_are_root_only(rasman) -> None:
    pb = str(rasman.phonebook)
    creds = r.RASCREDENTIALS(r.RASCM_UserName | r.RASCM_Password, "bob", "s3cret")
    assert r.RasSetCredentials(pb, "Secret", creds) == 0
    (f,) = (rasman.state_dir / "credentials").rglob("*.json")
    st = f.stat()
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o600)
    for d in (f.parent, rasman.state_dir / "credentials"):
        dst = d.stat()
        assert (dst.st_uid, stat.S_IMODE(dst.st_mode)) == (0, 0o700), d


# -- as another user ---------------------------------------------------------------------------


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A world-searchable directory (pytest's tmp_path is root-only), removed afterwards."""
    d = Path(f"/tmp/oras-pbk-{os.getpid()}-{time.monotonic_ns()}")
    d.mkdir(mode=0o755)
    d.chmod(0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d)


CHILD = r"""
import json, sys
from openras import rasapi as r
pb, system = sys.argv[1], sys.argv[2]
out = {}
props = r.RASENTRY(szLocalPhoneNumber="evil.example")
out["set_default_book"] = r.RasSetEntryProperties(None, "Shared", props)
out["set_explicit"] = r.RasSetEntryProperties(system, "New", props)
out["rename"] = r.RasRenameEntry(system, "Shared", "Mine now")
out["delete"] = r.RasDeleteEntry(system, "Shared")
out["via_symlink"] = r.RasSetEntryProperties(sys.argv[3], "Shared", props)
dflt = r.RASCREDENTIALS(r.RASCM_DefaultCreds | r.RASCM_UserName | r.RASCM_Password, "u", "p")
out["set_default_creds"] = r.RasSetCredentials(pb, "Demo", dflt)
out["get_default_creds"] = r.RasGetCredentials(pb, "Demo", 0x7 | r.RASCM_DefaultCreds)[0]
own = r.RASCREDENTIALS(r.RASCM_UserName, "me")
out["set_own_creds"] = r.RasSetCredentials(pb, "Demo", own)
print(json.dumps(out))
"""


@needs_root
def test_non_root_is_refused_the_all_users_book_and_default_creds(rasman, shared_dir: Path) -> None:
    system = shared_dir / "system.pbk"
    system.write_text("[Shared]\nType=2\nPhoneNumber=corp.example\n")
    system.chmod(0o666)  # even a file the user could write: the all-users book is root's
    book = shared_dir / "user.pbk"
    shutil.copyfile(rasman.phonebook, book)
    book.chmod(0o644)
    link = shared_dir / "looks-like-mine.pbk"
    link.symlink_to(system)
    before = system.read_bytes()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(shared_dir),
        "OPENRAS_SOCKET": str(rasman.socket),
        "OPENRAS_SYSTEM_PHONEBOOK": str(system),
        "XDG_CONFIG_HOME": str(shared_dir / "config"),
    }
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(book), str(system), str(link)],
        user=NOBODY,
        group=NOBODY,
        extra_groups=[],
        env=env,
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout)
    denied = r.ERROR_ACCESS_DENIED
    assert got == {
        "set_default_book": denied,
        "set_explicit": denied,
        "rename": denied,
        "delete": denied,
        "via_symlink": denied,
        "set_default_creds": denied,
        "get_default_creds": denied,
        "set_own_creds": 0,  # the control: the same caller may keep its own
    }
    assert system.read_bytes() == before
    assert list((rasman.state_dir / "credentials").glob("default/*")) == []
    # Root may set the defaults of that same entry.
    dflt = r.RASCREDENTIALS(r.RASCM_DefaultCreds | r.RASCM_UserName, "u")
    assert r.RasSetCredentials(str(book), "Demo", dflt) == 0


def test_windows_vpn_entries_are_refused_or_run_by_their_real_type(rasman, tmp_path: Path) -> None:
    """DEVICE=vpn sits in the device block; the daemon still sees it: an L2TP/IPsec export
    goes to the l2tp driver, which says what is missing (766) and how to provide it: the
    machine certificate for an entry that authenticates IPsec by certificate (the corpus
    entry's ``IpSecFlags=0``), the pre-shared key for one that uses a key (``IpSecFlags=1``,
    as Windows exports PSK entries); an IKEv2 export goes to the ikev2 driver, which asks for
    the user name and password the dial lacks (691, with ``needs``); each before anything
    starts."""
    from openras import Client, errors

    corpus = Path(__file__).parents[1] / "unit" / "pbk_corpus"
    psk_text = (
        (corpus / "l2tp.pbk").read_text(encoding="utf-8").replace("IpSecFlags=0", "IpSecFlags=1")
    )
    (tmp_path / "l2tp-psk.pbk").write_text(psk_text, encoding="utf-8")
    for name, entry, code, says in (
        ("l2tp.pbk", "L2TP Lab", 766, "OpenRasL2tpCert"),
        ("l2tp-psk.pbk", "L2TP Lab", 766, "RASCM_PreSharedKey"),
        ("ikev2.pbk", "IKEv2 Office", 691, ""),
    ):
        book = tmp_path / name
        if not book.exists():
            shutil.copyfile(corpus / name, book)
        got, h = r.RasDial(None, str(book), r.RASDIALPARAMS(szEntryName=entry))
        assert got == code
        if h:
            assert r.RasHangUp(h) == 0
        with Client(rasman.socket) as c, pytest.raises(errors.RasError) as exc:
            c.dial(entry, book)
        assert exc.value.code == code
        if code == 766:
            assert says in str(exc.value), exc.value
        else:
            assert exc.value.needs == errors.NEEDS_CREDENTIALS, exc.value
        if exc.value.handle:
            with Client(rasman.socket) as c:
                c.hang_up(exc.value.handle)
