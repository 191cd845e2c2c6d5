"""A link program's TCP connection seen from the daemon (``links/sockets.py``): checked
against this process's own sockets, by copies through a pidfd and by the /proc tables."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from openras.links import sockets


@pytest.mark.parametrize("by", ["pidfd", "tables"])
def test_tcp_established_names_the_remote_port_of_a_connection_the_process_holds(
    by: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checked against this process's own sockets (v4 and v6), by both ways (a copy of each
    socket through its pidfd; the /proc tables), and against cases that must answer False:
    a listener, another port, a closed connection."""
    pid = os.getpid()
    pidfd = os.pidfd_open(pid) if by == "pidfd" else None
    if by == "pidfd":  # the tables must not be what answers
        monkeypatch.setattr(sockets, "_tcp_established_in_tables", _must_not_be_called)

    def established(port: int) -> bool:
        return sockets.tcp_established(pid, port, pidfd)

    try:
        for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            with socket.socket(family) as listener:
                try:
                    listener.bind((host, 0))
                except OSError:
                    continue  # no IPv6 loopback here
                listener.listen()
                port = listener.getsockname()[1]
                assert not established(port), "a listener is no connection"
                client = socket.create_connection((host, port))
                accepted, _ = listener.accept()
                try:
                    assert established(port)
                    assert not established(port ^ 1)
                finally:
                    client.close()
                    accepted.close()
                assert not established(port), "closed: no descriptor holds it"
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _must_not_be_called(pid: int, inodes: set[bytes], port: int) -> bool:
    raise AssertionError("the tables were read although the pidfd could answer")


def test_a_refused_copy_falls_back_to_the_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(pidfd: int, fd: int) -> int | None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(sockets, "_peer_port", refused)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = listener.accept()
            with accepted, client:
                pidfd = os.pidfd_open(os.getpid())
                try:
                    assert sockets.tcp_established(os.getpid(), port, pidfd)
                finally:
                    os.close(pidfd)


def test_tcp_established_of_a_process_that_is_gone() -> None:
    child = os.fork()
    if child == 0:
        os._exit(0)
    os.waitpid(child, 0)
    assert not sockets.tcp_established(child, 22)


def test_a_descriptor_that_is_no_socket_any_more_leaves_no_copy(tmp_path: Path) -> None:
    """The listing and the copy are not atomic: a number reused by a file is answered None
    and its copy closed."""
    pidfd = os.pidfd_open(os.getpid())
    plain = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        before = len(os.listdir("/proc/self/fd"))
        assert sockets._peer_port(pidfd, plain) is None
        assert len(os.listdir("/proc/self/fd")) == before
    finally:
        os.close(plain)
        os.close(pidfd)


@pytest.fixture
def connection() -> Iterator[tuple[socket.socket, socket.socket, int]]:
    """(client, accepted, the listener's port) over IPv4 loopback."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        with client, accepted:
            yield client, accepted, port


def test_tcp_counters_are_the_kernels_for_that_connection(
    connection: tuple[socket.socket, socket.socket, int],
) -> None:
    client, accepted, port = connection
    client.sendall(b"x" * 3000)
    got = b""
    while len(got) < 3000:
        got += accepted.recv(65536)
    accepted.sendall(b"y" * 1234)
    got = b""
    while len(got) < 1234:
        got += client.recv(65536)
    pidfd = os.pidfd_open(os.getpid())
    try:
        counters = sockets.tcp_counters(os.getpid(), port, pidfd)
        assert counters is not None
        # Only the client's socket has ``port`` as its peer: its counters, not the server's.
        assert (counters.bytes_sent, counters.bytes_received) == (3000, 1234)
        assert counters.segments_sent >= 2 and counters.segments_received >= 2
        assert sockets.tcp_counters(os.getpid(), port ^ 1, pidfd) is None
    finally:
        os.close(pidfd)
