"""Connections belong to rasman, not to the process that dialed; users see only their own."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from rasman_helpers import HEARTBEAT, alive, is_gone, python_for, wait_until

from openras import Client, errors, rasapi
from openras.states import RasConnState

DIALER = """
import sys
from openras import Client
c = Client(sys.argv[1], autostart=False)
print(c.dial(sys.argv[2], sys.argv[3]).handle)
"""


def test_link_outlives_the_process_that_dialed_it(rasman):
    proc = subprocess.run(
        [sys.executable, "-c", DIALER, str(rasman.socket), "Demo", str(rasman.phonebook)],
        capture_output=True,
        text=True,
        timeout=30,
        env=rasman.env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    h = int(proc.stdout)
    with Client(rasman.socket) as c:
        [info] = c.connections()
        assert (info.handle, info.entry, info.state, info.owner) == (
            h,
            "Demo",
            RasConnState.Connected,
            0,
        )
        [pid] = rasman.link_pids()
        s1 = c.statistics(h)
        wait_until(
            lambda: c.statistics(h).bytes_received > s1.bytes_received + HEARTBEAT, what="traffic"
        )
        c.hang_up(h, wait=True)
        assert is_gone(c, h)
        assert not alive(pid)


def test_failed_dial_in_another_process_answers_there_and_here(rasman):
    script = """
import sys
from openras import Client, errors
c = Client(sys.argv[1], autostart=False)
try:
    c.dial("Secret", sys.argv[2], password="nope")
except errors.RasError as exc:
    print(exc.code, exc.handle)
"""
    proc = subprocess.run(
        [sys.executable, "-c", script, str(rasman.socket), str(rasman.phonebook)],
        capture_output=True,
        text=True,
        timeout=30,
        env=rasman.env,
        check=False,
    )
    code, h = map(int, proc.stdout.split())
    assert code == 691
    with Client(rasman.socket) as c:
        st = c.status(h)  # root may read it; it waits for a hang-up or the reaper
        assert (st.phase, st.error) == ("failed", 691)
        c.hang_up(h)
        assert is_gone(c, h)


# ------------------------------------------------------------------------------ a second user

#: The other user's client: plain json + socket, so it runs on any python3 it may execute.
USER_CLIENT = r"""
import json, socket, sys
path, pb, private_pb, root_handle = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
s.connect(path)
buf = b""
def call(method, params):
    global buf
    s.sendall(json.dumps({"method": "org.openras.Manager." + method, "parameters": params}).encode() + b"\0")
    while b"\0" not in buf:
        data = s.recv(65536)
        if not data:
            raise SystemExit("daemon closed the connection")
        buf += data
    frame, _, buf = buf.partition(b"\0")
    msg = json.loads(frame)
    return msg.get("parameters", {}) if "error" not in msg else {"code": msg["parameters"]["code"]}
out = {
    "ping": call("Ping", {}),
    "enum": call("EnumConnections", {"include_pending": True}),
    "status_root": call("GetConnectStatus", {"handle": root_handle}),
    "hangup_root": call("HangUp", {"handle": root_handle}),
    "stats_root": call("GetStatistics", {"handle": root_handle}),
    "private_pb": call("Dial", {"entry": "Demo", "phonebook": private_pb}),
    "dial": call("Dial", {"entry": "Demo", "phonebook": pb}),
}
out["enum_after"] = call("EnumConnections", {"include_pending": True})
out["history"] = call("History", {})
print(json.dumps(out))
"""


@pytest.fixture
def public_pbk(rasman) -> Iterator[Path]:
    """A phonebook the other user may read (the test's tmp dir is root's, mode 0700)."""
    d = Path(tempfile.mkdtemp(prefix="oras-pb-"))
    d.chmod(0o755)
    pb = d / "rasphone.pbk"
    pb.write_text(rasman.phonebook.read_text())
    pb.chmod(0o644)
    yield pb
    shutil.rmtree(d)


def test_second_user_sees_and_touches_only_their_own(rasman, other_user, public_pbk, fresh_rasapi):
    uid, gid = other_user
    python = python_for(uid, gid)
    if python is None:
        pytest.skip("no python3 the throwaway user may execute")
    # the socket is reachable by everyone; SO_PEERCRED decides what they may do
    assert stat.S_IMODE(rasman.socket.parent.stat().st_mode) == 0o755
    assert stat.S_IMODE(rasman.socket.stat().st_mode) & 0o666 == 0o666
    with Client(rasman.socket) as c:
        mine = c.dial("Demo", rasman.phonebook)
        proc = subprocess.run(
            [
                "setpriv",
                f"--reuid={uid}",
                f"--regid={gid}",
                "--clear-groups",
                python,
                "-c",
                USER_CLIENT,
                str(rasman.socket),
                str(public_pbk),
                str(rasman.phonebook),
                str(mine.handle),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd="/",
        )
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
        assert out["ping"]["uid"] == uid  # from SO_PEERCRED
        assert out["enum"]["connections"] == []  # none of root's
        assert out["status_root"] == {"code": errors.ERROR_INVALID_HANDLE}
        assert out["hangup_root"] == {"code": errors.ERROR_INVALID_HANDLE}
        assert out["stats_root"] == {"code": errors.ERROR_INVALID_HANDLE}
        assert out["private_pb"] == {"code": errors.ERROR_CANNOT_OPEN_PHONEBOOK}  # root's 0700 dir
        theirs = out["dial"]["handle"]
        assert out["dial"]["state"] == RasConnState.Connected and theirs != mine.handle
        assert [r["handle"] for r in out["enum_after"]["connections"]] == [theirs]
        assert all(r["owner"] == uid for r in out["history"]["disconnects"])
        # root's connection was untouched by the other user's hang-up
        assert c.status(mine.handle).state is RasConnState.Connected
        # root sees both, with owners; the RASCONN flags say whose
        infos = {i.handle: i for i in c.connections()}
        assert infos[theirs].owner == uid and infos[mine.handle].owner == 0
        code, conns = rasapi.RasEnumConnections()
        assert code == 0
        flags = {rc.hrasconn: rc.dwFlags for rc in conns}
        assert flags[mine.handle] & rasapi.RASCF_OwnerMatch
        assert (
            flags[theirs] & rasapi.RASCF_OwnerKnown and not flags[theirs] & rasapi.RASCF_OwnerMatch
        )
        # the user's link outlived their process; root may hang it up
        c.hang_up(theirs, wait=True)
        assert is_gone(c, theirs)
        mine.hang_up()
    assert rasman.link_pids() == []


def test_socket_created_for_all_when_root(rasman):
    """Root's daemon listens for every user (0666), its state stays private."""
    mode = stat.S_IMODE(os.stat(rasman.socket).st_mode)
    assert mode == 0o666
    assert stat.S_IMODE(rasman.state_dir.stat().st_mode) == 0o700
    state_file = rasman.state_dir / "connections.1"  # the first table written
    wait_until(state_file.exists, what="the state file")
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
