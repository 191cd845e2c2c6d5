"""What the daemon keeps loaded: not OpenSSL's libcrypto (3.4 MB resident, which hashlib,
hmac and secrets would load for a few short hashes) nor dbus-fast (1.5 MB) on a machine
without systemd-resolved, through a start, a dial and a hang-up."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasman_helpers import wait_until

from openras import rasapi as r
from openras._digest import sha1_digest, sha256_hex

pytestmark = pytest.mark.usefixtures("fresh_rasapi")


def test_builtin_digests_are_hashlibs() -> None:
    import hashlib

    for data in (b"", b"abc", "é\0x".encode() * 100):
        assert sha256_hex(data) == hashlib.sha256(data).hexdigest()
        assert sha1_digest(data) == hashlib.sha1(data).digest()  # noqa: S324


def test_no_libcrypto_or_dbus_in_the_daemon(rasman) -> None:
    if Path("/run/systemd/resolve").is_dir():
        pytest.skip("systemd-resolved runs here: the daemon talks to it over D-Bus")
    code, h = r.RasDial(None, str(rasman.phonebook), r.RASDIALPARAMS(szEntryName="Demo"))
    assert code == 0
    assert r.RasEnumConnections()[0] == 0  # the rows, with their entry GUIDs
    assert r.RasHangUp(h) == 0
    wait_until(lambda: r.RasGetConnectStatus(h)[0] == r.ERROR_INVALID_HANDLE, what="6")
    maps = Path(f"/proc/{rasman.proc.pid}/maps").read_text()
    assert "libcrypto" not in maps
    assert "dbus_fast" not in maps
