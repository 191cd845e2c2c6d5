"""PPP over a modem through rasman: a Windows dial-up entry dials a modem the tests emulate.

The modem is :mod:`modem_emulator`: a pty speaking AT whose slave is the entry's
``OpenRasSerialPort``; answered, it relays the line to a second pty, the tty of a ``pppd``
server started per call in namespace A with its own ``/etc/ppp`` (a bind mount in A's private
mount namespace: an empty ``options``, and pap/chap-secrets of the test's, so neither the
system's secrets nor its scripts are used), which requires PAP, CHAP or MS-CHAPv2 as the test
says and hands out addresses and a DNS server over IPCP. The session's rasman in B dials an
entry written as Windows writes a modem entry (``Type=1``, ``MEDIA=rastapi``, ``Port=COM3``,
``Device=Standard 56000 bps Modem``, ``DEVICE=modem``, ``PhoneNumber=555-0100``) plus the one
openras key that names the Linux port, through the Win32-shaped API and the Client.

The entry says ``OpenRasSerialLocal=1`` (pppd's ``local``): a pty has no modem control lines
(no carrier detect to wait for, no DTR to drop), like a null-modem cable; without it pppd would
rely on lines a pty does not have. So the two hang-ups are the emulator's: the client's pppd
closing the port is DTR dropping (the emulator ends the call, the server's line hangs up), and
a server that goes away makes the emulator hang up the client's line (``TIOCVHANGUP``).

What is proven: the modem's answers as RAS codes (BUSY 676, NO DIALTONE 680, NO CARRIER 678,
a modem that answers nothing 692, a wrong password 691), each leaving no pppd and no
interface; a dial that connects (MS-CHAPv2), with IPCP's addresses, DNS and the
authentication protocol in the projection (RASPPP_PROJECTION_INFO too), traffic across, a
rasman killed with SIGKILL whose successor adopts the call, and a hang-up until
RasGetConnectStatus answers 6 with pppd and the interface gone and the server's line hung
up; a server gone mid-call (PAP, CHAP) as a link failure (stopped: 629, killed: 628).
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
from _linkkit import NsRasman, pid_alive
from _vmkit import crash_and_restart, location_file
from modem_emulator import Behaviour, ModemEmulator
from netns import NetnsLab, NsPair, pids_in_netns, require_programs, wait_until

from openras import rasapi
from openras.client import Client
from openras.errors import (
    ERROR_AUTHENTICATION_FAILURE,
    ERROR_DISCONNECTION,
    ERROR_INVALID_HANDLE,
    ERROR_LINE_BUSY,
    ERROR_NO_ANSWER,
    ERROR_NO_DIALTONE,
    ERROR_PORT_OR_DEVICE,
    ERROR_REMOTE_DISCONNECTION,
    ERROR_TAPI_CONFIGURATION,
)
from openras.phonebook import load
from openras.states import RasConnState

pytestmark = pytest.mark.vm

SUBNET = "10.236.44"
SERVER_IP, CLIENT_IP, DNS_IP = f"{SUBNET}.1", f"{SUBNET}.2", f"{SUBNET}.53"
ENTRY = "Dial-up ISP"
NUMBER = "555-0100"
USER, PASSWORD = "alice", "m0dem-Pw"


@dataclass
class Server:
    """The dial-in side: a pppd per answered call, in A, with the test's /etc/ppp."""

    lab: NetnsLab
    ns: str
    tmp: Path
    #: pppd's ``require-...`` for the next call: pap, chap or mschap-v2.
    auth: str = "mschap-v2"
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        etc = self.tmp / "etc-ppp"
        etc.mkdir()
        (etc / "options").write_text("")  # not Debian's (auth, lock, crtscts, modem)
        for name in ("pap-secrets", "chap-secrets"):
            secrets = etc / name
            secrets.write_text(f'"{USER}" * "{PASSWORD}" *\n')
            secrets.chmod(0o600)
        self.etc = etc

    def answer(self, line: str) -> int:
        """Start the server's pppd on ``line`` (the emulator calls this on CONNECT)."""
        log = self.tmp / f"server-{len(self.logs)}.log"
        pppd = [
            "pppd", line, "57600", "nodetach", "local", "auth", f"require-{self.auth}",
            "refuse-eap", "name", "modem-server", f"{SERVER_IP}:{CLIENT_IP}", "ms-dns", DNS_IP,
            "nodefaultroute", "noipv6", "debug", "logfile", str(log),
        ]  # fmt: skip
        script = f"mount --bind {shlex.quote(str(self.etc))} /etc/ppp && exec {shlex.join(pppd)}"
        argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]
        proc = self.lab.spawn(self.ns, argv, log=self.tmp / "server.out")
        self.procs.append(proc)
        self.logs.append(log)
        return proc.pid

    def log(self, index: int = -1) -> str:
        try:
            return self.logs[index].read_text(errors="replace")
        except (OSError, IndexError):
            return "(no server log)"

    def stop(self) -> None:
        for proc in self.procs:
            self.lab.stop(proc, grace=5)


@pytest.fixture(scope="module")
def server(
    lab: NetnsLab, pair: NsPair, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    require_programs("pppd", "chat", "unshare", "ping")
    # The server's pppd runs on a tty too (ppp_async); the client's modules are the driver's.
    subprocess.run(["modprobe", "ppp_generic", "ppp_async"], check=True, timeout=60)
    # Debian's /etc/ppp/options says "lock": the client's pppd locks the port in /var/lock,
    # which the VM's fresh /run lacks (systemd-tmpfiles makes it on a booted Debian).
    Path("/var/lock").resolve().mkdir(parents=True, exist_ok=True)
    srv = Server(lab, pair.a, tmp_path_factory.mktemp("modem-server"))
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def modem(server: Server) -> Iterator[ModemEmulator]:
    emulator = ModemEmulator(NUMBER, answer=server.answer).start()
    try:
        yield emulator
    finally:
        emulator.close()


@pytest.fixture(scope="module")
def pbk(modem: ModemEmulator, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The entry as Windows writes it (trimmed), plus the Linux port and a dial deadline that
    fits TCG."""
    path = tmp_path_factory.mktemp("modem-pbk") / "rasphone.pbk"
    path.write_text(
        f"[{ENTRY}]\nEncoding=1\nPBVersion=4\nType=1\nAutoLogon=0\nUseRasCredentials=1\n"
        "VpnStrategy=0\nDataEncryption=256\nRedialAttempts=3\nRedialSeconds=60\n"
        "IdleDisconnectSeconds=0\nRedialOnLinkFailure=0\nPreferredPort=COM3\n"
        "PreferredDevice=Standard 56000 bps Modem\nAuthRestrictions=632\n"
        "IpPrioritizeRemote=0\nIpAssign=1\nIpNameAssign=1\n"
        f"OpenRasSerialPort={modem.port}\nOpenRasSerialLocal=1\nOpenRasDialTimeoutMs=60000\n\n"
        "NETCOMPONENTS=\nms_msclient=1\nms_server=1\n\n"
        "MEDIA=rastapi\nPort=COM3\nDevice=Standard 56000 bps Modem\n\n"
        f"DEVICE=modem\nPhoneNumber={NUMBER}\nAreaCode=\nCountryCode=0\nCountryID=0\n"
        "UseDialingRules=0\nTryNextAlternateOnFail=1\n",
        encoding="utf-8",
    )
    return path


def live_pids(ns: str) -> set[int]:
    return {p for p in pids_in_netns(ns) if pid_alive(p)}


def orppp_links(lab: NetnsLab, ns: str) -> list[str]:
    return [name for name in lab.links(ns) if name.startswith("orppp")]


def wait_gone(h: int, timeout: float) -> float:
    """Seconds until RasGetConnectStatus answers 6 for ``h`` (fails after ``timeout``)."""
    t0 = time.monotonic()
    while (code := rasapi.RasGetConnectStatus(h)[0]) != ERROR_INVALID_HANDLE:
        assert code == 0, code
        assert time.monotonic() - t0 < timeout, "status never answered 6"
        time.sleep(0.05)
    return time.monotonic() - t0


def dial(pbk: Path, password: str = PASSWORD) -> tuple[int, int, float]:
    """RasDial (synchronous): (code, handle, seconds)."""
    t0 = time.monotonic()
    params = rasapi.RASDIALPARAMS(szEntryName=ENTRY, szUserName=USER, szPassword=password)
    code, h = rasapi.RasDial(None, str(pbk), params)
    return code, h, time.monotonic() - t0


def nothing_left(lab: NetnsLab, pair: NsPair, rasman: NsRasman, h: int) -> None:
    """The promise behind 6, checked as soon as status answered it: no pppd or chat in B (only
    rasman), no interface, no run files."""
    assert rasman.proc is not None
    assert live_pids(pair.b) == {rasman.proc.pid}
    assert orppp_links(lab, pair.b) == []
    run_dir = rasman.state_dir / "links" / f"link-{h}"
    assert not run_dir.exists() or list(run_dir.iterdir()) == []


def failed_dial_ends(lab: NetnsLab, pair: NsPair, rasman: NsRasman, h: int) -> None:
    """A dial that failed once started returns its handle, to be hung up as on Windows; then
    6, and nothing of it is left."""
    assert h, "a failed dial returns its handle"
    assert rasapi.RasHangUp(h) == 0
    wait_gone(h, 30)
    nothing_left(lab, pair, rasman, h)


def client_pppd(pair: NsPair, rasman: NsRasman) -> psutil.Process:
    """The link's pppd: B's only process besides rasman (once a short-lived script of
    pppd's, the ip-up one, has ended)."""
    assert rasman.proc is not None
    rasman_pid = rasman.proc.pid

    def others() -> list[int]:
        return [p for p in live_pids(pair.b) if p != rasman_pid]

    if not wait_until(lambda: len(others()) == 1, 10):
        seen = {}
        for pid in others():
            try:
                seen[pid] = psutil.Process(pid).cmdline()
            except psutil.Error:
                continue
        raise AssertionError(f"B runs more than rasman and pppd: {seen}")
    proc = psutil.Process(others()[0])
    assert proc.cmdline()[0].endswith("pppd"), proc.cmdline()
    return proc


def test_the_modems_answers_are_ras_codes_and_leave_nothing(
    lab: NetnsLab,
    pair: NsPair,
    rasman: NsRasman,
    api: None,
    modem: ModemEmulator,
    server: Server,
    pbk: Path,
) -> None:
    """BUSY 676, NO DIALTONE 680, NO CARRIER 678, a silent modem 692, a wrong password 691."""
    timings = []
    for behaviour, want in (
        (Behaviour.BUSY, ERROR_LINE_BUSY),
        (Behaviour.NO_DIALTONE, ERROR_NO_DIALTONE),
        (Behaviour.NO_CARRIER, ERROR_NO_ANSWER),
        (Behaviour.SILENT, ERROR_PORT_OR_DEVICE),
    ):
        modem.behaviour = behaviour
        dialed_before = len(modem.dialed)
        code, h, seconds = dial(pbk)
        timings.append(f"{behaviour.value} {code} in {seconds:.1f} s")
        assert code == want, f"{behaviour}: {code} {rasapi.RasGetErrorString(code)}"
        failed_dial_ends(lab, pair, rasman, h)
        # The number dialed is the entry's, as dial characters (a silent modem got no ATD).
        dialed = modem.dialed[dialed_before:]
        assert dialed == ([] if behaviour is Behaviour.SILENT else ["5550100"])
    assert not server.procs, "no call was answered"

    # Answered, then a wrong password: 691 from pppd's log, whatever its exit status said.
    modem.behaviour = Behaviour.ANSWER
    server.auth = "pap"
    code, h, seconds = dial(pbk, password="wrong")
    timings.append(f"wrong password {code} in {seconds:.1f} s")
    assert code == ERROR_AUTHENTICATION_FAILURE, f"{code}; server: {server.log()[-1500:]}"
    failed_dial_ends(lab, pair, rasman, h)
    assert len(modem.calls) == 1
    assert wait_until(lambda: not modem.in_call, 20), "the modem kept the call"
    assert wait_until(lambda: server.procs[-1].poll() is not None, 20), "server outlived it"
    assert "authentication failed" in server.log() or "Peer alice failed" in server.log()
    assert modem.errors == []
    print("\nmodem refusals: " + ", ".join(timings))


def test_try_next_alternate_on_fail_dials_the_alternate_number(
    lab: NetnsLab,
    pair: NsPair,
    rasman: NsRasman,
    api: None,
    modem: ModemEmulator,
    server: Server,
    pbk: Path,
    tmp_path: Path,
) -> None:
    """The entry's number rings out (NO CARRIER, 678); TryNextAlternateOnFail=1 dials its
    alternate (a second DEVICE block, as Windows writes one), which answers: one handle,
    Connected, the number that answered and the one that failed in the projection; with
    PromoteAlternates=1 the number that answered is the entry's number from then on."""
    modem.behaviour = Behaviour.ANSWER
    server.auth = "pap"
    text = pbk.read_text(encoding="utf-8").replace(f"PhoneNumber={NUMBER}", "PhoneNumber=555-0000")
    text = text.replace(
        "TryNextAlternateOnFail=1\n", "PromoteAlternates=1\nTryNextAlternateOnFail=1\n"
    )
    alternate = (
        f"\nDEVICE=modem\nPhoneNumber={NUMBER}\nAreaCode=\nCountryCode=0\nCountryID=0\n"
        "UseDialingRules=0\nTryNextAlternateOnFail=1\n"
    )
    book = tmp_path / "alternates.pbk"
    book.write_text(text + alternate, encoding="utf-8")
    dialed_before = len(modem.dialed)
    code, h, seconds = dial(book)
    assert code == 0, f"{rasapi.RasGetErrorString(code)}; server: {server.log()[-1500:]}"
    try:
        assert modem.dialed[dialed_before:] == ["5550000", "5550100"]
        with Client(rasman.socket, autostart=False, timeout=60) as ras:
            proj = ras.projection(h)
            assert ras.status(h).state is RasConnState.Connected
        assert proj.extra["dialed_number"] == NUMBER, proj.extra
        assert proj.extra["numbers_failed_before"].startswith(f"555-0000 {ERROR_NO_ANSWER}")
        # RASCONNSTATUS: the number that answered, as the modem dialed it
        code, status = rasapi.RasGetConnectStatus(h)
        assert code == 0 and status is not None and status.szPhoneNumber == "5550100", status
        promoted = load(book)[ENTRY]  # RasDial promoted the alternate in the user's book
        assert (promoted.phone_number, promoted.alternates) == (NUMBER, ["555-0000"])
        assert lab.ping(pair.b, SERVER_IP, count=2, wait=5)
    finally:  # the port is free for the next test whatever failed
        assert rasapi.RasHangUp(h) == 0
        wait_gone(h, 30)
    nothing_left(lab, pair, rasman, h)
    print(f"\nalternate number: connected in {seconds:.1f} s")


def test_auth_restrictions_keep_the_password_off_protocols_the_entry_forbids(
    lab: NetnsLab,
    pair: NsPair,
    rasman: NsRasman,
    api: None,
    modem: ModemEmulator,
    server: Server,
    pbk: Path,
    tmp_path: Path,
) -> None:
    """The entry allows MS-CHAPv2 only (AuthRestrictions=512, "require encrypted password")
    and the server asks for PAP, which would send the password in clear: pppd refuses it, the
    dial fails with 691 (Windows' text: "...or the selected authentication protocol is not
    permitted"), and the server never saw the password. With CHAP allowed too (544) a CHAP
    server connects by CHAP."""
    modem.behaviour = Behaviour.ANSWER
    server.auth = "pap"
    text = pbk.read_text(encoding="utf-8")
    strict = tmp_path / "strict.pbk"
    strict.write_text(text.replace("AuthRestrictions=632", "AuthRestrictions=512"), "utf-8")
    calls_before = len(server.logs)
    code, h, _ = dial(strict)
    assert code == ERROR_AUTHENTICATION_FAILURE, f"{code}; server: {server.log()[-1500:]}"
    failed_dial_ends(lab, pair, rasman, h)
    assert len(server.logs) == calls_before + 1, "the call was answered"
    seen = server.log()  # this call's server log
    assert "rcvd [PAP AuthReq" not in seen and PASSWORD not in seen, seen[-1500:]
    assert wait_until(lambda: not modem.in_call, 20), "the modem kept the call"

    server.auth = "chap"
    chap = tmp_path / "chap.pbk"
    chap.write_text(text.replace("AuthRestrictions=632", "AuthRestrictions=544"), "utf-8")
    code, h, _ = dial(chap)
    try:
        assert code == 0, f"{rasapi.RasGetErrorString(code)}; server: {server.log()[-1500:]}"
        with Client(rasman.socket, autostart=False, timeout=60) as ras:
            assert ras.projection(h).extra["auth_protocol"] == "CHAP"
    finally:
        assert rasapi.RasHangUp(h) == 0
        wait_gone(h, 30)
    nothing_left(lab, pair, rasman, h)


def test_dialing_rules_dial_the_number_as_the_location_says(
    lab: NetnsLab,
    pair: NsPair,
    rasman: NsRasman,
    api: None,
    modem: ModemEmulator,
    server: Server,
    pbk: Path,
    tmp_path: Path,
) -> None:
    """A Windows entry with UseDialingRules=1 keeps its number as country code, area code
    and number. With no location on the machine the dial is refused at once (740, saying
    what to write); with one (Seattle, behind a PBX: 8 for an outside line, *70 to disable
    call waiting), a number in area 425 is a long-distance call: the modem must be sent
    *70,8,1 425 5550100, and only that number answers. RASCONNSTATUS shows it as dialed."""
    modem.behaviour = Behaviour.ANSWER
    server.auth = "pap"
    text = pbk.read_text(encoding="utf-8")
    text = text.replace("AreaCode=\nCountryCode=0\n", "AreaCode=425\nCountryCode=1\n")
    text = text.replace("UseDialingRules=0", "UseDialingRules=1")
    assert "UseDialingRules=1" in text and "AreaCode=425" in text
    book = tmp_path / "rules.pbk"
    book.write_text(text, encoding="utf-8")
    location = location_file(rasman)
    location.unlink(missing_ok=True)
    dialed_before = len(modem.dialed)
    code, h, _ = dial(book)
    assert code == ERROR_TAPI_CONFIGURATION, rasapi.RasGetErrorString(code)
    assert modem.dialed[dialed_before:] == []  # nothing was dialed
    if h:
        assert rasapi.RasHangUp(h) == 0
        wait_gone(h, 30)
    expected = "*70,8,14255550100"
    location.write_text(
        "[location]\ncountry-code = 1\narea-code = 206\nlocal-access = 9,\n"
        "long-distance-access = 8,\ndisable-call-waiting = *70,\n",
        encoding="utf-8",
    )
    modem.number = expected  # the emulated line answers only what a right dial sends
    try:
        code, h, seconds = dial(book)
        assert code == 0, f"{rasapi.RasGetErrorString(code)}; server: {server.log()[-1500:]}"
        try:
            assert modem.dialed[-1] == expected, modem.dialed
            code, status = rasapi.RasGetConnectStatus(h)
            assert code == 0 and status is not None, code
            assert status.szPhoneNumber == expected, status
            assert lab.ping(pair.b, SERVER_IP, count=2, wait=5)
        finally:
            assert rasapi.RasHangUp(h) == 0
            wait_gone(h, 30)
        nothing_left(lab, pair, rasman, h)
    finally:
        modem.number = NUMBER
        location.unlink(missing_ok=True)
    print(f"\ndialing rules: connected in {seconds:.1f} s")


def test_modem_entry_dials_survives_a_rasman_sigkill_and_hangs_up(
    lab: NetnsLab,
    pair: NsPair,
    rasman: NsRasman,
    api: None,
    modem: ModemEmulator,
    server: Server,
    pbk: Path,
) -> None:
    modem.behaviour = Behaviour.ANSWER
    server.auth = "mschap-v2"
    calls_before = len(modem.calls)
    resolv_before = Path("/etc/resolv.conf").read_bytes()
    code, h, dial_s = dial(pbk)
    assert code == 0, f"{rasapi.RasGetErrorString(code)}; server: {server.log()[-1500:]}"
    code, status = rasapi.RasGetConnectStatus(h)
    assert code == 0 and status is not None
    assert status.rasconnstate == RasConnState.Connected
    assert modem.dialed[-1] == "5550100" and len(modem.calls) == calls_before + 1

    with Client(rasman.socket, autostart=False, timeout=60) as ras:
        proj = ras.projection(h)
    assert proj.interface.startswith("orppp") and proj.interface in lab.links(pair.b)
    assert proj.local_address == CLIENT_IP and proj.remote_address == SERVER_IP
    assert DNS_IP in proj.dns
    assert proj.extra["auth_protocol"] == "MS-CHAPv2", proj.extra
    assert proj.extra["kind"] == "modem" and proj.extra["device"] == modem.port, proj.extra
    assert CLIENT_IP in lab.addresses(pair.b, proj.interface)
    # Windows' shape for a PPP link: RASPPP_PROJECTION_INFO, MS-CHAPv2 as LCP's CHAP 0x81.
    code, info = rasapi.RasGetProjectionInfoEx(h)
    assert code == 0 and info is not None and info.ppp is not None, info
    assert (info.type, info.ikev2) == (rasapi.PROJECTION_INFO_TYPE_PPP, None)
    assert (info.ppp.ipv4Address, info.ppp.ipv4ServerAddress) == (CLIENT_IP, SERVER_IP)
    assert info.ppp.dwAuthenticationProtocol == rasapi.RASLCPAP_CHAP
    assert info.ppp.dwAuthenticationData == rasapi.RASLCPAD_CHAP_MSV2

    pppd = client_pppd(pair, rasman)
    argv = pppd.cmdline()
    assert argv[0].endswith("pppd") and PASSWORD not in " ".join(argv)
    assert modem.port in argv and "local" in argv and "connect" in argv
    assert argv[argv.index("user") + 1] == USER

    assert lab.ping(pair.b, SERVER_IP, count=3, wait=5)
    code, stats = rasapi.RasGetConnectionStatistics(h)
    assert code == 0 and stats is not None
    assert stats.dwBytesRcved > 0 and stats.dwBytesXmited > 0

    # rasman killed mid-call: pppd (its own session) goes on, the call too; the next rasman
    # adopts it from its record: same handle, same pppd, the facts re-read from pppd's log.
    restart_s = crash_and_restart(lab, pair, rasman)
    assert pid_alive(pppd.pid) and modem.in_call and len(modem.calls) == calls_before + 1
    code, status = rasapi.RasGetConnectStatus(h)
    assert code == 0 and status is not None
    assert status.rasconnstate == RasConnState.Connected
    with Client(rasman.socket, autostart=False, timeout=60) as ras:
        adopted = ras.projection(h)
    assert (adopted.interface, adopted.local_address) == (proj.interface, CLIENT_IP)
    assert adopted.extra["auth_protocol"] == "MS-CHAPv2" and DNS_IP in adopted.dns
    assert client_pppd(pair, rasman).pid == pppd.pid
    assert lab.ping(pair.b, SERVER_IP, count=1, wait=5)
    code, stats = rasapi.RasGetConnectionStatistics(h)
    assert code == 0 and stats is not None and stats.dwBytesRcved > 0

    t1 = time.monotonic()
    assert rasapi.RasHangUp(h) == 0
    hangup_s = wait_gone(h, 60)
    assert not pid_alive(pppd.pid)
    nothing_left(lab, pair, rasman, h)
    assert Path("/etc/resolv.conf").read_bytes() == resolv_before
    # The client closed the port (DTR dropped): the modem ended the call and the server's
    # pppd, its line hung up, ended by itself.
    call = modem.calls[-1]
    assert wait_until(lambda: not modem.in_call, 20)
    assert call.ended_by == "caller"
    server_proc = server.procs[-1]
    assert wait_until(lambda: server_proc.poll() is not None, 30), "server's pppd stayed"
    log = server.log()
    assert "LCP terminated by peer" in log or "Modem hangup" in log, log[-1500:]
    assert modem.errors == []
    print(
        f"\nmodem via rasman: dial {dial_s:.2f} s, rasman restart and adoption "
        f"{restart_s:.1f} s, hang-up until 6 {hangup_s:.2f} s "
        f"({time.monotonic() - t1:.2f} s to the server's end)"
    )


def test_server_gone_mid_call_is_a_link_failure(
    lab: NetnsLab,
    pair: NsPair,
    rasman: NsRasman,
    api: None,
    modem: ModemEmulator,
    server: Server,
    pbk: Path,
) -> None:
    """A server stopped (SIGTERM: it terminates LCP) is the remote side closing the call,
    629; a server killed (SIGKILL: the line just drops, the modem hangs up) is 628."""
    modem.behaviour = Behaviour.ANSWER
    timings = []
    for auth, name, sig, want in (
        ("pap", "PAP", signal.SIGTERM, ERROR_REMOTE_DISCONNECTION),
        ("chap", "CHAP", signal.SIGKILL, ERROR_DISCONNECTION),
    ):
        server.auth = auth
        code, h, _ = dial(pbk)
        assert code == 0, f"{rasapi.RasGetErrorString(code)}; server: {server.log()[-1500:]}"
        with Client(rasman.socket, autostart=False, timeout=60) as ras:
            assert ras.projection(h).extra["auth_protocol"] == name
        assert lab.ping(pair.b, SERVER_IP, count=1, wait=5)

        os.kill(server.procs[-1].pid, sig)
        gone_s = wait_gone(h, 60)
        nothing_left(lab, pair, rasman, h)
        assert wait_until(lambda: not modem.in_call, 20)
        if sig == signal.SIGKILL:  # the line dropped at the server's end, not the client's
            assert modem.calls[-1].ended_by == "server"
        with Client(rasman.socket, autostart=False, timeout=60) as ras:
            [rec] = [d for d in ras.history() if d.handle == h]
        assert rec.error == want, rec
        assert rec.connected_at is not None and not rec.redialing
        timings.append(f"{sig.name}: {rec.error} ({rec.detail}) in {gone_s:.2f} s")
    assert modem.errors == []
    print("\nserver gone mid-call: " + "; ".join(timings))
