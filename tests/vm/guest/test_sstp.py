"""SSTP through rasman: a Windows SSTP export dials the test SSTP server.

Namespace A runs tests/vm/guest/sstp_server.py on its veth address (TLS with a test CA's
certificate for that address), each session's pppd requiring MS-CHAPv2 from a chap-secrets
of the test's own (``/etc/ppp`` bind-mounted in A's private mount namespace, as
test_pptp.py does) and handing out addresses and a DNS server over IPCP. In B, rasman dials
an entry as Windows exports an SSTP entry (``VpnStrategy=5``, ``PhoneNumber=<server>``) plus
``OpenRasSstpCaFile=`` naming the test CA. Then: Connected, the projection, the SSTP Call
Connected the server checked (nonce and certificate hash), traffic across, a hang-up until
RasGetConnectStatus answers 6 with pppd and sstpc gone. And the failures: a wrong password
(691), a CA that does not vouch for the server (801).
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from _linkkit import NsRasman
from _vmkit import PppDialKit, cmdlines_of, live_pids, tail
from netns import NetnsLab, NsPair, kill_pids, require_programs, wait_until

from openras import rasapi
from openras.client import Client
from openras.states import RasConnState

pytestmark = pytest.mark.vm

SUBNET = "10.236.46"
LOCAL_IP, CLIENT_IP, DNS_IP = f"{SUBNET}.1", f"{SUBNET}.10", f"{SUBNET}.53"
#: The veth pair's IPv6 addresses (the server's, the client's): SSTP over IPv6.
V6_A, V6_B = "fd00:236:46::1", "fd00:236:46::2"
ENTRY = "Office SSTP"
USER, PASSWORD = "alice", "sstp-S3cret"
DIAL_LIMIT_S = 15.0
HERE = Path(__file__).resolve().parent


#: Dial, hang-up and nothing-left checks (shared with the other PPP-framed VPNs' files);
#: status may answer these codes before 6.
KIT = PppDialKit(ENTRY, USER, codes=(0, 691, 801, 807, 809))
dial, wait_gone, nothing_left, end = KIT.dial, KIT.wait_gone, KIT.nothing_left, KIT.end


def windows_export(server: str, ca: Path) -> str:
    """An SSTP entry as Windows 10 exports it, plus the CA key openras needs here."""
    return (
        f"[{ENTRY}]\nEncoding=1\nPBVersion=4\nType=2\nAutoLogon=0\nUseRasCredentials=1\n"
        "VpnStrategy=5\nExcludedProtocols=8\nLcpExtensions=1\nDataEncryption=256\n"
        "SwCompression=0\nIdleDisconnectSeconds=0\nPreferredPort=VPN3-0\n"
        "PreferredDevice=WAN Miniport (SSTP)\nAuthRestrictions=512\nIpAssign=1\n"
        f"IpNameAssign=1\nOpenRasSstpCaFile={ca}\n\n"
        "MEDIA=rastapi\nPort=VPN3-0\nDevice=WAN Miniport (SSTP)\n\n"
        f"DEVICE=vpn\nPhoneNumber={server}\nAreaCode=\nCountryCode=0\nCountryID=0\n"
        "UseDialingRules=0\nComment=\nFriendlyName=\nLastSelectedPhone=0\n"
        "PromoteAlternates=0\nTryNextAlternateOnFail=1\n"
    )


@dataclass
class SstpLab:
    proc: subprocess.Popen[bytes]
    out: Path
    ppp_log: Path
    ca: Path
    other_ca: Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def server(
    lab: NetnsLab, pair: NsPair, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SstpLab]:
    require_programs("pppd", "sstpc", "openssl", "unshare", "ping")
    subprocess.run(["modprobe", "-a", "ppp_async", "ppp_generic"], check=True, timeout=60)
    tmp = tmp_path_factory.mktemp("sstpd")
    for ca in ("ca", "other"):
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp / f"{ca}.key"),
                 "-out", str(tmp / f"{ca}.pem"), "-days", "2", "-subj", f"/CN=openras {ca}")  # fmt: skip
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp / "server.key"),
             "-out", str(tmp / "server.csr"), "-subj", f"/CN={pair.addr_a}")  # fmt: skip
    (tmp / "ext").write_text(f"subjectAltName=IP:{pair.addr_a},IP:{V6_A}\n")
    _openssl("x509", "-req", "-in", str(tmp / "server.csr"), "-CA", str(tmp / "ca.pem"),
             "-CAkey", str(tmp / "ca.key"), "-CAcreateserial", "-out", str(tmp / "server.pem"),
             "-days", "2", "-extfile", str(tmp / "ext"))  # fmt: skip
    etc = tmp / "etc-ppp"
    etc.mkdir()
    (etc / "options").write_text("")  # not Debian's
    secrets = etc / "chap-secrets"
    secrets.write_text(f'"{USER}" * "{PASSWORD}" *\n')
    secrets.chmod(0o600)
    (etc / "pap-secrets").write_text("")
    ppp_log = tmp / "server-pppd.log"
    pppd_args = [
        "local", "name", "sstpd", "auth", "require-mschap-v2", "refuse-pap", "refuse-chap",
        "refuse-mschap", "refuse-eap", "nomppe", "noccp", "novj", "nobsdcomp", "nodeflate",
        f"{LOCAL_IP}:{CLIENT_IP}", "ms-dns", DNS_IP, "nodefaultroute", "lcp-echo-interval", "5",
        "lcp-echo-failure", "3", "debug", "logfile", str(ppp_log),
    ]  # fmt: skip
    serve = [
        sys.executable, str(HERE / "sstp_server.py"), "--cert", str(tmp / "server.pem"),
        "--key", str(tmp / "server.key"), "--listen", "[::]:443",  # IPv4 and IPv6
    ]  # fmt: skip
    for arg in pppd_args:
        serve.append(f"--pppd-arg={arg}")
    script = f"mount --bind {shlex.quote(str(etc))} /etc/ppp && exec {shlex.join(serve)}"
    for ns, ifname, addr in ((pair.a, pair.if_a, V6_A), (pair.b, pair.if_b, V6_B)):
        lab.run(ns, ["ip", "-6", "addr", "add", f"{addr}/64", "dev", ifname, "nodad"])
    before = live_pids(pair.a)
    out = tmp / "sstp_server.out"
    proc = lab.spawn(
        pair.a, ["unshare", "--mount", "--propagation", "private", "sh", "-c", script], log=out
    )
    try:
        assert wait_until(lambda: "listening on" in tail(out), 60), tail(out)
        yield SstpLab(proc, out, ppp_log, tmp / "ca.pem", tmp / "other.pem")
    finally:
        lab.stop(proc, grace=10)
        kill_pids(sorted(live_pids(pair.a) - before))
        for ns, ifname, addr in ((pair.a, pair.if_a, V6_A), (pair.b, pair.if_b, V6_B)):
            lab.run(ns, ["ip", "-6", "addr", "del", f"{addr}/64", "dev", ifname], check=False)


def test_sstp_export_dials_pings_and_hangs_up_leaving_nothing(
    lab: NetnsLab, pair: NsPair, rasman: NsRasman, api: None, server: SstpLab, tmp_path: Path
) -> None:
    pbk = tmp_path / "rasphone.pbk"
    pbk.write_text(windows_export(pair.addr_a, server.ca), encoding="utf-8")
    nothing_left(lab, pair, rasman)
    code, h, dial_s = dial(pbk, PASSWORD)
    try:
        connected_checks(lab, pair, rasman, server, h, code, dial_s)
    except BaseException:
        if h:  # (the next test starts from nothing, whatever failed here)
            rasapi.RasHangUp(h)
            wait_gone(h, 60)
        raise


def connected_checks(lab: NetnsLab, pair: NsPair, rasman: NsRasman, server: SstpLab,
                     h: int, code: int, dial_s: float) -> None:  # fmt: skip
    assert code == 0, (
        f"{rasapi.RasGetErrorString(code)}; {tail(server.out)} {tail(server.ppp_log)}; "
        f"rasman: {tail(rasman.log)}"
    )
    assert dial_s < DIAL_LIMIT_S
    code, status = rasapi.RasGetConnectStatus(h)
    assert code == 0 and status is not None
    assert status.rasconnstate == RasConnState.Connected
    with Client(rasman.socket, autostart=False, timeout=60) as ras:
        proj = ras.projection(h)
    assert proj.local_address == CLIENT_IP and proj.remote_address == LOCAL_IP
    assert DNS_IP in proj.dns
    assert proj.extra["auth_protocol"] == "MS-CHAPv2", proj.extra
    assert proj.extra["kind"] == "sstp" and proj.extra["server"] == pair.addr_a

    assert rasman.proc is not None
    cmdlines = cmdlines_of(live_pids(pair.b) - {rasman.proc.pid})
    pppd = [p for p, a in cmdlines.items() if a and a[0].endswith("pppd")]
    assert len(pppd) == 1, cmdlines
    pty = shlex.split(cmdlines[pppd[0]][cmdlines[pppd[0]].index("pty") + 1])
    assert pty[-1] == pair.addr_a and "--cert-warn" not in pty, pty
    assert [p for p, a in cmdlines.items() if "sstpc" in " ".join(a)], cmdlines
    assert all(PASSWORD not in " ".join(a) for a in cmdlines.values())

    assert lab.ping(pair.b, LOCAL_IP, count=3, wait=5)
    # sstpc sent Call Connected once PPP was up (the plugin told it), and it matched.
    assert wait_until(lambda: "Call Connected ok" in tail(server.out, 1 << 16), 10), tail(
        server.out
    )

    t1 = time.monotonic()
    assert rasapi.RasHangUp(h) == 0
    wait_gone(h, 60)
    hangup_s = time.monotonic() - t1
    nothing_left(lab, pair, rasman)  # pppd, sstpc, orpppN
    print(f"\nSSTP via rasman: dial {dial_s:.2f} s, hang-up until 6 {hangup_s:.2f} s")


def test_sstp_over_ipv6_as_windows_writes_the_address(
    lab: NetnsLab, pair: NsPair, rasman: NsRasman, api: None, server: SstpLab, tmp_path: Path
) -> None:
    """The entry's PhoneNumber is a bare IPv6 address (as Windows takes it): the daemon
    checks the certificate's IP address for it, sstpc reaches the server over IPv6 (the
    server saw the client's IPv6 address), PPP runs inside, then nothing is left."""
    pbk = tmp_path / "rasphone.pbk"
    pbk.write_text(windows_export(V6_A, server.ca), encoding="utf-8")
    code, h, dial_s = dial(pbk, PASSWORD)
    try:
        assert code == 0, f"{rasapi.RasGetErrorString(code)}; {tail(server.out)}"
        with Client(rasman.socket, autostart=False, timeout=60) as ras:
            proj = ras.projection(h)
        assert proj.extra["server"] == f"[{V6_A}]", proj.extra
        assert proj.local_address == CLIENT_IP
        # the server's log names each session by its peer: this one came over IPv6
        assert f"{V6_B}:" in tail(server.out, 1 << 16), tail(server.out)
        assert lab.ping(pair.b, LOCAL_IP, count=2, wait=5)
    finally:
        end(lab, pair, rasman, h)
    print(f"\nSSTP over IPv6: dial {dial_s:.2f} s")


def test_sstp_failures_have_windows_codes(
    lab: NetnsLab, pair: NsPair, rasman: NsRasman, api: None, server: SstpLab, tmp_path: Path
) -> None:
    pbk = tmp_path / "rasphone.pbk"
    pbk.write_text(windows_export(pair.addr_a, server.ca), encoding="utf-8")
    code, h, took = dial(pbk, "wrong")
    assert code == 691, f"{code}: {rasapi.RasGetErrorString(code)}"
    assert took < DIAL_LIMIT_S + 5
    end(lab, pair, rasman, h)

    pbk.write_text(windows_export(pair.addr_a, server.other_ca), encoding="utf-8")
    code, h, took = dial(pbk, PASSWORD)
    assert code == 801, f"{code}: {rasapi.RasGetErrorString(code)}"
    assert took < DIAL_LIMIT_S + 5
    end(lab, pair, rasman, h)

    # The server down (nothing listens on its port: a TCP reset): 809, sstpc never started.
    pbk.write_text(windows_export(f"{pair.addr_a}:4443", server.ca), encoding="utf-8")
    code, h, took = dial(pbk, PASSWORD)
    assert code == 809, f"{code}: {rasapi.RasGetErrorString(code)}"
    assert took < DIAL_LIMIT_S + 5
    end(lab, pair, rasman, h)
