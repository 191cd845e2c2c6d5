"""Lab helpers for ``bench_links.py``: the namespace pair, rasman in namespace B, the
servers in namespace A, and the "raw" client procedures (the link programs driven by hand).

The namespace lab itself (``NetnsLab``: create a pair, spawn, run, clean up by pid) is the
one the link tests use, imported from ``tests/links/netns.py``. The OpenVPN bits (a throwaway
PKI, a server, a client profile) are a minimal copy of ``tests/links/ovpn_lab.py`` so the
bench does not move when those test helpers do.

Every process started here is a tracked child (``lab.procs``) and is stopped by pid; rasman
and the raw client programs are both spawned from a thread moved into namespace B
(``lab.inside``), so the two sides run in the same namespaces (network and mount) and
neither pays ``ip netns exec`` per command.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "links"))

from netns import NetnsLab, NsPair, missing_programs, wait_until  # noqa: E402

from openras.client import Client  # noqa: E402
from openras.links.rtnl import if_index  # noqa: E402

__all__ = [
    "OVPN_PASSWORD",
    "OVPN_USER",
    "SSH_PORT",
    "BenchError",
    "NetnsLab",
    "NsPair",
    "Rasman",
    "RawOpenVpn",
    "RawSsh",
    "RawWireGuard",
    "make_pki",
    "missing_programs",
    "ovpn_client_profile",
    "start_ovpn_server",
    "start_sshd",
    "start_wg_server",
    "wait_until",
    "wg_quick_config",
    "wg_setconf_config",
    "write_private",
]

#: Sleep between two polls of the raw procedures (the socket appearing, ``wg show``).
RAW_POLL = 0.002
HELPER_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}


class BenchError(RuntimeError):
    """A step of the lab did not work (the bench reports it and cleans up)."""


def _check(res: subprocess.CompletedProcess[str], what: str) -> None:
    if res.returncode != 0:
        raise BenchError(f"{what}: rc {res.returncode}: {res.stderr.strip() or res.stdout.strip()}")


def write_private(path: Path, text: str) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    return path


def wait_exit(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Return the moment ``proc`` exits (a pidfd, as rasman watches its links), bounded.

    ``Popen.wait(timeout)`` polls with a doubling sleep (0.5, 1, 2 ... ms), which rounds an
    exit up to about 16 or 32 ms; that would flatter openras in the comparison."""
    fd = os.pidfd_open(proc.pid)
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
    finally:
        os.close(fd)
    if not ready:
        raise BenchError(f"pid {proc.pid} did not exit within {timeout:g} s")
    proc.wait(1)


def ifname_exists(name: str) -> bool:
    """Whether ``name`` exists in this thread's network namespace (no subprocess; by
    rtnetlink, as the daemon asks: ``if_nametoindex`` of a missing name runs modprobe)."""
    return if_index(name) is not None


# -- rasman in namespace B ---------------------------------------------------------------------


@dataclass
class Rasman:
    """A real ``rasman`` started inside a namespace before any timer runs (a daemon)."""

    lab: NetnsLab
    ns: str
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None
    #: Where rasman keeps its table (default: in the work dir, on the same disk as /tmp).
    state_dir: Path | None = None

    @property
    def socket(self) -> Path:
        return self.workdir / "rasman.sock"

    @property
    def log(self) -> Path:
        return self.workdir / "rasman.log"

    def start(self, log_level: str = "info") -> None:
        env = {
            **os.environ,
            "XDG_CONFIG_HOME": str(self.workdir / "config"),
            "OPENRAS_SYSTEM_PHONEBOOK": str(self.workdir / "system.pbk"),
        }
        argv = [sys.executable, "-m", "openras.manager", "--socket", str(self.socket),
                "--state-dir", str(self.state_dir or self.workdir / "state"),
                "--log-level", log_level]  # fmt: skip
        # From a thread moved into B, as the raw programs are started, not through
        # ``ip netns exec``: that also gives the daemon (and so its link programs) a mount
        # namespace of their own with a fresh /sys, and a tun's teardown then took openvpn
        # 2-5 ms longer than the same teardown of a raw openvpn, which has none.
        with open(self.log, "ab") as out, self.lab.inside(self.ns):
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                env=env, start_new_session=True,
            )  # fmt: skip
        self.lab.procs.append(self.proc)
        proc = self.proc
        ok = wait_until(lambda: self._answers() or proc.poll() is not None, 30)
        if not ok or proc.poll() is not None:
            log = self.log.read_text(errors="replace")
            raise BenchError(f"rasman did not answer within 30 s (rc {proc.poll()}):\n{log}")

    def _answers(self) -> bool:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            try:
                s.connect(str(self.socket))
            except OSError:
                return False
            return True

    def client(self) -> Client:
        return Client(self.socket, autostart=False, timeout=30)

    def hang_up_everything(self) -> None:
        """Best effort, before the lab kills what is left by pid."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            with self.client() as c:
                for info in c.connections(include_pending=True):
                    c.hang_up(info.handle, wait=True, timeout=15)
        except Exception as exc:
            print(f"  (cleanup: could not hang up through rasman: {exc})", file=sys.stderr)


# -- WireGuard ---------------------------------------------------------------------------------


def _wg(*args: str, data: str | None = None) -> str:
    res = subprocess.run(
        ["wg", *args], input=data, capture_output=True, text=True, timeout=10, check=False
    )
    _check(res, f"wg {args[0]}")
    return res.stdout.strip()


def wg_keypair() -> tuple[str, str]:
    private = _wg("genkey")
    return private, _wg("pubkey", data=private + "\n")


def uapi_socket(ifname: str) -> Path:
    return Path("/var/run/wireguard") / f"{ifname}.sock"


def _uapi_answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        try:
            s.connect(str(path))
        except OSError:
            return False
        return True


@dataclass
class WgLab:
    """A wireguard-go server in namespace A and one client config (wg-quick style)."""

    subnet: str  # e.g. 10.233.7 (server .1, client .2)
    server_if: str
    server_pub: str
    client_priv: str
    client_pub: str
    endpoint: str
    port: int = 51820

    @property
    def client_ip(self) -> str:
        return f"{self.subnet}.2"


def start_wg_server(lab: NetnsLab, pair: NsPair, workdir: Path, subnet: str) -> WgLab:
    spriv, spub = wg_keypair()
    cpriv, cpub = wg_keypair()
    ifname = f"bwgs{os.getpid() % 100000}"
    lab.spawn(pair.a, ["wireguard-go", "-f", ifname], log=workdir / f"{ifname}.log",
              env={**HELPER_ENV, "LOG_LEVEL": "error"})  # fmt: skip
    if not wait_until(lambda: _uapi_answers(uapi_socket(ifname)), 5):
        raise BenchError("the server wireguard-go never opened its UAPI socket")
    key = write_private(workdir / f"{ifname}.key", spriv)
    wl = WgLab(subnet, ifname, spub, cpriv, cpub, f"{pair.addr_a}:51820")
    lab.run(pair.a, ["wg", "set", ifname, "listen-port", str(wl.port), "private-key", str(key),
                     "peer", cpub, "allowed-ips", f"{wl.client_ip}/32"])  # fmt: skip
    lab.run(pair.a, ["ip", "address", "add", f"{subnet}.1/24", "dev", ifname])
    lab.run(pair.a, ["ip", "link", "set", "dev", ifname, "up"])
    return wl


def wg_quick_config(wl: WgLab) -> str:
    """The config a user would write (what openras reads); no PersistentKeepalive."""
    return (
        "[Interface]\n"
        f"PrivateKey = {wl.client_priv}\n"
        f"Address = {wl.client_ip}/24\n"
        "\n[Peer]\n"
        f"PublicKey = {wl.server_pub}\n"
        f"Endpoint = {wl.endpoint}\n"
        f"AllowedIPs = {wl.subnet}.0/24\n"
    )


def wg_setconf_config(wl: WgLab) -> str:
    """The same config as ``wg setconf`` takes it. By hand, a keepalive is what starts the
    first handshake without traffic (openras sets the same 1 s one for the dial)."""
    return (
        "[Interface]\n"
        f"PrivateKey = {wl.client_priv}\n"
        "\n[Peer]\n"
        f"PublicKey = {wl.server_pub}\n"
        f"Endpoint = {wl.endpoint}\n"
        f"AllowedIPs = {wl.subnet}.0/24\n"
        "PersistentKeepalive = 1\n"
    )


def _handshake_done(dump: str) -> bool:
    lines = dump.strip().splitlines()
    for line in lines[1:]:
        fields = line.split("\t")
        if len(fields) >= 5 and fields[4].isdigit() and int(fields[4]) != 0:
            return True
    return False


@dataclass
class RawWireGuard:
    """wireguard-go -f + wg setconf + ip, by hand, inside namespace B."""

    lab: NetnsLab
    ns: str
    wl: WgLab
    setconf: Path
    log: Path
    ifname: str
    proc: subprocess.Popen[bytes] | None = None

    def dial(self, timeout: float = 10.0) -> float:
        """Spawn → first handshake seen in ``wg show IF dump``; seconds."""
        with self.lab.inside(self.ns):
            deadline = time.monotonic() + timeout
            t0 = time.perf_counter()
            with open(self.log, "ab") as log:
                self.proc = subprocess.Popen(
                    ["wireguard-go", "-f", self.ifname],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                    env={**HELPER_ENV, "LOG_LEVEL": "error"}, start_new_session=True,
                )  # fmt: skip
            self.lab.procs.append(self.proc)
            sock = uapi_socket(self.ifname)
            while not (sock.exists() and _uapi_answers(sock)):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise BenchError("raw wireguard-go did not open its UAPI socket")
                time.sleep(RAW_POLL)
            _check(self._run(["wg", "setconf", self.ifname, str(self.setconf)]), "wg setconf")
            batch = (
                f"address add {self.wl.client_ip}/24 dev {self.ifname}\n"
                f"link set dev {self.ifname} mtu 1420 up\n"
            )
            _check(self._run(["ip", "-batch", "-"], data=batch), "ip -batch")
            while True:
                res = self._run(["wg", "show", self.ifname, "dump"])
                if res.returncode == 0 and _handshake_done(res.stdout):
                    return time.perf_counter() - t0
                if time.monotonic() > deadline:
                    raise BenchError("raw WireGuard: no handshake")
                time.sleep(RAW_POLL)

    def hang_up(self) -> float:
        """SIGTERM wireguard-go → exit (+ ``ip link del`` if the interface stayed)."""
        assert self.proc is not None
        with self.lab.inside(self.ns):
            t0 = time.perf_counter()
            self.proc.send_signal(signal.SIGTERM)
            wait_exit(self.proc)
            if ifname_exists(self.ifname):
                self._run(["ip", "link", "del", "dev", self.ifname])
            took = time.perf_counter() - t0
        self.lab.procs.remove(self.proc)
        self.proc = None
        return took

    @staticmethod
    def _run(argv: list[str], data: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv, input=data, capture_output=True, text=True, timeout=10, check=False,
            env=HELPER_ENV,
        )  # fmt: skip

    def cleanup(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.lab.stop(self.proc)
        sock = uapi_socket(self.ifname)
        if sock.exists() and not _uapi_answers(sock):
            with contextlib.suppress(OSError):
                sock.unlink()


# -- OpenVPN -----------------------------------------------------------------------------------

OVPN_USER = "alice"
OVPN_PASSWORD = "s3cret-bench"  # noqa: S105 - a throwaway lab password
OVPN_PORT = 1194


def make_pki(d: Path) -> Path:
    """ca.crt, server.crt/key (serverAuth), client.crt/key (clientAuth); EC P-256."""
    d.mkdir(parents=True, exist_ok=True)

    def ssl(*args: str) -> None:
        res = subprocess.run(
            ["openssl", *args], cwd=d, capture_output=True, text=True, timeout=30, check=False
        )
        _check(res, f"openssl {args[0]}")

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    ssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
        "-subj", "/CN=openras-bench-CA",
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


def start_ovpn_server(
    lab: NetnsLab, pair: NsPair, d: Path, pki: Path, tunnel_net: str
) -> subprocess.Popen[bytes]:
    d.mkdir(parents=True, exist_ok=True)
    verify = d / "verify.sh"
    verify.write_text(
        "#!/bin/sh\n"
        'user=$(sed -n 1p "$1"); pass=$(sed -n 2p "$1")\n'
        f"[ \"$user\" = '{OVPN_USER}' ] && [ \"$pass\" = '{OVPN_PASSWORD}' ] && exit 0\nexit 1\n"
    )
    verify.chmod(0o700)
    conf = d / "server.conf"
    conf.write_text("\n".join([
        "dev tun", "proto udp", f"local {pair.addr_a}", f"port {OVPN_PORT}",
        "topology subnet", f"server {tunnel_net}.0 255.255.255.0",
        f"ca {pki / 'ca.crt'}", f"cert {pki / 'server.crt'}", f"key {pki / 'server.key'}",
        "dh none", "keepalive 1 4", "script-security 2",
        f"auth-user-pass-verify {verify} via-file",
        f'push "dhcp-option DNS {tunnel_net}.53"', "verb 3",
    ]) + "\n")  # fmt: skip
    log = d / "server.log"
    proc = lab.spawn(pair.a, ["openvpn", "--config", str(conf)], log=log)
    ok = wait_until(
        lambda: (
            "Initialization Sequence Completed" in log.read_text(errors="replace")
            or proc.poll() is not None
        ),
        10,
    )
    if not ok or proc.poll() is not None:
        raise BenchError(f"the OpenVPN server did not start:\n{log.read_text(errors='replace')}")
    return proc


def ovpn_client_profile(d: Path, pki: Path, server_addr: str) -> Path:
    """A client .ovpn with relative file references (as a user would have it)."""
    d.mkdir(parents=True, exist_ok=True)
    for name in ("ca.crt", "client.crt", "client.key"):
        (d / name).write_bytes((pki / name).read_bytes())
        (d / name).chmod(0o600 if name.endswith(".key") else 0o644)
    path = d / "client.ovpn"
    path.write_text(
        "client\ndev tun\nproto udp\n"
        f"remote {server_addr} {OVPN_PORT}\n"
        "nobind\nca ca.crt\ncert client.crt\nkey client.key\nremote-cert-tls server\n"
        "auth-user-pass\nverb 3\n"
    )
    return path


def _mquote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Mgmt:
    """A minimal blocking management-socket client with its own line buffer."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def send(self, *lines: str) -> None:
        self.sock.sendall("".join(f"{line}\n" for line in lines).encode())

    def lines(self, deadline: float) -> list[str]:
        """The complete lines available now, waiting (bounded) for at least one."""
        while b"\n" not in self.buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BenchError("OpenVPN management: timed out")
            ready, _, _ = select.select([self.sock], [], [], remaining)
            if not ready:
                continue
            data = self.sock.recv(65536)
            if not data:
                raise BenchError("OpenVPN management: socket closed")
            self.buf += data
        *complete, self.buf = self.buf.split(b"\n")
        return [c.decode("utf-8", "replace").rstrip("\r") for c in complete]


@dataclass
class RawOpenVpn:
    """``openvpn --config ... --management SOCK unix --management-hold
    --management-query-passwords``, driven by hand until ``>STATE:..,CONNECTED``."""

    lab: NetnsLab
    ns: str
    profile: Path
    ifname: str
    mgmt_path: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    mgmt: _Mgmt | None = None
    #: Seconds from the start to the management socket and to each state, per dial.
    timeline: dict[str, list[float]] = field(default_factory=dict)

    def _mark(self, name: str, t0: float) -> None:
        self.timeline.setdefault(name, []).append(time.perf_counter() - t0)

    def dial(self, timeout: float = 15.0) -> float:
        with contextlib.suppress(FileNotFoundError):
            self.mgmt_path.unlink()
        with self.lab.inside(self.ns):
            deadline = time.monotonic() + timeout
            t0 = time.perf_counter()
            with open(self.log, "ab") as log:
                self.proc = subprocess.Popen(
                    ["openvpn", "--config", str(self.profile), "--dev", self.ifname,
                     "--dev-type", "tun", "--auth-nocache", "--auth-retry", "none",
                     "--management", str(self.mgmt_path), "unix",
                     "--management-hold", "--management-query-passwords"],
                    cwd=self.profile.parent, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                    env=HELPER_ENV, start_new_session=True,
                )  # fmt: skip
            self.lab.procs.append(self.proc)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            while True:
                try:
                    sock.connect(str(self.mgmt_path))
                    break
                except (FileNotFoundError, ConnectionRefusedError):
                    if self.proc.poll() is not None or time.monotonic() > deadline:
                        sock.close()
                        raise BenchError("raw openvpn did not open its management socket") from None
                    time.sleep(RAW_POLL)
            self._mark("mgmt", t0)
            self.mgmt = m = _Mgmt(sock)
            m.send("state on", "hold release")
            while True:
                for line in m.lines(deadline):
                    if line.startswith(">PASSWORD:Need 'Auth'"):
                        m.send(f'username "Auth" {_mquote(OVPN_USER)}',
                               f'password "Auth" {_mquote(OVPN_PASSWORD)}')  # fmt: skip
                    elif line.startswith(">STATE:"):
                        self._mark(line.split(",")[1], t0)
                    if line.startswith(">STATE:") and ",CONNECTED," in line:
                        return time.perf_counter() - t0
                    elif line.startswith((">FATAL:", ">PASSWORD:Verification")) or (
                        line.startswith(">STATE:") and ",EXITING," in line
                    ):
                        raise BenchError(f"raw openvpn failed: {line}")

    def hang_up(self) -> float:
        """``signal SIGTERM`` over management → process exit."""
        assert self.proc is not None
        assert self.mgmt is not None
        t0 = time.perf_counter()
        self.mgmt.send("signal SIGTERM")
        wait_exit(self.proc)
        took = time.perf_counter() - t0
        self.mgmt.sock.close()
        self.mgmt = None
        self.lab.procs.remove(self.proc)
        self.proc = None
        with self.lab.inside(self.ns):
            if ifname_exists(self.ifname):
                raise BenchError(f"raw openvpn left {self.ifname} behind")
        return took

    def cleanup(self) -> None:
        if self.mgmt is not None:
            self.mgmt.sock.close()
            self.mgmt = None
        if self.proc is not None and self.proc.poll() is None:
            self.lab.stop(self.proc)


# -- OpenSSH tun mode --------------------------------------------------------------------------

SSH_PORT = 2222


@dataclass
class SshLab:
    """An sshd (root login by key, PermitTunnel) in namespace A and the client's files."""

    host: str
    client_key: Path
    known_hosts: Path


def start_sshd(lab: NetnsLab, pair: NsPair, d: Path) -> SshLab:
    """sshd -D in namespace A (the caller provides /run/sshd, sshd's privsep directory)."""
    d.mkdir(parents=True, exist_ok=True)
    for name in ("hostkey", "id"):
        res = subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        _check(res, "ssh-keygen")
    (d / "ak").mkdir()
    (d / "ak" / "root").write_bytes((d / "id.pub").read_bytes())
    (d / "sshd_config").write_text(
        f"Port {SSH_PORT}\nListenAddress {pair.addr_a}\nHostKey {d}/hostkey\n"
        f"PidFile {d}/sshd.pid\nAuthorizedKeysFile {d}/ak/%u\n"
        "PermitRootLogin prohibit-password\nPubkeyAuthentication yes\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        "StrictModes no\nPermitTunnel yes\nAllowUsers root\nLogLevel VERBOSE\n"
    )
    log = d / "sshd.log"
    proc = lab.spawn(pair.a, ["/usr/sbin/sshd", "-D", "-e", "-f", str(d / "sshd_config")], log=log)

    def listening() -> bool:
        if proc.poll() is not None:
            return True
        res = lab.run(pair.a, ["ss", "-H", "-l", "-t", "-n", f"sport = :{SSH_PORT}"], check=False)
        return bool(res.stdout.strip())

    if not wait_until(listening, 5) or proc.poll() is not None:
        raise BenchError(f"sshd did not listen:\n{log.read_text(errors='replace')}")
    key = " ".join((d / "hostkey.pub").read_text().split()[:2])
    kh = d / "known_hosts"
    kh.write_text(f"[{pair.addr_a}]:{SSH_PORT} {key}\n")
    return SshLab(pair.addr_a, d / "id", kh)


def ssh_options(known_hosts: Path, identity: Path) -> list[str]:
    """The client options openras passes (``build_argv``), for the raw side too."""
    opts = {
        "ControlPersist": "no", "ExitOnForwardFailure": "yes",
        "UserKnownHostsFile": str(known_hosts), "GlobalKnownHostsFile": "/dev/null",
        "StrictHostKeyChecking": "yes", "CheckHostIP": "no", "UpdateHostKeys": "no",
        "HashKnownHosts": "no", "BatchMode": "yes", "PasswordAuthentication": "no",
        "KbdInteractiveAuthentication": "no", "NumberOfPasswordPrompts": "1",
        "IdentitiesOnly": "yes", "IdentityAgent": "none", "IdentityFile": str(identity),
        "ConnectTimeout": "10", "ServerAliveInterval": "15", "ServerAliveCountMax": "3",
        "ProxyCommand": "none", "ProxyJump": "none", "PermitLocalCommand": "no",
        "ForwardAgent": "no", "ForwardX11": "no", "LogLevel": "VERBOSE",
    }  # fmt: skip
    out: list[str] = []
    for key, value in opts.items():
        out += ["-o", f"{key}={value}"]
    return out


@dataclass
class RawSsh:
    """``ssh -N -T -M -S CTL -w UNIT:any`` by hand inside namespace B: poll ``ssh -O check``
    until the master answers and the tun exists, then ``ip -batch`` (address, up)."""

    lab: NetnsLab
    ns: str
    sl: SshLab
    unit: int
    local: str
    remote: str
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def ctl(self) -> Path:
        return self.workdir / "ctl"

    def _env(self) -> dict[str, str]:
        return {**HELPER_ENV, "HOME": str(self.workdir)}

    def _ctl(self, command: str) -> subprocess.CompletedProcess[str]:
        argv = ["ssh", "-F", "none", "-S", str(self.ctl), "-O", command, "--", self.sl.host]
        return subprocess.run(
            argv, capture_output=True, text=True, timeout=10, check=False, env=self._env()
        )

    def dial(self, timeout: float = 15.0) -> float:
        self.workdir.mkdir(mode=0o700, exist_ok=True)
        dev = f"tun{self.unit}"
        with self.lab.inside(self.ns):
            deadline = time.monotonic() + timeout
            t0 = time.perf_counter()
            argv = ["ssh", "-N", "-T", "-M", "-S", str(self.ctl), "-F", "none",
                    *ssh_options(self.sl.known_hosts, self.sl.client_key),
                    "-o", "Tunnel=point-to-point", "-o", f"TunnelDevice={self.unit}:any",
                    "-p", str(SSH_PORT), "-l", "root", "--", self.sl.host]  # fmt: skip
            with open(self.workdir / "ssh.log", "ab") as log:
                self.proc = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=self._env(),
                    start_new_session=True,
                )  # fmt: skip
            self.lab.procs.append(self.proc)
            while not (self.ctl.exists() and self._ctl("check").returncode == 0):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise BenchError("raw ssh: the master never answered")
                time.sleep(RAW_POLL)
            while not ifname_exists(dev):
                if time.monotonic() > deadline:
                    raise BenchError(f"raw ssh: no {dev}")
                time.sleep(RAW_POLL)
            batch = f"address replace {self.local} peer {self.remote} dev {dev}\nlink set dev {dev} up\n"
            res = subprocess.run(
                ["ip", "-batch", "-"], input=batch, capture_output=True, text=True, timeout=10,
                check=False, env=HELPER_ENV,
            )  # fmt: skip
            _check(res, "ip -batch")
            return time.perf_counter() - t0

    def hang_up(self) -> float:
        """``ssh -O exit`` → the master exits (+ ``ip link del`` if the tun stayed)."""
        assert self.proc is not None
        dev = f"tun{self.unit}"
        with self.lab.inside(self.ns):
            t0 = time.perf_counter()
            if self._ctl("exit").returncode != 0:
                self.proc.send_signal(signal.SIGTERM)
            wait_exit(self.proc)
            if ifname_exists(dev):
                subprocess.run(["ip", "link", "del", "dev", dev], capture_output=True,
                               timeout=10, check=False)  # fmt: skip
            took = time.perf_counter() - t0
        self.lab.procs.remove(self.proc)
        self.proc = None
        return took

    def cleanup(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.lab.stop(self.proc)
