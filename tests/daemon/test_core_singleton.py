"""One daemon per state dir and per socket, and the client's autostart of the default daemon.

Several first clients at once must start exactly one rasman; a second rasman on a state dir
or socket in use refuses (non-zero, clear message) and touches nothing of the first one.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

from rasman_helpers import alive, default_env, rasman_pids, state_dir_of

from openras import Client
from openras.states import RasConnState

PING = """
from openras import Client
with Client() as c:
    print(c.call("org.openras.Manager.Ping")["pid"])
"""


def test_concurrent_first_clients_start_exactly_one_daemon(default_root: Path) -> None:
    env = default_env(default_root)
    clients = [
        subprocess.Popen(
            [sys.executable, "-c", PING], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=60) for p in clients]
    assert [p.returncode for p in clients] == [0] * 4, [o[1] for o in outs]
    pids = {int(o[0]) for o in outs}
    assert len(pids) == 1, f"clients talked to several daemons: {pids}"
    # exactly one rasman on that state dir, and it outlives the clients that started it
    assert rasman_pids(state_dir_of(default_root)) == list(pids)
    again = subprocess.run(
        [sys.executable, "-c", PING], env=env, capture_output=True, text=True, timeout=30
    )
    assert again.returncode == 0 and int(again.stdout) in pids


def test_autostarted_daemon_serves_the_default_path_and_outlives_the_client(
    default_root: Path, phonebook: Path
) -> None:
    """No OPENRAS_SOCKET: the client starts rasman on the default socket; the link stays up."""
    env = default_env(default_root)
    dial = (
        "import sys\nfrom openras import Client\n"
        "with Client() as c:\n"
        "    print(c.dial('Demo', sys.argv[1]).handle)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", dial, str(phonebook)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    handle = int(out.stdout)
    sock = default_root / "run" if os.geteuid() == 0 else default_root / "xdg-run" / "openras"
    # made by the client: private for a user; root's is the system daemon every user reaches
    assert stat.S_IMODE(sock.stat().st_mode) == (0o755 if os.geteuid() == 0 else 0o700)
    sock = sock / "rasman.sock"
    assert sock.is_socket()
    [daemon] = rasman_pids(state_dir_of(default_root))
    with Client(sock) as c:
        assert c.call("org.openras.Manager.Ping")["pid"] == daemon
        assert c.status(handle).state is RasConnState.Connected  # the dialer has exited
        c.hang_up(handle, wait=True, timeout=15)


def _second_rasman(socket: Path, state_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "openras.manager",
            "--socket",
            str(socket),
            "--state-dir",
            str(state_dir),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )


def test_second_daemon_on_the_same_state_dir_refuses(rasman, tmp_path: Path) -> None:
    with Client(rasman.socket) as c:
        conn = c.dial("Demo", rasman.phonebook)
        [link] = rasman.link_pids()
        other_socket = rasman.socket.parent / "second.sock"
        out = _second_rasman(other_socket, rasman.state_dir)
        assert out.returncode != 0
        assert "another rasman" in out.stderr and str(rasman.proc.pid) in out.stderr
        assert "Traceback" not in out.stderr
        assert not other_socket.exists()
        # the first daemon and its link are untouched
        assert alive(link) and rasman.link_pids() == [link]
        assert c.status(conn.handle).state is RasConnState.Connected
        assert c.call("org.openras.Manager.Ping")["pid"] == rasman.proc.pid
        conn.hang_up()


def test_second_daemon_on_the_same_socket_never_steals_it(rasman, tmp_path: Path) -> None:
    out = _second_rasman(rasman.socket, tmp_path / "other-state")
    assert out.returncode != 0
    assert "listening on" in out.stderr and "Traceback" not in out.stderr
    with Client(rasman.socket) as c:
        assert c.call("org.openras.Manager.Ping")["pid"] == rasman.proc.pid


def test_stale_socket_is_replaced(tmp_path: Path) -> None:
    """A socket file nobody listens on (a crashed daemon's) is removed, not refused."""
    import socket as s

    from openras.manager.server import Server

    path = Path(f"/tmp/orass-{os.getpid()}.sock")
    sock = s.socket(s.AF_UNIX, s.SOCK_STREAM)
    sock.bind(str(path))
    sock.close()  # bound, never listening: connect is refused
    try:
        Server.check_socket_free(path)
        assert not path.exists()
    finally:
        path.unlink(missing_ok=True)


def test_autostart_reports_a_daemon_that_refuses_to_start(default_root: Path) -> None:
    """The default state dir is another rasman's: the client says so at once, no 10 s wait."""
    env = default_env(default_root)
    state = state_dir_of(default_root)
    other = default_root / "other.sock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "openras.manager",
            "--socket",
            str(other),
            "--state-dir",
            str(state),
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while not other.exists():
            assert holder.poll() is None and time.monotonic() < deadline, "holder did not start"
            time.sleep(0.01)
        t0 = time.monotonic()
        out = subprocess.run(
            [sys.executable, "-c", PING], env=env, capture_output=True, text=True, timeout=60
        )
        took = time.monotonic() - t0
        assert out.returncode != 0
        assert "rasman exited with status 3" in out.stderr, out.stderr
        assert took < 8, f"the client waited {took:.1f}s for a daemon that had exited"
        assert "another rasman" in (state / "rasman.log").read_text()
        assert rasman_pids(state) == [holder.pid]  # the holder is untouched
    finally:
        holder.terminate()
        holder.wait(10)
