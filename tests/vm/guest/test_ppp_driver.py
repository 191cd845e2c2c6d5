"""PPPoE through rasman: a Windows broadband entry dials a real pppoe-server.

Namespace A runs Debian's ``pppoe-server`` on its veth, its pppd requiring MS-CHAPv2 from a
chap-secrets of the test's own (``/etc/ppp`` is a bind mount in A's private mount namespace,
so neither the system's secrets nor its scripts are used) and handing out an address and a
DNS server over IPCP. In B, the session's rasman dials a ``宽带连接`` entry written as Windows
writes it (``Type=5``, ``DEVICE=PPPoE``, no openras key: the driver takes B's only wired
interface), with the user name and password as the dial's parameters, the way the
broadband scripts call ``rasdial``. Then: Connected with IPCP's addresses, DNS and the
authentication protocol in the projection, the password in no argv, traffic across, a
hang-up until RasGetConnectStatus answers 6 with pppd and the interface gone; and a wrong
password ends the dial with 691 and leaves nothing either.
"""

from __future__ import annotations

import shlex
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from _linkkit import NsRasman, pid_alive
from netns import NetnsLab, NsPair, kill_pids, pids_in_netns, require_programs, wait_until

from openras import rasapi
from openras.client import Client
from openras.errors import ERROR_INVALID_HANDLE
from openras.states import RasConnState

pytestmark = pytest.mark.vm

SUBNET = "10.236.43"
SERVER_IP, FIRST_CLIENT_IP, DNS_IP = f"{SUBNET}.1", f"{SUBNET}.10", f"{SUBNET}.53"
ENTRY = "宽带连接"
USER, PASSWORD = "alice", "s3cret-Pw"


def pppoe_server(lab: NetnsLab, pair: NsPair, tmp: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """pppoe-server in A with the test's own /etc/ppp; (process, server pppd's log)."""
    etc = tmp / "etc-ppp"
    etc.mkdir()
    log = tmp / "server-pppd.log"
    (etc / "options").write_text("")  # not Debian's (auth, lock, crtscts, modem)
    (etc / "pppoe-server-options").write_text(
        f"require-mschap-v2\nrefuse-eap\nname pppoe-server\nms-dns {DNS_IP}\n"
        f"lcp-echo-interval 5\nlcp-echo-failure 3\nnodefaultroute\ndebug\nlogfile {log}\n"
    )
    secrets = etc / "chap-secrets"
    secrets.write_text(f'"{USER}" * "{PASSWORD}" *\n')
    secrets.chmod(0o600)
    (etc / "pap-secrets").write_text("")
    server = [
        "pppoe-server", "-F", "-I", pair.if_a, "-L", SERVER_IP, "-R", FIRST_CLIENT_IP,
        "-N", "4", "-C", "openras-ac",
    ]  # fmt: skip
    script = f"mount --bind {shlex.quote(str(etc))} /etc/ppp && exec {shlex.join(server)}"
    proc = lab.spawn(
        pair.a,
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        log=tmp / "pppoe-server.out",
    )
    return proc, log


def live_pids(ns: str) -> set[int]:
    return {p for p in pids_in_netns(ns) if pid_alive(p)}


def orppp_links(lab: NetnsLab, ns: str) -> list[str]:
    return [name for name in lab.links(ns) if name.startswith("orppp")]


def wait_gone(h: int, timeout: float) -> float:
    """Seconds until RasGetConnectStatus answers 6 for ``h`` (fails after ``timeout``)."""
    t0 = time.monotonic()
    while (code := rasapi.RasGetConnectStatus(h)[0]) != ERROR_INVALID_HANDLE:
        assert code in (0, 691), code
        assert time.monotonic() - t0 < timeout, "status never answered 6"
        time.sleep(0.05)
    return time.monotonic() - t0


def test_pppoe_entry_dials_pings_hangs_up_and_a_wrong_password_is_691(
    lab: NetnsLab, pair: NsPair, rasman: NsRasman, api: None, tmp_path: Path
) -> None:
    require_programs("pppd", "pppoe-server", "pppoe", "unshare", "ping")
    pbk = tmp_path / "rasphone.pbk"
    pbk.write_text(
        f"[{ENTRY}]\nEncoding=1\nType=5\nOpenRasDialTimeoutMs=90000\nIpPrioritizeRemote=0\n"
        "MEDIA=rastapi\nPort=PPPoE5-0\nDevice=WAN Miniport (PPPOE)\n\n"
        "DEVICE=PPPoE\nPhoneNumber=\n",
        encoding="utf-8",
    )
    # The server's pppd runs over a pty (ppp_async); the client's modules (ppp_generic,
    # pppoe) are the driver's to load.
    subprocess.run(["modprobe", "ppp_async"], check=True, timeout=60)
    in_a_before = live_pids(pair.a)
    server, server_log = pppoe_server(lab, pair, tmp_path)
    assert rasman.proc is not None
    try:
        assert live_pids(pair.b) == {rasman.proc.pid}, "B runs nothing but rasman before"
        resolv_before = Path("/etc/resolv.conf").read_bytes()

        t0 = time.monotonic()
        params = rasapi.RASDIALPARAMS(szEntryName=ENTRY, szUserName=USER, szPassword=PASSWORD)
        code, h = rasapi.RasDial(None, str(pbk), params)
        dial_s = time.monotonic() - t0
        assert code == 0, f"{rasapi.RasGetErrorString(code)}; server: {_tail(server_log)}"
        code, status = rasapi.RasGetConnectStatus(h)
        assert code == 0 and status is not None
        assert status.rasconnstate == RasConnState.Connected

        with Client(rasman.socket, autostart=False, timeout=60) as ras:
            proj = ras.projection(h)
        assert proj.interface.startswith("orppp") and proj.interface in lab.links(pair.b)
        assert proj.local_address == FIRST_CLIENT_IP and proj.remote_address == SERVER_IP
        assert DNS_IP in proj.dns
        assert proj.extra["auth_protocol"] == "MS-CHAPv2", proj.extra
        assert proj.extra["pppoe_interface"] == pair.if_b  # the only wired interface of B
        assert FIRST_CLIENT_IP in lab.addresses(pair.b, proj.interface)
        pppds = [p for p in live_pids(pair.b) if p != rasman.proc.pid]
        assert len(pppds) == 1
        argv = psutil.Process(pppds[0]).cmdline()
        assert argv[0].endswith("pppd") and PASSWORD not in " ".join(argv)
        assert argv[argv.index("user") + 1] == USER

        assert lab.ping(pair.b, SERVER_IP, count=3, wait=5)
        code, stats = rasapi.RasGetConnectionStatistics(h)
        assert code == 0 and stats is not None
        assert stats.dwBytesRcved > 0 and stats.dwBytesXmited > 0

        t1 = time.monotonic()
        assert rasapi.RasHangUp(h) == 0
        wait_gone(h, 60)
        hangup_s = time.monotonic() - t1
        assert orppp_links(lab, pair.b) == []
        assert live_pids(pair.b) == {rasman.proc.pid}
        run_dir = rasman.state_dir / "links" / f"link-{h}"
        assert not run_dir.exists() or list(run_dir.iterdir()) == []
        assert Path("/etc/resolv.conf").read_bytes() == resolv_before
        # The server saw the client go (LCP Terminate-Request), not an echo timeout.
        assert wait_until(lambda: "LCP terminated by peer" in _tail(server_log, 1 << 16), 20)

        # A wrong password: 691 from pppd's log, whatever pppd's exit status said.
        t2 = time.monotonic()
        bad = rasapi.RASDIALPARAMS(szEntryName=ENTRY, szUserName=USER, szPassword="wrong")
        code, h2 = rasapi.RasDial(None, str(pbk), bad)
        fail_s = time.monotonic() - t2
        assert code == 691, f"{code}: {rasapi.RasGetErrorString(code)}"
        if h2:
            assert rasapi.RasHangUp(h2) == 0
            wait_gone(h2, 60)
        assert wait_until(lambda: live_pids(pair.b) == {rasman.proc.pid}, 20)
        assert orppp_links(lab, pair.b) == []
    finally:
        lab.stop(server, grace=10)
        kill_pids(sorted(live_pids(pair.a) - in_a_before))  # the server's session pppds
    print(
        f"\nPPPoE via rasman: dial {dial_s:.2f} s, hang-up until 6 {hangup_s:.2f} s, "
        f"wrong password 691 in {fail_s:.2f} s"
    )


def _tail(path: Path, size: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return "(no log)"
