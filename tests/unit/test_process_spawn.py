"""How a link program is started (``LinkProcess.spawn``): what it inherits, the identity the
daemon records for it without reading /proc while it execs, and its exit status."""

from __future__ import annotations

import asyncio
import os
import signal
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
