"""A PPPoE wire timeline for the VM benchmark: where a dial's time goes, seen on the wire.

A thread inside the server's namespace reads every frame on its veth (an ``AF_PACKET``
socket with the kernel's receive timestamps, ``SO_TIMESTAMPNS``: the time the frame passed,
not when Python got to it, which under TCG can be much later) and keeps the PPPoE discovery
and PPP control frames as (wall time, who sent it, what it is). A round of the benchmark
then reads the marks between its start and its end, so the same clock times both sides: the
program started by hand and openras, and the gap between them lands in a phase.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from netns import NetnsLab

_ETH_P_ALL = 0x0003
_DISCOVERY, _SESSION = 0x8863, 0x8864
_PACKET_OUTGOING = 4
_SO_TIMESTAMPNS = 35
_DISCOVERY_CODES = {0x09: "PADI", 0x07: "PADO", 0x19: "PADR", 0x65: "PADS", 0xA7: "PADT"}
_PROTOCOLS = {0xC021: "LCP", 0xC023: "PAP", 0xC223: "CHAP", 0x8021: "IPCP", 0x8057: "IPV6CP",
              0x80FD: "CCP"}  # fmt: skip
_CP_CODES = {1: "ConfReq", 2: "ConfAck", 3: "ConfNak", 4: "ConfRej", 5: "TermReq",
             6: "TermAck", 9: "EchoReq", 10: "EchoRep"}  # fmt: skip
_CHAP_CODES = {1: "Challenge", 2: "Response", 3: "Success", 4: "Failure"}
_PAP_CODES = {1: "AuthReq", 2: "AuthAck", 3: "AuthNak"}


@dataclass(frozen=True, slots=True)
class Mark:
    at: float  # wall clock (time.time()), from the kernel's receive timestamp
    sender: str  # "server" (sent from the tapped veth) or "client"
    what: str  # "PADI", "LCP ConfReq", "CHAP Success", ...


def describe(frame: bytes) -> str | None:
    """What a frame is, for the PPPoE and PPP control frames; None for anything else."""
    if len(frame) < 22:
        return None
    (ethertype,) = struct.unpack_from("!H", frame, 12)
    if ethertype == _DISCOVERY:
        return _DISCOVERY_CODES.get(frame[15], f"discovery 0x{frame[15]:02x}")
    if ethertype != _SESSION or len(frame) < 23:
        return None
    (proto,) = struct.unpack_from("!H", frame, 20)
    name = _PROTOCOLS.get(proto)
    if name is None:
        return None
    codes = _CHAP_CODES if name == "CHAP" else _PAP_CODES if name == "PAP" else _CP_CODES
    return f"{name} {codes.get(frame[22], str(frame[22]))}"


class WireTap:
    """Marks of the PPPoE and PPP control frames on ``ifname`` in ``ns``, kept in order."""

    def __init__(self, lab: NetnsLab, ns: str, ifname: str) -> None:
        self._lab, self._ns, self._ifname = lab, ns, ifname
        self._marks: list[Mark] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wiretap", daemon=True)

    @contextlib.contextmanager
    def running(self) -> Iterator[WireTap]:
        self._thread.start()
        if not self._ready.wait(60):
            raise RuntimeError("the wire tap did not start")
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(10)

    def _run(self) -> None:
        with self._lab.inside(self._ns):
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_ALL))
        with sock:
            sock.bind((self._ifname, _ETH_P_ALL))
            sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
            sock.settimeout(0.2)
            self._ready.set()
            while not self._stop.is_set():
                try:
                    frame, anc, _flags, addr = sock.recvmsg(2048, 64)
                except TimeoutError:
                    continue
                what = describe(frame)
                if what is None:
                    continue
                at = time.time()
                for level, kind, data in anc:
                    if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS:
                        sec, nsec = struct.unpack("qq", data[:16])
                        at = sec + nsec / 1e9
                sender = "server" if addr[2] == _PACKET_OUTGOING else "client"
                with self._lock:
                    self._marks.append(Mark(at, sender, what))

    def between(self, start: float, end: float) -> list[Mark]:
        with self._lock:
            return [m for m in self._marks if start <= m.at <= end]


def phases(marks: list[Mark], start: float) -> dict[str, float]:
    """Milliseconds from ``start`` to each phase's first frame: the client's first PADI,
    the server's PADS, the client's first LCP ConfReq, LCP open (the later of the two
    ConfAcks), authentication done, IPCP done (the later ConfAck), the client's TermReq."""
    out: dict[str, float] = {}

    def first(sender: str, what: str) -> float | None:
        return next((m.at for m in marks if m.sender == sender and m.what == what), None)

    def put(name: str, at: float | None) -> None:
        if at is not None:
            out[name] = (at - start) * 1e3

    put("padi", first("client", "PADI"))
    put("pads", first("server", "PADS"))
    put("lcp_req", first("client", "LCP ConfReq"))
    acks = [first("client", "LCP ConfAck"), first("server", "LCP ConfAck")]
    put("lcp_open", max(acks) if None not in acks else None)  # type: ignore[type-var]
    put("auth", first("server", "CHAP Success") or first("server", "PAP AuthAck"))
    ipcp = [first("client", "IPCP ConfAck"), first("server", "IPCP ConfAck")]
    put("ipcp", max(ipcp) if None not in ipcp else None)  # type: ignore[type-var]
    put("term", first("client", "LCP TermReq"))
    return out


def compact(marks: list[Mark], start: float) -> str:
    """Every mark as ``+ms sender:what``, for a round's line in the output."""
    return " ".join(f"+{(m.at - start) * 1e3:.0f}{m.sender[0]}:{m.what.replace(' ', '-')}"
                    for m in marks)  # fmt: skip
