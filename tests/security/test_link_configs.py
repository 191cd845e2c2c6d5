"""A user's link configs through the root daemon: nothing in them makes root load code, bind a
privileged port or route everything against the policy (findings 1, 5 and 10's routes).

These are refused before any program starts; the daemon still runs in a network namespace
of its own, with servers only on its loopback. What the programs receive when they do start
is covered by the drivers' own tests (tests/unit/test_openvpn_*, tests/links/)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest

from openras import errors


@pytest.fixture
def rasman(tmp_path: Path) -> Iterator[SimpleNamespace]:
    """A root rasman inside a network namespace of its own: should a refusal ever regress,
    the link it starts can reach nothing and route nothing of the machine's."""
    ns = f"orsec{os.getpid() % 100000}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    sock_dir = Path(tempfile.mkdtemp(prefix="orsec-"))
    sock_dir.chmod(0o755)
    sock = sock_dir / "r.sock"
    log = tmp_path / "rasman.log"
    proc = None
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [
                    *("ip", "netns", "exec", ns),
                    *(sys.executable, "-m", "openras.manager", "--socket", str(sock)),
                    *("--state-dir", str(tmp_path / "state")),
                ],
                stdout=out,
                stderr=out,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 15
        while not sock.exists():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "rasman did not start"
            time.sleep(0.02)
        yield SimpleNamespace(socket=sock, proc=proc, log=log)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(15)
        subprocess.run(["ip", "netns", "del", ns], check=False)
        shutil.rmtree(sock_dir, ignore_errors=True)


ALLOW_OWN = "[default]\nentries = all-users own\ndevices = *\nfull-tunnel = no\n"

CA = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ0+Q\n-----END CERTIFICATE-----\n"


def _no_program_loaded(marker: str) -> None:
    for proc in psutil.process_iter(["cmdline"]):
        try:
            assert marker not in " ".join(proc.info["cmdline"] or [])
        except psutil.Error:
            continue


def _book(user, device_key: str, path: str, device: str) -> str:
    return str(
        user.write("book.pbk", f"[Mine]\nOpenRasDevice={device}\n{device_key}={path}\n", 0o644)
    )


def test_the_multibyte_inline_block_escape_loads_nothing(rasman, attacker, dial_as, policy):
    """Finding 1: 127 'é' + 'a</ca>' ended the block for openvpn (255 bytes) but not for
    openras; the next line became a top-level 'plugin'."""
    policy(ALLOW_OWN)
    evil = attacker.write("evil.so", b"\x7fELF not really", 0o755)
    line = "é" * 127 + "a</ca>"
    profile = (
        f'client\ndev tun\nremote 127.0.0.1 9\n<ca>\n{CA}{line}\nplugin {evil}\n"<ca>"\n</ca>\n'
    )
    prof = attacker.write("evil.ovpn", profile, 0o644)
    out = dial_as(
        attacker, rasman, "Mine", _book(attacker, "OpenRasOpenVpnProfile", str(prof), "openvpn")
    )
    assert out["code"] != 0 and out["handle"] == 0, out
    _no_program_loaded(str(evil))


@pytest.mark.parametrize(
    "profile",
    [
        "client\ndev tun\nremote 127.0.0.1 9\nlport 67\nbind\n",
        "client\ndev tun\nremote 127.0.0.1 9\nport 67\nbind\n",
    ],
)
def test_openvpn_privileged_local_ports_are_refused(rasman, attacker, dial_as, policy, profile):
    policy(ALLOW_OWN)
    prof = attacker.write("p.ovpn", profile + f"<ca>\n{CA}</ca>\n", 0o644)
    out = dial_as(
        attacker, rasman, "Mine", _book(attacker, "OpenRasOpenVpnProfile", str(prof), "openvpn")
    )
    assert out["code"] == errors.ERROR_ACCESS_DENIED and out["handle"] == 0, out


WG = """[Interface]
PrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=
Address = 10.99.0.2/24
{extra}
[Peer]
PublicKey = xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
Endpoint = 127.0.0.1:9
AllowedIPs = {allowed}
"""


def test_wireguard_privileged_listen_port_is_refused(rasman, attacker, dial_as, policy):
    """Finding 5: ListenPort = 123 was accepted for wireguard-go."""
    policy(ALLOW_OWN)
    conf = attacker.write("wg.conf", WG.format(extra="ListenPort = 123", allowed="10.99.0.0/24"))
    out = dial_as(
        attacker, rasman, "Mine", _book(attacker, "OpenRasWireGuardConfig", str(conf), "wireguard")
    )
    assert out["code"] == errors.ERROR_ACCESS_DENIED and "123" in out["detail"], out


@pytest.mark.parametrize("allowed", ["0.0.0.0/0", "0.0.0.0/1, 128.0.0.0/1", "::/0"])
def test_full_tunnel_is_refused_when_the_policy_says_no(rasman, attacker, dial_as, policy, allowed):
    path = policy(ALLOW_OWN)
    conf = attacker.write("wg.conf", WG.format(extra="", allowed=allowed))
    out = dial_as(
        attacker, rasman, "Mine", _book(attacker, "OpenRasWireGuardConfig", str(conf), "wireguard")
    )
    assert out["code"] == errors.ERROR_ACCESS_DENIED, out
    assert f"{path}:4: full-tunnel = no" in out["detail"]


def test_openvpn_redirect_gateway_is_refused_when_the_policy_says_no(
    rasman, attacker, dial_as, policy
):
    path = policy(ALLOW_OWN)
    prof = attacker.write(
        "p.ovpn",
        f"client\ndev tun\nremote 127.0.0.1 9\nredirect-gateway def1\n<ca>\n{CA}</ca>\n",
        0o644,
    )
    out = dial_as(
        attacker, rasman, "Mine", _book(attacker, "OpenRasOpenVpnProfile", str(prof), "openvpn")
    )
    assert out["code"] == errors.ERROR_ACCESS_DENIED, out
    assert f"{path}:4: full-tunnel = no" in out["detail"]


def test_a_profiles_password_file_is_read_as_the_user(rasman, attacker, dial_as, policy):
    """``auth-user-pass FILE`` is a new way a user's profile makes the daemon read a file:
    it is opened as the user (root-only files refused, nothing quoted), and its content goes
    only over the management socket, never to openvpn's argv or a file."""
    policy(ALLOW_OWN)
    prof = attacker.write(
        "p.ovpn",
        f"client\ndev tun\nremote 127.0.0.1 9\nauth-user-pass /etc/shadow\n<ca>\n{CA}</ca>\n",
        0o644,
    )
    book = _book(attacker, "OpenRasOpenVpnProfile", str(prof), "openvpn")
    out = dial_as(attacker, rasman, "Mine", book)
    assert out["code"] != 0 and out["handle"] == 0, out
    assert "Permission denied" in out["detail"]
    assert Path("/etc/shadow").read_text().splitlines()[0] not in out["detail"]
