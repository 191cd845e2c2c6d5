"""A user's client reaches the daemon that can make their tunnels: the system one when it
answers; a per-user one (started on demand) only for what works without root, and a dial it
cannot serve says what to do instead of failing with 797."""

from __future__ import annotations

import os

from openras import errors

WHO = """
import json, os
from openras import Client, RasError
out = {}
with Client(timeout=30) as c:
    out["ping"] = c.call("org.openras.Manager.Ping")
    try:
        c.dial("Tunnel", os.environ["BOOK"])
        out["dial"] = 0
    except RasError as e:
        out["dial"] = e.code
        out["detail"] = e.detail
print(json.dumps(out))
"""


def _env(user, book, system_socket):
    return {
        "BOOK": str(book),
        "XDG_RUNTIME_DIR": str(user.home / "run"),
        "XDG_STATE_HOME": str(user.home / "state"),
        "OPENRAS_SYSTEM_SOCKET": str(system_socket),
    }


def test_a_users_client_talks_to_the_system_daemon_when_it_answers(rasman, attacker):
    (attacker.home / "run").mkdir(mode=0o700)
    os.chown(attacker.home / "run", attacker.uid, attacker.gid)
    book = attacker.write("book.pbk", "[Tunnel]\nOpenRasDevice=loopback\n", mode=0o644)
    out = attacker.json(WHO, env=_env(attacker, book, rasman.socket))
    assert out["ping"]["pid"] == rasman.proc.pid and out["ping"]["uid"] == attacker.uid
    assert out["dial"] == 0
    assert not (attacker.home / "run" / "openras" / "rasman.sock").exists()  # none started


def test_a_per_user_daemon_says_a_tunnel_needs_the_system_daemon(attacker):
    (attacker.home / "run").mkdir(mode=0o700)
    os.chown(attacker.home / "run", attacker.uid, attacker.gid)
    book = attacker.write(
        "book.pbk", "[Tunnel]\nOpenRasDevice=wireguard\nOpenRasWireGuardConfig=wg.conf\n"
    )
    out = attacker.json(WHO, env=_env(attacker, book, attacker.home / "no-system.sock"))
    assert out["ping"]["uid"] == attacker.uid and out["ping"]["pid"] != os.getpid()
    assert out["dial"] == errors.ERROR_ACCESS_DENIED
    assert "need the system daemon" in out["detail"] and "systemctl" in out["detail"]
