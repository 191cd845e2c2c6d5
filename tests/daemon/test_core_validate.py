"""An entry check never stalls the daemon: validate() runs off the event loop, and a file
that could block a reader (a FIFO nobody writes) is never read.

For a non-root owner the WireGuard driver opens the entry's config with that user's
credentials, without blocking (O_NONBLOCK), and refuses anything but a regular file; root's
calls meanwhile are answered at once.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from rasman_helpers import python_for

from openras import Client

DIALER = r"""
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(30)
s.connect(sys.argv[1])
msg = {"method": "org.openras.Manager.Dial", "parameters": {"entry": "Fifo", "phonebook": sys.argv[2]}}
s.sendall(json.dumps(msg).encode() + b"\0")
buf = b""
while b"\0" not in buf:
    data = s.recv(65536)
    if not data:
        raise SystemExit("closed")
    buf += data
print(buf.partition(b"\0")[0].decode())
"""


def test_slow_validation_of_one_dial_does_not_stall_other_calls(rasman, other_user):
    uid, gid = other_user
    python = python_for(uid, gid)
    if python is None:
        pytest.skip("no python3 the throwaway user may execute")
    d = Path(tempfile.mkdtemp(prefix="oras-fifo-", dir="/tmp"))
    try:
        d.chmod(0o755)
        fifo = d / "wg.conf"
        os.mkfifo(fifo, 0o666)
        pbk = d / "rasphone.pbk"
        pbk.write_text(f"[Fifo]\nOpenRasDevice=wireguard\nOpenRasWireGuardConfig={fifo}\n")
        pbk.chmod(0o644)
        # The built-in policy lets only netdev members dial their own WireGuard entries.
        Path(os.environ["OPENRAS_POLICY"]).write_text("[default]\nentries = own\ndevices = *\n")
        dialer = subprocess.Popen(
            [
                *("setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups"),
                *(python, "-c", DIALER, str(rasman.socket), str(pbk)),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd="/",
        )
        try:
            worst = 0.0
            with Client(rasman.socket, timeout=30) as c:
                t_end = time.monotonic() + 3.0
                while time.monotonic() < t_end and dialer.poll() is None:
                    t0 = time.monotonic()
                    c.call("org.openras.Manager.Ping")
                    worst = max(worst, time.monotonic() - t0)
                    time.sleep(0.02)
            out, err = dialer.communicate(timeout=30)
        finally:
            if dialer.poll() is None:
                dialer.kill()
                dialer.wait(10)
        assert dialer.returncode == 0, err
        reply = json.loads(out)
        assert "error" in reply and reply["parameters"]["code"] != 0  # the FIFO never gave a config
        assert reply["parameters"].get("handle", 0) == 0
        assert "not a regular file" in reply["parameters"].get("detail", "")
        assert worst < 1.0, f"a ping waited {worst:.2f}s behind another user's entry check"
    finally:
        Path(os.environ["OPENRAS_POLICY"]).unlink(missing_ok=True)
        shutil.rmtree(d)
