"""A link program's TCP connection, seen from the daemon: whether it is up, and its counters.

The program's sockets are found in its descriptor table (/proc/PID/fd) and each is copied
into the daemon with pidfd_getfd(2), asked (its peer, ``TCP_INFO``) and closed: a few system
calls. The TCP tables in /proc (and psutil's ``net_connections`` and ``ss``, which read them
or dump the same) walk the kernel's whole established hash, one table shared by every
namespace: 1.5-3 ms per read on a 24 GB machine (262,144 buckets), two reads (v4, v6) per look.
They remain the way where the copy is refused (a per-user daemon under a strict ptrace scope,
or a kernel before 5.6).
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
from dataclasses import dataclass
from typing import Final

_TCP_ESTABLISHED: Final = b"01"
#: pidfd_getfd(2): one number on every architecture (new system calls share the table).
_SYS_PIDFD_GETFD: Final = 438
#: struct tcp_info (linux/tcp.h) grows at its end only; the offsets of what is read here:
#: bytes_acked (Linux 4.1) and bytes_received (4.1), segs_out and segs_in (4.2), bytes_sent
#: (4.19, else bytes_acked stands for it).
_U64: Final = struct.Struct("=Q")
_OFF_BYTES_ACKED: Final = 120
_OFF_BYTES_RECEIVED: Final = 128
_OFF_SEGS: Final = 136
_SEGS: Final = struct.Struct("=II")
_OFF_BYTES_SENT: Final = 200
_TCP_INFO_SIZE: Final = 256


@dataclass(frozen=True, slots=True)
class TcpCounters:
    """What the kernel counts for one TCP connection (bytes and segments, each way)."""

    bytes_sent: int
    bytes_received: int
    segments_sent: int
    segments_received: int


def _sockets_of(pid: int) -> dict[int, bytes]:
    """``pid``'s descriptors that are sockets, with their inode numbers (none if it is
    gone or unreadable)."""
    fd_dir = f"/proc/{pid}/fd"
    found: dict[int, bytes] = {}
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return found
    for name in names:
        with contextlib.suppress(OSError):
            target = os.readlink(f"{fd_dir}/{name}")
            if target.startswith("socket:["):
                found[int(name)] = target[8:-1].encode()
    return found


def _copy(pidfd: int, fd: int) -> socket.socket | None:
    """A copy of socket ``fd`` of the process behind ``pidfd`` (None: that number is no
    socket any more). OSError when no copy may be taken."""
    from openras.asuser import syscall

    # pidfd_getfd takes no flags and sets close-on-exec on the copy itself.
    dup = syscall(_SYS_PIDFD_GETFD, pidfd, fd, 0)
    try:
        return socket.socket(fileno=dup)
    except OSError:  # reused by something else since the listing
        os.close(dup)
        return None


def _peer_port(pidfd: int, fd: int) -> int | None:
    """The remote port of ``fd`` if it is a connected TCP socket, else None."""
    sock = _copy(pidfd, fd)
    if sock is None:
        return None
    with sock:
        return _connected_port(sock)


def _connected_port(sock: socket.socket) -> int | None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6) or sock.type != socket.SOCK_STREAM:
        return None
    try:
        return int(sock.getpeername()[1])  # ENOTCONN while the SYN is out
    except OSError:
        return None


def tcp_established(pid: int, remote_port: int, pidfd: int | None = None) -> bool:
    """Whether ``pid`` holds a TCP connection established to ``remote_port`` (by copies of
    its sockets through ``pidfd``; else, or when refused, by the /proc tables). False if
    ``pid`` is gone."""
    found = _sockets_of(pid)
    if not found:
        return False
    if pidfd is not None:
        try:
            return any(_peer_port(pidfd, fd) == remote_port for fd in found)
        except OSError:
            pass  # refused, or no pidfd_getfd: the tables below
    return _tcp_established_in_tables(pid, set(found.values()), remote_port)


def tcp_counters(pid: int, remote_port: int, pidfd: int) -> TcpCounters | None:
    """The counters of ``pid``'s TCP connection to ``remote_port`` (``TCP_INFO`` of a copy
    of its socket); None if it holds none. OSError when no copy may be taken (the caller
    has another way)."""
    for fd in _sockets_of(pid):
        sock = _copy(pidfd, fd)
        if sock is None:
            continue
        with sock:
            if _connected_port(sock) != remote_port:
                continue
            info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_SIZE)
        if len(info) < _OFF_SEGS + _SEGS.size:
            return None
        (acked,) = _U64.unpack_from(info, _OFF_BYTES_ACKED)
        (received,) = _U64.unpack_from(info, _OFF_BYTES_RECEIVED)
        segs_out, segs_in = _SEGS.unpack_from(info, _OFF_SEGS)
        sent = acked
        if len(info) >= _OFF_BYTES_SENT + _U64.size:
            (sent,) = _U64.unpack_from(info, _OFF_BYTES_SENT)
        return TcpCounters(sent, received, segs_out, segs_in)
    return None


def _tcp_established_in_tables(pid: int, inodes: set[bytes], remote_port: int) -> bool:
    """Whether one of the sockets ``inodes`` is established to ``remote_port`` in ``pid``'s
    namespace's tables."""
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{table}", "rb") as fh:
                rows = fh.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            # sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid
            # timeout inode ...
            f = row.split()
            if (
                len(f) > 9
                and f[3] == _TCP_ESTABLISHED
                and f[9] in inodes
                and int(f[2].rpartition(b":")[2], 16) == remote_port
            ):
                return True
    return False
