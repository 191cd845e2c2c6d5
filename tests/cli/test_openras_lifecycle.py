"""``openras`` over a connection's whole life: watch until gone, a drop, export, NO_COLOR,
and the per-user manager that ``rasdial`` starts when none is running."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from cli_support import OPENRAS, RASDIAL, TIMEOUT, Cli, lines, on_pty

from openras import errors
from openras.phonebook import load

SGR = re.compile(r"\x1b\[[0-9;]*m")  # colour and bold; cursor moves are not colour


def handle_of(cli: Cli, entry: str) -> int:
    docs = json.loads(cli.openras("list", "--all", "--json").stdout)
    [handle] = [int(d["handle"]) for d in docs if d["entry"] == entry]
    return handle


def start_watch(cli: Cli, *args: str) -> subprocess.Popen[str]:
    """``openras watch ARGS``, returned once its subscription is live (it says so on stderr)."""
    proc = subprocess.Popen(
        [*OPENRAS, "watch", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli.env,
    )
    assert proc.stderr is not None
    assert proc.stderr.readline().startswith("Watching connection events")
    return proc


def test_watch_handle_stops_when_the_connection_is_gone(cli: Cli) -> None:
    assert cli.openras("dial", "Slow").returncode == 0
    handle = handle_of(cli, "Slow")
    proc = start_watch(cli, str(handle))
    try:
        assert cli.openras("hangup", str(handle)).returncode == 0
        out, err = proc.communicate(timeout=TIMEOUT)  # ends by itself: no signal sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    events = lines(out)
    assert events, "the teardown was shown"
    assert events[-1].split()[1:] == [str(handle), "Slow", "gone"]
    assert any("Disconnected" in e for e in events)


def test_dropping_link_through_dial_status_watch_and_history(cli: Cli) -> None:
    """Dropper connects, then its far end goes away (629): every view tells the same story."""
    dialed = cli.openras("dial", "Dropper", "--json")
    assert dialed.returncode == 0, dialed.stderr
    handle = json.loads(dialed.stdout)["handle"]
    proc = start_watch(cli, str(handle))
    try:
        status = cli.openras("status", str(handle), "--json")
        if status.returncode == 0:  # still up (it drops 300 ms after connecting)
            assert json.loads(status.stdout)["phase"] in ("connected", "disconnecting")
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert f"error 629: {errors.message(629)}" in out
    gone = cli.openras("status", str(handle))
    assert gone.returncode == 68
    assert f"no connection '{handle}'" in gone.stderr
    [last] = [
        d for d in json.loads(cli.openras("history", "--json").stdout) if d["handle"] == handle
    ]
    assert (last["entry"], last["error"], last["message"]) == ("Dropper", 629, errors.message(629))
    assert last["connected_at"] is not None  # it had been up: a drop, not a failed dial
    text = cli.openras("history").stdout
    assert re.search(rf"{handle}\s+Dropper\s+\S+\s+629 ", text), text
    # And a new dial of the same entry works at once.
    assert cli.openras("dial", "Dropper").returncode == 0


def test_entry_export_to_stdout(cli: Cli, tmp_path: Path) -> None:
    result = subprocess.run(
        [*OPENRAS, "entry", "export", "Demo", "Secret"],
        capture_output=True,
        env=cli.env,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(b"[Demo]\r\n")  # CRLF, as Windows writes a .pbk
    # `> file` gives the very bytes `-o file` writes.
    written = tmp_path / "written.pbk"
    assert cli.openras("entry", "export", "Demo", "Secret", "-o", str(written)).returncode == 0
    assert written.read_bytes() == result.stdout
    copy = tmp_path / "copy.pbk"
    copy.write_bytes(result.stdout)
    book = load(copy)
    assert [e.name for e in book] == ["Demo", "Secret"]
    assert book.find("Demo").phone_number == "loopback-demo"  # type: ignore[union-attr]
    missing = cli.openras("entry", "export", "Nope")
    assert missing.returncode == 23
    assert missing.stdout == ""


def test_dial_spinner_obeys_no_color(cli: Cli) -> None:
    """On a terminal the spinner still redraws its line, but without a single colour code."""
    env = {**cli.env, "NO_COLOR": "1", "TERM": "xterm-256color"}
    status, text = on_pty(cli, "dial", "Plodding", env=env)
    assert status == 0
    assert text.count("\r\x1b[2K") >= 4  # animated: one line redrawn per state
    assert "Plodding: Authenticate" in text
    assert not SGR.search(text), SGR.findall(text)


# ------------------------------------------------------------------ the per-user manager


def manager_pids(socket: Path) -> list[int]:
    """rasman processes serving ``socket`` (the one rasdial started)."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmd = proc.info["cmdline"] or []
        if "openras.manager" in cmd and str(socket) in cmd:
            found.append(proc.pid)
    return found


@pytest.fixture
def private_session(tmp_path: Path, phonebook: Path) -> Iterator[tuple[dict[str, str], Path]]:
    """An environment with no OPENRAS_SOCKET and private runtime, state and config dirs.

    As root the default socket is $RUNTIME_DIRECTORY/rasman.sock (else /run/openras) and the
    state $STATE_DIRECTORY (paths.py, as systemd sets them); as a user the XDG variables.
    Both are pointed at this test's directories, so the real defaults are never touched.
    At the end the manager rasdial started is stopped by its PID.
    """
    short = Path(f"/tmp/oras-auto-{os.getpid()}-{time.monotonic_ns()}")  # AF_UNIX path limit
    short.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if k != "OPENRAS_SOCKET"}
    env.pop("NO_COLOR", None)
    env.update(
        XDG_RUNTIME_DIR=str(short),
        RUNTIME_DIRECTORY=str(short / "openras"),
        XDG_STATE_HOME=str(tmp_path / "auto-xdg-state"),
        STATE_DIRECTORY=str(tmp_path / "auto-state"),  # not the test manager's "state"
        XDG_CONFIG_HOME=str(phonebook.parents[1]),  # the user's book is in it
    )
    socket = short / "openras" / "rasman.sock"
    try:
        yield env, socket
    finally:
        for pid in manager_pids(socket):
            os.kill(pid, signal.SIGTERM)
            try:
                psutil.Process(pid).wait(15)
            except psutil.TimeoutExpired:
                os.kill(pid, signal.SIGKILL)
            except psutil.NoSuchProcess:
                pass
        shutil.rmtree(short, ignore_errors=True)


def test_rasdial_starts_the_per_user_manager(
    cli: Cli, private_session: tuple[dict[str, str], Path]
) -> None:
    env, socket = private_session
    assert not socket.exists()
    listed = cli.run([*RASDIAL], env=env)
    assert listed.returncode == 0, listed.stderr
    assert lines(listed.stdout) == ["No connections", "Command completed successfully."]
    assert socket.is_socket()
    [pid] = manager_pids(socket)
    assert pid != cli.daemon.proc.pid  # not the test's own manager
    # A user's instance is private; root's is the system daemon that every user reaches.
    assert stat_mode(socket.parent) == (0o755 if os.geteuid() == 0 else 0o700)

    dialed = cli.run([*RASDIAL, "Demo"], env=env)
    assert lines(dialed.stdout)[-2:] == [
        "Successfully connected to Demo.",
        "Command completed successfully.",
    ]
    assert manager_pids(socket) == [pid]  # the same manager serves the next command
    assert lines(cli.run([*RASDIAL], env=env).stdout)[:2] == ["Connected to", "Demo"]
    assert lines(cli.rasdial().stdout)[0] == "No connections"  # the test's manager knows nothing
    assert cli.run([*RASDIAL, "Demo", "/d"], env=env).returncode == 0
    state = Path(env["STATE_DIRECTORY"])
    assert (state / "rasman.log").exists()  # its log is in the private state dir


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777
