"""The VM benchmark's shared parts (``bench/bench_vm.py`` runs ``bench_*.py`` in the guest):
the programs started by hand inside namespace B, the openras side through the session's
rasman, the alternation and the figures.

"By hand" is what a script would do with the same programs: the same argv and files openras
builds (so the comparison is of the daemon's work, not of different options), started from
a thread of this process that has entered B (``NetnsLab.inside``: no ``ip netns exec``), and the same
"connected" condition openras uses (pppd's log says IPCP is done, the interface exists),
polled every 2 ms. Hang-up by hand: SIGTERM to pppd, until it and the interface are gone.
Every sample is printed as a ``BENCH`` line the host side collects.
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from netns import NetnsLab

from openras import rasapi
from openras.errors import ERROR_INVALID_HANDLE
from openras.links.ppp.argv import PppSettings, build_argv
from openras.links.ppp.interpreter import PppLog
from openras.links.rtnl import if_index

POLL = 0.002
#: Issue targets: openras / by hand, medians.
DIAL_TARGET, HANGUP_TARGET = 1.10, 1.25


def link_exists(ifname: str) -> bool:
    """By rtnetlink, as the daemon asks (``if_nametoindex`` of a missing name runs modprobe)."""
    return if_index(ifname) is not None


def password_memfd(password: str) -> int:
    fd = os.memfd_create("bench-password", 0)
    os.write(fd, password.encode())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def until_projected(kind: str, log: Path, ifname: str, alive: Callable[[], bool],
                    timeout: float) -> None:  # fmt: skip
    """Poll pppd's log (every 2 ms) until IPCP is done and the interface exists."""
    parser = PppLog(kind)
    offset = 0
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), open(log, "rb") as fh:
            fh.seek(offset)
            data = fh.read()
            offset += len(data)
            parser.feed(data)
        if parser.projected and link_exists(ifname):
            return
        if not alive():
            raise RuntimeError(f"pppd exited before connecting: {parser.last_line}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"not connected in {timeout} s: {parser.last_line}")
        time.sleep(POLL)


def stop_pppd(proc: subprocess.Popen[bytes], ifname: str, timeout: float = 30) -> None:
    """SIGTERM (LCP Terminate-Request), until pppd has exited and its interface is gone."""
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout)
    deadline = time.monotonic() + timeout
    while link_exists(ifname):
        assert time.monotonic() < deadline, f"{ifname} stayed"
        time.sleep(POLL)


def raw_pppd_round(lab: NetnsLab, settings: PppSettings, ns: str, password: str,
                   run_dir: Path, n: int, **argv_kw: str) -> tuple[float, float]:  # fmt: skip
    """pppd by hand with openras's argv for ``settings``: (dial, hang-up) seconds."""
    ifname, log = f"orbench{n}", run_dir / f"raw-{n}.log"
    fd = password_memfd(password)
    argv = build_argv(settings, pppd="/usr/sbin/pppd", ifname=ifname, linkname=f"bench-{n}",
                      logfile=log, password_fd=fd, **argv_kw)  # type: ignore[arg-type]  # fmt: skip
    try:
        with lab.inside(ns):
            t0 = time.perf_counter()
            proc = subprocess.Popen(argv, pass_fds=(fd,), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            try:
                until_projected(settings.kind, log, ifname, lambda: proc.poll() is None, 90)
                dial = time.perf_counter() - t0
                t1 = time.perf_counter()
                stop_pppd(proc, ifname)
                return dial, time.perf_counter() - t1
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(10)
    finally:
        os.close(fd)


def openras_round(pbk: Path, entry: str, user: str, password: str) -> tuple[float, float]:
    """RasDial until it returns (Connected), RasHangUp until status answers 6."""
    params = rasapi.RASDIALPARAMS(szEntryName=entry, szUserName=user, szPassword=password)
    t0 = time.perf_counter()
    code, h = rasapi.RasDial(None, str(pbk), params)
    dial = time.perf_counter() - t0
    if code != 0:
        if h:
            rasapi.RasHangUp(h)
        raise RuntimeError(f"openras dial failed: {code} {rasapi.RasGetErrorString(code)}")
    t1 = time.perf_counter()
    assert rasapi.RasHangUp(h) == 0
    while rasapi.RasGetConnectStatus(h)[0] != ERROR_INVALID_HANDLE:
        time.sleep(POLL)
    return dial, time.perf_counter() - t1


def alternate(name: str, raw: Callable[[], tuple[float, float]],
              ras: Callable[[], tuple[float, float]], reps: int,
              nm: Callable[[], tuple[float, float]] | None = None) -> None:  # fmt: skip
    """``reps`` rounds of each, alternating (raw first, then openras first; NetworkManager
    third when given), printed."""
    samples: dict[str, list[tuple[float, float]]] = {"raw": [], "openras": []}
    if nm is not None:
        samples["nm"] = []
    for i in range(reps):
        order = [("raw", raw), ("openras", ras), *([("nm", nm)] if nm is not None else [])]
        for side, fn in order if i % 2 == 0 else order[::-1]:
            dial, hang = fn()
            samples[side].append((dial, hang))
            print(f"BENCH sample {name} {side} {i} dial_ms={dial * 1e3:.1f} "
                  f"hangup_ms={hang * 1e3:.1f}", flush=True)  # fmt: skip
    med = {
        side: (statistics.median(d for d, _ in s), statistics.median(h for _, h in s))
        for side, s in samples.items()
    }
    dial_ratio = med["openras"][0] / med["raw"][0]
    hang_ratio = med["openras"][1] / med["raw"][1]
    print(
        f"BENCH result {name} reps={reps} raw_dial_ms={med['raw'][0] * 1e3:.1f} "
        f"openras_dial_ms={med['openras'][0] * 1e3:.1f} dial_ratio={dial_ratio:.2f} "
        f"raw_hangup_ms={med['raw'][1] * 1e3:.1f} "
        f"openras_hangup_ms={med['openras'][1] * 1e3:.1f} hangup_ratio={hang_ratio:.2f}"
        + (
            f" nm_dial_ms={med['nm'][0] * 1e3:.1f} nm_hangup_ms={med['nm'][1] * 1e3:.1f}"
            if "nm" in med
            else ""
        ),
        flush=True,
    )


class DaemonLog:
    """rasman's log lines written since the last call, as ``+ms text`` from a round's start
    (``--wire`` prints them: where a dial's or hang-up's time goes inside the daemon)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._at = path.stat().st_size

    def lines_since(self, start: float) -> list[str]:
        with self._path.open("rb") as fh:
            fh.seek(self._at)
            lines = fh.read().decode(errors="replace").splitlines()
            self._at = fh.tell()
        return daemon_marks(lines, start)


def traced(name: str, log: DaemonLog, fn: Callable[[], tuple[float, float]]) -> tuple[float, float]:
    """Run an openras round, then print rasman's log lines of it on the round's clock."""
    start = time.time()
    result = fn()
    for line in log.lines_since(start):
        print(f"BENCH wire {name} rasman {line}", flush=True)
    return result


def daemon_marks(lines: list[str], start: float) -> list[str]:
    """rasman's log lines (``%(asctime)s``: local time to the millisecond) as ``+ms text``
    from ``start``, for the lines that carry a time."""
    out = []
    for line in lines:
        stamp, rest = line[:23], line[24:]
        try:
            at = time.mktime(time.strptime(stamp[:19], "%Y-%m-%d %H:%M:%S")) + int(stamp[20:]) / 1e3
        except ValueError:
            continue
        out.append(f"+{(at - start) * 1e3:.0f} {rest.strip()}")
    return out
