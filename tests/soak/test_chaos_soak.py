"""The chaos soak (issue 16 §4): random dials, hang-ups, redials and faults against one
rasman, with the invariants checked against /proc and the state directory after each step.

Faults: SIGKILL of the daemon (idle, mid-dial, mid-teardown, racing a dial, a link dying
while it is down; each time restarted, and it must adopt), of link programs (connected and
mid-dial), of clients mid-dial, and links that drop by themselves. Invariants (see
``_chaos.Soak.check``): every link process belongs to exactly one row and is the one its
persisted row names (the same process across restarts: adopted, not replaced); no run
directory without a row; enumeration equals the persisted table and each handle's status;
handles are never reused and every hung-up one answers 6 for the rest of the run; at the
end nothing is left, and the daemon's memory did not grow.

The default is the short CI run; ``--soak-minutes N`` the long one, ``--soak-seed S`` (or
``OPENRAS_SOAK_SEED``) replays a run. The seed and a summary line are printed (``-s``).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Protocol

import pytest
from _chaos import Daemon, Entries, Soak, marked_links, poll

pytestmark = [pytest.mark.slow]

#: The CI run: at most this many steps, and at most this long (a busy 2-core machine).
CI_STEPS = 100
CI_SECONDS = 25.0
#: Growth of the daemon's RSS tolerated between warm-up and the end (see test docstring).
RSS_GROWTH = 12 * 2**20

LOOPBACK = {
    "Quick A": "OpenRasLoopbackStepMs=0\nOpenRasLoopbackHangUpMs=0",
    "Quick B": "OpenRasLoopbackStepMs=0\nOpenRasLoopbackHangUpMs=0",
    "Quick C": "OpenRasLoopbackStepMs=2\nOpenRasLoopbackHangUpMs=40",
    # Ignores the stop command: killed at its deadline, whether hung up or adopted so.
    "Stubborn": "OpenRasLoopbackStepMs=0\nOpenRasLoopbackIgnoreHangUp=1\nOpenRasKillDeadlineMs=300",
    # About 1.2 s to connect: long enough to kill a client, a link or the daemon mid-dial.
    "Slow": "OpenRasLoopbackStepMs=120\nOpenRasLoopbackHangUpMs=300",
    "Dropper": "OpenRasLoopbackStepMs=0\nOpenRasLoopbackDropAfterMs=300\nOpenRasLoopbackHangUpMs=0",
    "Bad": "OpenRasLoopbackStepMs=0\nOpenRasLoopbackFailState=ConnectDevice\nOpenRasLoopbackFailCode=678",
}
ENTRIES = Entries(
    quick=("Quick A", "Quick B", "Quick C", "Stubborn"), slow="Slow", dropper="Dropper", bad="Bad"
)


class Rasman(Daemon, Protocol):
    """The ``rasman`` fixture (tests/conftest.py) as the soak uses it."""

    log: Path | None

    def stop(self) -> None: ...


def write_phonebook(path: Path) -> Path:
    path.write_text(
        "".join(f"[{name}]\nOpenRasDevice=loopback\n{keys}\n\n" for name, keys in LOOPBACK.items())
    )
    return path


def seed_of(config: pytest.Config) -> int:
    chosen = config.getoption("--soak-seed", default=None)
    if chosen is None and os.environ.get("OPENRAS_SOAK_SEED"):
        chosen = int(os.environ["OPENRAS_SOAK_SEED"])
    return int(chosen) if chosen is not None else random.SystemRandom().randrange(2**32)


def test_chaos_soak_loopback(rasman: Rasman, tmp_path: Path, pytestconfig: pytest.Config) -> None:
    """Loopback links only: every fault but a server's.

    Memory: the daemon's RSS after ``warmup`` steps and at the end (each a quiescent point,
    at most ``max_live`` links up) may differ by at most RSS_GROWTH, and so may the first
    and last sample of any one daemon process. The table, its history (64 records) and the
    parsed-phonebook cache are bounded, so a steady run should stay within allocator noise
    (a few MB: arenas, the per-link objects of up to 6 links); 12 MB is generous for that
    and still catches a leak of a few KB per step over a long run.
    """
    seed = seed_of(pytestconfig)
    minutes = pytestconfig.getoption("--soak-minutes", default=None)
    print(f"\nchaos soak seed {seed} (replay: --soak-seed {seed})")
    pbk = write_phonebook(tmp_path / "soak.pbk")
    soak = Soak(rasman, pbk, ENTRIES, random.Random(seed), log=rasman.log)
    started = time.monotonic()
    try:
        if minutes:
            soak.run(steps=None, seconds=float(minutes) * 60)
        else:
            soak.run(steps=CI_STEPS, seconds=CI_SECONDS)
        soak.finish()
        warm, end, growth = soak.memory()
        instance = soak.instance
    finally:
        soak.client.close()
    rasman.stop()
    left = marked_links(instance)
    run_dirs = list((rasman.state_dir / "links").iterdir())
    print(soak.summary())
    print(
        f"soak: {time.monotonic() - started:.0f} s; rasman RSS after warm-up {warm / 2**20:.1f} MB, "
        f"at the end {end / 2**20:.1f} MB; largest growth of one daemon process "
        f"{growth / 2**20:.1f} MB"
    )
    assert not left, f"link processes left after the daemon stopped: {left}"
    assert not run_dirs, f"run directories left: {run_dirs}"
    assert soak.steps >= 10, "too few steps to mean anything"
    assert end - warm < RSS_GROWTH, f"rasman grew from {warm} to {end} bytes"
    assert growth < RSS_GROWTH, f"one rasman process grew by {growth} bytes"


def test_the_soak_checker_sees_what_it_must(rasman: Rasman, tmp_path: Path) -> None:
    """A checker that sees nothing would pass any soak: plant an orphan link process, a run
    directory without a row and a row nobody dialed, and the check must name each."""
    pbk = write_phonebook(tmp_path / "soak.pbk")
    soak = Soak(rasman, pbk, ENTRIES, random.Random(0), log=rasman.log)
    stray_dir = rasman.state_dir / "links" / "link-999998"
    fake = None
    try:
        soak.check(soak.wait_quiet())
        assert soak.violations == []
        conn = soak.client.dial("Quick B", pbk)  # behind the model's back
        soak.check(soak.read())
        assert soak.violations == [f"a row nobody dialed: {conn.handle} 'Quick B' connected"]
        soak.violations.clear()
        fake = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(60)"],
            env={**os.environ, "OPENRAS_LINK": f"{soak.instance}:999999"},
        )
        stray_dir.mkdir()
        assert poll(lambda: marked_links(soak.instance).get(999999), 10)
        soak.check(soak.read())
        text = "\n".join(soak.violations)
        assert "of handle 999999, which has no row" in text, text
        assert "run directory link-999998 without a row" in text, text
    finally:
        if fake is not None:
            fake.kill()
            fake.wait(5)
        if stray_dir.exists():
            stray_dir.rmdir()
        soak.client.close()
