"""How a link program is started (``LinkProcess.spawn``): what it inherits, the identity the
daemon records for it without reading /proc while it execs, and its exit status."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from openras.errors import ERROR_CONNECTING_DEVICE_NOT_FOUND, RasError
from openras.links import process
from openras.links.process import LinkProcess, proc_start

SH = "/bin/sh"


def _spawn(tmp_path: Path, script: str) -> tuple[LinkProcess, Path]:
    log = tmp_path / "out.log"
    return LinkProcess.spawn([SH, "-c", script], marker="test", log_path=log), log


async def test_a_program_inherits_its_standard_streams_and_the_passed_fds_only(
    tmp_path: Path,
) -> None:
    passed = os.memfd_create("passed", os.MFD_CLOEXEC)
    kept = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)  # the daemon's own, not passed
    assert not os.get_inheritable(kept)
    log = tmp_path / "out.log"
    try:
        # sleep opens nothing that stays open: its table is what it inherited.
        proc = LinkProcess.spawn(["/bin/sleep", "30"], marker="t", log_path=log, pass_fds=[passed])
    finally:
        os.close(passed)
        os.close(kept)
    try:
        # The spawn returns once the child's exec has begun (its close-on-exec descriptors
        # go a moment later), and sleep's loader and locale open files of their own while it
        # starts: the table is read once sleep sleeps.
        deadline = time.monotonic() + 10
        while (proc_start(proc.pid) or (0.0, ""))[1] != "S":
            assert time.monotonic() < deadline, "sleep never went to sleep"
            await asyncio.sleep(0.001)
        fds = Path(f"/proc/{proc.pid}/fd")
        table = {p.name: os.readlink(p) for p in fds.iterdir()}
    finally:
        proc.kill()
        await asyncio.wait_for(proc.wait(), 10)
    assert set(table) == {"0", "1", "2", str(passed)}, table
    assert table["0"] == "/dev/null"
    assert table["1"] == table["2"] == str(log)
    assert table[str(passed)].startswith("/memfd:passed")
    assert proc.returncode == -signal.SIGKILL


async def test_the_identity_is_the_one_proc_gives_and_the_program_has_its_own_session(
    tmp_path: Path,
) -> None:
    procs = [_spawn(tmp_path, "read x")[0] for _ in range(20)]  # waits on /dev/null: EOF
    for proc in procs:
        found = proc_start(proc.pid)
        if found is not None and found[1] != "Z":
            assert proc.identity.create_time == found[0]
            assert os.getsid(proc.pid) == proc.pid
    for proc in procs:
        await asyncio.wait_for(proc.wait(), 10)


def test_a_spawn_across_a_clock_tick_asks_proc(tmp_path: Path) -> None:
    """Readings in two ticks cannot say which one the kernel stamped: /proc decides."""
    pid = os.getpid()
    start = proc_start(pid)
    assert start is not None
    tick = process._NS_PER_TICK
    # Readings that straddle a boundary far from this process's real start.
    assert process._spawned_at(pid, 5 * tick - 1, 5 * tick + 1) == start[0]
    # Readings within one tick give that tick, whatever /proc would say.
    same = process._spawned_at(pid, 7 * tick + 1, 8 * tick - 1)
    assert same == 7 / process._CLOCK_TICKS + process._boot_time()


async def test_exit_status_and_signal_defaults(tmp_path: Path) -> None:
    # Python ignores SIGPIPE; the program must not inherit that (bit 13 of SigIgn).
    proc, log = _spawn(tmp_path, "grep SigIgn /proc/$$/status; exit 3")
    assert await asyncio.wait_for(proc.wait(), 10) == 3
    ignored = int(log.read_text().split()[1], 16)
    assert not ignored & (1 << (signal.SIGPIPE - 1))
    assert signal.getsignal(signal.SIGPIPE) is signal.SIG_IGN  # the daemon's own stays


async def test_a_bare_program_name_is_found_in_the_programs_path(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    tool = bindir / "only-here"
    tool.write_text("#!/bin/sh\nexit 7\n")
    tool.chmod(0o755)
    proc = LinkProcess.spawn(
        ["only-here"], marker="t", log_path=None, env={"PATH": f"/nonexistent:{bindir}"}
    )
    assert await asyncio.wait_for(proc.wait(), 10) == 7


@pytest.mark.parametrize("program", ["no-such-program-here", "/nonexistent/bin/prog"])
def test_a_program_that_cannot_run_is_797(tmp_path: Path, program: str) -> None:
    with pytest.raises(RasError) as err:
        LinkProcess.spawn([program], marker="t", log_path=None, env={"PATH": str(tmp_path)})
    assert err.value.code == ERROR_CONNECTING_DEVICE_NOT_FOUND
    assert program in str(err.value)


def _sleeper() -> tuple[int, process.ProcessIdentity]:
    """A ``sleep`` that is not our child (its shell exits and it is re-parented: as a
    recovered daemon finds an orphaned link program) and its identity."""
    out = subprocess.run(
        ["/bin/sh", "-c", "sleep 60 >/dev/null 2>&1 </dev/null & echo $!"],
        capture_output=True, text=True, check=True, timeout=10,
    )  # fmt: skip
    pid = int(out.stdout)
    deadline = time.monotonic() + 10
    while (found := proc_start(pid)) is None or found[1] != "S":
        assert time.monotonic() < deadline, "sleep never slept"
        time.sleep(0.005)
    return pid, process.ProcessIdentity(pid, found[0])


async def test_kill_and_wait_ends_the_process_it_names_and_no_other() -> None:
    pid, ident = _sleeper()
    try:
        # Another start time: not this process (its pid was taken by someone else).
        await process.kill_and_wait(process.ProcessIdentity(pid, ident.create_time - 100), 0.1)
        assert ident.alive()
        t0 = time.monotonic()
        await process.kill_and_wait(ident, 5.0)
        assert time.monotonic() - t0 < 5.0  # woken by the exit, not by the timeout
        assert not ident.alive()
        await process.kill_and_wait(ident, 5.0)  # gone already: nothing to do, no error
    finally:
        if ident.alive():
            os.kill(pid, signal.SIGKILL)


async def test_a_link_process_marker_is_read_from_its_environment(tmp_path: Path) -> None:
    proc = LinkProcess.spawn(["/bin/sleep", "30"], marker="inst:42", log_path=tmp_path / "l")
    try:
        deadline = time.monotonic() + 10
        while process.marker_of(proc.pid) != "inst:42":  # the exec fills it in
            assert time.monotonic() < deadline, process.marker_of(proc.pid)
            await asyncio.sleep(0.005)
        assert process.marker_of(os.getpid()) is None
    finally:
        proc.kill()
        await asyncio.wait_for(proc.wait(), 10)


def test_l2tp_finds_a_programs_children_with_or_without_the_children_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from openras.links.ppp import l2tp_link

    child = subprocess.Popen(["/bin/sleep", "30"])
    try:
        listed = l2tp_link._children(os.getpid())
        assert child.pid in listed

        class NoChildrenFile:  # a kernel without CONFIG_PROC_CHILDREN
            def __init__(self, *_args: object) -> None:
                pass

            def read_text(self) -> str:
                raise FileNotFoundError

        monkeypatch.setattr(l2tp_link, "Path", NoChildrenFile)
        assert set(l2tp_link._children(os.getpid())) == set(listed)
        assert l2tp_link._children(child.pid) == []
    finally:
        child.kill()
        child.wait(10)
