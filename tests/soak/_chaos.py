"""The chaos soak's engine: a model of what rasman's table must hold, random steps that
change it or inject a fault, and invariants checked against the truth after every step.

The truth is read from outside the daemon: link processes from /proc (the ``OPENRAS_LINK``
marker in each one's environment names the daemon instance and the handle), the run
directories and the persisted table from the state directory (read-only: the slot files are
parsed, never loaded through :class:`StateStore`, whose recovery would set them aside), and
the daemon's own answers (enumeration, status, history). A step waits, polling against a
deadline, until the system is quiescent (nothing dialing or tearing down, every process
where its row says), then checks; the first step with a violation ends the run with the
seed, the recent steps and the daemon's log, so that ``--soak-seed`` replays it.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import psutil
from rasman_helpers import pending

from openras import Client, errors
from openras.links.process import MARKER_ENV
from openras.manager import persist
from openras.manager.table import REAP_GRACE
from openras.records import ConnectionInfo
from openras.states import RasConnState

#: How long a step may take to become quiescent (a stubborn link's kill deadline, a daemon
#: restart adopting links and an OpenVPN reconnect all fit many times over).
QUIET_DEADLINE = 30.0
#: The loopback program's states before Connected (program.SEQUENCE): where a fault may hit.
DIAL_STATES = (0, 1, 2, 3, 4, 5, 14, 10, 18)

#: How a link whose program was SIGKILLed ends: 628 when the driver sees its process go
#: (loopback, OpenVPN), 829 when it sees its tunnel go first (WireGuard's UAPI socket).
LINK_KILLED = frozenset({errors.ERROR_DISCONNECTION, errors.ERROR_LINK_FAILURE})

#: A client that dials and prints the handle; the soak SIGKILLs it while the dial runs.
DIALER = """
import sys
from openras import Client
print(Client(sys.argv[1], autostart=False).dial(sys.argv[2], sys.argv[3]).handle, flush=True)
"""


class Daemon(Protocol):
    """What the soak needs of a daemon under test (tests/conftest.py's Rasman, or one in a
    namespace): where it listens and keeps state, its process, and a way to start it."""

    socket: Path
    state_dir: Path
    proc: subprocess.Popen[bytes] | None

    def start(self) -> None: ...


@dataclass
class Row:
    """What the model expects of one handle while it is in the table."""

    entry: str
    phase: str  # "connected" or "failed"; "any" until the next check sees which
    refs: int = 1
    pid: int | None = None  # its link process once seen (a restart must adopt this one)
    since: float = field(default_factory=time.monotonic)


@dataclass
class Truth:
    """One reading of everything the invariants are checked against."""

    enum: dict[int, ConnectionInfo]
    procs: dict[int, list[int]]  # handle -> live link processes marked with it
    stored: dict[int, dict[str, Any]]  # handle -> the persisted row
    next_handle: int
    run_dirs: set[int]


@dataclass(frozen=True)
class Entries:
    """The phonebook's entries by the role the soak gives them."""

    quick: tuple[str, ...]  # connect fast: dial, join, hang-up, redial, kill
    slow: str  # a dial long enough to hit mid-way (a loopback entry: DIAL_STATES)
    dropper: str  # drops by itself soon after connecting (629)
    bad: str  # fails at once (678)


def read_table(state_dir: Path) -> dict[str, Any]:
    """The newest valid table slot on disk (read-only), {} if none."""
    best: tuple[int, dict[str, Any]] | None = None
    for name in persist.SLOT_FILES:
        try:
            raw = (state_dir / name).read_bytes()
        except FileNotFoundError:
            continue
        parsed = persist.parse_slot(raw)
        if parsed is not None and (best is None or parsed[0] > best[0]):
            best = parsed
    return best[1] if best is not None else {}


def record_pids(obj: object) -> set[int]:
    """Every ``pid`` a driver's persisted record names (the keys nest differently by driver)."""
    if isinstance(obj, Mapping):
        found = {int(v) for k, v in obj.items() if k == "pid" and isinstance(v, int)}
        for v in obj.values():
            found |= record_pids(v)
        return found
    if isinstance(obj, list):
        return set().union(*(record_pids(v) for v in obj)) if obj else set()
    return set()


def marked_links(instance: str) -> dict[int, list[int]]:
    """handle -> pids of the live processes whose marker names ``instance`` (from /proc)."""
    found: dict[int, list[int]] = {}
    prefix = f"{instance}:"
    for proc in psutil.process_iter(["pid"]):
        try:
            marker = proc.environ().get(MARKER_ENV, "")
            if not marker.startswith(prefix) or proc.status() == psutil.STATUS_ZOMBIE:
                continue
            handle = int(marker.rsplit(":", 1)[1])
        except (psutil.Error, OSError, ValueError):
            continue
        found.setdefault(handle, []).append(proc.pid)
    return found


def pid_gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def poll(predicate: Callable[[], Any], timeout: float) -> Any:
    """``predicate``'s first true value within ``timeout`` seconds, else its last (falsy)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.01)


class Soak:
    """Random steps against one daemon, each followed by a quiescence wait and a check."""

    def __init__(
        self,
        daemon: Daemon,
        phonebook: Path,
        entries: Entries,
        rng: random.Random,
        *,
        max_live: int = 6,
        warmup: int = 10,
        log: Path | None = None,
    ) -> None:
        self.d = daemon
        self.pbk = phonebook
        self.entries = entries
        self.rng = rng
        self.max_live = max_live
        self.warmup = warmup
        self.log = log
        self.rows: dict[int, Row] = {}
        self.issued: set[int] = set()
        self.top = 0
        #: Handles on their way to 6, with the history errors their end may have (None: any).
        self.doomed: dict[int, frozenset[int] | None] = {}
        #: Handles gone for good: each must answer ERROR_INVALID_HANDLE for the rest of the run.
        self.dead: set[int] = set()
        #: Entries whose attempt the soak lost sight of (a killed dialer or daemon): a new row
        #: of theirs may appear, reaching the phase given ("any": either).
        self.expect_new: dict[str, str] = {}
        self.instance = ""
        self.steps = 0
        self.actions: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.reaped = 0
        #: Links seen connected (with their process), by entry.
        self.links_up: Counter[str] = Counter()
        self.violations: list[str] = []
        self.trail: deque[str] = deque(maxlen=30)
        #: (step, daemon pid, RSS bytes) at every quiescent point.
        self.rss: list[tuple[int, int, int]] = []
        #: More invariants (a namespace's interfaces, routes, rules) and more faults (a
        #: server's death): name -> (weight, action), the action counting its own faults.
        self.extra_checks: list[Callable[[Truth], list[str]]] = []
        self.extra_faults: dict[str, tuple[int, Callable[[], None]]] = {}
        self.client = self._connect()

    # ------------------------------------------------------------------ plumbing

    def _connect(self) -> Client:
        return Client(self.d.socket, autostart=False, timeout=QUIET_DEADLINE)

    def _restart(self) -> None:
        """Start the daemon again (after a SIGKILL) and open a new session to it."""
        with contextlib.suppress(OSError):
            self.client.close()
        self.d.start()
        self.client = self._connect()

    def _kill9(self) -> None:
        proc = self.d.proc
        assert proc is not None
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def _issue(self, handle: int, how: str) -> None:
        """A handle the daemon just gave out: never one seen before, always above them all."""
        if handle in self.issued or handle <= self.top:
            self.violations.append(
                f"{how}: handle {handle} reused (highest issued before: {self.top})"
            )
        self.issued.add(handle)
        self.top = max(self.top, handle)

    def doom(self, handle: int, ends: frozenset[int] | None = None) -> None:
        self.rows.pop(handle, None)
        self.doomed[handle] = ends

    def note(self, text: str) -> None:
        self.trail.append(f"step {self.steps}: {text}")

    def _live(self, entry: str) -> int | None:
        """The model's row of ``entry`` that a new dial would join or wait for."""
        for h, row in self.rows.items():
            if row.entry == entry and row.phase == "connected":
                return h
        return None

    def connected(self) -> list[int]:
        return sorted(h for h, r in self.rows.items() if r.phase == "connected")

    def _spawn_dialer(self, entry: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-c", DIALER, str(self.d.socket), entry, str(self.pbk)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def _attempt_at(self, entry: str, state: int, dialer: Callable[[], bool]) -> int:
        """Wait until ``entry``'s attempt is listed at ``state`` or later with its link
        process up; its handle, or 0 if the dialer ended first (``dialer`` says it runs)."""

        def reached() -> int:
            h = pending(self.client, entry)
            if h and self.client.status(h).state >= state and marked_links(self.instance).get(h):
                return h
            if not h and not dialer():
                return -1
            return 0

        h = int(poll(reached, QUIET_DEADLINE))
        if h == 0:
            self.violations.append(f"{entry}: no attempt reached state {state} in time")
        return max(h, 0)

    # ------------------------------------------------------------------ the truth

    def read(self) -> Truth:
        record = read_table(self.d.state_dir)
        self.instance = str(record.get("instance") or self.instance)
        table = record.get("table") or {}
        stored = {int(r["handle"]): r for r in table.get("rows", [])}
        enum = {i.handle: i for i in self.client.connections(include_pending=True)}
        links = self.d.state_dir / "links"
        run_dirs = {
            int(p.name[5:])
            for p in (links.iterdir() if links.is_dir() else [])
            if p.name.startswith("link-") and p.name[5:].isdigit()
        }
        return Truth(
            enum=enum,
            procs=marked_links(self.instance) if self.instance else {},
            stored=stored,
            next_handle=int(table.get("next_handle") or 0),
            run_dirs=run_dirs,
        )

    def unsettled(self, t: Truth) -> str:
        """Why the system is not quiescent yet ("" once it is)."""
        moving = [h for h, i in t.enum.items() if i.phase in ("dialing", "disconnecting")]
        if moving:
            return f"rows still moving: {moving}"
        going = sorted(set(self.doomed) & set(t.enum))
        if going:
            return f"hung-up or dropped handles still listed: {going}"
        for h, info in t.enum.items():
            want = 1 if info.phase == "connected" else 0
            if len(t.procs.get(h, [])) != want:
                return f"handle {h} ({info.phase}) has link processes {t.procs.get(h, [])}"
        strays = sorted(set(t.procs) - set(t.enum))
        if strays:
            return f"link processes of handles not in the table: {strays}"
        if set(t.stored) != set(t.enum):
            return f"persisted rows {sorted(t.stored)} != listed {sorted(t.enum)}"
        return ""

    def wait_quiet(self) -> Truth:
        last = ""

        def settled() -> Truth | None:
            nonlocal last
            t = self.read()
            last = self.unsettled(t)
            return None if last else t

        truth: Truth | None = poll(settled, QUIET_DEADLINE)
        if truth is None:
            self.violations.append(f"not quiescent after {QUIET_DEADLINE:.0f} s: {last}")
            truth = self.read()
        return truth

    # ------------------------------------------------------------------ the invariants

    def check(self, t: Truth) -> None:
        v = self.violations
        listed = set(t.enum)
        history: dict[int, int] | None = None
        for h, ends in list(self.doomed.items()):
            if h in listed:
                continue  # reported by wait_quiet already
            del self.doomed[h]
            self.dead.add(h)
            if ends is not None:
                if history is None:
                    history = {d.handle: d.error for d in self.client.history()}
                if history.get(h) not in ends:
                    v.append(f"handle {h} ended with {history.get(h)}, wanted one of {ends}")
        for h, row in list(self.rows.items()):
            if h in listed:
                continue
            del self.rows[h]
            self.dead.add(h)
            if row.phase == "failed" and time.monotonic() - row.since > REAP_GRACE - 2:
                self.reaped += 1  # the reaper of abandoned failed handles: allowed
            else:
                v.append(f"handle {h} ({row.entry}, {row.phase}) left the table by itself")
        for h in sorted(listed - set(self.rows)):
            info = t.enum[h]
            want = self.expect_new.pop(info.entry, None)
            if want is None:
                v.append(f"a row nobody dialed: {h} {info.entry!r} {info.phase}")
                continue
            self._issue(h, f"{info.entry} (seen in the table)")
            if want not in ("any", info.phase):
                v.append(f"new row {h} {info.entry!r} is {info.phase}, wanted {want}")
            self.rows[h] = Row(info.entry, info.phase)
        self.expect_new.clear()
        for h, row in sorted(self.rows.items()):
            info = t.enum[h]
            if row.phase == "any":
                row.phase = info.phase
            if (info.entry, info.phase, info.refs) != (row.entry, row.phase, row.refs):
                v.append(
                    f"handle {h}: listed ({info.entry}, {info.phase}, refs {info.refs}), "
                    f"model ({row.entry}, {row.phase}, refs {row.refs})"
                )
            if row.phase == "connected" and info.state is not RasConnState.Connected:
                v.append(f"handle {h}: connected in state {info.state!r}")
            if row.phase == "failed" and info.error == 0:
                v.append(f"handle {h}: failed without an error")
            try:
                st = self.client.status(h)
            except errors.RasError as exc:
                v.append(f"handle {h}: listed, but status says {exc.code}")
            else:
                if (st.phase, st.state, st.refs, st.error) != (
                    info.phase,
                    info.state,
                    info.refs,
                    info.error,
                ):
                    v.append(f"handle {h}: status {st} != enumeration {info}")
            pids = t.procs.get(h, [])
            if row.phase == "connected":
                if len(pids) != 1:
                    v.append(f"handle {h}: link processes {pids}, wanted exactly one")
                    continue
                if row.pid is None:
                    row.pid = pids[0]
                    self.links_up[row.entry] += 1
                elif row.pid != pids[0]:
                    v.append(f"handle {h}: link process {row.pid} became {pids[0]} (not adopted)")
                stored = record_pids((t.stored.get(h) or {}).get("link"))
                if pids[0] not in stored:
                    v.append(f"handle {h}: link pid {pids[0]} not in its persisted row {stored}")
            elif pids:
                v.append(f"handle {h}: failed, yet link processes {pids} run")
        for h in sorted(set(t.procs) - listed):
            v.append(f"link processes {t.procs[h]} of handle {h}, which has no row")
        for h in sorted(t.run_dirs - listed):
            v.append(f"run directory link-{h} without a row")
        if set(t.stored) != listed:
            v.append(f"persisted rows {sorted(t.stored)} != enumeration {sorted(listed)}")
        if self.top and t.next_handle <= self.top:
            v.append(f"persisted next handle {t.next_handle} <= issued {self.top}")
        for h in sorted(self.dead):
            try:
                self.client.status(h)
                v.append(f"hung-up handle {h} answers status again")
            except errors.InvalidHandle:
                pass
        for extra in self.extra_checks:
            v += extra(t)
        if self.d.proc is not None:
            with contextlib.suppress(psutil.Error):
                rss = psutil.Process(self.d.proc.pid).memory_info().rss
                self.rss.append((self.steps, self.d.proc.pid, rss))

    # ------------------------------------------------------------------ the steps

    def step(self) -> None:
        """One random action (a dial, a hang-up, a fault), then wait and check."""
        self.steps += 1
        live = self.connected()
        slow_free = self._live(self.entries.slow) is None and not any(
            r.entry == self.entries.slow and r.phase != "failed" for r in self.rows.values()
        )
        room = len(live) < self.max_live
        weights = {
            "dial": 30 if room else 0,
            "hang_up": 24 if self.rows else 0,
            "redial": 6 if live else 0,
            "abandoned_dial": 6 if room and slow_free else 0,
            "kill_link": 6 if live else 0,
            "kill_link_mid_dial": 4 if room and slow_free else 0,
            "drop": 4 if room else 0,
            "kill_daemon": 7,
        }
        weights |= {k: w for k, (w, _) in self.extra_faults.items()}
        names = [k for k, w in weights.items() if w]
        name = self.rng.choices(names, [weights[k] for k in names])[0]
        self.actions[name] += 1
        if name in self.extra_faults:
            self.extra_faults[name][1]()
        else:
            getattr(self, f"_{name}")()
        self.check(self.wait_quiet())

    def _dial(self) -> None:
        failed = sum(1 for r in self.rows.values() if r.phase == "failed")
        pool = list(self.entries.quick) + ([self.entries.bad] if failed < 3 else [])
        entry = self.rng.choice(pool)
        joins = self._live(entry)
        self.note(f"dial {entry!r}" + (f" (joins {joins})" if joins else ""))
        try:
            h = self.client.dial(entry, self.pbk).handle
        except errors.RasError as exc:
            if entry == self.entries.bad and exc.handle:
                self._issue(exc.handle, f"dial {entry}")
                self.rows[exc.handle] = Row(entry, "failed")
            else:
                self.violations.append(f"dial {entry!r} failed: {exc!r}")
            return
        if entry == self.entries.bad:
            self.violations.append(f"dial {entry!r} connected ({h})")
        if joins is not None:
            if h != joins:
                self.violations.append(f"dial {entry!r} gave {h}, not the live {joins}")
            else:
                self.rows[h].refs += 1
            return
        self._issue(h, f"dial {entry}")
        self.rows[h] = Row(entry, "connected")

    def _hang_up(self) -> None:
        h = self.rng.choice(sorted(self.rows))
        row = self.rows[h]
        if row.refs > 1:
            self.note(f"hang up {h} (drops one of {row.refs} references)")
            self.client.hang_up(h, wait=False)
            row.refs -= 1
            return
        waits = self.rng.random() < 0.5
        self.note(
            f"hang up {h} {row.entry!r} ({row.phase}, {'wait' if waits else 'then wait_gone'})"
        )
        try:
            if waits:
                self.client.hang_up(h, wait=True, timeout=QUIET_DEADLINE)
            else:
                self.client.hang_up(h, wait=False)
                self.client.wait_gone(h, timeout=QUIET_DEADLINE)
        except errors.InvalidHandle:
            # The reaper of abandoned failed handles may have taken it just before.
            if row.phase == "failed" and time.monotonic() - row.since > REAP_GRACE - 2:
                self.reaped += 1
            else:
                self.violations.append(f"handle {h} answered 6 to its hang-up")
        try:
            self.client.status(h)
            self.violations.append(f"handle {h} still answers after its hang-up returned")
        except errors.InvalidHandle:
            pass
        self.doom(h)

    def _redial(self) -> None:
        """Hang up and dial the same entry at once: the dial waits for the teardown and
        gets a new handle."""
        h = self.rng.choice(self.connected())
        entry = self.rows[h].entry
        self.note(f"redial {entry!r}: hang up {h} and dial again at once")
        for _ in range(self.rows[h].refs):
            self.client.hang_up(h, wait=False)
        self.doom(h)
        try:
            new = self.client.dial(entry, self.pbk).handle
        except errors.RasError as exc:
            self.violations.append(f"redial of {entry!r} failed: {exc!r}")
            return
        self._issue(new, f"redial {entry}")
        self.rows[new] = Row(entry, "connected")

    def _abandoned_dial(self) -> None:
        """A client SIGKILLed mid-dial: the attempt is the daemon's and goes on to connect."""
        entry = self.entries.slow
        state = self.rng.choice(DIAL_STATES)
        self.note(f"dial {entry!r} in a client SIGKILLed at state {state}")
        proc = self._spawn_dialer(entry)
        try:
            h = self._attempt_at(entry, state, lambda: proc.poll() is None)
        finally:
            proc.kill()
            proc.wait(10)
        self.faults["client SIGKILLed mid-dial"] += 1
        if h:
            self._issue(h, f"dial {entry} (killed client)")
            self.rows[h] = Row(entry, "connected")

    def _kill_link(self) -> None:
        h = self.rng.choice(self.connected())
        pid = self.rows[h].pid
        self.note(f"SIGKILL link {pid} of {h} {self.rows[h].entry!r}")
        assert pid is not None  # seen by the check after the step that made the row
        os.kill(pid, signal.SIGKILL)
        self.faults["link program SIGKILLed"] += 1
        poll(lambda: pid_gone(pid), 10)
        self.doom(h, LINK_KILLED)

    def _kill_link_mid_dial(self) -> None:
        """The link program dies while dialing: the dial fails and the row stays, failed,
        until hung up (if it was Connected by then, it drops with 628 instead)."""
        entry = self.entries.slow
        state = self.rng.choice(DIAL_STATES[1:])
        self.note(f"dial {entry!r}, SIGKILL its link at state {state}")
        result: list[int | errors.RasError] = []

        def dial() -> None:
            with self._connect() as c:
                try:
                    result.append(c.dial(entry, self.pbk).handle)
                except errors.RasError as exc:
                    result.append(exc)

        thread = threading.Thread(target=dial, daemon=True)
        thread.start()
        h = self._attempt_at(entry, state, thread.is_alive)
        if h:
            for pid in marked_links(self.instance).get(h, []):
                os.kill(pid, signal.SIGKILL)
            self.faults["link program SIGKILLed mid-dial"] += 1
        thread.join(QUIET_DEADLINE)
        if not result or not h:
            self.violations.append(f"the dial of {entry!r} did not end: {result}")
            return
        self._issue(h, f"dial {entry} (link killed)")
        outcome = result[0]
        if isinstance(outcome, errors.RasError):
            if outcome.handle != h:
                self.violations.append(f"the failed dial names {outcome.handle}, not {h}")
            self.rows[h] = Row(entry, "failed")
        else:
            self.doom(h, frozenset({errors.ERROR_DISCONNECTION}))

    def _drop(self) -> None:
        entry = self.entries.dropper
        self.note(f"dial {entry!r} (drops by itself)")
        try:
            h = self.client.dial(entry, self.pbk).handle
        except errors.RasError as exc:
            self.violations.append(f"dial {entry!r} failed: {exc!r}")
            return
        self._issue(h, f"dial {entry}")
        self.faults["link dropped by itself"] += 1
        self.doom(h, frozenset({errors.ERROR_REMOTE_DISCONNECTION}))

    # ------------------------------------------------------------------ killing the daemon

    def _kill_daemon(self) -> None:
        live = self.connected()
        variants = ["idle", "racing dial"]
        if live:
            variants += ["mid-teardown", "link dies while down"]
        if self._live(self.entries.slow) is None and len(live) < self.max_live:
            variants.append("mid-dial")
        variant = self.rng.choice(variants)
        self.note(f"SIGKILL rasman ({variant})")
        getattr(self, "_crash_" + variant.replace(" ", "_").replace("-", "_"))()
        self.faults[f"rasman SIGKILLed ({variant})"] += 1

    def _crash_idle(self) -> None:
        self._kill9()
        self._restart()

    def _crash_mid_teardown(self) -> None:
        h = self.rng.choice(self.connected())
        for _ in range(self.rows[h].refs):
            self.client.hang_up(h, wait=False)
        self._kill9()
        self.doom(h)
        self._restart()

    def _crash_link_dies_while_down(self) -> None:
        h = self.rng.choice(self.connected())
        pid = self.rows[h].pid
        assert pid is not None
        self._kill9()
        os.kill(pid, signal.SIGKILL)
        poll(lambda: pid_gone(pid), 10)
        self.faults["link program SIGKILLed"] += 1
        self.doom(h, frozenset({errors.ERROR_DISCONNECTION}))
        self._restart()

    def _crash_mid_dial(self) -> None:
        """The daemon dies while a client's dial runs: the restart adopts the attempt."""
        entry = self.entries.slow
        state = self.rng.choice(DIAL_STATES)
        proc = self._spawn_dialer(entry)
        try:
            h = self._attempt_at(entry, state, lambda: proc.poll() is None)
            self._kill9()
            try:
                proc.wait(15)  # the dialer lost its daemon and says so
            except subprocess.TimeoutExpired:
                self.violations.append("a dialer did not notice its daemon died")
        finally:
            proc.kill()
            proc.wait(10)
        if h:
            # Before its first state the program may not be recorded yet, or may not have
            # been told to start: then it exits with the daemon, and the row fails (628).
            self._issue(h, f"dial {entry} (daemon killed at state {state})")
            self.rows[h] = Row(entry, "connected" if state > 0 else "any")
        self._restart()

    def _crash_racing_dial(self) -> None:
        """The daemon dies at once after a dial is sent: whatever it had recorded of the
        attempt is adopted or cleaned up, nothing else."""
        free = [e for e in self.entries.quick if self._live(e) is None]
        if not free:
            self._crash_idle()
            return
        entry = self.rng.choice(free)
        result: list[int] = []
        sent = threading.Event()

        def dial() -> None:
            with contextlib.suppress(errors.RasError, OSError), self._connect() as c:
                sent.set()
                result.append(c.dial(entry, self.pbk).handle)

        thread = threading.Thread(target=dial, daemon=True)
        thread.start()
        sent.wait(10)
        if self.rng.random() < 0.5:
            poll(lambda: pending(self.client, entry) or result, 10)
        self._kill9()
        thread.join(QUIET_DEADLINE)
        if result:
            self._issue(result[0], f"dial {entry} (daemon killed)")
            self.rows[result[0]] = Row(entry, "connected")
        else:
            self.expect_new[entry] = "any"
        self._restart()

    # ------------------------------------------------------------------ the run

    def run(self, *, steps: int | None, seconds: float) -> None:
        """Steps until ``steps`` are done or ``seconds`` have passed; stops at a violation."""
        self.check(self.wait_quiet())
        deadline = time.monotonic() + seconds
        while (steps is None or self.steps < steps) and time.monotonic() < deadline:
            self.step()
            if self.violations:
                raise AssertionError(self.report("violations"))

    def finish(self) -> None:
        """Hang up everything (each handle must reach 6) and check the table is empty."""
        self.note("hang up everything")
        for h, row in sorted(self.rows.items()):
            for _ in range(row.refs):
                self.client.hang_up(h, wait=False)
            self.doom(h)
        for h in sorted(self.doomed):
            with contextlib.suppress(errors.InvalidHandle):
                self.client.wait_gone(h, timeout=QUIET_DEADLINE)
        self.check(self.wait_quiet())
        t = self.read()
        if t.enum or t.procs or t.run_dirs:
            self.violations.append(f"left after hanging up all: {t}")
        if self.violations:
            raise AssertionError(self.report("violations at the end"))

    def memory(self) -> tuple[int, int, int]:
        """(RSS after warm-up, RSS at the end, the largest growth of one daemon process)."""
        warm = next((r for s, _, r in self.rss if s >= self.warmup), self.rss[0][2])
        end = self.rss[-1][2]
        growth = 0
        by_pid: dict[int, list[int]] = {}
        for s, pid, r in self.rss:
            if s >= self.warmup:
                by_pid.setdefault(pid, []).append(r)
        for samples in by_pid.values():
            growth = max(growth, samples[-1] - samples[0])
        return warm, end, growth

    def summary(self) -> str:
        faults = ", ".join(f"{k}: {n}" for k, n in sorted(self.faults.items()))
        actions = ", ".join(f"{k}: {n}" for k, n in sorted(self.actions.items()))
        up = ", ".join(f"{k}: {n}" for k, n in sorted(self.links_up.items()))
        return (
            f"soak: {self.steps} steps, {sum(self.faults.values())} faults injected ({faults}); "
            f"actions ({actions}); links connected ({up}); "
            f"{len(self.issued)} handles issued, {self.reaped} reaped; "
            f"violations: {len(self.violations)}"
        )

    def report(self, what: str) -> str:
        tail = ""
        if self.log is not None and self.log.exists():
            tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-60:])
        return (
            f"{what}:\n  "
            + "\n  ".join(self.violations)
            + "\nrecent steps:\n  "
            + "\n  ".join(self.trail)
            + f"\n{self.summary()}\nrasman log (tail):\n{tail}"
        )
