"""What of a user's L2TP entry and dial reaches the programs the root daemon starts
(xl2tpd's config, pppd's options file, charon over VICI): only checked values, each one word
of its parser, and never the password or the pre-shared key in a file.

The certificate mode's keys (``OpenRasL2tpCert``, ``OpenRasL2tpKey``, ``OpenRasL2tpCa``) name
files the root daemon reads: as the dialing user (a file only root may read is refused, its
content never quoted), and the private key goes to charon over VICI only, never a file,
argv or the dial's repr."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from openras.errors import RasError
from openras.links.base import DialParams, LinkSpec
from openras.links.ppp import l2tp
from openras.links.ppp.l2tp_link import dial_from_spec

EXPORT = {
    "Type": "2", "VpnStrategy": "3", "DataEncryption": "256",
    "PreferredDevice": "WAN Miniport (L2TP)", "DEVICE": "vpn", "PhoneNumber": "192.0.2.1",
}  # fmt: skip
PASSWORD, PSK = "pw-Secret-1", "psk-Secret-2"


class _Entry:
    name = "L2TP"

    def __init__(self, keys: dict[str, str]) -> None:
        self._keys = {k.lower(): v for k, v in keys.items()}

    def get(self, key: str, default: str | None = None) -> str | None:
        return self._keys.get(key.lower(), default)


def _spec(keys: dict[str, str], *, user: str = "alice", phone: str = "",
          owner: int = 1000) -> LinkSpec:  # fmt: skip
    params = DialParams(entry_name="L2TP", user=user, password=PASSWORD, psk=PSK,
                        phone_number=phone)  # fmt: skip
    return LinkSpec(handle=9, owner_uid=owner, entry=_Entry(keys), params=params,  # type: ignore[arg-type]
                    run_dir=Path("/nonexistent"), marker="m")  # fmt: skip


@pytest.mark.parametrize(
    "server",
    [
        "192.0.2.1\nport = 1\n[lac evil]",  # a new line would be a new xl2tpd key or section
        "vpn.example.com\nlns = 203.0.113.9",
        "host; touch /tmp/x",
        "a=b",
        "[lns default]",
        "-e",
        "2001:db8::1",  # xl2tpd speaks IPv4 only
    ],
)
def test_a_server_that_is_not_one_plain_word_never_reaches_xl2tpd(server: str) -> None:
    for spec in (_spec({**EXPORT, "PhoneNumber": server}), _spec(EXPORT, phone=server)):
        with pytest.raises(RasError):
            dial_from_spec(spec)


@pytest.mark.parametrize(
    "user", ['bob"\nplugin /tmp/evil.so', "bob\nnoauth", "-bob", "bob\x00x", "bob\x7f"]
)
def test_a_user_name_cannot_add_pppd_options(user: str) -> None:
    """A user name is one quoted word of pppd's options file, or refused."""
    try:
        dial = dial_from_spec(_spec(EXPORT, user=user))
    except RasError:
        return
    text = l2tp.pppd_options(user=dial.user, ifname="orppp9", linkname="openras-9",
                             logfile=Path("/r/pppd.log"), no_script="/bin/true",
                             password_fd=5)  # fmt: skip
    assert all(not line.startswith(("plugin /tmp", "noauth\n")) for line in text.splitlines())
    assert text.count("\n") == len(text.splitlines())  # no line but the daemon's own


def test_neither_password_nor_key_is_in_any_file_the_programs_read() -> None:
    dial = dial_from_spec(_spec(EXPORT))
    files = [
        l2tp.xl2tpd_conf(dial.tunnel, options_file=Path("/r/pppd.options")),
        l2tp.pppd_options(user=dial.user, ifname="orppp9", linkname="openras-9",
                          logfile=Path("/r/pppd.log"), no_script="/bin/true", password_fd=5),
        l2tp.strongswan_conf(vici_socket=Path("/r/v"), log_file=Path("/r/l"), dial_timeout=15),
    ]  # fmt: skip
    for text in files:
        assert PASSWORD not in text and PSK not in text
    # The key goes to charon over VICI only, and is not in the dial's repr (logs).
    assert l2tp.ike_secret(dial.tunnel)["data"] == PSK
    assert PSK not in repr(dial) and PASSWORD not in repr(dial)
    conn = repr(l2tp.ike_connection(dial.tunnel))
    assert PSK not in conn and "192.0.2.1" in conn


NOBODY = 65534
KEY_BODY = "MHcCAQEEISECRETkeyMaterial0123456789"
CERT = "-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n"
KEY = f"-----BEGIN EC PRIVATE KEY-----\n{KEY_BODY}\n-----END EC PRIVATE KEY-----\n"


def _user_files(d: Path, mode: int = 0o644) -> dict[str, str]:
    """The certificate, key and CA in a directory anyone may enter (the files' modes, not
    the directory's, decide), as a user's own files would be."""
    d.chmod(0o755)
    for name, text in (("m.crt", CERT), ("m.key", KEY), ("ca.crt", CERT)):
        (d / name).write_text(text)
        (d / name).chmod(mode)
    return {**EXPORT, "IpSecFlags": "0", "OpenRasL2tpCert": str(d / "m.crt"),
            "OpenRasL2tpKey": str(d / "m.key"), "OpenRasL2tpCa": str(d / "ca.crt")}  # fmt: skip


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory every user may enter (pytest's tmp_path is root's alone)."""
    d = Path(tempfile.mkdtemp(prefix="orl2tp-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="reads as another user: needs root")


@needs_root
def test_certificate_files_are_read_as_the_dialing_user(open_dir: Path) -> None:
    """The same files: readable by the user, they load; root's alone (0600, owned by root),
    refused with the kernel's reason, and nothing of them in the answer."""
    keys = _user_files(open_dir)
    assert dial_from_spec(_spec(keys, owner=NOBODY)).tunnel.key == KEY.encode()
    for name in ("m.crt", "m.key", "ca.crt"):
        (open_dir / name).chmod(0o600)  # root's now
        with pytest.raises(RasError) as exc:
            dial_from_spec(_spec(keys, owner=NOBODY))
        assert "Permission denied" in str(exc.value) and str(open_dir / name) in str(exc.value)
        assert KEY_BODY not in str(exc.value) and "MIIB" not in str(exc.value)
        (open_dir / name).chmod(0o644)


@needs_root
@pytest.mark.parametrize("key", ["OpenRasL2tpCert", "OpenRasL2tpKey", "OpenRasL2tpCa"])
def test_a_key_naming_roots_files_reads_nothing_of_them(open_dir: Path, key: str) -> None:
    """/etc/shadow, directly or through a symlink of the user's: refused as the user."""
    link = open_dir / "link.pem"
    link.symlink_to("/etc/shadow")
    shadow_head = Path("/etc/shadow").read_text().splitlines()[0]
    for target in ("/etc/shadow", str(link)):
        with pytest.raises(RasError) as exc:
            dial_from_spec(_spec({**_user_files(open_dir), key: target}, owner=NOBODY))
        assert exc.value.code in (766, 87)
        assert "Permission denied" in str(exc.value) and shadow_head not in str(exc.value)


def test_the_private_key_reaches_charon_over_vici_only(tmp_path: Path) -> None:
    dial = dial_from_spec(_spec(_user_files(tmp_path), owner=os.geteuid()))
    assert dial.tunnel.cert
    files = [
        l2tp.xl2tpd_conf(dial.tunnel, options_file=Path("/r/pppd.options")),
        l2tp.pppd_options(user=dial.user, ifname="orppp9", linkname="openras-9",
                          logfile=Path("/r/pppd.log"), no_script="/bin/true", password_fd=5),
        l2tp.strongswan_conf(vici_socket=Path("/r/v"), log_file=Path("/r/l"), dial_timeout=15),
        repr(l2tp.ike_connection(dial.tunnel)),  # (the machine certificate: public)
        repr(dial),
    ]  # fmt: skip
    for text in files:
        assert KEY_BODY not in text and PSK not in text and PASSWORD not in text
    loads = l2tp.ike_credentials(dial.tunnel)
    carrying = [cmd for cmd, msgs in loads for m in msgs if KEY_BODY.encode() in m["data"]]
    assert carrying == ["load-key"]  # the one message that carries it
    assert all(cmd != "load-shared" for cmd, _ in loads)  # no PSK sent in certificate mode
