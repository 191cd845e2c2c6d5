"""A network-namespace lab for link tests: two namespaces joined by one veth pair.

Link tests run real programs (servers in namespace A, clients in B) with addresses that exist
only inside namespaces the test created, so nothing can reach a real network. Everything the
lab starts is tracked by PID and stopped by PID; on close, any process still living in one
of its namespaces (for instance a link program a driver spawned in its own session) is found
through ``/proc/PID/ns/net`` and killed by PID too, then the namespaces are deleted (which
destroys the veth and every tun/wg device in them). Nothing is ever killed by name.

Generic on purpose: the OpenVPN, WireGuard and SSH link tests share it.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

CLONE_NEWNET = 0x40000000
_counter = itertools.count()


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.01) -> Any:
    """Poll ``predicate`` until it returns something truthy or ``timeout`` passes.

    Returns the last value (falsy on timeout). A bounded poll, never an open-ended sleep.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def missing_programs(*names: str) -> list[str]:
    """The programs among ``names`` that are not on PATH (for skip messages)."""
    return [n for n in names if shutil.which(n) is None]


def require_root_netns() -> None:
    """Skip (a failure under CI) unless namespaces can be made here."""
    if os.geteuid() != 0:
        pytest.skip("network namespace tests need root")
    if shutil.which("ip") is None:
        pytest.skip("iproute2 'ip' is not installed")


def require_programs(*names: str) -> None:
    """Skip (a failure under CI) when a program the test runs is not installed."""
    missing = missing_programs(*names)
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")


@dataclass(frozen=True)
class NsPair:
    """Two namespaces, ``a`` (server side) and ``b`` (client side), on one /30."""

    a: str
    b: str
    if_a: str
    if_b: str
    addr_a: str
    addr_b: str
    prefix: int = 30


def _netns_inode(name: str) -> int | None:
    try:
        return os.stat(f"/run/netns/{name}").st_ino
    except OSError:
        return None


def pids_in_netns(name: str) -> list[int]:
    """PIDs whose network namespace is the named one (like ``ip netns pids``)."""
    ino = _netns_inode(name)
    if ino is None:
        return []
    found: list[int] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if pid == os.getpid():
            continue
        try:
            if os.stat(f"/proc/{pid}/ns/net").st_ino == ino:
                found.append(pid)
        except OSError:
            continue
    return found


def _pid_gone(pid: int) -> bool:
    """True once ``pid`` has exited; a zombie counts as gone (PID 1 here reaps late)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("State:"):
                    return line.split()[1] in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return True
    return False


def kill_pids(pids: Sequence[int], grace: float = 2.0) -> None:
    """SIGTERM each pid, wait up to ``grace`` for all, SIGKILL what is left (by pid)."""
    live = [p for p in pids if not _pid_gone(p)]
    for pid in live:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    wait_until(lambda: all(_pid_gone(p) for p in live), grace)
    for pid in live:
        if not _pid_gone(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    wait_until(lambda: all(_pid_gone(p) for p in live), 5.0)


@dataclass
class NetnsLab:
    """Creates namespace pairs, runs programs in them, and cleans everything up on close."""

    workdir: Path
    namespaces: list[str] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _logs: list[IO[bytes]] = field(default_factory=list)

    # -- namespaces -------------------------------------------------------------------------

    def create_pair(self) -> NsPair:
        """Two fresh namespaces with a veth between them, lo up, no default route."""
        n = next(_counter)
        tag = f"oras-{os.getpid()}-{n}"
        a, b = f"{tag}-a", f"{tag}-b"
        third = (os.getpid() + n) % 250 + 1
        pair = NsPair(
            a=a,
            b=b,
            if_a="veth-a",
            if_b="veth-b",
            addr_a=f"10.231.{third}.1",
            addr_b=f"10.231.{third}.2",
        )
        for ns in (a, b):
            _ip("netns", "add", ns)
            self.namespaces.append(ns)
        # Created directly inside the namespaces, so the names never collide in the root one.
        _ip(
            "link",
            "add",
            pair.if_a,
            "netns",
            a,
            "type",
            "veth",
            "peer",
            "name",
            pair.if_b,
            "netns",
            b,
        )
        for ns, ifname, addr in ((a, pair.if_a, pair.addr_a), (b, pair.if_b, pair.addr_b)):
            _ip("-n", ns, "addr", "add", f"{addr}/{pair.prefix}", "dev", ifname)
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "link", "set", ifname, "up")
        return pair

    def links(self, ns: str) -> list[str]:
        """Interface names in ``ns``."""
        out = _ip("-n", ns, "-j", "link", "show", capture=True)
        return [str(item["ifname"]) for item in json.loads(out or "[]")]

    def addresses(self, ns: str, ifname: str) -> list[str]:
        """IPv4/IPv6 addresses (no prefix) on ``ifname`` in ``ns``; [] if it does not exist."""
        try:
            out = _ip("-n", ns, "-j", "addr", "show", "dev", ifname, capture=True)
        except subprocess.CalledProcessError:
            return []
        return [
            str(a["local"]) for item in json.loads(out or "[]") for a in item.get("addr_info", [])
        ]

    @contextlib.contextmanager
    def inside(self, ns: str) -> Iterator[None]:
        """Run the calling thread (and every child it spawns) inside ``ns`` for a while.

        This is how an in-process driver test behaves like a daemon running in the client
        namespace. Only the calling thread moves; ``/sys`` still shows the outer namespace's
        devices (use netlink, ``/proc/thread-self/net`` or ``ip -n``).
        """
        libc = ctypes.CDLL(None, use_errno=True)
        old = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        new = os.open(f"/run/netns/{ns}", os.O_RDONLY | os.O_CLOEXEC)
        try:
            if libc.setns(new, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"setns({ns}): {os.strerror(err)}")
            try:
                yield
            finally:
                if libc.setns(old, CLONE_NEWNET) != 0:  # pragma: no cover - cannot happen as root
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns back: {os.strerror(err)}")
        finally:
            os.close(old)
            os.close(new)

    # -- processes --------------------------------------------------------------------------

    def spawn(
        self,
        ns: str,
        argv: Sequence[str],
        *,
        log: Path | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        stdin: int | IO[bytes] | None = subprocess.DEVNULL,
        stdout: int | IO[bytes] | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start ``argv`` inside ``ns`` as our child (``ip netns exec`` execs, so the pid is
        the program's own). Output goes to ``log`` (or ``stdout``); the pid is tracked."""
        out: int | IO[bytes] | None = stdout
        if log is not None:
            fh = open(log, "ab")  # noqa: SIM115 - closed in close()
            self._logs.append(fh)
            out = fh
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, *argv],
            stdin=stdin,
            stdout=out,
            stderr=subprocess.STDOUT if out is not None else None,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def run(
        self, ns: str, argv: Sequence[str], *, timeout: float = 10.0, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in ``ns`` to completion (bounded by ``timeout``)."""
        return subprocess.run(
            ["ip", "netns", "exec", ns, *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )

    def ping(self, ns: str, addr: str, *, count: int = 1, wait: int = 1) -> bool:
        """One bounded ping from ``ns`` to ``addr``."""
        res = subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                ns,
                "ping",
                "-n",
                "-q",
                "-c",
                str(count),
                "-W",
                str(wait),
                addr,
            ],
            capture_output=True,
            timeout=count * wait + 5,
            check=False,
        )
        return res.returncode == 0

    def stop(self, proc: subprocess.Popen[bytes], grace: float = 5.0) -> int | None:
        """SIGTERM ``proc`` (by its pid), SIGKILL after ``grace``; its exit status."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        return proc.returncode

    # -- cleanup ----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop every tracked process and anything left in our namespaces; delete them."""
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 3.0
        for proc in self.procs:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        for ns in self.namespaces:
            kill_pids(pids_in_netns(ns))
        for ns in self.namespaces:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        self.namespaces.clear()
        self.procs.clear()
        for fh in self._logs:
            fh.close()
        self._logs.clear()


def _ip(*args: str, capture: bool = False) -> str:
    res = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10, check=False)
    if res.returncode != 0:
        raise subprocess.CalledProcessError(res.returncode, ["ip", *args], res.stdout, res.stderr)
    return res.stdout if capture else ""
