"""Start-up of the command-line tools per run: wall clock, and the CPU time the command used
(user + system, from its rusage: less disturbed by other work on the machine). Targets
(issue 16), on the median wall clock: ``rasdial`` listing <= 40 ms, ``openras list`` <= 45 ms
(a real manager answering), the help texts < 100 ms.

Run: ``python bench/bench_cli.py [runs]`` (default 21). A private rasman is started on a temp
socket for the commands that talk to one and stopped afterwards; the bare interpreter's
start-up is printed as the floor no command can go below, and the load average before and
after (the machine's other work shows in the wall clock).
"""

from __future__ import annotations

import os
import resource
import shutil
import socket as so
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HELP_TARGET_MS = 100.0


def command(name: str, module: str) -> list[str]:
    found = shutil.which(name, path=os.path.dirname(sys.executable))
    return [found] if found else [sys.executable, "-m", module]


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """One run: milliseconds of wall clock and of CPU (user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    took = (time.perf_counter() - t0) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise SystemExit(f"{argv} failed ({p.returncode}): {p.stderr.decode()}")
    return took, (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000


def timed(
    argvs: list[list[str]], env: dict[str, str], runs: int
) -> list[tuple[list[float], list[float]]]:
    """Per command, ms per run (wall, CPU). The commands take turns, so a change in the
    machine's load touches them alike; one warm-up round first (page cache, .pyc files)."""
    out: list[tuple[list[float], list[float]]] = [([], []) for _ in argvs]
    for i in range(runs + 1):
        for argv, (wall, cpu) in zip(argvs, out, strict=True):
            took, used = run_once(argv, env)
            if i:
                wall.append(took)
                cpu.append(used)
    return out


def wait_listening(path: Path, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"rasman exited with {proc.returncode}")
        s = so.socket(so.AF_UNIX, so.SOCK_STREAM)
        try:
            s.connect(str(path))
            return
        except OSError:
            time.sleep(0.02)
        finally:
            s.close()
    raise SystemExit("rasman did not listen in 15 s")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 21
    rasdial = command("rasdial", "openras.cli.rasdial")
    openras = command("openras", "openras.cli.openras")
    with tempfile.TemporaryDirectory(prefix="oras-bench-", dir="/tmp") as d:
        sock = Path(d) / "s.sock"
        daemon = subprocess.Popen(
            [
                *(sys.executable, "-m", "openras.manager", "--socket", str(sock)),
                *("--state-dir", str(Path(d) / "state"), "--log-level", "warning"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_listening(sock, daemon)
            env = {**os.environ, "OPENRAS_SOCKET": str(sock), "XDG_CONFIG_HOME": d}
            # As on a user's machine: the warm-up run writes the .pyc files. With the
            # variable set, every module edited since its .pyc was compiled anew per run.
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            cases: list[tuple[str, list[str], float | None]] = [
                ("python -c pass (floor)", [sys.executable, "-c", "pass"], None),
                ("rasdial /?", [*rasdial, "/?"], HELP_TARGET_MS),
                ("openras --help", [*openras, "--help"], HELP_TARGET_MS),
                ("openras list", [*openras, "list"], 45.0),
                ("rasdial (list)", [*rasdial], 40.0),
            ]
            print(f"{runs} runs each, ms; load average {load()}")
            print(f"{'command':<24} {'median':>7} {'min':>7} {'max':>7} {'cpu':>7} {'target':>7}")
            results = timed([argv for _, argv, _ in cases], env, runs)
            for (label, _, target), (wall, cpu) in zip(cases, results, strict=True):
                med = statistics.median(wall)
                flag = "  over target" if target is not None and med > target else ""
                aim = f"{target:7g}" if target is not None else " " * 7
                print(
                    f"{label:<24} {med:7.1f} {min(wall):7.1f} {max(wall):7.1f}"
                    f" {statistics.median(cpu):7.1f} {aim}{flag}"
                )
            print(f"load average after: {load()}")
        finally:
            daemon.terminate()
            daemon.wait(15)


if __name__ == "__main__":
    main()
