"""An OpenVPN test server in a namespace: a throwaway PKI, a server config, a client profile.

The PKI (EC P-256, openssl only, ~0.1 s) is made at test time in a temp dir; no key is ever
committed. The server authenticates users with a tiny ``via-file`` script (server side only:
the client profile, which the driver sanitizes, never runs anything).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from netns import NetnsLab, NsPair, wait_until

USER = "alice"
PASSWORD = 's3cret "quoted" \\ back'  # exercises the management quoting
SERVER_PORT = 1194


def make_pki(d: Path) -> Path:
    """ca.crt, server.crt/key (serverAuth), client.crt/key (clientAuth) in ``d``."""
    d.mkdir(parents=True, exist_ok=True)

    def ssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True, timeout=30)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    ssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
        "-subj", "/CN=openras-test-CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    for name, eku in (("server", "serverAuth"), ("client", "clientAuth")):
        ssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        (d / f"{name}.ext").write_text(
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyAgreement\n"
            f"extendedKeyUsage={eku}\n"
        )
        ssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.crt")  # fmt: skip
    for p in d.iterdir():
        if p.suffix == ".key":
            p.chmod(0o600)
    return d


@dataclass
class OvpnServer:
    """One openvpn server in namespace A and what a client needs to reach it."""

    pair: NsPair
    dir: Path
    tunnel_net: str  # e.g. 10.232.7  (server is .1 in the tunnel)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def tunnel_ip(self) -> str:
        return f"{self.tunnel_net}.1"

    @property
    def pushed_dns(self) -> str:
        return f"{self.tunnel_net}.53"

    @property
    def log(self) -> Path:
        return self.dir / "server.log"

    def write_config(
        self,
        pki: Path,
        *,
        keepalive: tuple[int, int],
        exit_notify: bool,
        push: tuple[str, ...] = (),
        verify_script: str | None = None,
    ) -> Path:
        verify = self.dir / "verify.sh"
        verify.write_text(
            verify_script
            or "#!/bin/sh\n"
            "# via-file: line 1 user, line 2 password\n"
            'user=$(sed -n 1p "$1"); pass=$(sed -n 2p "$1")\n'
            f"[ \"$user\" = '{USER}' ] && [ \"$pass\" = '{PASSWORD.replace(chr(39), '')}' ] "
            "&& exit 0\nexit 1\n"
        )
        verify.chmod(0o700)
        conf = self.dir / "server.conf"
        lines = [
            "dev tun", "proto udp", f"local {self.pair.addr_a}", f"port {SERVER_PORT}",
            "topology subnet", f"server {self.tunnel_net}.0 255.255.255.0",
            f"ca {pki / 'ca.crt'}", f"cert {pki / 'server.crt'}", f"key {pki / 'server.key'}",
            "dh none", f"keepalive {keepalive[0]} {keepalive[1]}", "script-security 2",
            f"auth-user-pass-verify {verify} via-file",
            f'push "route {self.tunnel_net.rsplit(".", 1)[0]}.250.0 255.255.255.0"',
            f'push "dhcp-option DNS {self.pushed_dns}"', "verb 3",
        ]  # fmt: skip
        if exit_notify:
            lines.append("explicit-exit-notify 1")
        lines += [f'push "{p}"' for p in push]
        conf.write_text("\n".join(lines) + "\n")
        return conf

    def start(
        self, lab: NetnsLab, pki: Path, *, keepalive: tuple[int, int] = (1, 4),
        exit_notify: bool = False, push: tuple[str, ...] = (), verify_script: str | None = None,
    ) -> None:  # fmt: skip
        """``verify_script``: the server's auth-user-pass-verify (via-file) script, instead
        of the plain user/password check."""
        conf = self.write_config(
            pki, keepalive=keepalive, exit_notify=exit_notify, push=push,
            verify_script=verify_script,
        )  # fmt: skip
        self.proc = lab.spawn(self.pair.a, ["openvpn", "--config", str(conf)], log=self.log)
        ok = wait_until(
            lambda: (
                "Initialization Sequence Completed" in self.log.read_text(errors="replace")
                or self.proc is None
                or self.proc.poll() is not None
            ),
            10,
        )
        assert ok and self.proc.poll() is None, f"server did not start:\n{self.log.read_text()}"


def client_profile(
    d: Path, server: OvpnServer, pki: Path, *, extra: str = "", inline_ca: bool = False
) -> Path:
    """A client .ovpn with relative file references (the driver inlines them)."""
    for name in ("ca.crt", "client.crt", "client.key"):
        target = d / name
        if not target.exists():
            target.write_bytes((pki / name).read_bytes())
            target.chmod(0o600 if name.endswith(".key") else 0o644)
    ca = f"<ca>\n{(pki / 'ca.crt').read_text()}</ca>" if inline_ca else "ca ca.crt"
    text = f"""\
# test profile
client
dev tun
proto udp
remote {server.pair.addr_a} {SERVER_PORT}
nobind
{ca}
cert client.crt
key client.key
remote-cert-tls server
auth-user-pass
verb 3
{extra}
"""
    path = d / "client.ovpn"
    path.write_text(text)
    return path
