"""What of a user's L2TP entry and dial reaches the programs the root daemon starts
(xl2tpd's config, pppd's options file, charon over VICI): only checked values, each one word
of its parser, and never the password or the pre-shared key in a file."""

from __future__ import annotations

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


def _spec(keys: dict[str, str], *, user: str = "alice", phone: str = "") -> LinkSpec:
    params = DialParams(entry_name="L2TP", user=user, password=PASSWORD, psk=PSK,
                        phone_number=phone)  # fmt: skip
    return LinkSpec(handle=9, owner_uid=1000, entry=_Entry(keys), params=params,  # type: ignore[arg-type]
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
