"""The client trusts only a daemon of root or of its own uid, in a socket dir that is private.

The per-user fallback socket dir lives in world-writable /tmp: another local user could create
it first (or plant a symlink) and serve a fake rasman that collects dial passwords.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from rasman_helpers import python_for

from openras import Client, errors, paths
from openras.wire.atransport import AsyncTransport
from openras.wire.transport import connect

LISTENER = """
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(8)
print("ready", flush=True)
conns = []
while True:
    conns.append(s.accept()[0])
"""


@pytest.fixture
def foreign_daemon(other_user: tuple[int, int]) -> Iterator[tuple[Path, int]]:
    """A socket served by a process of another uid (a would-be fake rasman)."""
    uid, gid = other_user
    python = python_for(uid, gid)
    if python is None:
        pytest.skip("no python3 the throwaway user may execute")
    d = Path(tempfile.mkdtemp(prefix="oras-peer-", dir="/tmp"))
    os.chown(d, uid, gid)
    path = d / "rasman.sock"
    proc = subprocess.Popen(
        [
            *("setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups"),
            *(python, "-c", LISTENER, str(path)),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd="/",
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield path, uid
    finally:
        proc.kill()
        proc.wait(10)
        shutil.rmtree(d)


def test_client_refuses_a_daemon_of_another_uid(foreign_daemon: tuple[Path, int]) -> None:
    path, uid = foreign_daemon
    with pytest.raises(errors.ManagerUnavailable) as info:
        connect(path, autostart=False, timeout=5)
    assert info.value.code == errors.ERROR_RASMAN_CANNOT_INITIALIZE
    assert f"uid {uid}" in str(info.value)
    with pytest.raises(errors.ManagerUnavailable):
        Client(path, autostart=False, timeout=5)

    async def via_async() -> None:
        await AsyncTransport.connect(path, autostart=False)

    with pytest.raises(errors.ManagerUnavailable, match=f"uid {uid}"):
        asyncio.run(via_async())


def test_client_accepts_a_root_or_own_daemon(rasman) -> None:
    t = connect(rasman.socket, autostart=False, timeout=5)
    try:
        assert t.call("org.openras.Manager.Ping")["pid"] == rasman.proc.pid
    finally:
        t.close()


def test_private_problem_names_each_defect(tmp_path: Path) -> None:
    uid = os.geteuid()
    good = tmp_path / "good"
    good.mkdir(mode=0o700)
    assert paths.private_problem(os.lstat(good), uid) is None
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o700)
    loose.chmod(0o755)
    assert "mode 0755" in (paths.private_problem(os.lstat(loose), uid) or "")
    assert "owned by uid" in (paths.private_problem(os.lstat(good), uid + 1) or "")
    link = tmp_path / "link"
    link.symlink_to(good)
    assert paths.private_problem(os.lstat(link), uid) == "is a symbolic link"
    file = tmp_path / "file"
    file.write_text("")
    assert paths.private_problem(os.lstat(file), uid) == "is not a directory"


def test_fallback_dir_is_created_private_and_checked_on_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fallback = tmp_path / "openras-fallback"
    monkeypatch.setattr(paths, "fallback_runtime_dir_name", lambda: str(fallback))
    sock = fallback / "rasman.sock"
    # absent: created 0700 and ours; nothing listens, so the error is "no manager"
    with pytest.raises(errors.ManagerUnavailable, match="no connection manager"):
        connect(sock, autostart=False)
    st = os.lstat(fallback)
    assert (st.st_uid, st.st_mode & 0o777) == (os.geteuid(), 0o700)
    # pre-created by someone with a loose mode: refused before any connect
    fallback.chmod(0o777)
    with pytest.raises(errors.ManagerUnavailable, match="refusing"):
        connect(sock, autostart=False)
    # a planted symlink to a directory the attacker controls: refused, never followed
    fallback.rmdir()
    elsewhere = tmp_path / "attacker"
    elsewhere.mkdir(mode=0o700)
    fallback.symlink_to(elsewhere)
    with pytest.raises(errors.ManagerUnavailable, match="symbolic link"):
        connect(sock, autostart=False)
    with pytest.raises(errors.ManagerUnavailable, match="symbolic link"):
        paths.check_runtime_dir(sock)
