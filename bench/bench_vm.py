"""Dial and hang-up through openras vs the same programs started by hand, for the link types
this kernel cannot run (PPPoE, SSTP, L2TP/IPsec, kernel WireGuard): one VM boot (the VM tier's, Debian's own
kernel under QEMU), the guest benchmarks ``tests/vm/guest/bench_*.py`` in it.

Each type alternates N rounds of the program started by hand (the same argv and files openras
builds, from a thread inside the client namespace, polled every 2 ms) with N rounds through
the session's rasman (RasDial until Connected, RasHangUp until status answers 6). Kernel
WireGuard by hand is wg-quick's steps (``ip`` and ``wg``, then ``wg show`` until the first
handshake; ``tests/vm/guest/bench_wireguard.py``). Targets
(issues 14 and 15): openras/by-hand median ≤ 1.10 for the dial and ≤ 1.25 for the hang-up.

Under TCG (no KVM here) everything runs 5-10x slower than on hardware: the absolute figures
measure the emulator; the ratios are what to read.

Run as root: ``python bench/bench_vm.py [--reps N] [--types pppoe,sstp,l2tp,wireguard]``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "vm"))

import vmrun  # noqa: E402

TYPES = ("pppoe", "sstp", "l2tp", "wireguard")
TARGETS = {"dial": 1.10, "hangup": 1.25}
_RESULT = re.compile(r"BENCH result (\S+) (.*)$", re.M)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--types", default=",".join(TYPES))
    parser.add_argument(
        "--wire", action="store_true",
        help="also print each PPPoE round's frames (time from the round's start, sender, kind)",
    )  # fmt: skip
    args = parser.parse_args()
    types = [t for t in args.types.split(",") if t]
    unknown = sorted(set(types) - set(TYPES))
    if unknown:
        parser.error(f"unknown types {unknown}: choose from {', '.join(TYPES)}")
    missing = vmrun.missing_prerequisites()
    if missing:
        print("the VM cannot run: " + "; ".join(missing), file=sys.stderr)
        return 2
    files = [f"tests/vm/guest/bench_{t}.py" for t in types]
    os.environ["OPENRAS_VM_GUEST_ARGS"] = " ".join(
        [*files, "-s", "-o", "timeout=1800", f"--bench-reps={args.reps}"]
    )
    with tempfile.TemporaryDirectory(prefix="openras-bench-vm-") as tmp:
        run = vmrun.run_tier(Path(tmp) / "rw", timeout=600 + 300 * args.reps * len(types))
    print(run.summary())
    for line in run.output.splitlines():
        for tag in (
            "BENCH sample ",
            "BENCH phases ",
            "BENCH note ",
            *(("BENCH wire ",) if args.wire else ()),
        ):  # (pytest -v may print a name first)
            if tag in line:
                print("  " + line.partition(tag)[2])
    results = {name: dict(kv.split("=") for kv in rest.split()) for name, rest in
               _RESULT.findall(run.output)}  # fmt: skip
    print(f"\n{'type':8} {'raw dial':>10} {'openras':>10} {'ratio':>6}   "
          f"{'raw hang-up':>12} {'openras':>10} {'ratio':>6}   verdict")  # fmt: skip
    ok = True
    for name in types:
        r = results.get(name)
        if r is None:
            print(f"{name:8} no result (see the guest output above)")
            ok = False
            continue
        dial, hang = float(r["dial_ratio"]), float(r["hangup_ratio"])
        met = dial <= TARGETS["dial"] and hang <= TARGETS["hangup"]
        ok &= met
        print(f"{name:8} {r['raw_dial_ms']:>8} ms {r['openras_dial_ms']:>7} ms {dial:6.2f}   "
              f"{r['raw_hangup_ms']:>9} ms {r['openras_hangup_ms']:>7} ms {hang:6.2f}   "
              f"{'met' if met else 'missed'}")  # fmt: skip
        if "nm_dial_ms" in r:  # NetworkManager, where the guest bench has that side
            nm_dial, nm_hang = float(r["nm_dial_ms"]), float(r["nm_hangup_ms"])
            print(f"{'  NM':8} {'':>11} {r['nm_dial_ms']:>7} ms "
                  f"{nm_dial / float(r['raw_dial_ms']):6.2f}   {'':>12} {r['nm_hangup_ms']:>7} ms "
                  f"{nm_hang / float(r['raw_hangup_ms']):6.2f}   (NetworkManager ÷ raw; "
                  f"÷ openras: {nm_dial / float(r['openras_dial_ms']):.2f} / "
                  f"{nm_hang / float(r['openras_hangup_ms']):.2f})")  # fmt: skip
    if not run.done or run.guest_rc:
        print("\nthe guest session failed:\n" + run.tail(80))
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
