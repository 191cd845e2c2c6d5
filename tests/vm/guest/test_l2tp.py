"""L2TP/IPsec through rasman: a Windows 10 L2TP export dials a real xl2tpd behind a real charon.

Namespace A is the server as a Windows user meets one: charon (``swan_lab``'s responder on the
kernel's ESP) with a pre-shared key and an IKEv1 connection whose CHILD protects UDP 1701 in
transport mode, and xl2tpd as the LNS running pppd with MS-CHAPv2 from a chap-secrets of the
test's own (``/etc/ppp`` is a bind mount in A's private mount namespace). In B the session's
rasman dials an entry written as Windows exports an L2TP entry (``VpnStrategy=3``, the L2TP
miniport, ``DataEncryption=256``: IPsec required), no ``OpenRas*`` key; the pre-shared key is
saved with ``RasSetCredentials(RASCM_PreSharedKey)`` as Windows keeps it.

Then: Connected, RASCONN's device as Windows reports it, IPCP's addresses and DNS, MS-CHAPv2,
the ESP SAs in transport mode carrying the link's reqid, neither password nor key in any
argv, traffic across, a rasman SIGKILLed and replaced (the new one adopts the link), and a
hang-up until RasGetConnectStatus answers 6 with charon, xl2tpd, pppd, the interface and
every SA and policy gone. And the failures: a wrong password (691), a wrong pre-shared key
(789), nobody answering at the address (809), each leaving nothing.

The certificate mode (``IpSecFlags=0``): the responder also has a certificate connection
(``swan_lab.l2tp_cert_responder``, its certificate from the lab's CA naming its address);
the entry names a client certificate from that CA, its key and the CA
(``OpenRasL2tpCert/Key/Ca``), no pre-shared key saved. It dials, pings and hangs up until 6
with nothing left; the run directory's files are 0600 and neither the key nor the password
is in any of them or in argv. A client certificate from another CA is 786, an entry whose
CA did not issue the server's certificate 787, each leaving nothing.
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
from _vmkit import PppDialKit, cmdlines_of, crash_and_restart, live_pids, tail, xfrm
from netns import NetnsLab, NsPair, kill_pids, require_programs, wait_until
from swan_lab import (
    KERNEL_PLUGINS,
    L2TP_RESPONDER,
    PSK,
    SwanServer,
    issue,
    l2tp_cert_responder,
    make_ca,
)

from openras import rasapi
from openras.client import Client
from openras.links.ppp.l2tp import reqid_for
from openras.states import RasConnState

pytestmark = pytest.mark.vm

SUBNET = "10.236.47"
LOCAL_IP, FIRST_CLIENT_IP, DNS_IP = f"{SUBNET}.1", f"{SUBNET}.10", f"{SUBNET}.53"
ENTRY = "Office L2TP"
#: An address on B's link (an on-link route) that nobody answers ARP for.
NOBODY = "10.236.50.200"
USER, PASSWORD = "alice", "l2tp-S3cret"
#: Generous under TCG (IKEv1 main and quick mode, then L2TP, then PPP).
DIAL_LIMIT_S = 60.0


#: Dial, hang-up and nothing-left checks (shared with the other PPP-framed VPNs' files);
#: status may answer these codes before 6.
KIT = PppDialKit(ENTRY, USER, codes=(0, 691, 786, 787, 789, 809), ipsec=True)
dial, wait_gone, nothing_left, end = KIT.dial, KIT.wait_gone, KIT.nothing_left, KIT.end


def windows_export(server: str) -> str:
    """An L2TP/IPsec entry as Windows 10 exports it (ras-api.md 7.3's keys), no OpenRas* key
    but the dial timeout (Windows has none; under TCG openras's 15 s default is short)."""
    return (
        f"[{ENTRY}]\nEncoding=1\nPBVersion=4\nType=2\nAutoLogon=0\nUseRasCredentials=1\n"
        "VpnStrategy=3\nExcludedProtocols=8\nLcpExtensions=1\nDataEncryption=256\n"
        "SwCompression=0\nRedialAttempts=3\nRedialSeconds=60\nIdleDisconnectSeconds=0\n"
        "RedialOnLinkFailure=1\nPreferredPort=VPN3-0\nPreferredDevice=WAN Miniport (L2TP)\n"
        "AuthRestrictions=544\nIpPrioritizeRemote=0\nIpInterfaceMetric=0\nIpAssign=1\n"
        f"IpNameAssign=1\nOpenRasDialTimeoutMs={int(DIAL_LIMIT_S * 1000)}\n\n"
        "NETCOMPONENTS=\nms_msclient=1\nms_server=1\n\n"
        "MEDIA=rastapi\nPort=VPN3-0\nDevice=WAN Miniport (L2TP)\n\n"
        f"DEVICE=vpn\nPhoneNumber={server}\nAreaCode=\nCountryCode=0\nCountryID=0\n"
        "UseDialingRules=0\nComment=\nFriendlyName=\nLastSelectedPhone=0\n"
        "PromoteAlternates=0\nTryNextAlternateOnFail=1\n"
    )


@dataclass
class L2tpServer:
    ipsec: SwanServer
    lns: subprocess.Popen[bytes]
    log: Path
    out: Path


@pytest.fixture(scope="module")
def server(
    lab: NetnsLab, pair: NsPair, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[L2tpServer]:
    """charon (PSK, transport mode for UDP 1701) and xl2tpd with its pppd in A."""
    require_programs("pppd", "xl2tpd", "pki", "swanctl", "unshare", "ping")
    subprocess.run(["modprobe", "-a", "l2tp_ppp", "ppp_async", "esp4", "xfrm_user"],
                   check=True, timeout=60)  # fmt: skip
    tmp = tmp_path_factory.mktemp("l2tp-server")
    ipsec = SwanServer(pair, tmp / "responder", pool="10.236.48.0/28", inside="10.236.49.1",
                       plugins=KERNEL_PLUGINS,
                       extra_conf=[L2TP_RESPONDER, l2tp_cert_responder(pair.addr_a)])  # fmt: skip
    ipsec.start(lab, make_ca(tmp / "ca"))
    etc = tmp / "etc-ppp"
    etc.mkdir()
    log = tmp / "server-pppd.log"
    (etc / "options").write_text("")  # not Debian's (auth, lock, crtscts, modem)
    opts = etc / "lns-options"
    opts.write_text(
        "name l2tpd\nauth\nrefuse-pap\nrefuse-chap\nrefuse-mschap\nrequire-mschap-v2\n"
        f"ms-dns {DNS_IP}\nnoccp\nnodefaultroute\nnobsdcomp\nnovj\nnovjccomp\nmtu 1400\n"
        f"mru 1400\nlcp-echo-interval 5\nlcp-echo-failure 3\ndebug\nlogfile {log}\n"
    )
    secrets = etc / "chap-secrets"
    secrets.write_text(f'"{USER}" * "{PASSWORD}" *\n')
    secrets.chmod(0o600)
    (etc / "pap-secrets").write_text("")
    conf = tmp / "xl2tpd.conf"
    conf.write_text(
        f"[global]\nlisten-addr = {pair.addr_a}\nport = 1701\naccess control = no\n\n"
        f"[lns default]\nip range = {FIRST_CLIENT_IP}-{SUBNET}.19\nlocal ip = {LOCAL_IP}\n"
        "require authentication = no\nname = l2tpd\nlength bit = yes\n"
        f"pppoptfile = {opts}\n"
    )
    xl2tpd = ["xl2tpd", "-D", "-c", str(conf), "-p", str(tmp / "xl2tpd.pid"),
              "-C", str(tmp / "l2tp-control")]  # fmt: skip
    script = f"mount --bind {shlex.quote(str(etc))} /etc/ppp && exec {shlex.join(xl2tpd)}"
    in_a_before = live_pids(pair.a)
    out = tmp / "xl2tpd.out"
    proc = lab.spawn(
        pair.a, ["unshare", "--mount", "--propagation", "private", "sh", "-c", script], log=out
    )
    try:
        assert wait_until(lambda: (tmp / "l2tp-control").exists(), 60), tail(out)
        yield L2tpServer(ipsec, proc, log, out)
    finally:
        lab.stop(proc, grace=10)
        if ipsec.proc is not None:
            lab.stop(ipsec.proc, grace=10)
        kill_pids(sorted(live_pids(pair.a) - in_a_before))  # the session pppds
        lab.run(pair.a, ["ip", "addr", "del", "10.236.49.1/32", "dev", "lo"], check=False)
        lab.run(pair.a, ["ip", "xfrm", "state", "flush"], check=False)
        lab.run(pair.a, ["ip", "xfrm", "policy", "flush"], check=False)


def save_psk(pbk: Path, psk: str) -> None:
    creds = rasapi.RASCREDENTIALS(rasapi.RASCM_PreSharedKey, "", psk)
    assert rasapi.RasSetCredentials(str(pbk), ENTRY, creds) == 0


def test_l2tp_ipsec_export_dials_pings_survives_rasman_and_hangs_up_leaving_nothing(
    lab: NetnsLab, pair: NsPair, rasman: NsRasman, api: None, server: L2tpServer, tmp_path: Path
) -> None:
    pbk = tmp_path / "rasphone.pbk"
    pbk.write_text(windows_export(pair.addr_a), encoding="utf-8")
    save_psk(pbk, PSK)
    nothing_left(lab, pair, rasman)

    code, h, dial_s = dial(pbk, PASSWORD)
    try:
        connected_checks(lab, pair, rasman, server, h, code, dial_s)
    except BaseException:
        if h:  # (the next test starts from nothing, whatever failed here)
            rasapi.RasHangUp(h)
            wait_gone(h, 60)
        raise


def connected_checks(lab: NetnsLab, pair: NsPair, rasman: NsRasman, server: L2tpServer,
                     h: int, code: int, dial_s: float) -> None:  # fmt: skip
    assert rasman.proc is not None
    assert code == 0, (
        f"{code} {rasapi.RasGetErrorString(code)}; server pppd: {tail(server.log)}; "
        f"xl2tpd: {tail(server.out)}; charon: {tail(server.ipsec.log)}"
    )
    assert dial_s < DIAL_LIMIT_S
    code, status = rasapi.RasGetConnectStatus(h)
    assert code == 0 and status is not None
    assert status.rasconnstate == RasConnState.Connected
    assert (status.szDeviceType, status.szDeviceName) == ("vpn", "WAN Miniport (L2TP)")
    code, conns = rasapi.RasEnumConnections()
    assert code == 0
    assert [(c.szEntryName, c.szDeviceName) for c in conns] == [(ENTRY, "WAN Miniport (L2TP)")]

    with Client(rasman.socket, autostart=False, timeout=60) as ras:
        proj = ras.projection(h)
    assert proj.interface.startswith("orppp") and proj.interface in lab.links(pair.b)
    assert proj.local_address == FIRST_CLIENT_IP and proj.remote_address == LOCAL_IP
    assert DNS_IP in proj.dns
    assert proj.extra["auth_protocol"] == "MS-CHAPv2", proj.extra
    assert proj.extra["tunnel"] == "L2TP/IPsec" and proj.extra["server"] == pair.addr_a
    code, ip = rasapi.RasGetProjectionInfo(h, rasapi.RASP_PppIp)
    assert code == 0 and ip is not None
    assert (ip.szIpAddress, ip.szServerIpAddress) == (FIRST_CLIENT_IP, LOCAL_IP)

    # The kernel's ESP in transport mode, the SAs carrying the link's reqid.
    states = xfrm(lab, pair.b, "state")
    assert "mode transport" in states and f"reqid {reqid_for(h)}" in states, states
    # charon, xl2tpd and pppd run for the link; neither the password nor the key in argv.
    cmdlines = cmdlines_of(live_pids(pair.b) - {rasman.proc.pid})
    names = sorted(psutil.Process(p).name() for p in cmdlines)
    assert names == ["charon", "pppd", "xl2tpd"], cmdlines
    assert all(PASSWORD not in " ".join(a) and PSK not in " ".join(a) for a in cmdlines.values())

    assert lab.ping(pair.b, LOCAL_IP, count=3, wait=5)
    code, stats = rasapi.RasGetConnectionStatistics(h)
    assert code == 0 and stats is not None and stats.dwBytesRcved > 0
    # The traffic went through ESP: the server's SAs counted it.
    assert "ESP" in xfrm(lab, pair.a, "state").upper()

    # rasman dies; the new one adopts the link (same programs, still passing traffic).
    crash_and_restart(lab, pair, rasman)
    code, status = rasapi.RasGetConnectStatus(h)
    assert code == 0 and status is not None and status.rasconnstate == RasConnState.Connected
    assert live_pids(pair.b) - {rasman.proc.pid} == set(cmdlines)
    assert lab.ping(pair.b, LOCAL_IP, count=2, wait=5)

    t1 = time.monotonic()
    assert rasapi.RasHangUp(h) == 0
    wait_gone(h, 60)
    hangup_s = time.monotonic() - t1
    nothing_left(lab, pair, rasman)  # charon, xl2tpd, pppd, orpppN, SAs and policies
    # The server saw the client go (LCP Terminate-Request), not an echo timeout.
    assert wait_until(lambda: "LCP terminated by peer" in tail(server.log, 1 << 16), 20)
    print(f"\nL2TP/IPsec via rasman: dial {dial_s:.2f} s, hang-up until 6 {hangup_s:.2f} s")


def test_l2tp_failures_have_windows_codes_and_leave_nothing(
    lab: NetnsLab, pair: NsPair, rasman: NsRasman, api: None, server: L2tpServer, tmp_path: Path
) -> None:
    pbk = tmp_path / "rasphone.pbk"
    pbk.write_text(windows_export(pair.addr_a), encoding="utf-8")

    # A wrong password: IPsec and L2TP come up, PPP's MS-CHAPv2 fails: 691.
    save_psk(pbk, PSK)
    code, h, _took = dial(pbk, "wrong")
    assert code == 691, f"{code}: {rasapi.RasGetErrorString(code)}"
    end(lab, pair, rasman, h)

    # A wrong pre-shared key: IKE fails: 789 (the security layer), nothing started after.
    save_psk(pbk, "not-the-key")
    code, h, _took = dial(pbk, PASSWORD)
    assert code == 789, f"{code}: {rasapi.RasGetErrorString(code)}"
    end(lab, pair, rasman, h)

    # Nobody at the address (no ARP answer on B's link): IKE is never answered: 809,
    # within the entry's dial timeout (10 s here).
    lab.run(pair.b, ["ip", "route", "add", f"{NOBODY}/32", "dev", pair.if_b])
    export = windows_export(NOBODY).replace(
        f"OpenRasDialTimeoutMs={int(DIAL_LIMIT_S * 1000)}", "OpenRasDialTimeoutMs=10000"
    )
    pbk.write_text(export, encoding="utf-8")
    save_psk(pbk, PSK)
    try:
        code, h, took = dial(pbk, PASSWORD)
        assert code == 809, f"{code}: {rasapi.RasGetErrorString(code)}"
        assert took < 10 + 10, took
        end(lab, pair, rasman, h)
    finally:
        lab.run(pair.b, ["ip", "route", "del", f"{NOBODY}/32"], check=False)


def cert_export(server: str, cert: Path, key: Path, ca: Path) -> str:
    """:func:`windows_export` with IPsec by certificates (``IpSecFlags=0``, as Windows
    exports "use certificate") and openras's keys naming the files."""
    keys = (f"IpSecFlags=0\nOpenRasL2tpCert={cert}\nOpenRasL2tpKey={key}\n"
            f"OpenRasL2tpCa={ca}\n")  # fmt: skip
    return windows_export(server).replace("IpNameAssign=1\n", "IpNameAssign=1\n" + keys, 1)


def _key_body(key: Path) -> str:
    """The private key's base64 (what must appear nowhere but in the key file)."""
    return "".join(ln for ln in key.read_text().splitlines() if not ln.startswith("-----"))


def test_l2tp_certificates_dial_ping_and_hang_up_leaving_nothing(
    lab: NetnsLab, pair: NsPair, rasman: NsRasman, api: None, server: L2tpServer, tmp_path: Path
) -> None:
    assert server.ipsec.ca is not None and rasman.proc is not None
    cert, key = issue(tmp_path, server.ipsec.ca, "client.lab.test", ["client.lab.test"],
                      server=False)  # fmt: skip
    key.chmod(0o600)
    pbk = tmp_path / "rasphone.pbk"
    pbk.write_text(cert_export(pair.addr_a, cert, key, server.ipsec.ca[0]), encoding="utf-8")
    nothing_left(lab, pair, rasman)

    took = 0.0
    code, h, dial_s = dial(pbk, PASSWORD)  # (no pre-shared key saved: none is needed)
    try:
        assert code == 0, (
            f"{code} {rasapi.RasGetErrorString(code)}; charon: {tail(server.ipsec.log)}"
        )
        with Client(rasman.socket, autostart=False, timeout=60) as ras:
            proj = ras.projection(h)
        assert proj.extra["ipsec"] == "IKEv1 machine certificate, ESP transport mode", proj.extra
        assert proj.local_address.startswith(SUBNET)
        states = xfrm(lab, pair.b, "state")
        assert "mode transport" in states and f"reqid {reqid_for(h)}" in states, states
        # The server authenticated this machine by its certificate.
        assert wait_until(lambda: "CN=client.lab.test" in tail(server.ipsec.log, 1 << 16), 5)
        assert lab.ping(pair.b, LOCAL_IP, count=3, wait=5)

        # Neither the key nor the password in argv; the run directory's files 0600, none
        # holding them.
        body = _key_body(key)
        cmdlines = cmdlines_of(live_pids(pair.b) - {rasman.proc.pid})
        assert sorted(psutil.Process(p).name() for p in cmdlines) == ["charon", "pppd", "xl2tpd"]
        assert all(body not in " ".join(a) and PASSWORD not in " ".join(a)
                   for a in cmdlines.values())  # fmt: skip
        run = rasman.state_dir / "links" / f"link-{h}"
        files = [f for f in run.rglob("*") if f.is_file() and not f.is_symlink()]
        assert {f.name for f in files} >= {"charon.log", "pppd.log", "xl2tpd.pid"}, files
        modes = {f.name: oct(f.stat().st_mode & 0o777) for f in files}
        assert set(modes.values()) == {"0o600"}, modes
        for f in files:
            data = f.read_bytes()
            assert body.encode() not in data and PASSWORD.encode() not in data, f
    finally:
        if h:
            assert rasapi.RasHangUp(h) == 0
            took = wait_gone(h, 60)
    nothing_left(lab, pair, rasman)
    print(f"\nL2TP/IPsec with certificates: dial {dial_s:.2f} s, hang-up until 6 {took:.2f} s")


def test_l2tp_certificate_failures_have_windows_codes_and_leave_nothing(
    lab: NetnsLab, pair: NsPair, rasman: NsRasman, api: None, server: L2tpServer, tmp_path: Path
) -> None:
    assert server.ipsec.ca is not None
    pbk = tmp_path / "rasphone.pbk"

    # A client certificate from another CA: the server refuses it: 786.
    other = make_ca(tmp_path / "other", "another CA")
    cert, key = issue(tmp_path / "other", other, "client.lab.test", ["client.lab.test"],
                      server=False)  # fmt: skip
    pbk.write_text(cert_export(pair.addr_a, cert, key, server.ipsec.ca[0]), encoding="utf-8")
    code, h, _took = dial(pbk, PASSWORD)
    assert code == 786, f"{code}: {rasapi.RasGetErrorString(code)}"
    end(lab, pair, rasman, h)

    # The entry's CA did not issue the server's certificate: 787.
    cert, key = issue(tmp_path, server.ipsec.ca, "client.lab.test", ["client.lab.test"],
                      server=False)  # fmt: skip
    pbk.write_text(cert_export(pair.addr_a, cert, key, other[0]), encoding="utf-8")
    code, h, _took = dial(pbk, PASSWORD)
    assert code == 787, f"{code}: {rasapi.RasGetErrorString(code)}"
    end(lab, pair, rasman, h)
