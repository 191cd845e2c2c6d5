"""A small SSTP server for tests: TLS, sstp-client's HTTP handshake, SSTP's control
messages, and PPP frames relayed to a PPP peer (a pppd it spawns on a pty, or any file
descriptor pair speaking async HDLC).

No SSTP server is packaged for Debian 12, and the driver must be tested against the bytes
a real server sends (MS-SSTP 2.2): the HTTP reply sstp-client checks (``200`` and the
all-ones ``Content-Length``), Call Connect Ack with a Crypto Binding Request attribute
(hash bitmask, 32-byte nonce: sstp-client refuses any other length), Echo, Disconnect and
Abort. The Call Connected the client sends (only after pppd's ``sstp-pppd-plugin.so`` gave
it the MPPE keys, or zeroes without MPPE) is checked for the nonce and the hash of this
server's certificate; its Compound MAC is not (that needs the MS-CHAPv2 keys of the server's
pppd), which is recorded in :attr:`Session.connected`.

Pure standard library (``ssl``, threads), so the VM guest and host tests can run it as
``python sstp_server.py --cert C --key K --listen ADDR:PORT --pppd-arg ...``; it serves
connections one after the other, each with a fresh pppd.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import pty
import secrets
import select
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import tty
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

# -- async HDLC (RFC 1662) -----------------------------------------------------------------

FLAG: Final = 0x7E
ESCAPE: Final = 0x7D
_INIT_FCS: Final = 0xFFFF
_GOOD_FCS: Final = 0xF0B8


def _fcs_table() -> list[int]:
    table = []
    for byte in range(256):
        value = byte
        for _ in range(8):
            value = (value >> 1) ^ 0x8408 if value & 1 else value >> 1
        table.append(value)
    return table


_FCS_TABLE: Final = _fcs_table()


def fcs16(data: bytes, fcs: int = _INIT_FCS) -> int:
    """RFC 1662's FCS-16 over ``data`` (not complemented)."""
    for byte in data:
        fcs = (fcs >> 8) ^ _FCS_TABLE[(fcs ^ byte) & 0xFF]
    return fcs


def hdlc_encode(frame: bytes) -> bytes:
    """One PPP frame as async HDLC: flags, the complemented FCS (LSB first), every byte
    below 0x20 escaped too (the default ACCM: what pppd expects before LCP says otherwise)."""
    fcs = fcs16(frame) ^ 0xFFFF
    out = bytearray([FLAG])
    for byte in frame + struct.pack("<H", fcs):
        if byte < 0x20 or byte in (FLAG, ESCAPE):
            out += bytes([ESCAPE, byte ^ 0x20])
        else:
            out.append(byte)
    out.append(FLAG)
    return bytes(out)


class HdlcDecoder:
    """Async HDLC bytes in, PPP frames out (FCS checked and removed; bad frames dropped
    and counted, as pppd drops them)."""

    def __init__(self) -> None:
        self._frame = bytearray()
        self._escaped = False
        self.bad = 0

    def feed(self, data: bytes) -> list[bytes]:
        frames = []
        for byte in data:
            if byte == FLAG:
                if self._frame and not self._escaped:
                    raw = bytes(self._frame)
                    if len(raw) >= 4 and fcs16(raw) == _GOOD_FCS:
                        frames.append(raw[:-2])
                    else:
                        self.bad += 1
                self._frame.clear()
                self._escaped = False
            elif byte == ESCAPE:
                self._escaped = True
            else:
                self._frame.append(byte ^ 0x20 if self._escaped else byte)
                self._escaped = False
        return frames


# -- SSTP packets (MS-SSTP 2.2) -------------------------------------------------------------

VERSION: Final = 0x10
MSG_CONNECT_REQ: Final = 0x0001
MSG_CONNECT_ACK: Final = 0x0002
MSG_CONNECT_NAK: Final = 0x0003
MSG_CONNECTED: Final = 0x0004
MSG_ABORT: Final = 0x0005
MSG_DISCONNECT: Final = 0x0006
MSG_DISCONNECT_ACK: Final = 0x0007
MSG_ECHO_REQUEST: Final = 0x0008
MSG_ECHO_RESPONSE: Final = 0x0009
ATTR_ENCAP_PROTO: Final = 0x01
ATTR_STATUS_INFO: Final = 0x02
ATTR_CRYPTO_BINDING: Final = 0x03
ATTR_CRYPTO_BINDING_REQ: Final = 0x04
ENCAP_PPP: Final = 0x0001
HASH_SHA1: Final = 0x01
HASH_SHA256: Final = 0x02
#: Status Info values (MS-SSTP 2.2.8).
STATUS_ATTRIB_NOT_SUPPORTED: Final = 0x09
STATUS_RETRY_COUNT_EXCEEDED: Final = 0x05
STATUS_INVALID_FRAME_RECEIVED: Final = 0x06
SSTP_PATH: Final = "/sra_{BA195980-CD49-458b-9E23-C84EE0ADCD75}/"
_LENGTH_MASK: Final = 0x0FFF


def control_packet(msg: int, attrs: Sequence[tuple[int, bytes]] = ()) -> bytes:
    """A control packet: header (version, C bit, length), type, attribute count, attributes
    (reserved, id, 12-bit length including its 4-byte header, value)."""
    body = struct.pack("!HH", msg, len(attrs))
    for attr_id, value in attrs:
        body += struct.pack("!BBH", 0, attr_id, 4 + len(value)) + value
    return struct.pack("!BBH", VERSION, 1, 4 + len(body)) + body


def data_packet(frame: bytes) -> bytes:
    """A data packet carrying one PPP frame (no flags, no FCS)."""
    return struct.pack("!BBH", VERSION, 0, 4 + len(frame)) + frame


@dataclass(frozen=True)
class Packet:
    control: bool
    #: The message type (control) or 0 (data).
    msg: int
    #: Data: the PPP frame; control: the bytes after the attribute count.
    body: bytes
    attrs: dict[int, bytes] = field(default_factory=dict)


def parse_packet(raw: bytes) -> Packet:
    """One whole packet (its header's length long); ValueError if it is malformed."""
    if len(raw) < 4 or raw[0] != VERSION:
        raise ValueError(f"not an SSTP 1.0 packet: {raw[:4].hex()}")
    length = struct.unpack("!H", raw[2:4])[0] & _LENGTH_MASK
    if length != len(raw):
        raise ValueError(f"length {length} != {len(raw)}")
    if not raw[1] & 1:
        return Packet(False, 0, raw[4:])
    if len(raw) < 8:
        raise ValueError("short control packet")
    msg, count = struct.unpack("!HH", raw[4:8])
    attrs: dict[int, bytes] = {}
    pos = 8
    for _ in range(count):
        if pos + 4 > len(raw):
            raise ValueError("truncated attribute")
        _, attr_id, alen = struct.unpack("!BBH", raw[pos : pos + 4])
        alen &= _LENGTH_MASK
        if alen < 4 or pos + alen > len(raw):
            raise ValueError(f"attribute {attr_id}: bad length {alen}")
        attrs[attr_id] = raw[pos + 4 : pos + alen]
        pos += alen
    return Packet(True, msg, raw[8:], attrs)


class PacketReader:
    """SSTP packets out of a byte stream (TLS records do not align with packets)."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out = []
        while len(self._buf) >= 4:
            length = struct.unpack("!H", self._buf[2:4])[0] & _LENGTH_MASK
            if length < 4:
                raise ValueError(f"packet length {length}")
            if len(self._buf) < length:
                break
            out.append(self._buf[:length])
            self._buf = self._buf[length:]
        return out


def crypto_binding_request(nonce: bytes, hashes: int = HASH_SHA1 | HASH_SHA256) -> bytes:
    """The Crypto Binding Request attribute's value: 3 reserved bytes, the hash bitmask, the
    32-byte nonce (36 bytes: sstp-client checks that exact length)."""
    assert len(nonce) == 32
    return b"\0\0\0" + bytes([hashes]) + nonce


def http_reply(request: bytes) -> tuple[bool, bytes]:
    """(accepted, the reply) for sstp-client's HTTP request."""
    line = request.split(b"\r\n", 1)[0].decode("latin-1")
    if line == f"SSTP_DUPLEX_POST {SSTP_PATH} HTTP/1.1":
        return True, (
            b"HTTP/1.1 200\r\nContent-Length: 18446744073709551615\r\n"
            b"Server: Microsoft-HTTPAPI/2.0\r\n\r\n"
        )
    return False, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


# -- the PPP side ---------------------------------------------------------------------------


class PppPeer:
    """A PPP peer speaking async HDLC over a file descriptor pair."""

    def __init__(
        self, rfd: int, wfd: int, *, proc: subprocess.Popen[bytes] | None = None, hold: int = -1
    ) -> None:
        self.rfd, self.wfd, self.proc = rfd, wfd, proc
        #: The pty's slave, held open here while pppd runs: with no slave open, a read of
        #: the master is EIO (before pppd has opened its tty, or while it reopens it).
        self._hold = hold
        self._decoder = HdlcDecoder()
        self._lock = threading.Lock()

    @classmethod
    def spawn_pppd(cls, pppd_args: list[str], *, pppd: str = "pppd") -> PppPeer:
        """pppd on a fresh pty (its slave is pppd's device; the master is ours, raw)."""
        master, slave = pty.openpty()
        tty.setraw(master)
        path = os.ttyname(slave)
        proc = subprocess.Popen(
            [pppd, path, "nodetach", *pppd_args], stdin=subprocess.DEVNULL, close_fds=True
        )
        return cls(master, master, proc=proc, hold=slave)

    def send(self, frame: bytes) -> None:
        data = hdlc_encode(frame)
        with self._lock:
            while data:
                data = data[os.write(self.wfd, data) :]

    def read_frames(self, timeout: float) -> list[bytes] | None:
        """The frames that arrive within ``timeout`` ([] if none); None at EOF."""
        ready, _, _ = select.select([self.rfd], [], [], timeout)
        if self.proc is not None and self.proc.poll() is not None and not ready:
            return None  # pppd exited (its slave is held open here: no EIO says so)
        if not ready:
            return []
        try:
            data = os.read(self.rfd, 65536)
        except OSError:  # EIO: the pty's slave side closed (pppd exited)
            return None
        if not data:
            return None
        return self._decoder.feed(data)

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
            with contextlib.suppress(OSError):
                os.close(self.rfd)
            if self._hold >= 0:
                with contextlib.suppress(OSError):
                    os.close(self._hold)


# -- a session ------------------------------------------------------------------------------


@dataclass
class Session:
    """What one client's session did (the tests' evidence)."""

    peer: str = ""
    http_ok: bool = False
    connect_request: bool = False
    #: The Call Connected's hash protocol, nonce and certificate hash matched.
    connected: bool = False
    connected_error: str = ""
    echo_requests: int = 0
    disconnected: bool = False
    aborted: bool = False
    frames_to_ppp: int = 0
    frames_from_ppp: int = 0
    events: list[str] = field(default_factory=list)


class SstpServer:
    """Listens with TLS and serves one client at a time, each with a new PPP peer."""

    def __init__(
        self,
        cert: str,
        key: str,
        listen: tuple[str, int],
        peer_factory: Callable[[], PppPeer],
        *,
        log: Callable[[str], None] = lambda line: None,
    ) -> None:
        self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._ctx.load_cert_chain(cert, key)
        # TLS 1.2 at most, as Windows' SSTP servers (RRAS) speak it. Over TLS 1.3, sstpc
        # 1.0.18 often stalls after sending its HTTP request: it never polls the socket
        # again, so it never reads the reply (measured: over half the runs on this machine,
        # every run under strace); over TLS 1.2 it does not.
        self._ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        self._cert_der = ssl.PEM_cert_to_DER_cert(_first_pem(cert))
        self._peer_factory = peer_factory
        self._log = log
        if ":" in listen[0]:  # IPv6; "::" takes IPv4 too
            self._sock = socket.create_server(
                listen, family=socket.AF_INET6, dualstack_ipv6=listen[0] == "::"
            )
        else:
            self._sock = socket.create_server(listen, reuse_port=False)
        self.address: tuple[str, int] = self._sock.getsockname()[:2]
        self.sessions: list[Session] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> SstpServer:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        if self._thread is not None:
            self._thread.join(10)

    def serve_forever(self) -> None:
        while not self._stop.is_set():
            try:
                conn, addr = self._sock.accept()
            except OSError:
                return
            session = Session(peer=f"{addr[0]}:{addr[1]}")
            self.sessions.append(session)
            try:
                self._serve(conn, session)
            except (OSError, ValueError, ssl.SSLError) as exc:
                session.events.append(f"ended: {exc!r}")
                self._log(f"session {session.peer} ended: {exc!r}")
            finally:
                with contextlib.suppress(OSError):
                    conn.close()

    def _serve(self, raw: socket.socket, session: Session) -> None:
        raw.settimeout(10)
        tls = self._ctx.wrap_socket(raw, server_side=True)
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = tls.recv(4096)
            if not chunk or len(request) > 16384:
                raise ValueError("no complete HTTP request")
            request += chunk
        head, _, rest = request.partition(b"\r\n\r\n")
        accepted, reply = http_reply(head)
        tls.sendall(reply)
        if not accepted:
            session.events.append(f"refused: {head.splitlines()[0]!r}")
            return
        session.http_ok = True
        self._log(f"{session.peer}: HTTP {head.splitlines()[0].decode('latin-1')}")
        tls.settimeout(None)
        reader = PacketReader()
        pending = reader.feed(rest)
        nonce = secrets.token_bytes(32)
        peer: PppPeer | None = None
        send_lock = threading.Lock()
        done = threading.Event()

        def to_client(data: bytes) -> None:
            with send_lock:
                tls.sendall(data)

        def pump_ppp(p: PppPeer) -> None:
            while not done.is_set():
                frames = p.read_frames(0.2)
                if frames is None:
                    session.events.append("ppp peer closed")
                    done.set()
                    with contextlib.suppress(OSError):
                        to_client(control_packet(MSG_DISCONNECT))
                    return
                for frame in frames:
                    session.frames_from_ppp += 1
                    with contextlib.suppress(OSError):
                        to_client(data_packet(frame))

        try:
            while not done.is_set():
                for raw_packet in pending:
                    packet = parse_packet(raw_packet)
                    if not packet.control:
                        if peer is not None:
                            session.frames_to_ppp += 1
                            peer.send(packet.body)
                        continue
                    session.events.append(f"control {packet.msg}")
                    if packet.msg == MSG_CONNECT_REQ:
                        session.connect_request = True
                        if packet.attrs.get(ATTR_ENCAP_PROTO) != struct.pack("!H", ENCAP_PPP):
                            to_client(control_packet(MSG_CONNECT_NAK))
                            continue
                        value = crypto_binding_request(nonce)
                        to_client(
                            control_packet(MSG_CONNECT_ACK, [(ATTR_CRYPTO_BINDING_REQ, value)])
                        )
                        if peer is None:
                            peer = self._peer_factory()
                            threading.Thread(target=pump_ppp, args=(peer,), daemon=True).start()
                    elif packet.msg == MSG_CONNECTED:
                        self._check_connected(packet, nonce, session)
                    elif packet.msg == MSG_ECHO_REQUEST:
                        session.echo_requests += 1
                        to_client(control_packet(MSG_ECHO_RESPONSE))
                    elif packet.msg == MSG_DISCONNECT:
                        session.disconnected = True
                        to_client(control_packet(MSG_DISCONNECT_ACK))
                        done.set()
                    elif packet.msg in (MSG_ABORT, MSG_DISCONNECT_ACK):
                        session.aborted = packet.msg == MSG_ABORT
                        done.set()
                pending = []
                if done.is_set():
                    break
                if not tls.pending() and not select.select([tls], [], [], 0.2)[0]:
                    continue
                chunk = tls.recv(65536)
                if not chunk:
                    session.events.append("client closed")
                    break
                pending = reader.feed(chunk)
        finally:
            done.set()
            if peer is not None:
                peer.close()

    def _check_connected(self, packet: Packet, nonce: bytes, session: Session) -> None:
        value = packet.attrs.get(ATTR_CRYPTO_BINDING, b"")
        if len(value) != 100:
            session.connected_error = f"Crypto Binding of {len(value)} bytes"
            return
        proto = value[3]
        digest = {HASH_SHA1: hashlib.sha1, HASH_SHA256: hashlib.sha256}.get(proto)
        if digest is None:
            session.connected_error = f"hash protocol {proto}"
        elif value[4:36] != nonce:
            session.connected_error = "nonce differs"
        elif value[36:68].rstrip(b"\0") != digest(self._cert_der).digest().rstrip(b"\0"):
            session.connected_error = "certificate hash differs"
        else:
            session.connected = True
        self._log(
            f"{session.peer}: Call Connected {'ok' if session.connected else 'bad: '}"
            f"{session.connected_error}"
        )


def _first_pem(path: str) -> str:
    text = Path(path).read_text()
    begin = text.index("-----BEGIN CERTIFICATE-----")
    end = text.index("-----END CERTIFICATE-----", begin) + len("-----END CERTIFICATE-----")
    return text[begin:end]


@contextlib.contextmanager
def running(server: SstpServer) -> Iterator[SstpServer]:
    server.start()
    try:
        yield server
    finally:
        server.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--listen", required=True, help="ADDR:PORT or [ADDR]:PORT")
    parser.add_argument("--pppd", default="pppd")
    parser.add_argument("--pppd-arg", action="append", default=[], help="one pppd argument")
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")

    def log(line: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {line}", file=sys.stderr, flush=True)

    server = SstpServer(
        args.cert,
        args.key,
        (host, int(port)),
        lambda: PppPeer.spawn_pppd(args.pppd_arg, pppd=args.pppd),
        log=log,
    )
    log(f"listening on {server.address[0]}:{server.address[1]}")

    def stop(*_: object) -> None:
        raise SystemExit(0)  # unwinds the session: its pppd is stopped, the socket closed

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
