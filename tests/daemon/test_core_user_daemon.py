"""The per-user daemon as a real non-root user: started on demand on the default path, it
outlives the client; in the shared-/tmp fallback its socket dir must be the user's own.

Runs as a throwaway user (root + useradd + setpriv); the client checks SO_PEERCRED, so only
that user (not root) may talk to that user's daemon, and every check runs as them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from rasman_helpers import pids_matching, python_for, rasman_pids, terminate

from openras import errors

SCRIPT = r"""
import json, sys
from openras import Client, errors
out = {}
try:
    with Client() as c:
        ping = c.call("org.openras.Manager.Ping")
        out.update(pid=ping["pid"], uid=ping["uid"], socket=str(c._t.path))
        if sys.argv[1] == "dial":
            out["handle"] = c.dial("Demo", sys.argv[2]).handle
        elif sys.argv[1] == "check-and-hang-up":
            h = int(sys.argv[2])
            out["state"] = int(c.status(h).state)
            c.hang_up(h, wait=True, timeout=15)
            out["gone"] = True
except errors.RasError as exc:
    out.update(code=exc.code, message=str(exc))
print(json.dumps(out))
"""


class User:
    def __init__(self, uid: int, gid: int, python: str, base: Path) -> None:
        self.uid, self.gid, self.python, self.base = uid, gid, python, base
        self.state = base / "state" / "openras"

    def env(self, *, runtime: bool) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.base),
            "LANG": "C.UTF-8",
            "XDG_STATE_HOME": str(self.base / "state"),
            "XDG_CONFIG_HOME": str(self.base / "config"),
            "OPENRAS_SYSTEM_PHONEBOOK": str(self.base / "none.pbk"),
        }
        if runtime:
            env["XDG_RUNTIME_DIR"] = str(self.base / "run")
        return env

    def run(self, *args: str, runtime: bool = True) -> dict[str, object]:
        proc = subprocess.run(
            [
                *("setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups"),
                *(self.python, "-c", SCRIPT, *args),
            ],
            env=self.env(runtime=runtime),
            capture_output=True,
            text=True,
            timeout=60,
            cwd="/",
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)


@pytest.fixture
def user(other_user: tuple[int, int], phonebook: Path) -> Iterator[User]:
    uid, gid = other_user
    python = python_for(uid, gid)
    if python is None:
        pytest.skip("no python3 the throwaway user may execute")
    probe = subprocess.run(
        ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", python, "-c",
         "import openras"],
        capture_output=True, timeout=30, cwd="/", check=False,
    )  # fmt: skip
    if probe.returncode != 0:
        pytest.skip("the throwaway user cannot import openras from this checkout")
    base = Path(tempfile.mkdtemp(prefix="oras-user-", dir="/tmp"))
    for sub in ("", "run", "state", "config"):
        (base / sub).mkdir(mode=0o700, exist_ok=True)
        os.chown(base / sub, uid, gid)
    shutil.copy(phonebook, base / "rasphone.pbk")
    os.chown(base / "rasphone.pbk", uid, gid)
    u = User(uid, gid, python, base)
    try:
        yield u
    finally:
        for pid in rasman_pids(u.state):
            terminate(pid)
        stray = pids_matching(lambda cmd: any(str(base) in part for part in cmd))
        for pid in stray:
            os.kill(pid, 9)
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(f"/tmp/openras-{uid}", ignore_errors=True)
        assert not stray, f"link processes left behind: {stray}"


def test_per_user_daemon_starts_on_demand_and_outlives_the_client(user: User) -> None:
    first = user.run("dial", str(user.base / "rasphone.pbk"))
    assert "code" not in first, first
    assert first["uid"] == user.uid
    assert first["socket"] == str(user.base / "run" / "openras" / "rasman.sock")
    [daemon] = rasman_pids(user.state)
    assert daemon == first["pid"]
    assert psutil.Process(daemon).uids().real == user.uid  # the user's own daemon, not root's
    # the dialing process has exited; the same daemon still holds the connection
    second = user.run("check-and-hang-up", str(first["handle"]))
    assert second["pid"] == daemon and second["state"] == 0x2000 and second["gone"] is True
    assert rasman_pids(user.state) == [daemon]


def test_fallback_socket_dir_pre_created_by_another_user_is_refused(user: User) -> None:
    fallback = Path(f"/tmp/openras-{user.uid}")
    if fallback.exists():
        pytest.skip(f"{fallback} exists already")
    fallback.mkdir(mode=0o777)  # root plays the attacker: owns it, world-writable
    fallback.chmod(0o777)
    try:
        out = user.run("ping", runtime=False)
        assert out["code"] == errors.ERROR_RASMAN_CANNOT_INITIALIZE, out
        assert "refusing" in str(out["message"]) and "owned by uid 0" in str(out["message"])
        assert rasman_pids(user.state) == []  # nothing was started on the planted dir
    finally:
        shutil.rmtree(fallback)
    # without the planted dir the client creates it privately and starts the daemon there
    out = user.run("ping", runtime=False)
    assert "code" not in out, out
    assert out["socket"] == str(fallback / "rasman.sock")
    st = os.lstat(fallback)
    assert (st.st_uid, st.st_mode & 0o777) == (user.uid, 0o700)
