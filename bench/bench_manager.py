"""Benchmarks of rasman: IPC round trips, dial/hang-up overhead, enumeration and memory at scale.

Prints figures; asserts nothing. Targets (DESIGN.md §7, issue #2) are shown beside the figures:

* status round trip p50/p99 (target p50 <= 100 us);
* dial -> Connected and hang-up -> 6 through rasman with zero step delays
  (OpenRasLoopbackStepMs=0, HangUpMs=0), as a ratio to the loopback link program alone, started
  and driven over its control socket by this script exactly as the driver does;
* RasEnumConnections with N live connections (target <= 5 ms at 1,000) and the daemon's RSS
  (target <= 40 MB at 1,000, issue 16);
* ``--burst N`` dials issued at once: the daemon's CPU per dial (target <= 1 ms), user and
  system time apart, and the machine's load average (other work skews every figure);
  ``--burst-rounds R`` repeats it (the first burst makes each link's run directory and
  journal, later ones reuse the spares the hang-ups left).

Usage: ``python bench/bench_manager.py [--connections 1000] [--rounds 30] [--calls 5000]``.
Every loopback link is a real Python process (~14 MB private memory, ~0.7 % CPU for its
heartbeat). So that 1,000 of them fit on a small machine, each link is SIGSTOPped once it is
connected: it stays alive and connected in the daemon's table but uses no CPU, and the
daemon-side figures are measured without 1,000 heartbeats competing for the cores. The script
stops adding connections when less than ``--min-free-gb`` of memory is left and then says so.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from openras import Client, rasapi
from openras.links.loopback.driver import program_argv
from openras.manager.persist import StateStore
from openras.wire import protocol as P
from openras.wire.transport import Transport

ZERO = {
    "OpenRasDevice": "loopback",
    "OpenRasLoopbackStepMs": "0",
    "OpenRasLoopbackHangUpMs": "0",
}


def pbk(names: list[str]) -> str:
    out = []
    for name in names:
        out.append(f"[{name}]")
        out += [f"{k}={v}" for k, v in ZERO.items()]
        out.append("")
    return "\n".join(out)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def us(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f} us"


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.2f} ms"


class Daemon:
    """rasman on a private socket and state dir."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = Path(tempfile.mkdtemp(prefix="orasb-", dir="/tmp")) / "rasman.sock"
        self.state = root / "state"
        self.log = root / "rasman.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "OPENRAS_SOCKET": str(self.socket),
            "OPENRAS_SYSTEM_PHONEBOOK": str(self.root / "none.pbk"),
        }
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "openras.manager",
                    "--socket",
                    str(self.socket),
                    "--state-dir",
                    str(self.state),
                    "--log-level",
                    "warning",
                ],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        deadline = time.monotonic() + 15
        while True:
            with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as s:
                s.connect(str(self.socket))
                return
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit(f"rasman did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.01)

    def links(self) -> list[psutil.Process]:
        assert self.proc is not None
        with contextlib.suppress(psutil.Error):
            return psutil.Process(self.proc.pid).children()
        return []

    def rss(self) -> tuple[float, float]:
        assert self.proc is not None
        info = psutil.Process(self.proc.pid).memory_full_info()
        return info.rss / 2**20, info.uss / 2**20

    def stop(self) -> None:
        """Stop the daemon and kill any link it leaves (a benchmark must not leak processes)."""
        leftovers = self.links()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for p in leftovers:
            with contextlib.suppress(psutil.Error):
                p.send_signal(signal.SIGCONT)
                p.kill()
        shutil.rmtree(self.socket.parent, ignore_errors=True)


def timed(fn: Callable[[], Any], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


# ------------------------------------------------------------------------------------ sections


def bench_round_trips(d: Daemon, pb: Path, calls: int) -> dict[str, Any]:
    with Client(d.socket, autostart=False) as c:
        h = c.dial("Zero", pb).handle
        t = Transport(d.socket)
        try:
            timed(lambda: t.call(P.GET_STATUS, {"handle": h}), 300)  # warm up
            raw = timed(lambda: t.call(P.GET_STATUS, {"handle": h}), calls)
            ping = timed(lambda: t.call(P.PING), calls)
        finally:
            t.close()
        os.environ["OPENRAS_SOCKET"] = str(d.socket)
        rasapi.RasGetConnectStatus(h)
        win32 = timed(lambda: rasapi.RasGetConnectStatus(h), calls)
        c.hang_up(h, wait=True)
    return {"status": raw, "ping": ping, "rasapi_status": win32}


def raw_program_round(root: Path, i: int) -> tuple[float, float]:
    """The loopback program alone: spawn, attach, start, Connected; stop, exit."""
    run = root / f"raw-{i}"
    run.mkdir()
    cfg = run / "loopback.json"
    cfg.write_text(
        json.dumps(
            {
                "step_ms": 0,
                "password": None,
                "fail_state": None,
                "fail_code": None,
                "drop_after_ms": None,
                "hangup_ms": 0,
                "ignore_hangup": False,
            }
        )
    )
    control = run / "control.sock"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
    }
    t0 = time.perf_counter()
    with open(run / "link.log", "wb") as log:
        proc = subprocess.Popen(
            program_argv("--control", str(control), "--config", str(cfg)),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=env,
            start_new_session=True,
        )
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    while True:
        try:
            sock.connect(str(control))
            break
        except (FileNotFoundError, ConnectionRefusedError):
            time.sleep(0.002)
    sock.sendall(
        b'{"cmd": "watch"}\n{"cmd": "status"}\n{"cmd": "start", "user": "", "password": ""}\n'
    )
    lines = sock.makefile("rb")
    while True:
        ev = json.loads(lines.readline())
        if ev.get("event") == "state" and ev.get("state") == 0x2000:
            break
    t1 = time.perf_counter()
    sock.sendall(b'{"cmd": "stop"}\n')
    proc.wait()
    lines.close()
    sock.close()
    shutil.rmtree(run, ignore_errors=True)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1


def bench_dial_hang_up(d: Daemon, pb: Path, root: Path, rounds: int) -> dict[str, list[float]]:
    dial, hang, raw_dial, raw_hang = [], [], [], []
    with Client(d.socket, autostart=False) as c:
        for i in range(rounds + 2):
            t0 = time.perf_counter()
            h = c.dial("Zero", pb).handle
            t1 = time.perf_counter()
            c.hang_up(h, wait=True)
            t2 = time.perf_counter()
            a, b = raw_program_round(root, i)
            if i >= 2:  # two rounds of warm-up
                dial.append(t1 - t0)
                hang.append(t2 - t1)
                raw_dial.append(a)
                raw_hang.append(b)
    return {"dial": dial, "hang": hang, "raw_dial": raw_dial, "raw_hang": raw_hang}


def cpu_ns(pid: int) -> int:
    """CPU time of every thread of ``pid`` so far, in nanoseconds (``schedstat``)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/schedstat") as fh:
            total += int(fh.read().split()[0])
    return total


def bench_burst(d: Daemon, root: Path, n: int) -> dict[str, Any]:
    """``n`` dials issued at once (a thread and a client each, released by one barrier), then
    ``n`` hang-ups at once: the daemon's CPU time per call (its own, from /proc: not the
    link programs') and the wall time until every one is Connected, then gone."""
    pb = root / "burst.pbk"
    names = [f"Burst {i}" for i in range(n)]
    pb.write_text(pbk(names))
    proc = psutil.Process(d.proc.pid if d.proc else 0)
    clients = [Client(d.socket, autostart=False) for _ in names]
    conns: list[Any] = [None] * n
    errors: list[str] = []
    barrier = threading.Barrier(n + 1)

    def dial(i: int) -> None:
        barrier.wait()
        try:
            conns[i] = clients[i].dial(names[i], pb)
        except Exception as exc:  # counted and printed, never hidden
            errors.append(f"dial {names[i]}: {exc}")

    def hang_up(i: int) -> None:
        barrier.wait()
        if conns[i] is not None:
            try:
                conns[i].hang_up(wait=True, timeout=60)
            except Exception as exc:
                errors.append(f"hang-up {names[i]}: {exc}")

    out: dict[str, Any] = {"n": n}
    try:
        for phase, fn in (("dial", dial), ("hang_up", hang_up)):
            threads = [threading.Thread(target=fn, args=(i,)) for i in range(n)]
            for t in threads:
                t.start()
            cpu0, run0 = proc.cpu_times(), cpu_ns(proc.pid)
            t0 = time.perf_counter()
            barrier.wait()
            for t in threads:
                t.join(120)
            out[f"{phase}_wall"] = time.perf_counter() - t0
            cpu1, run1 = proc.cpu_times(), cpu_ns(proc.pid)
            # The total from schedstat (nanoseconds); the user/system split only exists in
            # /proc's 10 ms ticks (0.1 ms per dial at 100 dials), so it is the coarse part.
            out[f"{phase}_user_per"] = (cpu1.user - cpu0.user) / n
            out[f"{phase}_sys_per"] = (cpu1.system - cpu0.system) / n
            out[f"{phase}_cpu_per"] = (run1 - run0) / 1e9 / n
            if phase == "dial":
                out["connected"] = sum(
                    1 for c in conns if c is not None and c.status().state == rasapi.RASCS_Connected
                )
            barrier.reset()
    finally:
        for c in clients:
            c.close()
    out["errors"] = errors
    return out


def link_pids(d: Daemon) -> dict[int, int]:
    """handle -> link pid, from the daemon's persisted table (what adoption would use)."""
    rec = StateStore(d.state).load() or {"table": {"rows": []}}
    out = {}
    for row in rec["table"]["rows"]:
        link = row.get("link") or {}
        if link.get("record"):
            out[int(row["handle"])] = int(link["record"]["pid"])
    return out


def bench_scale(
    d: Daemon, root: Path, target: int, steps: list[int], min_free_gb: float
) -> dict[str, Any]:
    names = [f"B{i:04d}" for i in range(target)]
    pb = root / "scale.pbk"
    pb.write_text(pbk(names))
    os.environ["OPENRAS_SOCKET"] = str(d.socket)
    stopped: set[int] = set()
    results: dict[str, Any] = {"steps": [], "limit": None}
    dial_times: list[float] = []
    handles: list[int] = []

    def pause_new_links() -> None:
        for p in d.links():
            if p.pid not in stopped:
                with contextlib.suppress(psutil.Error):
                    p.send_signal(signal.SIGSTOP)
                    stopped.add(p.pid)

    def step(n: int) -> None:
        pause_new_links()
        row = measure_at(d, c, n, dial_times)
        results["steps"].append(row)
        print(step_line(row), flush=True)

    print(step_header(), flush=True)
    with Client(d.socket, autostart=False) as c:
        try:
            for i, name in enumerate(names):
                if i % 25 == 0:
                    pause_new_links()
                    free = psutil.virtual_memory().available / 2**30
                    if free < min_free_gb:
                        results["limit"] = (
                            f"stopped at {i} connections: {free:.1f} GB free < {min_free_gb} GB"
                        )
                        break
                t0 = time.perf_counter()
                handles.append(c.dial(name, pb).handle)
                dial_times.append(time.perf_counter() - t0)
                if i + 1 in steps:
                    step(i + 1)
            if not results["steps"] or results["steps"][-1]["n"] != len(handles):
                step(len(handles))
        finally:
            # Tear down in batches: hang up 20, let only their programs run again, wait for 6.
            # (Resuming 1,000 heartbeating programs at once would swamp two cores.)
            pause_new_links()
            pids = link_pids(d)
            t0 = time.perf_counter()
            for k in range(0, len(handles), 20):
                batch = handles[k : k + 20]
                for h in batch:
                    with contextlib.suppress(Exception):
                        c.hang_up(h, wait=False)
                    with contextlib.suppress(KeyError, ProcessLookupError):
                        os.kill(pids[h], signal.SIGCONT)
                for h in batch:
                    with contextlib.suppress(Exception):
                        c.wait_gone(h, timeout=30)
            results["teardown_all"] = time.perf_counter() - t0
            for pid in stopped:  # anything missed: let the daemon's kill deadline see it
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
            results["left"] = len(c.connections(include_pending=True))
    return results


COLUMNS = (
    "connections",
    "RasEnumConnections p50",
    "p99",
    "records (wire) p50",
    "status p50",
    "daemon RSS",
    "daemon USS",
    "dial p50 (last 25)",
    "state file",
    "free mem",
)
WIDTHS = (11, 22, 8, 15, 10, 10, 10, 18, 10, 8)


def step_header() -> str:
    head = "  ".join(c.ljust(w) for c, w in zip(COLUMNS, WIDTHS, strict=True))
    return head + "\n" + "  ".join("-" * w for w in WIDTHS)


def step_line(s: dict[str, Any]) -> str:
    cells = (
        str(s["n"]),
        ms(s["enum_p50"]),
        ms(s["enum_p99"]),
        ms(s["enum_wire_p50"]),
        us(s["status_p50"]),
        f"{s['rss_mb']:.1f} MB",
        f"{s['uss_mb']:.1f} MB",
        ms(s["dial_recent_p50"]),
        f"{s['state_kb']:.0f} KB",
        f"{s['free_gb']:.1f} GB",
    )
    return "  ".join(c.ljust(w) for c, w in zip(cells, WIDTHS, strict=True))


def measure_at(d: Daemon, c: Client, n: int, dial_times: list[float]) -> dict[str, Any]:
    code, conns = rasapi.RasEnumConnections()
    if code or len(conns) != n:
        raise SystemExit(
            f"expected {n} live connections, RasEnumConnections gave {code}, {len(conns)}"
        )
    enum = timed(rasapi.RasEnumConnections, 40)
    t = Transport(d.socket)
    try:
        # The full records (Client.connections(), the tools); RasEnumConnections asks for rows.
        enum_wire = timed(lambda: t.call(P.ENUM, {"include_pending": False}), 40)
        h = conns[-1].hrasconn
        status = timed(lambda: t.call(P.GET_STATUS, {"handle": h}), 500)
    finally:
        t.close()
    rss, uss = d.rss()
    state = StateStore(d.state)
    state.load()  # finds the newest slot
    recent = dial_times[-min(25, len(dial_times)) :]
    return {
        "n": n,
        "enum_p50": statistics.median(enum),
        "enum_p99": pct(enum, 99),
        "enum_wire_p50": statistics.median(enum_wire),
        "status_p50": statistics.median(status),
        "rss_mb": rss,
        "uss_mb": uss,
        "dial_recent_p50": statistics.median(recent),
        "state_kb": state.path.stat().st_size / 1024 if state.path.exists() else 0.0,
        "free_gb": psutil.virtual_memory().available / 2**30,
    }


# ------------------------------------------------------------------------------------ report


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for j, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--connections", type=int, default=1000)
    ap.add_argument("--steps", default="1,100,250,500")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--calls", type=int, default=5000)
    ap.add_argument("--min-free-gb", type=float, default=4.0)
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument(
        "--burst", type=int, default=100, help="dials issued at once (0: no burst section)"
    )
    ap.add_argument(
        "--burst-rounds",
        type=int,
        default=1,
        help="bursts one after the other (the first makes the run dirs, later ones reuse them)",
    )
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="oras-bench-"))
    pb = root / "bench.pbk"
    pb.write_text(pbk(["Zero"]))
    d = Daemon(root)
    print(
        f"# rasman benchmark: python {sys.version.split()[0]}, {os.cpu_count()} cpus, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GB, load average {os.getloadavg()[0]:.2f}; "
        f"work dir {root}",
        flush=True,
    )
    try:
        d.start()
        rt = bench_round_trips(d, pb, args.calls)
        dh = bench_dial_hang_up(d, pb, root, args.rounds)
        rows = [("figure", "p50", "p99 / p90", "target", "note")]
        rows.append(
            (
                "GetConnectStatus round trip (wire)",
                us(statistics.median(rt["status"])),
                us(pct(rt["status"], 99)),
                "p50 <= 100 us",
                f"{len(rt['status']) / sum(rt['status']):,.0f} calls/s on one connection",
            )
        )
        rows.append(
            (
                "Ping round trip (wire)",
                us(statistics.median(rt["ping"])),
                us(pct(rt["ping"], 99)),
                "",
                "",
            )
        )
        rows.append(
            (
                "rasapi.RasGetConnectStatus",
                us(statistics.median(rt["rasapi_status"])),
                us(pct(rt["rasapi_status"], 99)),
                "",
                "Win32 face: wire + record",
            )
        )
        for label, key, raw in (
            ("dial -> Connected", "dial", "raw_dial"),
            ("hang-up -> 6", "hang", "raw_hang"),
        ):
            mine, alone = statistics.median(dh[key]), statistics.median(dh[raw])
            rows.append(
                (
                    f"{label} via rasman",
                    ms(mine),
                    ms(pct(dh[key], 90)),
                    "",
                    f"{len(dh[key])} rounds",
                )
            )
            rows.append(
                (
                    f"{label}, program alone",
                    ms(alone),
                    ms(pct(dh[raw], 90)),
                    "",
                    f"ratio rasman/alone = {mine / alone:.2f}x (+{ms(mine - alone)})",
                )
            )
        print(table(rows), flush=True)
        per_dial: list[float] = []
        per_hang_up: list[float] = []
        for round_ in range(args.burst_rounds if args.burst else 0):
            b = bench_burst(d, root, args.burst)
            if round_:  # the first makes every link's run dir: reported, not summarized
                per_dial.append(b["dial_cpu_per"])
                per_hang_up.append(b["hang_up_cpu_per"])
            print(
                f"\n# burst {round_ + 1}: {b['n']} dials issued at once: {b['connected']} Connected in "
                f"{b['dial_wall']:.2f} s; daemon CPU per dial {ms(b['dial_cpu_per'])} "
                f"(user {ms(b['dial_user_per'])}, system {ms(b['dial_sys_per'])}; "
                f"target <= 1 ms); {b['n']} hang-ups at once until 6: {b['hang_up_wall']:.2f} s, "
                f"daemon CPU per hang-up {ms(b['hang_up_cpu_per'])}; errors: {len(b['errors'])}; "
                f"load average {os.getloadavg()[0]:.2f}",
                flush=True,
            )
            for e in b["errors"][:10]:
                print(f"  {e}")
        if per_dial:
            print(
                f"\n# bursts 2-{len(per_dial) + 1}: daemon CPU per dial median "
                f"{ms(statistics.median(per_dial))} (range {ms(min(per_dial))}-{ms(max(per_dial))}; "
                f"target <= 1 ms), per hang-up median {ms(statistics.median(per_hang_up))}",
                flush=True,
            )
        if args.skip_scale:
            return
        steps = sorted({int(s) for s in args.steps.split(",") if s} | {args.connections})
        print(
            f"\n# scale: up to {args.connections} live loopback connections (links SIGSTOPped once connected)",
            flush=True,
        )
        sc = bench_scale(d, root, args.connections, steps, args.min_free_gb)
        last = sc["steps"][-1]
        print(
            f"targets at 1,000: RasEnumConnections <= 5 ms, daemon RSS <= 40 MB; "
            f"reached {last['n']} live connections"
        )
        if last["n"] < 1000 and len(sc["steps"]) >= 2:
            a, b = sc["steps"][-2], last
            per = (b["rss_mb"] - a["rss_mb"]) / max(1, b["n"] - a["n"])
            enum_per = (b["enum_p50"] - a["enum_p50"]) / max(1, b["n"] - a["n"])
            print(
                f"EXTRAPOLATED (linear from the last two steps) to 1,000: RSS ~{b['rss_mb'] + per * (1000 - b['n']):.0f} MB, "
                f"RasEnumConnections ~{ms(b['enum_p50'] + enum_per * (1000 - b['n']))}"
            )
        if sc["limit"]:
            print(sc["limit"])
        print(
            f"hang-up of all {last['n']} (batches of 20) until each answers 6: "
            f"{sc['teardown_all']:.1f} s; left: {sc['left']}"
        )
    finally:
        d.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
