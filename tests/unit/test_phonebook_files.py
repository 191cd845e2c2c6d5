"""Atomic saves and locking: concurrent editors lose nothing, a killed writer corrupts nothing."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import stat
import threading
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from openras.phonebook import Phonebook, edit, load, parse

if TYPE_CHECKING:
    from _typeshed import HasFileno

CTX = mp.get_context("fork")
CORPUS = Path(__file__).parent / "pbk_corpus"


def wait_for(cond: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll ``cond`` until true or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail("condition not reached before deadline")
        time.sleep(0.001)


def _editor(path: str, worker: int, count: int, go: Event) -> None:
    go.wait(10)
    for j in range(count):

        def change(pb: Phonebook, j: int = j) -> None:
            shared = pb.find("Shared")
            assert shared is not None
            shared.set(f"W{worker}K{j}", str(j))
            pb.add_entry(f"W{worker} E{j}", {"Type": "2"})

        edit(path, change)


def test_phonebook_concurrent_edits_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "rasphone.pbk"
    path.write_bytes(b"; shared book\r\n[Shared]\r\nType=2\r\n")
    workers, count = 4, 15
    go = CTX.Event()
    procs = [CTX.Process(target=_editor, args=(str(path), w, count, go)) for w in range(workers)]
    for p in procs:
        p.start()
    go.set()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    pb = load(path)
    shared = pb.find("Shared")
    assert shared is not None
    for w in range(workers):
        for j in range(count):
            assert shared.get(f"W{w}K{j}") == str(j)
            assert pb.find(f"w{w} e{j}") is not None
    assert len(pb) == 1 + workers * count
    # Nothing but the book is left beside it (no lock file, no temp file).
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rasphone.pbk"]
    assert pb.dumps().startswith(b"; shared book\r\n[Shared]\r\nType=2\r\n")
    assert not list(tmp_path.glob("*.tmp"))


def _saver(path: str, a: bytes, b: bytes, saves: Synchronized[int], stall: Event | None) -> None:
    """Save A and B alternately forever; with ``stall``, hang inside the third write (temp
    file complete, not yet renamed) so the parent can kill us at exactly that point."""
    if stall is not None:
        real_fsync = os.fsync

        def fsync(fd: int | HasFileno) -> None:
            if stat.S_ISREG(os.fstat(fd if isinstance(fd, int) else fd.fileno()).st_mode) and (
                saves.value >= 2
            ):
                stall.set()
                threading.Event().wait()
            real_fsync(fd)

        os.fsync = fsync
    books = [parse(a, path), parse(b, path)]
    i = 0
    while True:
        books[i % 2].save()
        i += 1
        with saves.get_lock():
            saves.value = i


def _big_book(extra: str) -> bytes:
    template = (CORPUS / "ikev2.pbk").read_bytes().decode()
    body = template.split("\r\n", 1)[1]
    chunks = [f"[Entry {i}]\r\n{body}" for i in range(300)]
    pb = parse("".join(chunks).encode())
    for e in pb:
        e.set("OpenRasVersion", extra)
    return pb.dumps()


def _kill(child: BaseProcess) -> None:
    assert child.pid is not None
    os.kill(child.pid, signal.SIGKILL)
    child.join(10)
    assert child.exitcode == -signal.SIGKILL


def test_phonebook_kill_during_write_leaves_old_or_new(tmp_path: Path) -> None:
    a, b = _big_book("A"), _big_book("B")
    assert len(a) > 500_000
    path = tmp_path / "rasphone.pbk"
    path.write_bytes(a)
    # Kill at whatever point the writer happens to be.
    for round_ in range(3):
        saves = CTX.Value("i", 0)
        child = CTX.Process(target=_saver, args=(str(path), a, b, saves, None))
        child.start()
        target = 2 + round_

        def reached(s: Synchronized[int] = saves, t: int = target) -> bool:
            return s.value >= t

        wait_for(reached)
        _kill(child)
        assert load(path).dumps() in (a, b)
    # Kill exactly between writing the temp file and renaming it over the book.
    path.write_bytes(a)
    saves = CTX.Value("i", 0)
    stall = CTX.Event()
    child = CTX.Process(target=_saver, args=(str(path), a, b, saves, stall))
    child.start()
    assert stall.wait(20)
    temps = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(temps) == 1
    assert temps[0].read_bytes() == a  # third save writes A again
    _kill(child)
    assert path.read_bytes() == b  # the second save's result, untouched
    # The leftover temp file never breaks loading; the next save (under the lock, which
    # died with the writer) removes it.
    assert load(path).dumps() == b
    edit(path, lambda pb: pb.add_entry("After Crash"))
    assert load(path).find("after crash") is not None
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
