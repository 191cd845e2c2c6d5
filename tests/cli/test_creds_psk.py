"""``openras creds set --psk-stdin``: an L2TP/IPsec entry's pre-shared key saved from stdin
(never argv), shown only as saved, kept apart from the password, gone with ``rm``."""

from __future__ import annotations

import json
from typing import Any

from test_creds import _openras

from openras.manager.credentials import CredentialStore

PBK = "[Office]\nDEVICE=vpn\nVpnStrategy=3\nPhoneNumber=192.0.2.7\n"
PSK = "psk-from-stdin-41c"


def test_psk_set_show_rm(rasman: Any) -> None:
    rasman.phonebook.write_text(PBK)
    out = _openras(rasman, "creds", "set", "Office", "--psk-stdin", stdin=PSK + "\n")
    assert out.returncode == 0, out.stderr
    shown = _openras(rasman, "creds", "show", "Office")
    assert "psk" in shown.stdout and "*" * 16 in shown.stdout and PSK not in shown.stdout
    doc = json.loads(_openras(rasman, "--json", "creds", "show", "Office").stdout)
    assert (doc["has_psk"], doc["has_password"]) == (True, False)
    # a password saved afterwards leaves the key
    out = _openras(rasman, "creds", "set", "Office", "--user", "bob", "--password-stdin",
                   stdin="pw\n")  # fmt: skip
    assert out.returncode == 0, out.stderr
    saved = CredentialStore(rasman.state_dir).get(0, str(rasman.phonebook), "Office")
    assert saved is not None and (saved.psk, saved.password) == (PSK, "pw")
    empty = _openras(rasman, "creds", "set", "Office", "--psk-stdin", stdin="\n")
    assert empty.returncode == 2 and "no pre-shared key" in empty.stderr
    both = _openras(rasman, "creds", "set", "Office", "--psk-stdin", "--password-stdin")
    assert both.returncode == 2  # one stdin, one secret
    assert _openras(rasman, "creds", "rm", "Office").returncode == 0
    doc = json.loads(_openras(rasman, "--json", "creds", "show", "Office").stdout)
    assert doc["has_psk"] is False
