"""Dial and hang-up through openras vs the same link program driven by hand, side by side.

Two network namespaces (A: the servers, B: the clients), one veth, addresses that exist only
inside them. ``rasman`` runs inside B and is started (and warmed up by one dial of each kind)
before any timer, as a daemon would be. For each link type, N repetitions alternate between:

* **openras**: ``Client.dial()`` from call to return (Connected), and
  ``Connection.hang_up(wait=True)`` until the handle answers 6 (everything gone);
* **raw**: the program started by hand from a thread inside B (no ``ip netns exec``):

  - WireGuard: timer, ``wireguard-go -f IF``, wait for its UAPI socket, ``wg setconf``,
    ``ip -batch`` (address, mtu, up), poll ``wg show IF dump`` until a non-zero
    latest-handshake; hang-up: SIGTERM → exit (+ ``ip link del`` if the interface stayed);
  - OpenVPN (TLS + username/password): timer, ``openvpn --config ... --management SOCK unix
    --management-hold --management-query-passwords``, ``state on`` + ``hold release``,
    answer ``>PASSWORD:Need 'Auth'``, until ``>STATE:..,CONNECTED``; hang-up:
    ``signal SIGTERM`` over management → process exit;
  - IKEv2 (certificate + EAP-MSCHAPv2, kernel-libipsec): timer, a charon of its own (private
    ``/run``), wait for its VICI socket, load the CA, secret and connection with the
    ``vici`` package, ``initiate`` until it returns; hang-up: SIGTERM → charon exits;
  - SSH tun mode: timer, ``ssh -N -T -M -S CTL -w UNIT:any`` (the options openras passes),
    poll ``ssh -O check`` until the master answers and the tun exists, ``ip -batch``
    (address, up); hang-up: ``ssh -O exit`` → the master exits.

The raw procedures poll every 2 ms (far finer than a script would); openras polls control
sockets every 0.25 ms, and configures WireGuard in-process where the raw procedure runs
``wg`` and ``ip``: those are part of what is compared. Targets: openras/raw median ratio
≤ 1.05 for the dial and ≤ 1.10 for the hang-up (issue 16's, for openvpn, WireGuard and ssh),
else ≤ 1.10 and ≤ 1.25. The ``paired`` column is the median of the
per-repetition ratios (each openras sample against the raw one next to it in time), which
drifts of the machine's speed during a run move less.

Run as root: ``python bench/bench_links.py [--reps N] [--links wireguard,openvpn,ssh,ikev2]``. It exits 1
when a link type failed or a ratio missed its target (the verdict column says which).
Everything started is stopped by pid and the namespaces are deleted, even on error.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _netlab import (
    OVPN_PASSWORD,
    OVPN_USER,
    SSH_PORT,
    BenchError,
    NetnsLab,
    NsPair,
    Rasman,
    RawOpenVpn,
    RawSsh,
    RawWireGuard,
    make_pki,
    missing_programs,
    ovpn_client_profile,
    start_ovpn_server,
    start_sshd,
    start_wg_server,
    wg_quick_config,
    wg_setconf_config,
    write_private,
)
from _nm import NmOpenVpn, nm_missing

from openras.client import Client, Connection
from openras.errors import RasError
from openras.records import Event

DIAL_TARGET = 1.10
HANGUP_TARGET = 1.25
#: Issue 16's tighter targets: (dial, hang-up).
TARGETS = {link: (1.05, 1.10) for link in ("openvpn", "wireguard", "ssh-tun")}
PAUSE = 0.1  # between two measurements: lets the peers settle (and WireGuard's TAI64N tick)
#: NetworkManager as the openvpn rows' third column (off with --no-nm or when not installed).
WITH_NM = True
#: rasman's pid (its CPU time per operation is measured).
DAEMON_PID = 0


@dataclass
class Series:
    link: str
    op: str
    target: float
    raw: list[float] = field(default_factory=list)
    ras: list[float] = field(default_factory=list)
    #: NetworkManager (openvpn only, where it is installed): the third column.
    nm: list[float] = field(default_factory=list)
    #: openras dial only: seconds from the dial call to each state event the client saw.
    timeline: dict[str, list[float]] = field(default_factory=dict)
    #: raw dial, where the raw procedure can tell (openvpn's states on its socket).
    raw_timeline: dict[str, list[float]] = field(default_factory=dict)
    #: openras (dial row only): CPU seconds per operation of the daemon and the client.
    cpu: dict[str, list[float]] = field(default_factory=dict)


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def ms(value: float) -> str:
    return f"{value * 1000:7.1f}"


def ratio_interval(
    raw: list[float], ras: list[float], resamples: int = 2000, seed: int = 16
) -> tuple[float, float]:
    """A 90 % bootstrap interval of median(ras) / median(raw): how far the ratio of one run
    of this size moves by the draw alone (each side resampled with replacement)."""
    draw = random.Random(seed)
    ratios = sorted(
        statistics.median(draw.choices(ras, k=len(ras)))
        / statistics.median(draw.choices(raw, k=len(raw)))
        for _ in range(resamples)
    )
    return ratios[int(0.05 * resamples)], ratios[int(0.95 * resamples) - 1]


def target_met(s: Series) -> bool:
    """Whether the median openras/raw ratio of ``s`` is within its target (no data: no)."""
    if not s.raw or not s.ras:
        return False
    return statistics.median(s.ras) / statistics.median(s.raw) <= s.target


def print_table(rows: list[Series], reps: int) -> bool:
    """Print the side-by-side table; True when every row met its target."""
    print()
    print(
        f"openras vs raw program, {reps} repetitions each (ms; ratio = median openras / median raw)"
    )
    with_nm = any(s.nm for s in rows)
    head = (
        f"{'link':<10} {'operation':<9} {'raw med':>8} {'raw p90':>8} "
        f"{'ras med':>8} {'ras p90':>8} {'ratio':>6} {'90% interval':>12} {'p90 r':>6} "
        f"{'paired':>6} {'target':>7}"
        "  verdict" + (f"  {'NM med':>8} {'NM/raw':>7} {'NM/ras':>7}" if with_nm else "")
    )
    print(head)
    print("-" * len(head))
    all_ok = True
    for s in rows:
        if not s.raw or not s.ras:
            print(f"{s.link:<10} {s.op:<9} (no data)")
            all_ok = False
            continue
        raw_med, ras_med = statistics.median(s.raw), statistics.median(s.ras)
        ratio = ras_med / raw_med
        ratio90 = p90(s.ras) / p90(s.raw)
        paired = statistics.median(r / w for r, w in zip(s.ras, s.raw, strict=True))
        low, high = ratio_interval(s.raw, s.ras)
        ok = target_met(s)
        all_ok = all_ok and ok
        print(
            f"{s.link:<10} {s.op:<9} {ms(raw_med):>8} {ms(p90(s.raw)):>8} "
            f"{ms(ras_med):>8} {ms(p90(s.ras)):>8} {ratio:6.2f} {f'{low:.2f}-{high:.2f}':>12} "
            f"{ratio90:6.2f} {paired:6.2f} "
            f"{'≤' + format(s.target, '.2f'):>7}  {'met' if ok else 'MISSED':<7}"
            + (_nm_cells(s, raw_med, ras_med) if with_nm else "")
        )
    print()
    print("raw: the program by hand inside namespace B (2 ms polls). openras: Client.dial() to")
    print("return / hang_up(wait=True) until the handle answers 6; rasman already running in B.")
    print("90% interval: where the ratio of a run of this size falls by the draw alone")
    print("(bootstrap of both sides' medians): a target inside it is met or missed by chance.")
    if with_nm:
        print("NM: NetworkManager + nm-openvpn in a namespace of its own, same server and profile:")
        print("`nmcli connection up` until it returns; `nmcli connection down` until NM's openvpn")
        print("and its tun are gone (nm-openvpn passes --explicit-exit-notify: ~1 s of it).")
    return all_ok


def _nm_cells(s: Series, raw_med: float, ras_med: float) -> str:
    if not s.nm:
        return f"  {'-':>8} {'-':>7} {'-':>7}"
    nm_med = statistics.median(s.nm)
    return f"  {ms(nm_med):>8} {nm_med / raw_med:7.2f} {nm_med / ras_med:7.2f}"


def print_timelines(rows: list[Series]) -> None:
    """Where an openras dial spends its time, as the client sees the state events."""
    print("openras dial timeline (median ms after the Client.dial() call, as the client saw it):")
    for s in rows:
        if not s.timeline:
            continue
        marks = sorted((statistics.median(v), k) for k, v in s.timeline.items())
        steps = "  ".join(f"{name} {at * 1000:.1f}" for at, name in marks)
        print(f"  {s.link:<9} {steps}  returned {statistics.median(s.ras) * 1000:.1f}")
        if s.raw_timeline:
            marks = sorted((statistics.median(v), k) for k, v in s.raw_timeline.items())
            steps = "  ".join(f"{name} {at * 1000:.1f}" for at, name in marks)
            print(f"  {'(raw)':<9} {steps}")


def print_cpu(rows: list[Series]) -> None:
    """What openras itself spends per operation, in CPU time (the load moves it little)."""
    print("openras CPU per operation (median ms; daemon = every rasman thread, client = the")
    print("calling thread in the client library):")
    for s in rows:
        if s.cpu:
            cells = "  ".join(f"{k} {statistics.median(v) * 1000:.2f}" for k, v in s.cpu.items())
            print(f"  {s.link:<9} {cells}")


def print_samples(rows: list[Series]) -> None:
    print("samples (ms):")
    for s in rows:
        for side, values in (("raw", s.raw), ("openras", s.ras), ("NM", s.nm)):
            if not values:
                continue
            text = " ".join(f"{v * 1000:.0f}" for v in values)
            print(f"  {s.link:<9} {s.op:<8} {side:<8} {text}")


# -- one link type ------------------------------------------------------------------------------


@dataclass
class Side:
    """How to dial and hang up one way (raw or openras); each returns seconds."""

    dial: Callable[[], float]
    hang_up: Callable[[], float]
    timeline: dict[str, list[float]] = field(default_factory=dict)
    #: openras only: CPU seconds per operation ("dial"/"hang-up") of the daemon and of the
    #: calling thread (the client library), which the machine's load moves far less than
    #: the wall clock.
    cpu: dict[str, list[float]] = field(default_factory=dict)


def cpu_seconds(pid: int) -> float:
    """CPU time of every thread of ``pid`` so far (schedstat: nanoseconds, unlike the 10 ms
    ticks of /proc/PID/stat)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/schedstat") as fh:
            total += int(fh.read().split()[0])
    return total / 1e9


def openras_side(client: Client, entry: str, pbk: Path, user: str, password: str) -> Side:
    daemon_pid = DAEMON_PID
    holder: list[Connection] = []
    timeline: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}

    def account(op: str, daemon0: float, client0: float) -> None:
        cpu.setdefault(f"{op} daemon", []).append(cpu_seconds(daemon_pid) - daemon0)
        cpu.setdefault(f"{op} client", []).append(time.thread_time() - client0)

    def dial() -> float:
        seen: list[tuple[str, float]] = []

        def on_state(ev: Event) -> None:
            seen.append((ev.state.name, time.perf_counter()))

        daemon0, client0 = cpu_seconds(daemon_pid), time.thread_time()
        t0 = time.perf_counter()
        conn = client.dial(entry, pbk, user=user, password=password, on_state=on_state)
        took = time.perf_counter() - t0
        account("dial", daemon0, client0)
        holder.append(conn)
        for name, at in seen:
            timeline.setdefault(name, []).append(at - t0)
        return took

    def hang_up() -> float:
        conn = holder.pop()
        daemon0, client0 = cpu_seconds(daemon_pid), time.thread_time()
        t0 = time.perf_counter()
        conn.hang_up(wait=True, timeout=15)
        took = time.perf_counter() - t0
        account("hang-up", daemon0, client0)
        return took

    return Side(dial, hang_up, timeline, cpu)


def measure(link: str, raw: Side, ras: Side, reps: int, nm: Side | None = None) -> list[Series]:
    """``reps`` alternating repetitions of each side (raw, openras, and NetworkManager when
    given), the order turned around every repetition so that drift hits all alike."""
    dial_target, hang_target = TARGETS.get(link, (DIAL_TARGET, HANGUP_TARGET))
    dial = Series(link, "dial", dial_target)
    hang = Series(link, "hang-up", hang_target)
    # One warm-up each, not counted (first dial of a driver in a fresh rasman imports it).
    for side in (raw, ras) if nm is None else (raw, ras, nm):
        side.dial()
        time.sleep(PAUSE)
        side.hang_up()
        time.sleep(PAUSE)
    ras.timeline.clear()
    raw.timeline.clear()
    ras.cpu.clear()
    dial.timeline = ras.timeline
    dial.raw_timeline = raw.timeline
    dial.cpu = ras.cpu
    for i in range(reps):
        order = ((raw, dial.raw, hang.raw), (ras, dial.ras, hang.ras))
        if nm is not None:
            order += ((nm, dial.nm, hang.nm),)
        for side, dials, hangs in order if i % 2 == 0 else reversed(order):
            dials.append(side.dial())
            time.sleep(PAUSE)
            hangs.append(side.hang_up())
            time.sleep(PAUSE)
        print(
            f"  {link} rep {i + 1}/{reps}: raw {dial.raw[-1] * 1000:.0f}/{hang.raw[-1] * 1000:.0f} ms,"
            f" openras {dial.ras[-1] * 1000:.0f}/{hang.ras[-1] * 1000:.0f} ms (dial/hang-up)"
            + (f", NM {dial.nm[-1] * 1000:.0f}/{hang.nm[-1] * 1000:.0f} ms" if nm else ""),
            flush=True,
        )
    return [dial, hang]


def bench_wireguard(
    lab: NetnsLab, pair: NsPair, client: Client, work: Path, reps: int
) -> list[Series]:
    d = work / "wg"
    d.mkdir()
    subnet = f"10.233.{os.getpid() % 250 + 1}"
    wl = start_wg_server(lab, pair, d, subnet)
    conf = write_private(d / "office.conf", wg_quick_config(wl))
    setconf = write_private(d / "raw-setconf.conf", wg_setconf_config(wl))
    pbk = d / "rasphone.pbk"
    # The same config towards a closed port and a name that does not resolve.
    closed = write_private(
        d / "closed.conf",
        wg_quick_config(wl).replace(
            f"Endpoint = {wl.endpoint}", f"Endpoint = {wl.endpoint.rsplit(':', 1)[0]}:1199"
        ),
    )
    unresolvable = write_private(d / "unresolvable.conf", wg_quick_config(wl).replace(
        f"Endpoint = {wl.endpoint}", "Endpoint = no-such-host.invalid:51820"))  # fmt: skip
    pbk.write_text(
        "".join(
            f"[{name}]\nEncoding=1\nType=2\nOpenRasDevice=wireguard\n"
            f"OpenRasWireGuardConfig={path.name}\nOpenRasDialTimeoutMs=10000\n\n"
            for name, path in (("Bench WG", conf), ("WG closed", closed),
                               ("WG unresolvable", unresolvable))
        )
    )  # fmt: skip
    raw = RawWireGuard(lab, pair.b, wl, setconf, d / "raw-wireguard-go.log",
                       ifname=f"bwgc{os.getpid() % 100000}")  # fmt: skip
    try:
        rows = measure(
            "wireguard",
            Side(raw.dial, raw.hang_up),
            openras_side(client, "Bench WG", pbk, "", ""),
            reps,
        )
        failure_times(
            "wireguard", client, pbk, reps,
            {"refused port": ("WG closed", ""), "unresolvable name": ("WG unresolvable", "")},
        )  # fmt: skip
        return rows
    finally:
        raw.cleanup()


def bench_openvpn(
    lab: NetnsLab, pair: NsPair, client: Client, work: Path, reps: int
) -> list[Series]:
    d = work / "ovpn"
    pki = make_pki(d / "pki")
    start_ovpn_server(lab, pair, d / "server", pki, f"10.234.{os.getpid() % 250 + 1}")
    profile = ovpn_client_profile(d / "client", pki, pair.addr_a)
    pbk = profile.parent / "rasphone.pbk"
    pbk.write_text(
        "[Bench VPN]\nEncoding=1\nType=2\n"
        "OpenRasDevice=openvpn\nOpenRasOpenVpnProfile=client.ovpn\nOpenRasDialTimeoutMs=15000\n"
    )
    raw = RawOpenVpn(lab, pair.b, profile, ifname=f"bvpn{os.getpid() % 100000}",
                     mgmt_path=work / "raw-ovpn.sock", log=d / "raw-openvpn.log")  # fmt: skip
    nm: NmOpenVpn | None = None
    try:
        if WITH_NM:
            nm = NmOpenVpn(lab, pair, work / "nm", profile=profile)
            nm.start()
        rows = measure(
            "openvpn",
            Side(raw.dial, raw.hang_up, raw.timeline),
            openras_side(client, "Bench VPN", pbk, OVPN_USER, OVPN_PASSWORD),
            reps,
            Side(nm.dial, nm.hang_up) if nm is not None else None,
        )
        failure_times(
            "openvpn", client, pbk, reps,
            {"refused port": ("Bench VPN", f"{pair.addr_a} 1199"),
             "unresolvable name": ("Bench VPN", "no-such-host.invalid")},
        )  # fmt: skip
        return rows
    finally:
        raw.cleanup()
        if nm is not None:
            nm.cleanup()


def failure_times(
    link: str, client: Client, pbk: Path, reps: int, cases: dict[str, tuple[str, str]]
) -> None:
    """How long a dial that cannot work takes to say so (openvpn alone retries for a minute,
    WireGuard waits out the dial timeout): a refused port (ICMP from the server's namespace)
    and a name that does not resolve; ``cases`` maps each to (entry, phone number). Target:
    under 100 ms plus the program's own start."""
    user, password = (OVPN_USER, OVPN_PASSWORD) if link == "openvpn" else ("", "")
    for what, (entry, number) in cases.items():
        took: list[float] = []
        codes: set[int] = set()
        for _ in range(reps):
            t0 = time.perf_counter()
            try:
                conn = client.dial(entry, pbk, user=user, password=password, phone_number=number)
            except RasError as exc:
                took.append(time.perf_counter() - t0)
                codes.add(exc.code)
                if exc.handle:
                    client.hang_up(exc.handle, wait=True)
            else:
                conn.hang_up()
                raise BenchError(f"{link}: a dial to the {what} connected")
        print(
            f"{link} time to failure, {what}: median {ms(statistics.median(took))} ms, "
            f"p90 {ms(p90(took))} ms over {reps} dials (error {', '.join(map(str, codes))})"
        )


def bench_ssh(lab: NetnsLab, pair: NsPair, client: Client, work: Path, reps: int) -> list[Series]:
    d = work / "ssh"
    sl = start_sshd(lab, pair, d / "server")
    net = f"10.235.{os.getpid() % 250 + 1}"
    pbk = d / "rasphone.pbk"
    pbk.write_text(
        "[Bench SSH]\nEncoding=1\nType=2\nOpenRasDevice=ssh\n"
        f"PhoneNumber=root@{sl.host}:{SSH_PORT}\nOpenRasSshMode=tun\n"
        f"OpenRasSshIdentity={sl.client_key}\nOpenRasSshKnownHosts={sl.known_hosts}\n"
        f"OpenRasSshTunLocal={net}.2/32\nOpenRasSshTunRemote={net}.1\n"
        "OpenRasDialTimeoutMs=15000\n"
    )
    raw = RawSsh(lab, pair.b, sl, unit=77, local=f"{net}.2", remote=f"{net}.1",
                 workdir=d / "raw")  # fmt: skip
    try:
        return measure(
            "ssh-tun", Side(raw.dial, raw.hang_up), openras_side(client, "Bench SSH", pbk, "", ""),
            reps,
        )  # fmt: skip
    finally:
        raw.cleanup()


def bench_ikev2(lab: NetnsLab, pair: NsPair, client: Client, work: Path, reps: int) -> list[Series]:
    from _ikev2 import RawCharon
    from swan_lab import PASSWORD, USER, SwanServer, make_ca, windows_entry

    d = work / "ikev2"
    ca = make_ca(d / "pki")
    third = pair.addr_a.split(".")[2]
    server = SwanServer(pair, d / "responder", pool=f"10.235.{third}.0/28",
                        inside=f"10.236.{third}.1")  # fmt: skip
    server.start(lab, ca)
    pbk = d / "rasphone.pbk"
    pbk.write_text(windows_entry("Bench IKEv2", pair.addr_a, OpenRasIkev2Ca=str(ca[0])))
    raw = RawCharon(lab, pair.b, d / "raw", pair.addr_a, ca[0].read_bytes())
    try:
        return measure(
            "ikev2",
            Side(raw.dial, raw.hang_up),
            openras_side(client, "Bench IKEv2", pbk, USER, PASSWORD),
            reps,
        )
    finally:
        raw.cleanup()


BENCHES = {
    "wireguard": bench_wireguard,
    "openvpn": bench_openvpn,
    "ssh": bench_ssh,
    "ikev2": bench_ikev2,
}
NEEDS = {
    "wireguard": ("wireguard-go", "wg"),
    "openvpn": ("openvpn", "openssl"),
    "ssh": ("ssh", "/usr/sbin/sshd", "ssh-keygen", "ss"),
    "ikev2": ("/usr/lib/ipsec/charon", "swanctl", "pki", "unshare"),
}


def _load() -> str:
    """The 1-, 5- and 15-minute load averages (the machine is shared)."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=20, help="repetitions per side (default 20)")
    ap.add_argument(
        "--links",
        default="wireguard,openvpn,ssh,ikev2",
        help="comma-separated subset of wireguard,openvpn,ssh,ikev2 (default: all)",
    )
    ap.add_argument("--samples", action="store_true", help="print every sample too")
    ap.add_argument(
        "--no-nm",
        action="store_true",
        help="no NetworkManager column (it needs network-manager and network-manager-openvpn)",
    )
    ap.add_argument(
        "--state-on-tmpfs",
        action="store_true",
        help="keep rasman's state dir in /dev/shm (shows what the table's disk writes cost)",
    )
    ap.add_argument(
        "--rasman-log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    ap.add_argument(
        "--keep-rasman-log", type=Path, metavar="FILE",
        help="copy rasman's log there at the end (with --rasman-log-level debug: the time of "
        "each state, the program's start and exit, the link's close)",
    )  # fmt: skip
    args = ap.parse_args(argv)
    links = [x.strip() for x in args.links.split(",") if x.strip()]
    unknown = [x for x in links if x not in BENCHES]
    if unknown or args.reps < 1:
        ap.error(f"unknown link type(s): {unknown}" if unknown else "--reps must be ≥ 1")
    if os.geteuid() != 0:
        print("bench_links: needs root (network namespaces, tun devices)", file=sys.stderr)
        return 2
    if missing_programs("ip"):
        print("bench_links: iproute2 'ip' is not installed", file=sys.stderr)
        return 2
    for name in list(links):
        missing = missing_programs(*NEEDS[name])
        if missing:
            print(f"bench_links: skipping {name}: not installed: {', '.join(missing)}")
            links.remove(name)
    if not links:
        return 2
    global WITH_NM
    WITH_NM = "openvpn" in links and not args.no_nm
    if WITH_NM and nm_missing():
        print(f"bench_links: no NetworkManager column: not installed: {', '.join(nm_missing())}")
        WITH_NM = False

    load_before = _load()
    work = Path(tempfile.mkdtemp(prefix="orbench-"))  # short: AF_UNIX path limit
    os.environ["XDG_CONFIG_HOME"] = str(work / "config")  # the client's user phonebook
    lab = NetnsLab(workdir=work)
    rows: list[Series] = []
    failed: list[str] = []
    rm: Rasman | None = None
    privsep = Path("/run/sshd")  # sshd's privilege separation dir: made only if missing
    made_privsep = "ssh" in links and not privsep.exists()
    try:
        if made_privsep:
            privsep.mkdir(mode=0o755)
        pair = lab.create_pair()
        # The failure timings dial a closed port of A's many times a second: the kernel's
        # ICMP rate limit (one "port unreachable" a second per peer after a burst of six)
        # then drops most answers and openvpn waits for its retry (3 s). A's own setting.
        with lab.inside(pair.a), open("/proc/sys/net/ipv4/icmp_ratelimit", "w") as fh:
            fh.write("0")
        state = (
            Path(tempfile.mkdtemp(prefix="orbench-state-", dir="/dev/shm"))
            if args.state_on_tmpfs
            else None
        )
        rm = Rasman(lab, pair.b, work, state_dir=state)
        rm.start(args.rasman_log_level)
        global DAEMON_PID
        DAEMON_PID = rm.proc.pid if rm.proc else 0
        print(f"namespaces {pair.a} / {pair.b}; rasman pid {rm.proc.pid if rm.proc else '?'} in B")
        with rm.client() as client:
            for name in links:
                print(f"{name}: 1 warm-up + {args.reps} repetitions per side ...", flush=True)
                try:
                    rows += BENCHES[name](lab, pair, client, work, args.reps)
                except Exception as exc:  # one link type failing must not stop the others
                    print(f"{name}: FAILED: {exc!r}", file=sys.stderr)
                    traceback.print_exc()
                    failed.append(name)
                    rm.hang_up_everything()
    except BenchError as exc:  # the lab itself (namespaces, rasman) could not be set up
        print(f"bench_links: {exc}", file=sys.stderr)
        failed.append("lab")
    finally:
        if rm is not None:
            rm.hang_up_everything()
            if args.keep_rasman_log is not None:
                with contextlib.suppress(OSError):
                    shutil.copyfile(rm.log, args.keep_rasman_log)
        lab.close()
        shutil.rmtree(work, ignore_errors=True)
        if rm is not None and rm.state_dir is not None:
            shutil.rmtree(rm.state_dir, ignore_errors=True)
        if made_privsep:
            with contextlib.suppress(OSError):
                privsep.rmdir()
    if args.samples:
        print_samples(rows)
    targets_met = print_table(rows, args.reps)
    print_timelines(rows)
    print_cpu(rows)
    print(f"load average before / after: {load_before} / {_load()}")
    if failed:
        print(f"FAILED (see above): {', '.join(failed)}", file=sys.stderr)
        return 1
    if not targets_met:
        missed = [f"{s.link} {s.op}" for s in rows if not target_met(s)]
        print(f"TARGET MISSED: {', '.join(missed)} (see the verdict column)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
