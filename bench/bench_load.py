"""Load run of rasman (issue 16 §3): many clients at once, a mix of calls, one daemon.

``--connections`` (100) loopback connections are dialed first and kept, so that status and
enumeration run "at 100 connections"; then ``--clients`` (100) clients, a share of them
(``--processes-share``, half) in processes of their own and the rest as threads of this one,
each with its own session, make ``--calls`` (1,000) calls each, drawn from a fixed weighted
mix (:data:`MIX`) with a seeded RNG, as fast as they are answered (no pause between calls):

* ``status``: GetConnectStatus of a long-lived handle (must be Connected);
* ``enumerate``: ``Client.connections()``, the full records (at least the long-lived ones);
* ``statistics``: of a long-lived handle whose link runs;
* ``subscribe``: a session of its own, Subscribe until "subscribed", then closed (unsubscribed);
* ``dial``: the client's own loopback entry until Connected, then ``hang_up`` (``wait``) and
  one status call, which must answer ERROR_INVALID_HANDLE (6) (``hang_up`` and ``gone``).

Every exception and every unexpected answer is an error, counted per kind; the first few are
printed. Prints throughput, p50/p99/max per kind and the targets beside the figures
(0 errors; p99 <= 5 ms for status and enumerate), and where the CPU went during the calls
(daemon, client processes, client threads, the rest) with the daemon's time waiting for a
CPU (schedstat). Asserts nothing. ``--mix dial=0,...`` changes weights; ``--rate R`` paces
each client at R calls/s (exponential gaps) instead of back to back.

Each loopback link is a Python process (~9 MB, 2.8 MB of it its own); the long-lived ones are SIGSTOPped once
connected (see bench_manager), except ``--running`` of them, which serve the statistics
calls (a stopped link would let the daemon's statistics query wait for its 2 s timeout).

Usage: ``python bench/bench_load.py [--clients 100] [--calls 1000] [--processes-share 0.5]``;
``--quick`` is 10 clients x 100 calls at 10 connections.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import queue
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from bench_manager import Daemon, ms, pbk, pct, table

from openras import Client
from openras.errors import ERROR_INVALID_HANDLE, RasError
from openras.states import RasConnState
from openras.wire import protocol as P
from openras.wire.transport import Transport

#: The call mix: kind and weight (per 1,000 draws). A "dial" draw is three timed calls.
MIX: tuple[tuple[str, int], ...] = (
    ("status", 400),
    ("enumerate", 250),
    ("statistics", 200),
    ("subscribe", 145),
    ("dial", 5),
)
#: The kinds reported, in order (a dial draw times dial, hang_up and gone).
KINDS = ("status", "enumerate", "statistics", "subscribe", "dial", "hang_up", "gone")
#: p99 targets (seconds) of issue 16 §3.
P99_TARGET = {"status": 0.005, "enumerate": 0.005}
#: Error messages each worker keeps (all are counted).
KEEP_ERRORS = 5


@dataclass(frozen=True)
class Spec:
    """What one worker needs: picklable, for the processes."""

    index: int
    socket: Path
    phonebook: Path
    entry: str
    handles: tuple[int, ...]
    running: tuple[int, ...]
    calls: int
    seed: int
    timeout: float
    mix: tuple[tuple[str, int], ...] = MIX
    #: Calls per second (exponential gaps); 0: each call as soon as the previous returns.
    rate: float = 0.0
    process: bool = False


@dataclass
class Result:
    """One worker's latencies (seconds) per kind, errors per kind and the first messages."""

    index: int
    process: bool = False
    #: CPU seconds of the worker's process during its calls (a thread's: the whole process's).
    cpu: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    errors: dict[str, int] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)

    def wire(self) -> tuple[Any, ...]:
        """Plain data for the results queue (a class of a spawned ``__mp_main__`` would not
        unpickle in this process)."""
        return self.index, self.process, self.cpu, self.latencies, self.errors, self.messages

    def error(self, kind: str, what: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if len(self.messages) < KEEP_ERRORS:
            self.messages.append(f"client {self.index} {kind}: {what}")


class Unexpected(Exception):
    """An answer that came back but is not the one expected."""


def do_status(c: Client, spec: Spec, rng: random.Random) -> None:
    info = c.status(rng.choice(spec.handles))
    if info.state != RasConnState.Connected:
        raise Unexpected(f"handle {info.handle} in state {info.state!r}")


def do_enumerate(c: Client, spec: Spec, rng: random.Random) -> None:
    n = len(c.connections())
    if n < len(spec.handles):
        raise Unexpected(f"{n} connections listed, {len(spec.handles)} are up")


def do_statistics(c: Client, spec: Spec, rng: random.Random) -> None:
    st = c.statistics(rng.choice(spec.running))
    if st.duration_ms <= 0:
        raise Unexpected(f"duration {st.duration_ms} ms")


def do_subscribe(c: Client, spec: Spec, rng: random.Random) -> None:
    t = Transport(spec.socket, spec.timeout)
    try:
        first = next(t.stream(P.SUBSCRIBE, {}))
        if first.get("event") != "subscribed":
            raise Unexpected(f"first message {first!r}")
    finally:
        t.close()


CALLS = {
    "status": do_status,
    "enumerate": do_enumerate,
    "statistics": do_statistics,
    "subscribe": do_subscribe,
}


def dial_cycle(c: Client, spec: Spec, out: Result) -> None:
    """Dial the client's own entry, hang it up until gone, and check status answers 6."""
    t0 = time.perf_counter()
    try:
        h = c.dial(spec.entry, spec.phonebook).handle
    except Exception as exc:  # counted and printed, never hidden
        out.error("dial", repr(exc))
        if isinstance(exc, RasError) and exc.handle:
            with contextlib.suppress(Exception):
                c.hang_up(exc.handle, wait=True)
        return
    t1 = time.perf_counter()
    out.latencies["dial"].append(t1 - t0)
    try:
        c.hang_up(h, wait=True, timeout=spec.timeout)
    except Exception as exc:
        out.error("hang_up", repr(exc))
        return
    t2 = time.perf_counter()
    out.latencies["hang_up"].append(t2 - t1)
    try:
        c.status(h)
    except RasError as exc:
        out.latencies["gone"].append(time.perf_counter() - t2)
        if exc.code != ERROR_INVALID_HANDLE:
            out.error("gone", f"status of hung-up handle {h}: {exc.code} {exc}")
    except Exception as exc:
        out.error("gone", repr(exc))
    else:
        out.error("gone", f"handle {h} still answers status after its hang-up")


def worker(spec: Spec, go: Any, results: Any) -> None:
    """Connect, say ready, wait for ``go``, make the calls, put the :class:`Result`."""
    out = Result(spec.index, spec.process)
    rng = random.Random(spec.seed)
    gaps = random.Random(spec.seed + 1)
    kinds = [k for k, _ in spec.mix]
    weights = [w for _, w in spec.mix]
    try:
        c = Client(spec.socket, autostart=False, timeout=spec.timeout)
    except Exception as exc:
        out.error("connect", repr(exc))
        results.put(("ready", spec.index))
        results.put(("done", out.wire()))
        return
    results.put(("ready", spec.index))
    go.wait()
    due = time.monotonic()
    cpu0 = time.process_time()
    try:
        for kind in rng.choices(kinds, weights, k=spec.calls):
            if spec.rate > 0:
                due += gaps.expovariate(spec.rate)
                time.sleep(max(0.0, due - time.monotonic()))
            if kind == "dial":
                dial_cycle(c, spec, out)
                continue
            t0 = time.perf_counter()
            try:
                CALLS[kind](c, spec, rng)
            except Exception as exc:
                out.error(kind, repr(exc))
                continue
            out.latencies[kind].append(time.perf_counter() - t0)
    finally:
        out.cpu = time.process_time() - cpu0
        c.close()
        results.put(("done", out.wire()))


# ------------------------------------------------------------------------------------ set-up


def dial_long_lived(
    d: Daemon, pb: Path, names: list[str], running: int
) -> tuple[list[int], set[int]]:
    """Dial ``names``; SIGSTOP each link once connected except the first ``running`` ones.

    Returns the handles and the pids stopped."""
    handles: list[int] = []
    stopped: set[int] = set()
    keep: set[int] = set()
    with Client(d.socket, autostart=False) as c:
        for i, name in enumerate(names):
            handles.append(c.dial(name, pb).handle)
            if i + 1 == running:
                keep = {p.pid for p in d.links()}
            if i + 1 >= running and (i % 10 == 9 or i + 1 == len(names)):
                for p in d.links():
                    if p.pid not in keep and p.pid not in stopped:
                        with contextlib.suppress(psutil.Error):
                            p.send_signal(signal.SIGSTOP)
                            stopped.add(p.pid)
    return handles, stopped


def hang_up_all(d: Daemon, handles: list[int], stopped: set[int]) -> int:
    """Resume the stopped links and hang everything up, 20 at a time; return how many are left."""
    with Client(d.socket, autostart=False) as c:
        for pid in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        for k in range(0, len(handles), 20):
            batch = handles[k : k + 20]
            for h in batch:
                with contextlib.suppress(Exception):
                    c.hang_up(h, wait=False)
            for h in batch:
                with contextlib.suppress(Exception):
                    c.wait_gone(h, timeout=30)
        return len(c.connections(include_pending=True))


def ours(marks: tuple[str, ...]) -> list[str]:
    """Processes whose command line names one of ``marks`` (the run's directories)."""
    found = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        line = " ".join(p.info["cmdline"] or [])
        if p.pid != os.getpid() and any(m in line for m in marks):
            found.append(f"{p.pid} {line[:120]}")
    return found


# ------------------------------------------------------------------------------------ run


@dataclass
class Usage:
    """Where the CPU went during the calls (seconds), and the daemon's time on the CPU and
    waiting for one (``/proc/PID/task/*/schedstat``: run, run-queue wait)."""

    wall: float = 0.0
    machine: float = 0.0
    daemon: float = 0.0
    daemon_run: float = 0.0
    daemon_wait: float = 0.0
    threads: float = 0.0
    processes: float = 0.0


def schedstat(pid: int) -> tuple[float, float]:
    """Seconds on the CPU and runnable but waiting for it, summed over the threads of ``pid``."""
    run = wait = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError):
            a, b, _ = (task / "schedstat").read_text().split()
            run, wait = run + int(a), wait + int(b)
    return run / 1e9, wait / 1e9


def busy() -> float:
    """CPU seconds the machine spent not idle, all cores."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def run(d: Daemon, specs: list[Spec], deadline: float) -> tuple[list[Result], Usage]:
    """Start the workers, release them at once, collect the results and the CPU use."""
    ctx = mp.get_context("spawn")
    go = ctx.Event()
    results = ctx.Queue()
    procs = [ctx.Process(target=worker, args=(s, go, results)) for s in specs if s.process]
    threads = [
        threading.Thread(target=worker, args=(s, go, results), daemon=True)
        for s in specs
        if not s.process
    ]
    for p in procs:
        p.start()
    for t in threads:
        t.start()
    out: list[Result] = []
    use = Usage()
    try:
        ready = 0
        while ready < len(specs):
            msg = results.get(timeout=120)
            ready += msg[0] == "ready"
            if msg[0] == "done":
                out.append(Result(*msg[1]))
        assert d.proc is not None
        daemon = psutil.Process(d.proc.pid)
        me = psutil.Process()
        cpu0, mine0, machine0 = sum(daemon.cpu_times()[:2]), sum(me.cpu_times()[:2]), busy()
        run0, wait0 = schedstat(d.proc.pid)
        t0 = time.perf_counter()
        go.set()
        while len(out) < len(specs):
            msg = results.get(timeout=max(1.0, deadline - time.monotonic()))
            if msg[0] == "done":
                out.append(Result(*msg[1]))
        use.wall = time.perf_counter() - t0
        use.daemon = sum(daemon.cpu_times()[:2]) - cpu0
        use.threads = sum(me.cpu_times()[:2]) - mine0
        use.machine = busy() - machine0
        run1, wait1 = schedstat(d.proc.pid)
        use.daemon_run, use.daemon_wait = run1 - run0, wait1 - wait0
        use.processes = sum(r.cpu for r in out if r.process)
    except queue.Empty:
        raise SystemExit(f"only {len(out)} of {len(specs)} clients finished in time") from None
    finally:
        go.set()
        for p in procs:
            p.join(30)
            if p.is_alive():
                p.kill()
                p.join()
        for t in threads:
            t.join(30)
    return out, use


def merged(out: list[Result]) -> tuple[dict[str, list[float]], dict[str, int], list[str]]:
    """All workers' latencies and errors per kind, and their first messages."""
    lat: dict[str, list[float]] = {k: [] for k in KINDS}
    errs: dict[str, int] = {}
    messages: list[str] = []
    for r in out:
        for k, v in r.latencies.items():
            lat[k] += v
        for k, n in r.errors.items():
            errs[k] = errs.get(k, 0) + n
        messages += r.messages
    return lat, errs, messages


def spread(v: list[float]) -> tuple[str, str, str]:
    return (ms(pct(v, 50)), ms(pct(v, 99)), ms(max(v))) if v else ("-", "-", "-")


def report(out: list[Result], use: Usage) -> None:
    lat, errs, messages = merged(out)
    total = sum(len(v) for v in lat.values()) + sum(errs.values())
    n_err = sum(errs.values())
    rows: list[tuple[str, ...]] = [("call", "count", "p50", "p99", "max", "errors", "target")]
    for k in [*KINDS, *sorted(set(errs) - set(KINDS))]:
        v = lat.get(k, [])
        target = ""
        if k in P99_TARGET:
            met = bool(v) and pct(v, 99) <= P99_TARGET[k] and not errs.get(k)
            target = f"p99 <= {ms(P99_TARGET[k])}: {'met' if met else 'MISSED'}"
        rows.append((k, f"{len(v):,}", *spread(v), str(errs.get(k, 0)), target))
    for label, proc in (("processes", True), ("threads", False)):
        part = merged([r for r in out if r.process == proc])[0]
        for k in P99_TARGET:
            rows.append((f"  {k}, {label}", f"{len(part[k]):,}", *spread(part[k]), "", ""))
    print(table(rows))
    print(
        f"\ncalls: {total:,} in {use.wall:.2f} s = {total / use.wall:,.0f} calls/s; "
        f"daemon CPU {use.daemon:.2f} s ({100 * use.daemon / use.wall:.0f} % of one core, "
        f"{use.daemon / max(1, total) * 1e6:,.0f} us per call)"
    )
    rest = use.machine - use.daemon - use.threads - use.processes
    print(
        f"CPU busy {use.machine:.1f} s of {use.wall * (os.cpu_count() or 1):.1f} s: daemon "
        f"{use.daemon:.1f}, client processes {use.processes:.1f}, client threads (this "
        f"process) {use.threads:.1f}, the rest (link programs, other work) {rest:.1f}; the "
        f"daemon ran {use.daemon_run:.1f} s and waited {use.daemon_wait:.1f} s for a CPU"
    )
    print(f"errors: {n_err} (target 0: {'met' if n_err == 0 else 'MISSED'})")
    for m in messages[:10]:
        print(f"  {m}")


def parse_mix(text: str) -> tuple[tuple[str, int], ...]:
    """``status=400,dial=0``: the weights given replace :data:`MIX`'s."""
    weights = dict(MIX)
    for part in filter(None, text.split(",")):
        kind, _, w = part.partition("=")
        if kind not in weights:
            raise SystemExit(f"--mix: unknown kind {kind!r} (known: {', '.join(weights)})")
        weights[kind] = int(w)
    return tuple((k, w) for k, w in weights.items() if w > 0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=None, help="default 100 (--quick: 10)")
    ap.add_argument(
        "--calls", type=int, default=None, help="per client; default 1000 (--quick: 100)"
    )
    ap.add_argument(
        "--connections", type=int, default=None, help="long-lived; default 100 (--quick: 10)"
    )
    ap.add_argument(
        "--processes-share", type=float, default=0.5, help="share of clients in processes"
    )
    ap.add_argument(
        "--running", type=int, default=10, help="long-lived links left running (statistics)"
    )
    ap.add_argument("--mix", default="", help="weights per 1,000 draws, e.g. dial=0,status=500")
    ap.add_argument("--rate", type=float, default=0.0, help="calls/s per client (0: back to back)")
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--timeout", type=float, default=30.0, help="per call, seconds")
    ap.add_argument("--deadline", type=float, default=1800.0, help="for the whole run, seconds")
    ap.add_argument("--quick", action="store_true", help="10 clients x 100 calls at 10 connections")
    args = ap.parse_args()
    small = args.quick
    clients = args.clients if args.clients is not None else (10 if small else 100)
    calls = args.calls if args.calls is not None else (100 if small else 1000)
    conns = args.connections if args.connections is not None else (10 if small else 100)
    running = max(1, min(args.running, conns))
    n_processes = round(clients * min(1.0, max(0.0, args.processes_share)))
    mix = parse_mix(args.mix)

    root = Path(tempfile.mkdtemp(prefix="oras-load-"))
    pb = root / "load.pbk"
    long_names = [f"L{i:03d}" for i in range(conns)]
    pb.write_text(pbk(long_names + [f"D{i:03d}" for i in range(clients)]))
    d = Daemon(root)
    marks = (str(root), str(d.socket.parent))
    load = os.getloadavg()
    pace = f"{args.rate:g} calls/s each" if args.rate > 0 else "back to back"
    print(
        f"# rasman load run: python {sys.version.split()[0]}, {os.cpu_count()} cpus, "
        f"load average {load[0]:.2f}; {clients} clients ({n_processes} processes, "
        f"{clients - n_processes} threads) x {calls} calls ({pace}) at {conns} connections "
        f"({running} links running, the others SIGSTOPped); seed {args.seed}; "
        f"mix {', '.join(f'{k} {w}' for k, w in mix)}",
        flush=True,
    )
    handles: list[int] = []
    stopped: set[int] = set()
    try:
        d.start()
        assert d.proc is not None
        t0 = time.perf_counter()
        handles, stopped = dial_long_lived(d, pb, long_names, running)
        print(
            f"daemon pid {d.proc.pid}; dialed {len(handles)} long-lived connections in "
            f"{time.perf_counter() - t0:.1f} s",
            flush=True,
        )
        specs = [
            Spec(
                index=i,
                socket=d.socket,
                phonebook=pb,
                entry=f"D{i:03d}",
                handles=tuple(handles),
                running=tuple(handles[:running]),
                calls=calls,
                seed=args.seed * 100_003 + i,
                timeout=args.timeout,
                mix=mix,
                rate=args.rate,
                process=i < n_processes,
            )
            for i in range(clients)
        ]
        out, use = run(d, specs, time.monotonic() + args.deadline)
        report(out, use)
    finally:
        left = -1
        if d.proc is not None and d.proc.poll() is None:
            with contextlib.suppress(Exception):
                left = hang_up_all(d, handles, stopped)
        d.stop()
        shutil.rmtree(root, ignore_errors=True)
        behind = ours(marks)
        print(
            f"teardown: {left} connections left before the daemon stopped; processes left: {len(behind)}"
        )
        for line in behind:
            print(f"  {line}")


if __name__ == "__main__":
    main()
