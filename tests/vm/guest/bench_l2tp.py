"""VM benchmark (``bench/bench_vm.py``): an L2TP/IPsec dial and hang-up through rasman against
the same three programs started by hand with the same files and messages, alternating,
against the same charon + xl2tpd server.

By hand: a charon with openras's ``strongswan.conf`` (private ``/run``, as openras runs it),
loaded and initiated with strongSwan's own ``vici`` package; xl2tpd with openras's config and
pppd options, dialed through its control pipe; connected when pppd's log says IPCP is done
and the interface exists. Hang-up by hand: SIGTERM to pppd, then xl2tpd, then charon, each
waited for, and the interface gone."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import psutil
import pytest
import vici
from _benchkit import (
    POLL,
    DaemonLog,
    alternate,
    link_exists,
    openras_round,
    password_memfd,
    traced,
    until_projected,
)
from _linkkit import NsRasman
from netns import NetnsLab, NsPair
from swan_lab import PSK
from test_l2tp import ENTRY, PASSWORD, USER, L2tpServer, save_psk, server, windows_export

from openras.links.ikev2.driver import _MOUNT_AND_EXEC, find_charon
from openras.links.ppp import l2tp

pytestmark = pytest.mark.vm
__all__ = ["server"]  # (the fixture, from the test module)


def _wait_for(check: object, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {what} within {timeout} s")
        time.sleep(POLL)


def raw_round(
    lab: NetnsLab, server_addr: str, ns: str, run_dir: Path, n: int
) -> tuple[float, float]:
    d = run_dir / f"raw-{n}"
    (d / "run").mkdir(parents=True)
    tunnel = l2tp.L2tpSettings(
        server=server_addr, ipsec=True, psk=PSK, reqid=l2tp.reqid_for(0xF00000 + n)
    )
    conf, vici_path = d / "strongswan.conf", d / "charon.vici"
    conf.write_text(l2tp.strongswan_conf(vici_socket=vici_path, log_file=d / "charon.log",
                                         dial_timeout=60))  # fmt: skip
    ifname, fd = f"orbench{n}", password_memfd(PASSWORD)
    options = d / "pppd.options"
    options.write_text(l2tp.pppd_options(user=USER, ifname=ifname, linkname=f"bench-{n}",
                                         logfile=d / "pppd.log", no_script="/bin/true",
                                         password_fd=fd))  # fmt: skip
    (d / "xl2tpd.conf").write_text(l2tp.xl2tpd_conf(tunnel, options_file=options))
    control = d / "l2tp-control"
    procs: list[subprocess.Popen[bytes]] = []
    quiet = {
        "stdin": subprocess.DEVNULL,
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
    }
    try:
        with lab.inside(ns):
            t0 = time.perf_counter()
            charon = subprocess.Popen(
                ["unshare", "--mount", "--propagation", "private", "sh", "-c", _MOUNT_AND_EXEC,
                 str(d / "run"), "/bin/true", find_charon()],
                env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "STRONGSWAN_CONF": str(conf)},
                **quiet,  # type: ignore[arg-type]
            )  # fmt: skip
            procs.append(charon)
            sock = socket.socket(socket.AF_UNIX)
            _wait_for(lambda: sock.connect_ex(str(vici_path)) == 0, "VICI socket")
            session = vici.Session(sock)
            session.load_shared(l2tp.ike_secret(tunnel))
            session.load_conn(l2tp.ike_connection(tunnel))
            for _log in session.initiate(l2tp.initiate(60000)):
                pass
            sock.close()
            xl2tpd = subprocess.Popen(
                ["xl2tpd", "-D", "-c", str(d / "xl2tpd.conf"), "-p", str(d / "xl2tpd.pid"),
                 "-C", str(control)], pass_fds=(fd,), **quiet,  # type: ignore[arg-type]
            )  # fmt: skip
            procs.append(xl2tpd)
            _wait_for(lambda: control.exists() and stat.S_ISFIFO(control.stat().st_mode), "pipe")
            pipe = os.open(control, os.O_WRONLY)
            os.write(pipe, b"c openras\n")
            os.close(pipe)
            until_projected("l2tp", d / "pppd.log", ifname, lambda: xl2tpd.poll() is None, 90)
            dial = time.perf_counter() - t0

            t1 = time.perf_counter()
            pppd = next(p for p in psutil.Process(xl2tpd.pid).children() if p.name() == "pppd")
            pppd.terminate()
            pppd.wait(30)
            for proc in (xl2tpd, charon):
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
            _wait_for(lambda: not link_exists(ifname), "interface gone", 30)
            return dial, time.perf_counter() - t1
    finally:
        os.close(fd)
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        with contextlib.suppress(OSError):
            subprocess.run(["ip", "netns", "exec", ns, "ip", "xfrm", "state", "flush"], check=False)
            subprocess.run(
                ["ip", "netns", "exec", ns, "ip", "xfrm", "policy", "flush"], check=False
            )


def test_bench_l2tp(
    lab: NetnsLab,
    pair: NsPair,
    rasman: NsRasman,
    api: None,
    server: L2tpServer,
    tmp_path: Path,
    bench_reps: int,
) -> None:
    pbk = tmp_path / "rasphone.pbk"
    pbk.write_text(windows_export(pair.addr_a), encoding="utf-8")
    save_psk(pbk, PSK)
    n = itertools.count(1)
    daemon = DaemonLog(rasman.log)
    alternate(
        "l2tp",
        lambda: raw_round(lab, pair.addr_a, pair.b, tmp_path, next(n)),
        lambda: traced("l2tp", daemon, lambda: openras_round(pbk, ENTRY, USER, PASSWORD)),
        bench_reps,
    )
