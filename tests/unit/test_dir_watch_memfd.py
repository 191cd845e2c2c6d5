"""links._common's inotify directory watch and sealed memory files (what the OpenVPN driver
waits for its management socket with, and hands openvpn its keys in)."""

from __future__ import annotations

import asyncio
import fcntl
import os
import socket
import time
from pathlib import Path

import pytest

from openras.links._common import DirWatch, sealed_memfd


async def test_a_new_socket_wakes_the_wait_at_once(tmp_path: Path) -> None:
    watch = DirWatch.open(tmp_path)
    assert watch is not None
    with watch, socket.socket(socket.AF_UNIX) as server:
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, server.bind, str(tmp_path / "s.sock"))
        t0 = time.monotonic()
        await watch.wait(5.0)
        assert (tmp_path / "s.sock").exists(), "woken by the socket's creation"
        assert time.monotonic() - t0 < 2.0


async def test_a_log_line_wakes_the_wait_and_nothing_else_does(tmp_path: Path) -> None:
    log = tmp_path / "program.log"
    log.write_bytes(b"")
    watch = DirWatch.open(tmp_path)
    assert watch is not None
    with watch:
        t0 = time.monotonic()
        await watch.wait(0.05)  # nothing happens: the wait ends at its bound
        assert time.monotonic() - t0 >= 0.045
        asyncio.get_running_loop().call_later(0.02, log.write_bytes, b"listening\n")
        t0 = time.monotonic()
        await watch.wait(5.0)
        assert time.monotonic() - t0 < 2.0 and log.read_bytes() == b"listening\n"


async def test_a_watch_of_names_only_sleeps_through_writes_until_told(tmp_path: Path) -> None:
    """openvpn's attach: its first log lines wake nothing until its socket is there."""
    log = tmp_path / "program.log"
    log.write_bytes(b"")
    watch = DirWatch.open(tmp_path, writes=False)
    assert watch is not None
    with watch:
        loop = asyncio.get_running_loop()
        loop.call_later(0.01, log.write_bytes, b"starting\n")
        t0 = time.monotonic()
        await watch.wait(0.15)  # the write wakes nothing: the wait ends at its bound
        assert time.monotonic() - t0 >= 0.14 and log.read_bytes() == b"starting\n"
        loop.call_later(0.01, (tmp_path / "new").write_bytes, b"")
        t0 = time.monotonic()
        await watch.wait(5.0)  # a new name does
        assert time.monotonic() - t0 < 2.0
        watch.watch_writes()
        loop.call_later(0.01, log.write_bytes, b"listening\n")
        t0 = time.monotonic()
        await watch.wait(5.0)  # and now a write does
        assert time.monotonic() - t0 < 2.0 and log.read_bytes() == b"listening\n"


async def test_a_wake_before_the_wait_is_not_lost(tmp_path: Path) -> None:
    watch = DirWatch.open(tmp_path)
    assert watch is not None
    with watch:
        watch.wake()  # e.g. the program exited between two tries
        t0 = time.monotonic()
        await watch.wait(5.0)
        assert time.monotonic() - t0 < 1.0


async def test_watches_of_two_directories_wake_separately(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    wa, wb = DirWatch.open(tmp_path / "a"), DirWatch.open(tmp_path / "b")
    assert wa is not None and wb is not None
    with wa, wb:
        (tmp_path / "b" / "x").write_text("x")
        await wb.wait(5.0)
        t0 = time.monotonic()
        await wa.wait(0.05)
        assert time.monotonic() - t0 >= 0.045, "a's watch heard nothing of b"


async def test_closing_a_watch_does_not_stall_the_loop(tmp_path: Path) -> None:
    """Closing an inotify instance waits for an RCU grace period (10-30 ms); a watch's
    close only removes its watch from the loop's one instance (microseconds)."""
    taken = []
    for n in range(5):
        d = tmp_path / str(n)
        d.mkdir()
        watch = DirWatch.open(d)
        assert watch is not None
        (d / "f").write_text("x")
        await watch.wait(5.0)
        t0 = time.perf_counter()
        watch.close()
        taken.append(time.perf_counter() - t0)
    assert min(taken) < 0.005, taken


def test_missing_directory_gives_no_watch(tmp_path: Path) -> None:
    async def go() -> None:
        assert DirWatch.open(tmp_path / "nope") is None

    asyncio.run(go())


def test_sealed_memfd_holds_the_bytes_read_only_0600() -> None:
    fd = sealed_memfd("ca.pem", b"-----BEGIN CERTIFICATE-----\n")
    try:
        assert os.fstat(fd).st_mode & 0o777 == 0o600
        assert os.get_inheritable(fd) is False  # only a program it is passed to gets it
        with open(f"/proc/self/fd/{fd}", "rb") as again:  # as openvpn opens it
            assert again.read() == b"-----BEGIN CERTIFICATE-----\n"
        seals = fcntl.fcntl(fd, fcntl.F_GET_SEALS)
        assert seals & fcntl.F_SEAL_WRITE and seals & fcntl.F_SEAL_SEAL
        with pytest.raises(PermissionError):
            os.pwrite(fd, b"X", 0)
        with pytest.raises(PermissionError):
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)
