"""The xl2tpd configuration openras writes for an L2TP dial, run by the real xl2tpd (no
kernel L2TP, PPP or ESP needed, so this runs on this host): in a network namespace of its
own, xl2tpd reads the daemon's config, makes its control pipe in the run directory, holds
no fixed port (so two links never collide on 1701), and on the control pipe's ``c openras``
sends its SCCRQ from that port to the server's 1701; stopped, it leaves none of its files.
And a descriptor xl2tpd inherits stays
open in it: pppd, which xl2tpd runs without closing others, gets the password's memfd."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from netns import require_programs, require_root_netns

from openras.links.ppp.l2tp import L2tpSettings, xl2tpd_conf

#: Run inside ``unshare --net`` (the namespace goes when it exits): a UDP listener as the
#: server's port 1701, xl2tpd with the config, the dial command, the first datagram.
_PROBE = textwrap.dedent(
    """
    import json, os, socket, subprocess, sys, time
    run = sys.argv[1]
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 1701))
    server.settimeout(10)
    held = os.open(run + "/options", os.O_RDONLY)  # inheritable: the password fd's stand-in
    os.set_inheritable(held, True)
    xl2tpd = subprocess.Popen(
        ["xl2tpd", "-D", "-c", run + "/xl2tpd.conf", "-p", run + "/xl2tpd.pid",
         "-C", run + "/l2tp-control"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, pass_fds=(held,),
    )
    out = {"fd_held": False}
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(run + "/l2tp-control"):
            if time.monotonic() > deadline or xl2tpd.poll() is not None:
                raise SystemExit("xl2tpd made no control pipe")
            time.sleep(0.02)
        out["fd_held"] = os.path.exists(f"/proc/{xl2tpd.pid}/fd/{held}")
        fd = os.open(run + "/l2tp-control", os.O_WRONLY)
        os.write(fd, b"c openras\\n")
        os.close(fd)
        data, peer = server.recvfrom(2048)
        out["from_port"] = peer[1]
        out["type"] = int.from_bytes(data[:2], "big")
        # Message Type AVP (the first AVP after the 12-byte header with length bit):
        out["message_type"] = int.from_bytes(data[18:20], "big")
    finally:
        xl2tpd.terminate()
        try:
            xl2tpd.wait(5)
        except subprocess.TimeoutExpired:
            xl2tpd.kill()
            xl2tpd.wait()
    out["left"] = sorted(os.listdir(run))
    print(json.dumps(out))
    """
)


def test_xl2tpd_runs_the_daemons_config(tmp_path: Path) -> None:
    require_root_netns()
    require_programs("xl2tpd", "unshare")
    settings = L2tpSettings(server="127.0.0.1", ipsec=False)
    (tmp_path / "options").write_text("")
    conf = xl2tpd_conf(settings, options_file=tmp_path / "options")
    (tmp_path / "xl2tpd.conf").write_text(conf)
    res = subprocess.run(
        ["unshare", "--net", sys.executable, "-c", _PROBE, str(tmp_path)],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.splitlines()[-1])
    assert out["fd_held"], "xl2tpd closed an inherited descriptor"
    assert out["from_port"] not in (0, 1701)  # a port of its own, not the shared 1701
    assert out["type"] & 0x8000  # the T bit: a control message
    assert out["message_type"] == 1  # SCCRQ: the dial began on the control pipe's command
    # xl2tpd removes its control pipe and pid file when it stops (SIGTERM)
    assert out["left"] == ["options", "xl2tpd.conf"]
