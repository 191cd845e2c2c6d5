"""The test SSTP server against a real sstp-client, on the host (no kernel PPP needed).

``sstpc --nolaunchpppd`` is what pppd runs as its ``pty``: it reads and writes async HDLC
on its standard input (it writes to fd 0 too, so stdin and stdout must be one socket, as a
pty is). Here that socket's other end is the test, playing pppd: an LCP Configure-Request
written in must come out of the server's PPP side, and the server's answer back out of
sstpc. A server certificate from another CA makes sstpc stop before the SSTP call (its
exit status and log are what the ppp driver maps to a RAS code).

Measured with sstp-client 1.0.18: given ``--ca-cert`` (or its default system CA directory)
sstpc checks the chain only, not that the certificate names the server; the last test keeps
that fact visible.
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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from netns import require_programs, wait_until

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "vm" / "guest"))

import sstp_server as sstp

pytestmark = pytest.mark.root

#: An LCP Configure-Request (MRU 1500, a magic number, PFC, ACFC) and its Configure-Ack.
LCP_REQUEST = bytes.fromhex("ff03c02101010012010405dc05061234567807020802")
LCP_ACK = bytes.fromhex("ff03c02102010012010405dc05061234567807020802")
WAIT_S = 10.0


@dataclass(frozen=True)
class Pki:
    ca: Path
    other_ca: Path
    cert: Path
    key: Path
    wrong_name_cert: Path
    wrong_name_key: Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def _issue(tmp: Path, name: str, cn: str, san: str, ca: Path, ca_key: Path) -> None:
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp / f"{name}.key"),
        "-out", str(tmp / f"{name}.csr"), "-subj", f"/CN={cn}",
    )  # fmt: skip
    (tmp / f"{name}.ext").write_text(f"subjectAltName={san}\n")
    _openssl(
        "x509", "-req", "-in", str(tmp / f"{name}.csr"), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", str(tmp / f"{name}.pem"), "-days", "2",
        "-extfile", str(tmp / f"{name}.ext"),
    )  # fmt: skip


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A test CA with a server certificate for 127.0.0.1, another for a different name,
    and an unrelated CA."""
    require_programs("openssl", "sstpc")
    tmp = tmp_path_factory.mktemp("sstp-pki")
    for ca in ("ca", "other"):
        _openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp / f"{ca}.key"),
            "-out", str(tmp / f"{ca}.pem"), "-days", "2", "-subj", f"/CN=openras test {ca}",
        )  # fmt: skip
    _issue(tmp, "server", "127.0.0.1", "IP:127.0.0.1", tmp / "ca.pem", tmp / "ca.key")
    _issue(tmp, "wrong", "wrong.example", "DNS:wrong.example", tmp / "ca.pem", tmp / "ca.key")
    return Pki(
        tmp / "ca.pem", tmp / "other.pem", tmp / "server.pem", tmp / "server.key",
        tmp / "wrong.pem", tmp / "wrong.key",
    )  # fmt: skip


@dataclass
class Rig:
    server: sstp.SstpServer
    #: The test's end of sstpc's stdin/stdout (pppd's side of the pty).
    client_ppp: socket.socket
    #: The test's end of the server's PPP peer.
    server_ppp: socket.socket
    proc: subprocess.Popen[bytes]
    stderr: Path


#: sstp-client 1.0.18 sometimes stalls once it has sent its HTTP request: it never polls
#: the socket again, so it neither reads the reply nor makes the SSTP call (measured on this
#: machine, 2026-12-04: a third to a half of the runs against a server on loopback, every
#: run under strace; fewer over TLS 1.2, which the test server now speaks). Its bug, not
#: what these tests look at: a run that stalls there is started again, a bounded number of
#: times, and each test checks the run that got past it.
STALL_S = 3.0
ATTEMPTS = 5


@contextlib.contextmanager
def _rig(tmp_path: Path, cert: Path, key: Path, ca: Path) -> Iterator[Rig]:
    if os.geteuid() != 0:
        pytest.skip("sstpc makes its socket in /var/run/sstpc: needs root")
    for attempt in range(ATTEMPTS):
        with _one_rig(tmp_path, cert, key, ca, attempt) as rig:
            if not _stalled(rig):
                yield rig
                return
    pytest.fail(f"sstpc stalled after its HTTP request in all {ATTEMPTS} runs")


def _stalled(rig: Rig) -> bool:
    """Whether sstpc is in its stall: past its HTTP request, and in ``STALL_S`` it neither
    made the SSTP call, nor closed the connection, nor exited."""

    def moved() -> bool:
        sessions = rig.server.sessions
        done = bool(sessions) and (sessions[0].connect_request or bool(sessions[0].events))
        return done or rig.proc.poll() is not None

    return not wait_until(moved, STALL_S)


@contextlib.contextmanager
def _one_rig(tmp_path: Path, cert: Path, key: Path, ca: Path, attempt: int) -> Iterator[Rig]:
    client_ppp, sstpc_end = socket.socketpair()
    server_ppp, peer_end = socket.socketpair()
    peer = sstp.PppPeer(peer_end.fileno(), peer_end.fileno())
    server = sstp.SstpServer(str(cert), str(key), ("127.0.0.1", 0), lambda: peer).start()
    stderr = tmp_path / f"sstpc-{attempt}.err"
    ipparam = f"openras-test-{os.getpid()}-{attempt}-{tmp_path.name}"[:40]
    argv = [
        "sstpc", "--nolaunchpppd", "--ipparam", ipparam, "--log-stderr", "--log-level", "2",
        "--ca-cert", str(ca), f"127.0.0.1:{server.address[1]}",
    ]  # fmt: skip
    with stderr.open("wb") as err:
        proc = subprocess.Popen(
            argv, stdin=sstpc_end.fileno(), stdout=sstpc_end.fileno(), stderr=err
        )
    sstpc_end.close()
    try:
        yield Rig(server, client_ppp, server_ppp, proc, stderr)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        server.close()
        for sock in (client_ppp, server_ppp, peer_end):
            sock.close()
        Path(f"/var/run/sstpc/sstpc-{ipparam}").unlink(missing_ok=True)


@pytest.fixture
def rig(tmp_path: Path, pki: Pki) -> Iterator[Rig]:
    with _rig(tmp_path, pki.cert, pki.key, pki.ca) as made:
        yield made


def _frames(sock: socket.socket, decoder: sstp.HdlcDecoder, timeout: float) -> list[bytes]:
    """Frames arriving on ``sock`` until one does or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        if not select.select([sock], [], [], left)[0]:
            break
        data = sock.recv(65536)
        if not data:
            break
        if frames := decoder.feed(data):
            return frames
    return []


def _lcp_through(rig: Rig) -> list[bytes]:
    """The LCP request written into sstpc, again every half second as pppd retransmits it
    (sstpc drops what comes before its SSTP call is up), until the server's PPP side has
    frames or the wait ends; those frames."""
    decoder = sstp.HdlcDecoder()
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        rig.client_ppp.sendall(sstp.hdlc_encode(LCP_REQUEST))
        if frames := _frames(rig.server_ppp, decoder, 0.5):
            return frames
    return []


def test_hdlc_round_trip_and_fcs() -> None:
    """The codec against RFC 1662's check value and escapes: what pppd would accept."""
    encoded = sstp.hdlc_encode(LCP_REQUEST)
    assert encoded[0] == encoded[-1] == sstp.FLAG
    assert b"\x7d\x23" in encoded  # 0x03 (below 0x20) is escaped under the default ACCM
    fcs = sstp.fcs16(LCP_REQUEST) ^ 0xFFFF
    assert sstp.fcs16(LCP_REQUEST + fcs.to_bytes(2, "little")) == 0xF0B8  # RFC 1662's good FCS
    decoder = sstp.HdlcDecoder()
    assert decoder.feed(encoded[:7]) == []
    assert decoder.feed(encoded[7:] + sstp.hdlc_encode(b"\x7e\x7d" * 3)) == [
        LCP_REQUEST,
        b"\x7e\x7d" * 3,
    ]
    corrupt = bytearray(encoded)
    corrupt[5] ^= 0x01
    assert decoder.feed(bytes(corrupt)) == []
    assert decoder.bad == 1


def test_http_reply_only_for_the_sstp_path() -> None:
    ok, reply = sstp.http_reply(f"SSTP_DUPLEX_POST {sstp.SSTP_PATH} HTTP/1.1\r\nHost: x".encode())
    assert ok
    assert reply.startswith(b"HTTP/1.1 200\r\n")
    assert b"Content-Length: 18446744073709551615\r\n" in reply
    ok, reply = sstp.http_reply(b"GET / HTTP/1.1")
    assert not ok
    assert reply.startswith(b"HTTP/1.1 404")


def test_sstp_packets_parse_back() -> None:
    nonce = bytes(range(32))
    ack = sstp.control_packet(
        sstp.MSG_CONNECT_ACK, [(sstp.ATTR_CRYPTO_BINDING_REQ, sstp.crypto_binding_request(nonce))]
    )
    assert len(ack) == 48  # what sstpc logged receiving: RECV SSTP CRTL PKT(48)
    packet = sstp.parse_packet(ack)
    assert packet.control
    assert packet.msg == sstp.MSG_CONNECT_ACK
    assert packet.attrs[sstp.ATTR_CRYPTO_BINDING_REQ][4:] == nonce
    reader = sstp.PacketReader()
    stream = sstp.data_packet(LCP_REQUEST) + ack
    assert reader.feed(stream[:5]) == []
    packets = [sstp.parse_packet(p) for p in reader.feed(stream[5:])]
    assert [p.msg for p in packets] == [0, sstp.MSG_CONNECT_ACK]
    assert packets[0].body == LCP_REQUEST
    with pytest.raises(ValueError, match="length"):
        sstp.parse_packet(ack[:-1])


def test_lcp_crosses_both_ways(rig: Rig) -> None:
    """pppd's bytes into sstpc come out of the server's PPP side, and back."""
    at_server = _lcp_through(rig)
    assert at_server[:1] == [LCP_REQUEST], rig.stderr.read_text(errors="replace")
    rig.server_ppp.sendall(sstp.hdlc_encode(LCP_ACK))
    assert _frames(rig.client_ppp, sstp.HdlcDecoder(), WAIT_S)[:1] == [LCP_ACK]
    session = rig.server.sessions[0]
    assert session.http_ok
    assert session.connect_request
    # No sstp-pppd-plugin here to hand sstpc the keys: it never sends Call Connected.
    assert not session.connected
    assert rig.proc.poll() is None
    rig.proc.send_signal(signal.SIGTERM)
    assert rig.proc.wait(WAIT_S) == 0
    assert "Terminating on Terminated" in rig.stderr.read_text(errors="replace")


def test_other_ca_stops_sstpc(tmp_path: Path, pki: Pki) -> None:
    """A server certificate the CA file does not vouch for: sstpc never makes the SSTP call
    and closes the connection. Measured with sstp-client 1.0.18 (2026-12-04): it sends its
    HTTP request before it checks the certificate, then either exits -2 (254) naming
    OpenSSL's reason or (more than half the runs here) closes the connection and hangs
    without a word, never exiting. The daemon checks the certificate before sstpc starts
    (801), and a dial that hangs is ended at its deadline; this test pins sstpc's side."""
    with _rig(tmp_path, pki.cert, pki.key, pki.other_ca) as rig:
        assert wait_until(lambda: rig.server.sessions, WAIT_S)
        session = rig.server.sessions[0]
        assert wait_until(lambda: "client closed" in session.events, WAIT_S), session
        assert not session.connect_request and not session.connected
        if wait_until(lambda: rig.proc.poll() is not None, 2):
            assert rig.proc.returncode == 254
            log = rig.stderr.read_text(errors="replace")
            assert "Verification of server certificate failed" in log
            assert "unable to get local issuer certificate" in log


def test_sstpc_does_not_check_the_name(tmp_path: Path, pki: Pki) -> None:
    """Measured: a certificate from the trusted CA for another name passes sstpc's check
    (it verifies the chain only once a CA is given). The driver must not rely on sstpc for
    the server's identity beyond the CA."""
    with _rig(tmp_path, pki.wrong_name_cert, pki.wrong_name_key, pki.ca) as rig:
        assert _lcp_through(rig)[:1] == [LCP_REQUEST]
        assert rig.proc.poll() is None


def test_the_daemon_checks_the_chain_and_the_name_before_sstpc(pki: Pki) -> None:
    """What sstpc leaves out, the driver does before starting it: the certificate must chain
    to the CA and name the server (its subjectAltName, an IP address here), else 801 saying
    which; the right certificate passes; nobody answering is 809 and a name that does not
    resolve 868, before sstpc would try."""
    from openras.errors import ERROR_VALIDATING_SERVER_CERT, RasError
    from openras.links.ppp.sstp_check import check_server_certificate

    def serve(cert: Path, key: Path) -> sstp.SstpServer:
        return sstp.SstpServer(str(cert), str(key), ("127.0.0.1", 0), lambda: None).start()  # type: ignore[arg-type,return-value]

    good = serve(pki.cert, pki.key)
    wrong_name = serve(pki.wrong_name_cert, pki.wrong_name_key)
    try:
        check_server_certificate(f"127.0.0.1:{good.address[1]}", str(pki.ca), WAIT_S)
        with pytest.raises(RasError) as exc:
            check_server_certificate(f"127.0.0.1:{wrong_name.address[1]}", str(pki.ca), WAIT_S)
        assert exc.value.code == ERROR_VALIDATING_SERVER_CERT
        assert "IP address mismatch" in str(exc.value), exc.value
        with pytest.raises(RasError) as exc:
            check_server_certificate(f"127.0.0.1:{good.address[1]}", str(pki.other_ca), WAIT_S)
        assert exc.value.code == ERROR_VALIDATING_SERVER_CERT
        assert "unable to get local issuer certificate" in str(exc.value), exc.value
    finally:
        good.close()
        wrong_name.close()
    with socket.socket() as unused:  # a port nobody listens on: 809 at once
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(RasError) as exc:
        check_server_certificate(f"127.0.0.1:{port}", str(pki.ca), WAIT_S)
    assert exc.value.code == 809 and "refused" in str(exc.value), exc.value
    with pytest.raises(RasError) as exc:
        check_server_certificate("sstp.invalid", str(pki.ca), WAIT_S)
    assert exc.value.code == 868, exc.value
