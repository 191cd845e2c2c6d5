"""``openras creds``: save, show (masked) and delete what the daemon keeps for an entry."""

from __future__ import annotations

import json
import subprocess
import sys

from openras import Client
from openras.states import RasConnState

PBK = "[Locked]\nOpenRasDevice=loopback\nOpenRasLoopbackStepMs=5\nOpenRasLoopbackPassword=hunter2\n"


def _openras(rasman, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "openras.cli.openras", "--phonebook", str(rasman.phonebook), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=rasman.env,
        check=False,
    )


def test_set_show_dial_rm(rasman):
    rasman.phonebook.write_text(PBK)
    out = _openras(
        rasman, "creds", "set", "Locked", "--user", "bob", "--password-stdin", stdin="hunter2\n"
    )
    assert out.returncode == 0, out.stderr
    shown = _openras(rasman, "creds", "show", "Locked")
    assert "bob" in shown.stdout and "*" * 16 in shown.stdout and "hunter2" not in shown.stdout
    doc = json.loads(_openras(rasman, "--json", "creds", "show", "Locked").stdout)
    assert doc == {
        "entry": "Locked",
        "all_users": False,
        "user": "bob",
        "domain": "",
        "has_password": True,
        "has_psk": False,
    }
    with Client(rasman.socket) as c:  # a dial with no password uses the saved one
        conn = c.dial("Locked", rasman.phonebook)
        assert conn.status().state is RasConnState.Connected
        conn.hang_up()
    assert _openras(rasman, "creds", "rm", "Locked").returncode == 0
    assert "no credentials saved" in _openras(rasman, "creds", "show", "Locked").stdout


def test_set_with_nothing_to_save_is_a_usage_error(rasman):
    rasman.phonebook.write_text(PBK)
    out = _openras(rasman, "creds", "set", "Locked")
    assert out.returncode == 2 and "nothing to save" in out.stderr
