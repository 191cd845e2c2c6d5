"""The SSH driver against a real sshd (namespace A) from namespace B.

Root cases run the Link in-process inside B (``NetnsLab.inside``): tun mode with a key and a
pinned host key, the failure codes (unknown/changed host key, wrong password, refused), and
a dead peer. The SOCKS case runs the driver as a throwaway non-root user, the way a per-user
daemon would, through the ``_drive_link.py`` runner under ``setpriv``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import psutil
import pytest
from _linkkit import (
    Events,
    NsRasman,
    Recorder,
    check_redial,
    link_pids,
    make_spec,
    pid_alive,
    run_driver,
    start_rasman,
    stop_during_start,
    wait_reconnected,
    wait_until_async,
)
from netns import NetnsLab, NsPair, kill_pids, pids_in_netns, require_programs, wait_until

from openras.client import Client
from openras.errors import InvalidHandle, RasError
from openras.links.base import DialParams, LinkFailed, LinkLost, LinkSpec
from openras.links.ssh import mux
from openras.links.ssh.driver import SshLink
from openras.links.supervisor import LinkFailure, spares_dir
from openras.policy import Grant
from openras.states import RasConnState

pytestmark = [pytest.mark.netns, pytest.mark.root]

_n = itertools.count(1)
SSH_PORT = 2222
TUN_NET = f"10.233.{os.getpid() % 250 + 1}"
DRIVER = "openras.links.ssh.driver:SshLink"
SRC = Path(__file__).resolve().parents[2] / "src"


def handle() -> int:
    return (os.getpid() % 100000) * 100 + next(_n)


@dataclass
class Sshd:
    proc: subprocess.Popen[bytes]
    host_key_line: str  # "[addr]:port ssh-ed25519 AAAA..."
    client_key: Path
    log: Path


@dataclass
class User:
    name: str
    uid: int
    gid: int
    password: str


@pytest.fixture(scope="module")
def privsep_dir() -> Iterator[None]:
    """sshd (root) needs /run/sshd; made here only if missing, removed only if made here."""
    path = Path("/run/sshd")
    made = not path.exists()
    if made and os.geteuid() == 0:
        path.mkdir(mode=0o755)
    yield
    if made:
        with contextlib.suppress(OSError):
            path.rmdir()


@pytest.fixture
def user() -> Iterator[User]:
    """A throwaway account with a password; its processes and the account go afterwards."""
    require_programs("useradd", "userdel", "chpasswd")
    if os.geteuid() != 0:
        pytest.skip("creating a user needs root")
    name = f"orasu{os.getpid() % 100000}"
    password = secrets.token_urlsafe(12)
    subprocess.run(
        ["useradd", "-M", "-N", "-d", "/nonexistent", "-s", "/bin/sh", name],
        check=True,
        capture_output=True,
    )
    try:
        subprocess.run(
            ["chpasswd"], input=f"{name}:{password}\n", text=True, check=True, capture_output=True
        )
        pw = pwd.getpwnam(name)
        yield User(name, pw.pw_uid, pw.pw_gid, password)
    finally:
        with contextlib.suppress(KeyError):
            uid = pwd.getpwnam(name).pw_uid
            kill_pids([p.pid for p in psutil.process_iter(["uids"]) if p.info["uids"].real == uid])
        subprocess.run(["userdel", name], check=False, capture_output=True)


def start_sshd(
    lab: NetnsLab, pair: NsPair, tmp: Path, *, allow: tuple[str, ...] = ("root",)
) -> Sshd:
    d = tmp / f"sshd{next(_n)}"
    d.mkdir()
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "hostkey")], check=True
    )
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "id")], check=True)
    (d / "ak").mkdir()
    shutil.copy(d / "id.pub", d / "ak" / "root")
    (d / "sshd_config").write_text(
        f"Port {SSH_PORT}\nListenAddress {pair.addr_a}\nHostKey {d}/hostkey\n"
        f"PidFile {d}/sshd.pid\nAuthorizedKeysFile {d}/ak/%u\n"
        "PermitRootLogin prohibit-password\nPubkeyAuthentication yes\n"
        "PasswordAuthentication yes\nKbdInteractiveAuthentication no\nUsePAM no\n"
        "StrictModes no\nPermitTunnel yes\nAllowTcpForwarding yes\n"
        f"AllowUsers {' '.join(allow)}\nLogLevel VERBOSE\n"
    )
    key = " ".join((d / "hostkey.pub").read_text().split()[:2])
    server = Sshd(_launch_sshd(lab, pair, d), f"[{pair.addr_a}]:{SSH_PORT} {key}\n", d / "id",
                  d / "sshd.log")  # fmt: skip
    return server


def _launch_sshd(lab: NetnsLab, pair: NsPair, d: Path) -> subprocess.Popen[bytes]:
    log = d / "sshd.log"
    proc = lab.spawn(pair.a, ["/usr/sbin/sshd", "-D", "-e", "-f", str(d / "sshd_config")], log=log)
    listening = wait_until(
        lambda: lab.run(
            pair.a, ["ss", "-H", "-l", "-t", "-n", f"sport = :{SSH_PORT}"]
        ).stdout.strip(),
        5,
    )
    assert listening, f"sshd did not listen: {log.read_text()}"
    return proc


def restart_sshd(lab: NetnsLab, pair: NsPair, server: Sshd) -> None:
    """The same sshd (config, host key, users) again, after it was killed."""
    server.proc = _launch_sshd(lab, pair, server.log.parent)


def sshd_sessions(server: Sshd) -> list[int]:
    """The per-connection processes of ``server`` (its descendants), by pid."""
    return [c.pid for c in psutil.Process(server.proc.pid).children(recursive=True)]


def kill_sshd(server: Sshd, *, listener: bool = True) -> None:
    """SIGKILL the sessions (and the listener), each by its pid: the server dies at once."""
    pids = sshd_sessions(server)
    assert pids, "sshd has no session to kill"
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if listener:
        server.proc.kill()
        server.proc.wait(5)
    assert wait_until(lambda: not any(pid_alive(p) for p in pids), 5)


@pytest.fixture
def ssh_pair(netns_lab: NetnsLab, netns_pair: NsPair, privsep_dir: None) -> NsPair:
    require_programs("ssh", "/usr/sbin/sshd", "ssh-keygen", "ss")
    return netns_pair


def serve_tun(lab: NetnsLab, pair: NsPair, unit: int = 7) -> None:
    """ssh does no addressing on the server side: the test plays the server's admin."""
    dev = f"tun{unit}"
    assert wait_until(lambda: dev in lab.links(pair.a), 5), f"no {dev} on the server"
    lab.run(pair.a, ["ip", "addr", "replace", f"{TUN_NET}.1", "peer", f"{TUN_NET}.2", "dev", dev])
    lab.run(pair.a, ["ip", "link", "set", dev, "up"])


def write_pbk(tmp: Path, name: str, keys: dict[str, str]) -> Path:
    """A phonebook with one ssh entry."""
    path = tmp / "rasphone.pbk"
    body = "".join(f"{k}={v}\n" for k, v in keys.items())
    path.write_text(f"[{name}]\nEncoding=1\nType=2\nOpenRasDevice=ssh\n{body}")
    return path


def unknown_host_spec(tmp: Path, host: str) -> LinkSpec:
    """A SOCKS entry for root@host with an empty known_hosts (for dials that never finish)."""
    entry = {
        "OpenRasDevice": "ssh",
        "PhoneNumber": f"root@{host}:{SSH_PORT}",
        "OpenRasSshKnownHosts": str(known_hosts(tmp, "")),
        "OpenRasSshSocksPort": str(21000 + next(_n)),
    }
    return make_spec(tmp, entry, handle=handle())


def known_hosts(tmp: Path, content: str) -> Path:
    path = tmp / f"kh{next(_n)}"
    path.write_text(content)
    return path


async def close(link: SshLink) -> float:
    t0 = time.monotonic()
    link.request_stop()
    await asyncio.wait_for(link.wait_closed(), 10)
    return time.monotonic() - t0


async def test_tun_mode_as_root(netns_lab: NetnsLab, ssh_pair: NsPair, tmp_path: Path) -> None:
    server = start_sshd(netns_lab, ssh_pair, tmp_path)
    kh = known_hosts(tmp_path, server.host_key_line)
    entry = {
        "OpenRasDevice": "ssh",
        "PhoneNumber": f"root@{ssh_pair.addr_a}:{SSH_PORT}",
        "OpenRasSshMode": "tun",
        "OpenRasSshIdentity": server.client_key.relative_to(tmp_path).as_posix(),
        "OpenRasSshKnownHosts": str(kh),
        "OpenRasSshTunLocal": f"{TUN_NET}.2/32",
        "OpenRasSshTunRemote": f"{TUN_NET}.1",
        "OpenRasSshTunRemoteUnit": "7",
        "OpenRasDialTimeoutMs": "5000",
    }
    spec = make_spec(tmp_path, entry, handle=handle())
    rec = Recorder()
    with netns_lab.inside(ssh_pair.b):
        SshLink.validate(spec)
        link = SshLink(spec, rec)
        t0 = time.monotonic()
        await link.start()
        await rec.connected(5)
        dial_s = time.monotonic() - t0
        assert rec.states == [
            RasConnState.ConnectDevice,
            RasConnState.DeviceConnected,
            RasConnState.Authenticate,
            RasConnState.Authenticated,
            RasConnState.Connected,
        ]
        record = link.record()
        pid = record["process"]["pid"]
        dev = f"tun{record['tun_unit']}"
        assert dev in netns_lab.links(ssh_pair.b)
        assert f"{TUN_NET}.2" in netns_lab.addresses(ssh_pair.b, dev)
        assert await mux.alive(spec.run_dir / "ctl") == pid  # the master the driver asks
        serve_tun(netns_lab, ssh_pair)
        assert netns_lab.ping(ssh_pair.b, f"{TUN_NET}.1", count=2)
        stats = await link.statistics()
        assert stats.bytes_sent > 0
        assert stats.frames_received >= 2
        proj = await link.projection()
        assert proj is not None
        assert (proj.interface, proj.local_address, proj.remote_address) == (
            dev,
            f"{TUN_NET}.2",
            f"{TUN_NET}.1",
        )
        assert proj.extra["server"] == f"{ssh_pair.addr_a}:{SSH_PORT}"
        # The identity was copied into the run dir (0600) and ssh got no secret in argv.
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert b"-F" in cmdline
        assert b"none" in cmdline
        assert oct((spec.run_dir / "identity").stat().st_mode & 0o777) == "0o600"
        teardown_s = await close(link)
    assert not pid_alive(pid)
    assert dev not in netns_lab.links(ssh_pair.b)
    assert wait_until(lambda: "tun7" not in netns_lab.links(ssh_pair.a), 5)
    assert not spec.run_dir.exists()
    assert len(rec.events) == 5
    print(f"\nssh tun dial {dial_s * 1000:.0f} ms, hang-up {teardown_s * 1000:.0f} ms")


@pytest.mark.parametrize(
    ("case", "code", "state"),
    [
        ("unknown-host-key", 778, RasConnState.DeviceConnected),
        ("changed-host-key", 835, RasConnState.DeviceConnected),
        ("wrong-password", 691, RasConnState.Authenticate),
        ("refused", 678, RasConnState.ConnectDevice),
    ],
)
async def test_dial_failures(
    netns_lab: NetnsLab,
    ssh_pair: NsPair,
    tmp_path: Path,
    user: User,
    case: str,
    code: int,
    state: RasConnState,
) -> None:
    server = start_sshd(netns_lab, ssh_pair, tmp_path, allow=("root", user.name))
    port = SSH_PORT + 1 if case == "refused" else SSH_PORT
    if case == "unknown-host-key":
        kh = known_hosts(tmp_path, "")
    elif case == "changed-host-key":
        other = " ".join((server.client_key.with_suffix(".pub")).read_text().split()[:2])
        kh = known_hosts(tmp_path, f"[{ssh_pair.addr_a}]:{SSH_PORT} {other}\n")
    else:
        kh = known_hosts(tmp_path, server.host_key_line)
    entry = {
        "OpenRasDevice": "ssh",
        "PhoneNumber": f"{ssh_pair.addr_a}:{port}",
        "OpenRasSshSocksPort": str(21000 + next(_n)),
        "OpenRasSshKnownHosts": str(kh),
        "OpenRasDialTimeoutMs": "5000",
    }
    password = "not-" + user.password if case == "wrong-password" else user.password
    spec = make_spec(tmp_path, entry, handle=handle(), user=user.name, password=password)
    rec = Recorder()
    with netns_lab.inside(ssh_pair.b):
        link = SshLink(spec, rec)
        t0 = time.monotonic()
        await link.start()
        failed = await rec.wait_for(lambda e: isinstance(e, LinkFailed | LinkLost), 8)
        took = time.monotonic() - t0
        assert isinstance(failed, LinkFailed), failed
        assert failed.error == code, failed
        assert rec.states[-1] == state
        assert RasConnState.Connected not in rec.states
        pid = link.record()["process"]["pid"]
        await close(link)
    assert not pid_alive(pid)
    assert not spec.run_dir.exists()
    assert took < 3
    if case == "unknown-host-key":
        assert kh.read_text() == ""  # strict checking learned nothing


async def test_dead_peer_drops_829(netns_lab: NetnsLab, ssh_pair: NsPair, tmp_path: Path) -> None:
    server = start_sshd(netns_lab, ssh_pair, tmp_path)
    entry = {
        "OpenRasDevice": "ssh",
        "PhoneNumber": f"root@{ssh_pair.addr_a}:{SSH_PORT}",
        "OpenRasSshIdentity": str(server.client_key),
        "OpenRasSshKnownHosts": str(known_hosts(tmp_path, server.host_key_line)),
        "OpenRasSshSocksPort": str(21000 + next(_n)),
        "OpenRasSshServerAliveInterval": "1",
        "OpenRasSshServerAliveCountMax": "2",
    }
    spec = make_spec(tmp_path, entry, handle=handle())
    rec = Recorder()
    with netns_lab.inside(ssh_pair.b):
        link = SshLink(spec, rec)
        await link.start()
        await rec.connected(5)
        pid = link.record()["process"]["pid"]
        cut = time.monotonic()
        netns_lab.run(ssh_pair.a, ["ip", "link", "set", ssh_pair.if_a, "down"])
        dropped = await rec.wait_for(lambda e: isinstance(e, LinkLost | LinkFailed), 10)
        took = time.monotonic() - cut
        assert isinstance(dropped, LinkLost)
        assert dropped.error == 829
        assert "not responding" in dropped.detail
        await close(link)
    assert not pid_alive(pid)
    assert 1.5 < took < 6
    print(f"\nssh dead peer noticed {took:.2f} s after the cut")


def _user_python(user: User, workdir: Path) -> tuple[str, dict[str, str]]:
    """An interpreter the user can run with openras importable (pyenv may live in /root)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(workdir)}
    probe = ["setpriv", f"--reuid={user.uid}", f"--regid={user.gid}", "--clear-groups", "--"]
    code = "import openras.links.ssh.driver"
    for python, extra in ((sys.executable, {}), ("/usr/bin/python3", {"PYTHONPATH": ""})):
        if "PYTHONPATH" in extra:
            lib = workdir / "pylib"
            if not lib.exists():
                lib.mkdir()
                for mod in ("psutil", "msgspec"):
                    src = Path(__import__(mod).__file__ or "").parent
                    shutil.copytree(src, lib / mod)
                subprocess.run(["chmod", "-R", "a+rX", str(lib)], check=True)
            extra = {"PYTHONPATH": f"{lib}:{SRC}"}
        res = subprocess.run(
            [*probe, python, "-c", code], env={**env, **extra}, capture_output=True, check=False
        )
        if res.returncode == 0:
            return python, {**env, **extra}
    pytest.skip("no Python interpreter the test user can run openras with")


def _socks_connect(port: int, host: str, dport: int) -> bytes:
    """A SOCKS5 CONNECT through the proxy; returns the first bytes the target sends."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"\x05\x01\x00")
        assert s.recv(2) == b"\x05\x00"
        s.sendall(b"\x05\x01\x00\x01" + socket.inet_aton(host) + dport.to_bytes(2, "big"))
        reply = s.recv(10)
        assert reply[:2] == b"\x05\x00", reply
        return s.recv(64)


def test_socks_as_non_root_user(
    netns_lab: NetnsLab, ssh_pair: NsPair, tmp_path: Path, user: User
) -> None:
    start_sshd(netns_lab, ssh_pair, tmp_path, allow=(user.name,))
    work = Path(tempfile.mkdtemp(prefix="oras-ssh-"))
    try:
        os.chown(work, user.uid, user.gid)
        python, env = _user_python(user, work)
        kh = work / "known_hosts"  # empty: learned on first use (accept-new), as the user
        socks_port = 21000 + next(_n)
        entry = {
            "OpenRasDevice": "ssh",
            "PhoneNumber": f"{ssh_pair.addr_a}:{SSH_PORT}",
            "OpenRasSshMode": "socks",
            "OpenRasSshSocksPort": str(socks_port),
            "OpenRasSshKnownHosts": str(kh),
            "OpenRasSshAcceptNewHostKey": "1",
        }
        spec = make_spec(
            work, entry, handle=handle(), user=user.name, password=user.password, owner_uid=user.uid
        )
        prefix = ["setpriv", f"--reuid={user.uid}", f"--regid={user.gid}", "--clear-groups", "--"]
        t0 = time.monotonic()
        with run_driver(DRIVER, spec, ns=ssh_pair.b, prefix=prefix, python=python, env=env) as r:
            r.read_until(
                lambda e: e.get("name") == "Connected" or e["event"] in ("failed", "error"), 10
            )
            dial_s = time.monotonic() - t0
            assert [e["name"] for e in r.lines if e["event"] == "state"] == [
                "ConnectDevice",
                "DeviceConnected",
                "Authenticate",
                "Authenticated",
                "Connected",
            ], r.lines
            pid = r.read_until(lambda e: e["event"] == "started", 1)["record"]["process"]["pid"]
            assert psutil.Process(pid).uids().real == user.uid
            with netns_lab.inside(ssh_pair.b):
                banner = _socks_connect(socks_port, ssh_pair.addr_a, SSH_PORT)
            assert banner.startswith(b"SSH-2.0-OpenSSH")
            # The learned host key went to the user's own file, written as the user.
            assert kh.stat().st_uid == user.uid
            assert kh.read_text().startswith(f"[{ssh_pair.addr_a}]:{SSH_PORT} ssh-ed25519 ")
            # The password file is gone once the link is up; the password never hit argv.
            assert not (spec.run_dir / "password").exists()
            assert user.password.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
            r.send("stats")
            stats = r.read_until(lambda e: e["event"] == "stats", 5)["stats"]
            assert stats["bytes_sent"] > 0
            assert stats["bytes_received"] > 0
            r.send("projection")
            proj = r.read_until(lambda e: e["event"] == "projection", 5)["projection"]
            assert proj["extra"]["socks"] == f"127.0.0.1:{socks_port}"
            t1 = time.monotonic()
            r.send("hangup")
            r.read_until(lambda e: e["event"] == "closed", 10)
            teardown_s = time.monotonic() - t1
        assert not pid_alive(pid)
        assert not spec.run_dir.exists()
        print(
            f"\nssh socks (non-root) dial {dial_s * 1000:.0f} ms, hang-up {teardown_s * 1000:.0f} ms"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
        # The closed link's run dir went to the spares beside its links dir (``work``).
        shutil.rmtree(spares_dir(work), ignore_errors=True)


async def test_adopt_after_daemon_crash(
    netns_lab: NetnsLab, ssh_pair: NsPair, tmp_path: Path
) -> None:
    server = start_sshd(netns_lab, ssh_pair, tmp_path)
    socks_port = 21000 + next(_n)
    entry = {
        "OpenRasDevice": "ssh",
        "PhoneNumber": f"root@{ssh_pair.addr_a}:{SSH_PORT}",
        "OpenRasSshIdentity": str(server.client_key),
        "OpenRasSshKnownHosts": str(known_hosts(tmp_path, server.host_key_line)),
        "OpenRasSshSocksPort": str(socks_port),
    }
    spec = make_spec(tmp_path, entry, handle=handle())
    with run_driver(DRIVER, spec, ns=ssh_pair.b) as runner:
        runner.read_until(lambda e: e.get("name") == "Connected" or e["event"] == "failed", 10)
        # The manager records a link once, right after start() returns: adopt from that.
        record = runner.read_until(lambda e: e["event"] == "started", 1)["record"]
        runner.proc.kill()
        runner.proc.wait(5)
    pid = record["process"]["pid"]
    assert pid_alive(pid)
    rec = Recorder()
    with netns_lab.inside(ssh_pair.b):
        link = await SshLink.adopt(spec, record, rec)
        assert isinstance(link, SshLink)
        await rec.connected(2)
        banner = _socks_connect(socks_port, ssh_pair.addr_a, SSH_PORT)
        assert banner.startswith(b"SSH-2.0-")
        await close(link)
        assert await wait_until_async(lambda: not pid_alive(pid), 3)
        assert await SshLink.adopt(spec, record, Recorder()) is None
    assert not spec.run_dir.exists()


def test_through_rasman_with_a_password(
    netns_lab: NetnsLab, ssh_pair: NsPair, tmp_path: Path, user: User
) -> None:
    """A SOCKS link dialed through a real rasman in B with the dial's user and password."""
    server = start_sshd(netns_lab, ssh_pair, tmp_path, allow=(user.name,))
    kh = known_hosts(tmp_path, server.host_key_line)
    socks_port = 21000 + next(_n)
    pbk = tmp_path / "rasphone.pbk"
    pbk.write_text(
        "[Jump Host]\nEncoding=1\nType=2\nOpenRasDevice=ssh\n"
        f"PhoneNumber={ssh_pair.addr_a}:{SSH_PORT}\nOpenRasSshMode=socks\n"
        f"OpenRasSshSocksPort={socks_port}\nOpenRasSshKnownHosts={kh}\n"
    )
    sock_dir = Path(tempfile.mkdtemp(prefix="orssh-"))
    rm = NsRasman(sock_dir / "rasman.sock", tmp_path / "state", tmp_path / "rasman.log")
    try:
        start_rasman(netns_lab, ssh_pair.b, rm, tmp_path / "config")
        with Client(rm.socket, autostart=False, timeout=20) as ras:
            conn = ras.dial("Jump Host", pbk, user=user.name, password=user.password)
            assert conn.status().state == RasConnState.Connected
            with netns_lab.inside(ssh_pair.b):
                assert _socks_connect(socks_port, ssh_pair.addr_a, SSH_PORT).startswith(b"SSH-2.0")
            assert conn.statistics().bytes_received > 0
            assert conn.projection().extra["socks"] == f"127.0.0.1:{socks_port}"
            (pid,) = link_pids(pids_in_netns(ssh_pair.b), "ssh", "-M")
            assert user.password.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
            assert user.password.encode() not in Path(f"/proc/{pid}/environ").read_bytes()
            conn.hang_up(wait=True, timeout=15)
            with pytest.raises(InvalidHandle):
                conn.status()
        assert not pid_alive(pid)
        run_dir = tmp_path / "state" / "links" / f"link-{conn.handle}"
        assert not run_dir.exists() or list(run_dir.iterdir()) == []
    finally:
        shutil.rmtree(sock_dir, ignore_errors=True)


async def test_hang_up_while_connecting(
    netns_lab: NetnsLab, ssh_pair: NsPair, tmp_path: Path
) -> None:
    """Nothing answers at .3 of the /30 (SYNs go unanswered): stop the dial mid-way."""
    blackhole = ssh_pair.addr_a.rsplit(".", 1)[0] + ".3"
    spec = unknown_host_spec(tmp_path, blackhole)
    rec = Recorder()
    with netns_lab.inside(ssh_pair.b):
        link = SshLink(spec, rec)
        await link.start()
        pid = link.record()["process"]["pid"]
        took = await close(link)
    assert rec.states == [RasConnState.ConnectDevice]
    assert not [e for e in rec.events if isinstance(e, LinkFailed | LinkLost)]
    assert not pid_alive(pid)
    assert not spec.run_dir.exists()
    assert took < 1


async def test_files_are_read_with_the_owners_rights(tmp_path: Path, user: User) -> None:
    """A root daemon dialing for a user never reads a file the user could not read."""
    from openras.links._owner_files import append_owner_file, read_owner_file

    secret = tmp_path / "root-only-key"  # tmp_path is root's, mode 0700
    secret.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    entry = {
        "OpenRasDevice": "ssh",
        "PhoneNumber": "192.0.2.1",
        "OpenRasSshIdentity": str(secret),
        "OpenRasSshKnownHosts": str(secret),
    }
    spec = make_spec(tmp_path, entry, handle=handle(), owner_uid=user.uid)
    link = SshLink(spec, Recorder())
    with pytest.raises(RasError) as info:
        await link.start()
    assert info.value.code == 872
    assert "Permission denied" in str(info.value.detail)
    assert link.record()["process"] is None  # nothing was started
    await link.wait_closed()

    work = Path(tempfile.mkdtemp(prefix="oras-own-"))
    try:
        os.chown(work, user.uid, user.gid)
        own = work / "sub" / "known_hosts"
        append_owner_file(own, user.uid, b"line 1\n", code=872)
        append_owner_file(own, user.uid, b"line 2\n", code=872)
        assert own.stat().st_uid == user.uid
        assert oct(own.stat().st_mode & 0o777) == "0o600"
        assert read_owner_file(own, user.uid, code=872) == b"line 1\nline 2\n"
        with pytest.raises(RasError):
            append_owner_file(tmp_path / "x", user.uid, b"no", code=872)
        assert not (tmp_path / "x").exists()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_tun_redial_through_rasman_after_sshd_dies(
    netns_lab: NetnsLab, ssh_pair: NsPair, tmp_path: Path, rasman_b: Callable[..., NsRasman]
) -> None:
    """A tun link through rasman pings; sshd (listener and session) is killed by pid: the drop
    and its reason reach events and history, the redial into the dead server is refused (678)
    and retried, and once sshd is back the same handle is Connected and pings again."""
    server = start_sshd(netns_lab, ssh_pair, tmp_path)
    pbk = write_pbk(tmp_path, "Tun Host", {
        "PhoneNumber": f"root@{ssh_pair.addr_a}:{SSH_PORT}", "OpenRasSshMode": "tun",
        "OpenRasSshIdentity": str(server.client_key),
        "OpenRasSshKnownHosts": str(known_hosts(tmp_path, server.host_key_line)),
        "OpenRasSshTunLocal": f"{TUN_NET}.2/32", "OpenRasSshTunRemote": f"{TUN_NET}.1",
        "OpenRasSshTunRemoteUnit": "7", "OpenRasDialTimeoutMs": "5000",
        # Refused attempts are quick: enough of them to cover sshd's restart.
        "RedialOnLinkFailure": "1", "RedialAttempts": "200", "RedialSeconds": "0",
    })  # fmt: skip
    rm = rasman_b()
    events = Events(rm.socket)
    try:
        with Client(rm.socket, autostart=False, timeout=20) as ras:
            conn = ras.dial("Tun Host", pbk)
            proj = conn.projection()
            assert proj.interface.startswith("tun")
            assert (proj.local_address, proj.remote_address) == (f"{TUN_NET}.2", f"{TUN_NET}.1")
            serve_tun(netns_lab, ssh_pair)
            assert netns_lab.ping(ssh_pair.b, f"{TUN_NET}.1", count=2)
            assert conn.statistics().frames_received >= 2
            (first,) = link_pids(pids_in_netns(ssh_pair.b), "ssh", "-M")
            kill_sshd(server)
            redials = check_redial(events, conn.handle, drop={629, 829}, down={678}, timeout=15)
            assert not pid_alive(first)
            restart_sshd(netns_lab, ssh_pair, server)
            wait_reconnected(events, conn.handle, 15)
            assert ras.status(conn.handle).state == RasConnState.Connected
            serve_tun(netns_lab, ssh_pair)
            assert wait_until(lambda: netns_lab.ping(ssh_pair.b, f"{TUN_NET}.1"), 5)
            (second,) = link_pids(pids_in_netns(ssh_pair.b), "ssh", "-M")
            history = [(r.redialing, r.error) for r in ras.history() if r.handle == conn.handle]
            assert (True, redials[0]["error"]) in history
            assert "link dropped: " in rm.log.read_text()
            conn.hang_up(wait=True, timeout=15)
        assert not pid_alive(second)
        assert proj.interface not in netns_lab.links(ssh_pair.b)
    finally:
        events.close()


def test_session_killed_drops_through_rasman(
    netns_lab: NetnsLab, ssh_pair: NsPair, tmp_path: Path, rasman_b: Callable[..., NsRasman]
) -> None:
    """sshd's session processes are killed (the listener lives on): a link failure with its
    reason, no redial (the entry does not ask), and nothing of the link left."""
    server = start_sshd(netns_lab, ssh_pair, tmp_path)
    socks_port = 21000 + next(_n)
    pbk = write_pbk(tmp_path, "Jump Host", {
        "PhoneNumber": f"root@{ssh_pair.addr_a}:{SSH_PORT}",
        "OpenRasSshSocksPort": str(socks_port), "OpenRasSshIdentity": str(server.client_key),
        "OpenRasSshKnownHosts": str(known_hosts(tmp_path, server.host_key_line)),
    })  # fmt: skip
    rm = rasman_b()
    events = Events(rm.socket)
    try:
        with Client(rm.socket, autostart=False, timeout=20) as ras:
            conn = ras.dial("Jump Host", pbk)
            (pid,) = link_pids(pids_in_netns(ssh_pair.b), "ssh", "-M")
            kill_sshd(server, listener=False)
            ev = events.wait_for(
                lambda e: e.get("handle") == conn.handle and e["event"] == "disconnected", 10
            )
            assert ev["error"] in (629, 829), ev
            assert not [e for e in events.of(conn.handle) if e.get("redial")]
            [record] = [r for r in ras.history() if r.handle == conn.handle]
            assert (record.error, record.redialing) == (ev["error"], False)
            with pytest.raises(InvalidHandle):
                ras.status(conn.handle)
        assert not pid_alive(pid)
        assert server.proc.poll() is None  # only the session died
        logged = rm.log.read_text()
        assert "link dropped: " in logged and "closed" in logged.lower()
    finally:
        events.close()


def test_password_dials_through_rasman_then_adoption_after_a_crash(
    netns_lab: NetnsLab,
    ssh_pair: NsPair,
    tmp_path: Path,
    user: User,
    rasman_b: Callable[..., NsRasman],
) -> None:
    """A wrong password is 691 through rasman with nothing left running; the right one
    connects; rasman is SIGKILLed and restarted: the same handle is adopted Connected with
    the dial's user name (not the owner's), and the SOCKS proxy still carries traffic."""
    server = start_sshd(netns_lab, ssh_pair, tmp_path, allow=(user.name,))
    socks_port = 21000 + next(_n)
    pbk = write_pbk(tmp_path, "Jump Host", {
        "PhoneNumber": f"{ssh_pair.addr_a}:{SSH_PORT}", "OpenRasSshSocksPort": str(socks_port),
        "OpenRasSshKnownHosts": str(known_hosts(tmp_path, server.host_key_line)),
    })  # fmt: skip
    rm = rasman_b()
    with Client(rm.socket, autostart=False, timeout=20) as ras:
        with pytest.raises(RasError) as info:
            ras.dial("Jump Host", pbk, user=user.name, password="not-" + user.password)
        assert info.value.code == 691
        ras.hang_up(info.value.handle, wait=True, timeout=15)
        assert not link_pids(pids_in_netns(ssh_pair.b), "ssh", "-M")
        conn = ras.dial("Jump Host", pbk, user=user.name, password=user.password)
        assert conn.projection().extra["user"] == user.name
    (pid,) = link_pids(pids_in_netns(ssh_pair.b), "ssh", "-M")
    assert rm.proc is not None
    rm.proc.kill()
    rm.proc.wait(5)
    assert pid_alive(pid), "the link must outlive the daemon"
    start_rasman(netns_lab, ssh_pair.b, rm, tmp_path / "config")
    with Client(rm.socket, autostart=False, timeout=20) as ras:
        assert ras.status(conn.handle).state == RasConnState.Connected
        proj = ras.projection(conn.handle)
        assert (proj.interface, proj.extra["user"]) == ("", user.name)  # SOCKS: no interface
        with netns_lab.inside(ssh_pair.b):
            assert _socks_connect(socks_port, ssh_pair.addr_a, SSH_PORT).startswith(b"SSH-2.0")
        assert ras.statistics(conn.handle).bytes_received > 0
        assert link_pids(pids_in_netns(ssh_pair.b), "ssh", "-M") == [pid]  # the same master
        ras.hang_up(conn.handle, wait=True, timeout=15)
        with pytest.raises(InvalidHandle):
            ras.status(conn.handle)
    assert not pid_alive(pid)


async def test_hang_up_before_ssh_started(
    netns_lab: NetnsLab, ssh_pair: NsPair, tmp_path: Path
) -> None:
    """A stop while start() still reads the entry's files: ssh is never spawned (it would
    run on with nobody to stop it) and start() says why."""
    spec = unknown_host_spec(tmp_path, ssh_pair.addr_a)
    rec = Recorder()
    with netns_lab.inside(ssh_pair.b):
        link = SshLink(spec, rec)
        assert (await stop_during_start(link)).code == 631
    assert link.record()["process"] is None
    assert rec.events == []
    assert not link_pids(pids_in_netns(ssh_pair.b), "ssh", "-M")
    assert not spec.run_dir.exists()


def test_privileged_socks_port_is_refused_for_a_user(tmp_path: Path) -> None:
    """A user's entry cannot make a root daemon listen below 1024; root's entry can."""
    entry = {"OpenRasDevice": "ssh", "PhoneNumber": "u@192.0.2.1", "OpenRasSshSocksPort": "80"}
    with pytest.raises(RasError) as info:
        SshLink.validate(make_spec(tmp_path, entry, handle=handle(), owner_uid=1000))
    assert info.value.code == 5
    assert "OpenRasSshSocksPort=80" in str(info.value.detail)
    assert "privileged" in str(info.value.detail)
    if shutil.which("ssh"):
        SshLink.validate(make_spec(tmp_path, entry, handle=handle(), owner_uid=0))


async def test_adopt_keeps_the_dial_user_without_dial_params(
    netns_lab: NetnsLab, ssh_pair: NsPair, tmp_path: Path, user: User
) -> None:
    """A restarted daemon adopts with no dial parameters: the login name the dial used (not
    the owner's, root here) comes from the link's record."""
    server = start_sshd(netns_lab, ssh_pair, tmp_path, allow=(user.name,))
    socks_port = 21000 + next(_n)
    entry = {
        "OpenRasDevice": "ssh",
        "PhoneNumber": f"{ssh_pair.addr_a}:{SSH_PORT}",
        "OpenRasSshKnownHosts": str(known_hosts(tmp_path, server.host_key_line)),
        "OpenRasSshSocksPort": str(socks_port),
    }
    spec = make_spec(tmp_path, entry, handle=handle(), user=user.name, password=user.password)
    with run_driver(DRIVER, spec, ns=ssh_pair.b) as runner:
        runner.read_until(lambda e: e.get("name") == "Connected" or e["event"] == "failed", 10)
        record = runner.read_until(lambda e: e["event"] == "started", 1)["record"]
        runner.proc.kill()
        runner.proc.wait(5)
    bare = dataclasses.replace(spec, params=DialParams(entry_name=spec.params.entry_name))
    with netns_lab.inside(ssh_pair.b):
        link = await SshLink.adopt(bare, record, Recorder())
        assert isinstance(link, SshLink)
        proj = await link.projection()
        assert proj is not None and proj.extra["user"] == user.name
        await close(link)
    assert not pid_alive(record["process"]["pid"])


ADMIN = Grant(full_tunnel=True, full_tunnel_rule="all-users entry", admin_credentials=True)


@pytest.mark.parametrize("case", ["right-key", "other-key", "no-file"])
async def test_admin_credentials_trust_only_the_administrators_host_key(
    netns_lab: NetnsLab, ssh_pair: NsPair, tmp_path: Path, case: str
) -> None:
    """With the administrator's credentials the host key is checked against the file the
    all-users entry names, strictly: the entry's accept-new is ignored, nothing is learned,
    and without such a file nothing is even started (778)."""
    server = start_sshd(netns_lab, ssh_pair, tmp_path)
    if case == "right-key":
        kh = known_hosts(tmp_path, server.host_key_line)
    elif case == "other-key":
        other = " ".join(server.client_key.with_suffix(".pub").read_text().split()[:2])
        kh = known_hosts(tmp_path, f"[{ssh_pair.addr_a}]:{SSH_PORT} {other}\n")
    else:
        kh = tmp_path / "no-such-known-hosts"
    before = kh.read_bytes() if kh.exists() else None
    entry = {
        "OpenRasDevice": "ssh",
        "PhoneNumber": f"root@{ssh_pair.addr_a}:{SSH_PORT}",
        "OpenRasSshSocksPort": str(21000 + next(_n)),
        "OpenRasSshIdentity": str(server.client_key),
        "OpenRasSshKnownHosts": str(kh),
        "OpenRasSshAcceptNewHostKey": "1",
        "OpenRasDialTimeoutMs": "5000",
    }
    spec = replace(make_spec(tmp_path, entry, handle=handle()), grant=ADMIN)
    rec = Recorder()
    with netns_lab.inside(ssh_pair.b):
        if case == "no-file":
            with pytest.raises(RasError) as info:
                SshLink.validate(spec)
            assert info.value.code == 778
            assert "cannot be verified" in str(info.value.detail)
            return
        SshLink.validate(spec)
        link = SshLink(spec, rec)
        await link.start()
        pid = link.record()["process"]["pid"]
        # The spawn returns once ssh's exec has begun: its arguments show a moment later.
        cmdline = Path(f"/proc/{pid}/cmdline")
        assert wait_until(cmdline.read_bytes, 5), "ssh's command line never showed"
        argv = cmdline.read_bytes().split(b"\0")
        assert b"StrictHostKeyChecking=yes" in argv
        if case == "right-key":
            await rec.connected(5)
        else:
            failed = await rec.wait_for(lambda e: isinstance(e, LinkFailed | LinkLost), 8)
            assert isinstance(failed, LinkFailed) and failed.error == 835, failed
        await close(link)
    assert kh.read_bytes() == before  # nothing learned into the administrator's file
    assert not pid_alive(pid)


def _tun_entry(
    server: Sshd, pair: NsPair, tmp_path: Path, *, routes: str, unit: int
) -> dict[str, str]:
    """A tun-mode entry with a point-to-point address and ``routes``, at tun ``unit``."""
    return {
        "OpenRasDevice": "ssh",
        "PhoneNumber": f"root@{pair.addr_a}:{SSH_PORT}",
        "OpenRasSshMode": "tun",
        "OpenRasSshIdentity": str(server.client_key),
        "OpenRasSshKnownHosts": str(known_hosts(tmp_path, server.host_key_line)),
        "OpenRasSshTunLocal": f"{TUN_NET}.2/32",
        "OpenRasSshTunRemote": f"{TUN_NET}.1",
        "OpenRasSshTunRoutes": routes,
        "OpenRasSshTunRemoteUnit": str(unit),
        "OpenRasDialTimeoutMs": "5000",
    }


async def test_tun_routes_never_take_over_an_existing_route(
    netns_lab: NetnsLab, ssh_pair: NsPair, tmp_path: Path
) -> None:
    """A route the tunnel would add that exists already (another link's, the system's) fails
    the dial (716) and stays as it was: it used to be replaced, then deleted with the tun."""
    server = start_sshd(netns_lab, ssh_pair, tmp_path)
    taken = f"10.{os.getpid() % 200 + 20}.77.0/24"
    netns_lab.run(ssh_pair.b, ["ip", "route", "add", taken, "dev", "lo"])
    entry = _tun_entry(server, ssh_pair, tmp_path, routes=taken, unit=7)
    spec = make_spec(tmp_path, entry, handle=handle())
    rec = Recorder()
    with netns_lab.inside(ssh_pair.b):
        link = SshLink(spec, rec)
        await link.start()
        failed = await rec.wait_for(lambda e: isinstance(e, LinkFailed | LinkLost), 8)
        assert isinstance(failed, LinkFailed) and failed.error == 716, failed
        assert "File exists" in failed.detail
        dev = f"tun{link.record()['tun_unit']}"
        await close(link)
    assert dev not in netns_lab.links(ssh_pair.b)
    shown = netns_lab.run(ssh_pair.b, ["ip", "route", "show", taken]).stdout
    assert "dev lo" in shown


async def test_the_tun_is_configured_in_process_and_again_on_adoption(
    netns_lab: NetnsLab, ssh_pair: NsPair, tmp_path: Path
) -> None:
    """The tun's point-to-point address, its state and the entry's routes are set over
    rtnetlink; configuring it again as an adoption does (a crash may come after any step)
    takes what is there, where a second plain dial's configuration refuses the route."""
    server = start_sshd(netns_lab, ssh_pair, tmp_path)
    route = f"10.{os.getpid() % 200 + 20}.78.0/24"
    entry = _tun_entry(server, ssh_pair, tmp_path, routes=route, unit=8)
    spec = make_spec(tmp_path, entry, handle=handle())
    rec = Recorder()
    with netns_lab.inside(ssh_pair.b):
        link = SshLink(spec, rec)
        await link.start()
        await rec.connected(8)
        dev = f"tun{link.record()['tun_unit']}"
        shown = json.loads(netns_lab.run(ssh_pair.b, ["ip", "-j", "addr", "show", dev]).stdout)
        (addr,) = [a for a in shown[0]["addr_info"] if a["family"] == "inet"]
        assert (addr["local"], addr.get("address"), addr["prefixlen"]) == (
            f"{TUN_NET}.2",
            f"{TUN_NET}.1",
            32,
        )
        assert "UP" in shown[0]["flags"]
        assert f"dev {dev}" in netns_lab.run(ssh_pair.b, ["ip", "route", "show", route]).stdout
        await link._configure_tun(adopting=True)  # all there already: fine
        with pytest.raises(LinkFailure) as refused:
            await link._configure_tun()
        assert refused.value.code == 716 and "File exists" in refused.value.detail
        await close(link)
    assert dev not in netns_lab.links(ssh_pair.b)


async def test_the_daemons_mux_requests_reach_a_real_master(
    netns_lab: NetnsLab, ssh_pair: NsPair, tmp_path: Path
) -> None:
    """The alive check and the exit request the driver sends on the control socket (instead
    of running ``ssh -O check`` / ``ssh -O exit``) are understood by openssh's master: the
    check answers with the master's pid, the exit makes it leave and remove its socket."""
    server = start_sshd(netns_lab, ssh_pair, tmp_path)
    kh = known_hosts(tmp_path, server.host_key_line)
    ctl = tmp_path / "ctl"
    argv = ["ssh", "-F", "none", "-N", "-M", "-S", str(ctl), "-i", str(server.client_key),
            "-o", f"UserKnownHostsFile={kh}", "-o", "StrictHostKeyChecking=yes",
            "-o", "BatchMode=yes", "-p", str(SSH_PORT), f"root@{ssh_pair.addr_a}"]  # fmt: skip
    assert await mux.alive(ctl) is None  # nothing listens yet
    proc = netns_lab.spawn(ssh_pair.b, argv, log=tmp_path / "master.log")
    deadline = time.monotonic() + 10
    while (pid := await mux.alive(ctl, within=1)) is None:
        assert proc.poll() is None, (tmp_path / "master.log").read_text()
        assert time.monotonic() < deadline, "the master never answered"
        await asyncio.sleep(0.01)
    assert pid == proc.pid
    assert await mux.terminate(ctl)
    assert await asyncio.to_thread(proc.wait, 10) is not None
    assert not ctl.exists()
    assert await mux.alive(ctl) is None
