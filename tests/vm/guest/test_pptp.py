"""PPTP through rasman: a Windows 10 PPTP export dials a real pptpd.

Namespace A runs Debian's ``pptpd`` in the foreground on its veth address, its pppd
requiring MS-CHAPv2 and MPPE-128 from a chap-secrets of the test's own (``/etc/ppp`` is a
bind mount in A's private mount namespace: neither the system's secrets, options nor scripts
are used) and handing out an address and a DNS server over IPCP. In B, the session's rasman
dials an entry written as Windows 10 exports a PPTP entry (``DEVICE=vpn``, ``VpnStrategy=1``,
``PhoneNumber=<server address>``, no ``OpenRas*`` key), with the user name and password as
the dial's parameters. Then: Connected, RASCONN's device as Windows reports it, IPCP's
addresses and DNS, MS-CHAPv2 and MPPE-128 in the projection, no password in any argv,
traffic across, a hang-up until RasGetConnectStatus answers 6 with pppd, pptp and the
interface gone. And the failures: a wrong password (691), GRE dropped by the server's
ingress (806, the control connection up), nobody at the address (809) and the server down
(807), each within the dial timeout and leaving nothing.
"""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from _linkkit import NsRasman
from _vmkit import PppDialKit, live_pids, tail
from netns import NetnsLab, NsPair, kill_pids, require_programs, wait_until

from openras import rasapi
from openras.client import Client
from openras.states import RasConnState

pytestmark = pytest.mark.vm

SUBNET = "10.236.44"
LOCAL_IP, FIRST_CLIENT_IP, DNS_IP = f"{SUBNET}.1", f"{SUBNET}.10", f"{SUBNET}.53"
#: An address on B's link (an on-link route) that nobody answers ARP for.
NOBODY = "10.236.45.200"
ENTRY = "Office PPTP"
USER, PASSWORD = "alice", "pptp-S3cret"
#: Windows' own dial timeout is not a key; openras's default (15 s) bounds every dial here.
DIAL_LIMIT_S = 15.0


#: Dial, hang-up and nothing-left checks (shared with the other PPP-framed VPNs' files);
#: status may answer these codes before 6.
KIT = PppDialKit(ENTRY, USER, codes=(0, 691, 806, 807, 809))
dial, wait_gone, nothing_left, end = KIT.dial, KIT.wait_gone, KIT.nothing_left, KIT.end


def windows_export(server: str) -> str:
    """A PPTP entry as Windows 10 exports it (ras-api.md 7.3's keys), no OpenRas* key."""
    return (
        f"[{ENTRY}]\nEncoding=1\nPBVersion=4\nType=2\nAutoLogon=0\nUseRasCredentials=1\n"
        "VpnStrategy=1\nExcludedProtocols=8\nLcpExtensions=1\nDataEncryption=256\n"
        "SwCompression=0\nRedialAttempts=3\nRedialSeconds=60\nIdleDisconnectSeconds=0\n"
        "RedialOnLinkFailure=1\nPreferredPort=VPN4-0\nPreferredDevice=WAN Miniport (PPTP)\n"
        "AuthRestrictions=512\nIpPrioritizeRemote=0\nIpInterfaceMetric=0\nIpAssign=1\n"
        "IpNameAssign=1\n\nNETCOMPONENTS=\nms_msclient=1\nms_server=1\n\n"
        "MEDIA=rastapi\nPort=VPN4-0\nDevice=WAN Miniport (PPTP)\n\n"
        f"DEVICE=vpn\nPhoneNumber={server}\nAreaCode=\nCountryCode=0\nCountryID=0\n"
        "UseDialingRules=0\nComment=\nFriendlyName=\nLastSelectedPhone=0\n"
        "PromoteAlternates=0\nTryNextAlternateOnFail=1\n"
    )


@dataclass
class PptpServer:
    proc: subprocess.Popen[bytes]
    log: Path
    out: Path


@pytest.fixture(scope="module")
def server(
    lab: NetnsLab, pair: NsPair, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PptpServer]:
    """pptpd in A with the test's own /etc/ppp (one for the module); its session pppds are
    killed by pid at the end."""
    require_programs("pppd", "pptp", "pptpd", "unshare", "ping", "tc")
    # The server's pppd runs over a pty (ppp_async) and wants MPPE; the client's modules
    # are the driver's to load, but A's pppd may start first.
    subprocess.run(["modprobe", "-a", "ppp_async", "ppp_mppe"], check=True, timeout=60)
    tmp = tmp_path_factory.mktemp("pptpd")
    etc = tmp / "etc-ppp"
    etc.mkdir()
    log = tmp / "server-pppd.log"
    (etc / "options").write_text("")  # not Debian's (auth, lock, crtscts, modem)
    (etc / "pptpd-options").write_text(
        "name pptpd\nrefuse-pap\nrefuse-chap\nrefuse-mschap\nrequire-mschap-v2\n"
        f"require-mppe-128\nms-dns {DNS_IP}\nnodefaultroute\nnobsdcomp\nnovj\nnovjccomp\n"
        f"lcp-echo-interval 5\nlcp-echo-failure 3\ndebug\nlogfile {log}\n"
    )
    secrets = etc / "chap-secrets"
    secrets.write_text(f'"{USER}" * "{PASSWORD}" *\n')
    secrets.chmod(0o600)
    (etc / "pap-secrets").write_text("")
    conf = tmp / "pptpd.conf"
    conf.write_text(
        f"option {etc / 'pptpd-options'}\nlocalip {LOCAL_IP}\nremoteip {FIRST_CLIENT_IP}-19\n"
    )
    pptpd = ["pptpd", "-f", "-c", str(conf), "-l", pair.addr_a, "-p", str(tmp / "pptpd.pid")]
    script = f"mount --bind {shlex.quote(str(etc))} /etc/ppp && exec {shlex.join(pptpd)}"
    in_a_before = live_pids(pair.a)
    out = tmp / "pptpd.out"
    proc = lab.spawn(
        pair.a, ["unshare", "--mount", "--propagation", "private", "sh", "-c", script], log=out
    )
    try:
        assert wait_until(lambda: listening(lab, pair.a), 60), tail(out)
        yield PptpServer(proc, log, out)
    finally:
        lab.stop(proc, grace=10)
        kill_pids(sorted(live_pids(pair.a) - in_a_before))  # pptpctrl and the session pppds


def listening(lab: NetnsLab, ns: str) -> bool:
    """Something listens on TCP 1723 in ``ns``."""
    res = lab.run(ns, ["ss", "-Hltn", "sport = :1723"], check=False)
    return bool(res.stdout.strip())


def test_pptp_export_dials_reports_pings_and_hangs_up_leaving_nothing(
    lab: NetnsLab, pair: NsPair, rasman: NsRasman, api: None, server: PptpServer, tmp_path: Path
) -> None:
    pbk = tmp_path / "rasphone.pbk"
    pbk.write_text(windows_export(pair.addr_a), encoding="utf-8")
    assert rasman.proc is not None
    nothing_left(lab, pair, rasman)
    resolv_before = Path("/etc/resolv.conf").read_bytes()

    code, h, dial_s = dial(pbk, PASSWORD)
    assert code == 0, f"{rasapi.RasGetErrorString(code)}; server: {tail(server.log)}"
    assert dial_s < DIAL_LIMIT_S
    code, status = rasapi.RasGetConnectStatus(h)
    assert code == 0 and status is not None
    assert status.rasconnstate == RasConnState.Connected
    # RASCONN as Windows 10 reports a PPTP connection (RASDT_Vpn, the PPTP miniport).
    assert (status.szDeviceType, status.szDeviceName) == ("vpn", "WAN Miniport (PPTP)")
    assert status.remoteEndPoint.ipv4 == pair.addr_a  # the PPTP server
    code, conns = rasapi.RasEnumConnections()
    assert code == 0
    assert [(c.szEntryName, c.szDeviceType, c.szDeviceName) for c in conns] == [
        (ENTRY, "vpn", "WAN Miniport (PPTP)")
    ]

    with Client(rasman.socket, autostart=False, timeout=60) as ras:
        proj = ras.projection(h)
    assert proj.interface.startswith("orppp") and proj.interface in lab.links(pair.b)
    assert proj.local_address == FIRST_CLIENT_IP and proj.remote_address == LOCAL_IP
    assert DNS_IP in proj.dns
    assert proj.extra["auth_protocol"] == "MS-CHAPv2", proj.extra
    assert proj.extra["encryption"].startswith("MPPE 128-bit"), proj.extra
    assert proj.extra["kind"] == "pptp" and proj.extra["server"] == pair.addr_a
    code, ip = rasapi.RasGetProjectionInfo(h, rasapi.RASP_PppIp)
    assert code == 0 and ip is not None
    assert (ip.szIpAddress, ip.szServerIpAddress) == (FIRST_CLIENT_IP, LOCAL_IP)
    assert FIRST_CLIENT_IP in lab.addresses(pair.b, proj.interface)
    # RAS_PROJECTION_INFO as Windows fills it for a PPTP link: PPP, MS-CHAPv2, MPPE-128.
    code, info = rasapi.RasGetProjectionInfoEx(h)
    assert code == 0 and info is not None and info.ppp is not None
    assert info.type == rasapi.PROJECTION_INFO_TYPE_PPP
    assert (info.ppp.ipv4Address, info.ppp.ipv4ServerAddress) == (FIRST_CLIENT_IP, LOCAL_IP)
    assert info.ppp.dwAuthenticationProtocol == rasapi.RASLCPAP_CHAP
    assert info.ppp.dwAuthenticationData == rasapi.RASLCPAD_CHAP_MSV2
    assert info.ppp.dwCcpCompressionAlgorithm == rasapi.RASCCPCA_MPPC
    assert info.ppp.dwCcpOptions & rasapi.RASCCPO_Encryption128bit

    # pppd and pptp (GRE gateway, call manager) run for the link; no password in any argv.
    others = live_pids(pair.b) - {rasman.proc.pid}
    cmdlines = {p: psutil.Process(p).cmdline() for p in others}
    pppd = [p for p, argv in cmdlines.items() if argv and argv[0].endswith("pppd")]
    assert len(pppd) == 1, cmdlines
    argv = cmdlines[pppd[0]]
    assert argv[argv.index("user") + 1] == USER and "require-mppe-128" in argv
    pty = argv[argv.index("pty") + 1]
    assert shlex.split(pty)[1:3] == [pair.addr_a, "--nolaunchpppd"], pty
    pptp = [p for p, a in cmdlines.items() if p != pppd[0] and "pptp" in " ".join(a)]
    assert pptp, cmdlines
    # pptp's processes carry the link's marker: the close finds (and ends) them by it.
    markers = {psutil.Process(p).environ().get("OPENRAS_LINK") for p in [pppd[0], *pptp]}
    assert len(markers) == 1 and None not in markers, markers
    assert all(PASSWORD not in " ".join(a) for a in cmdlines.values())

    assert lab.ping(pair.b, LOCAL_IP, count=3, wait=5)
    code, stats = rasapi.RasGetConnectionStatistics(h)
    assert code == 0 and stats is not None
    assert stats.dwBytesRcved > 0 and stats.dwBytesXmited > 0
    # The server's side agrees: MPPE-128 both ways, MS-CHAPv2 from the chap-secrets user.
    server_log = tail(server.log, 1 << 16)
    assert "MPPE 128-bit stateless compression enabled" in server_log, server_log[-3000:]

    t1 = time.monotonic()
    assert rasapi.RasHangUp(h) == 0
    wait_gone(h, 60)
    hangup_s = time.monotonic() - t1
    nothing_left(lab, pair, rasman)  # pppd, pptp's GRE gateway and call manager, orpppN
    run_dir = rasman.state_dir / "links" / f"link-{h}"
    assert not run_dir.exists() or list(run_dir.iterdir()) == []
    assert Path("/etc/resolv.conf").read_bytes() == resolv_before
    # The server saw the client go (LCP Terminate-Request), not an echo timeout.
    assert wait_until(lambda: "LCP terminated by peer" in tail(server.log, 1 << 16), 20)
    print(f"\nPPTP via rasman: dial {dial_s:.2f} s, hang-up until 6 {hangup_s:.2f} s")


def test_ikev2_first_moves_on_to_pptp_when_nobody_answers_ike(
    lab: NetnsLab, pair: NsPair, rasman: NsRasman, api: None, server: PptpServer, tmp_path: Path
) -> None:
    """``VpnStrategy=8`` (IKEv2 first, then PPTP, SSTP, L2TP) at the PPTP server: a real
    charon tries IKE there and nobody answers; at its dial timeout the list moves on to
    PPTP, which connects. One handle throughout, the states forward only, the projection
    names the type that connected and the one that failed before it."""
    pbk = tmp_path / "rasphone.pbk"
    export = windows_export(pair.addr_a).replace("VpnStrategy=1\n", "VpnStrategy=8\n")
    pbk.write_text(export.replace("IpNameAssign=1\n", "IpNameAssign=1\nOpenRasDialTimeoutMs=8000\n"),
                   encoding="utf-8")  # fmt: skip
    nothing_left(lab, pair, rasman)
    seen: list[RasConnState] = []
    t0 = time.monotonic()
    with Client(rasman.socket, autostart=False, timeout=120) as ras:
        conn = ras.dial(ENTRY, pbk, user=USER, password=PASSWORD,
                        on_state=lambda ev: seen.append(ev.state))  # fmt: skip
        took = time.monotonic() - t0
        assert conn.status().state is RasConnState.Connected
        assert seen == sorted(seen) and len(seen) == len(set(seen)), seen
        proj = conn.projection()
        assert proj.extra["vpn_protocol"] == "PPTP", proj.extra
        assert proj.extra["vpn_failed_before"].startswith("IKEv2 "), proj.extra
        assert proj.interface.startswith("orppp") and proj.local_address.startswith(SUBNET)
        assert lab.ping(pair.b, LOCAL_IP, count=2, wait=5)
        assert [c for c in live_pids(pair.b) if psutil.Process(c).name() == "charon"] == []
        h = conn.handle
    assert rasapi.RasHangUp(h) == 0
    wait_gone(h, 60)
    nothing_left(lab, pair, rasman)
    print(f"\nIKEv2 first -> PPTP via rasman: dial {took:.1f} s")


def test_pptp_failures_have_windows_codes_within_the_dial_timeout(
    lab: NetnsLab, pair: NsPair, rasman: NsRasman, api: None, server: PptpServer, tmp_path: Path
) -> None:
    pbk = tmp_path / "rasphone.pbk"
    pbk.write_text(windows_export(pair.addr_a), encoding="utf-8")
    timings: dict[int, float] = {}

    # A wrong password: 691 from pppd's log, whatever its exit status said.
    code, h, took = dial(pbk, "wrong")
    assert code == 691, f"{code}: {rasapi.RasGetErrorString(code)}"
    timings[691] = took
    end(lab, pair, rasman, h)

    # GRE dropped at the server's ingress: TCP 1723 (the control connection) gets through,
    # PPP does not: 806, once the dial timeout ran out.
    lab.run(pair.a, ["tc", "qdisc", "add", "dev", pair.if_a, "ingress"])
    try:
        lab.run(pair.a, ["tc", "filter", "add", "dev", pair.if_a, "parent", "ffff:",
                         "protocol", "ip", "u32", "match", "ip", "protocol", "47", "0xff",
                         "action", "drop"])  # fmt: skip
        code, h, took = dial(pbk, PASSWORD)
        assert code == 806, f"{code}: {rasapi.RasGetErrorString(code)}"
        timings[806] = took
        end(lab, pair, rasman, h)
    finally:
        lab.run(pair.a, ["tc", "qdisc", "del", "dev", pair.if_a, "ingress"], check=False)

    # Nobody at the address (no ARP answer on A's link): 809.
    lab.run(pair.b, ["ip", "route", "add", f"{NOBODY}/32", "dev", pair.if_b])
    pbk.write_text(windows_export(NOBODY), encoding="utf-8")
    try:
        code, h, took = dial(pbk, PASSWORD)
        assert code == 809, f"{code}: {rasapi.RasGetErrorString(code)}"
        timings[809] = took
        end(lab, pair, rasman, h)
    finally:
        lab.run(pair.b, ["ip", "route", "del", f"{NOBODY}/32"], check=False)

    # The server down (nothing listens on 1723: a TCP reset): 807.
    pbk.write_text(windows_export(pair.addr_a), encoding="utf-8")
    lab.stop(server.proc, grace=10)
    assert wait_until(lambda: not listening(lab, pair.a), 20)
    code, h, took = dial(pbk, PASSWORD)
    assert code == 807, f"{code}: {rasapi.RasGetErrorString(code)}"
    timings[807] = took
    end(lab, pair, rasman, h)

    for code, took in timings.items():
        assert took < DIAL_LIMIT_S + 5, f"{code} took {took:.1f} s"
    print("\nPPTP failures: " + ", ".join(f"{c} in {t:.2f} s" for c, t in timings.items()))
