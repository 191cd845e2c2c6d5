"""Start-up of the command-line tools, wall clock per run. Target: median < 100 ms for
``rasdial /?``, ``openras --help`` and ``openras list`` (a real manager answering).

Run: ``python bench/bench_cli.py [runs]`` (default 21). A private rasman is started on a temp
socket for the commands that talk to one and stopped afterwards; the bare interpreter's
start-up is printed as the floor no command can go below.
"""

from __future__ import annotations

import os
import shutil
import socket as so
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_MS = 100.0


def command(name: str, module: str) -> list[str]:
    found = shutil.which(name, path=os.path.dirname(sys.executable))
    return [found] if found else [sys.executable, "-m", module]


def timed(argv: list[str], env: dict[str, str], runs: int) -> list[float]:
    """Milliseconds per run; one warm-up run first (page cache, .pyc files)."""
    out = []
    for i in range(runs + 1):
        t0 = time.perf_counter()
        p = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        took = (time.perf_counter() - t0) * 1000
        if p.returncode != 0:
            raise SystemExit(f"{argv} failed ({p.returncode}): {p.stderr.decode()}")
        if i:
            out.append(took)
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
            cases = [
                ("python -c pass (floor)", [sys.executable, "-c", "pass"]),
                ("rasdial /?", [*rasdial, "/?"]),
                ("openras --help", [*openras, "--help"]),
                ("openras list", [*openras, "list"]),
                ("rasdial (list)", [*rasdial]),
            ]
            print(f"{runs} runs each, wall clock ms (target median < {TARGET_MS:g} ms)")
            print(f"{'command':<24} {'median':>7} {'min':>7} {'max':>7}")
            for label, argv in cases:
                ms = timed(argv, env, runs)
                med = statistics.median(ms)
                flag = "" if label.endswith("(floor)") or med < TARGET_MS else "  over target"
                print(f"{label:<24} {med:7.1f} {min(ms):7.1f} {max(ms):7.1f}{flag}")
        finally:
            daemon.terminate()
            daemon.wait(15)


if __name__ == "__main__":
    main()
