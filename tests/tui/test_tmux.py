"""The real ``rasphone`` binary in a real terminal (tmux, 80x24): it draws, follows the daemon,
takes keys and quits with status 0."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tui_support import Rasman, client_of

TMUX = shutil.which("tmux")
pytestmark = pytest.mark.skipif(
    TMUX is None, reason="tmux is not installed (apt-get install -y tmux)"
)


class Pane:
    def __init__(self, server: str) -> None:
        self.server = server

    def tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        assert TMUX is not None
        return subprocess.run(
            [TMUX, "-L", self.server, *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )

    def text(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "t").stdout

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "t", *keys)

    def wait(self, cond: Callable[[str], bool], what: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.text()
            if cond(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the pane shows:\n{text}")
            time.sleep(0.05)


@pytest.fixture
def pane(tmp_path: Path) -> Iterator[Pane]:
    p = Pane(f"rasphone-test-{os.getpid()}-{tmp_path.name}")
    try:
        yield p
    finally:
        p.tmux("kill-server")  # our private server only (-L)
        socket = Path(f"/tmp/tmux-{os.getuid()}") / p.server
        socket.unlink(missing_ok=True)  # kill-server leaves the socket file


def test_rasphone_runs_in_a_terminal(
    rasman: Rasman, book: Path, pane: Pane, tmp_path: Path
) -> None:
    exe = shutil.which("rasphone")
    cmd = [exe] if exe else [sys.executable, "-m", "openras.tui.rasphone"]
    status = tmp_path / "status"
    env = " ".join(
        f"{k}={shlex.quote(v)}"
        for k, v in rasman.env.items()
        if k in ("OPENRAS_SYSTEM_PHONEBOOK", "XDG_CONFIG_HOME", "PATH")
    )
    line = f"env {env} TERM=xterm-256color {shlex.join([*cmd, '--socket', str(rasman.socket), '-f', str(book)])}"
    script = f"{line}; echo $? > {shlex.quote(str(status))}"
    r = pane.tmux("new-session", "-d", "-s", "t", "-x", "80", "-y", "24", script)
    assert r.returncode == 0, r.stderr

    text = pane.wait(lambda t: "no connections" in t and "Quit" in t, "the main screen")
    assert "Entry" in text and "Device" in text and "State" in text and "Out" in text
    assert len(text.splitlines()) <= 24 and all(len(x) <= 80 for x in text.splitlines())

    with client_of(rasman) as c:
        handle = c.dial("Demo", book).handle
    text = pane.wait(
        lambda t: re.search(r"Demo +loopback +Connected +0:00:\d\d +\d+(\.\d)? \w*B ", t),
        "the live row (entry, device, state, time and bytes on an 80-column terminal)",
    )

    pane.keys("h")
    pane.wait(lambda t: "Hang up Demo?" in t, "the confirmation")
    pane.keys("y")
    pane.wait(lambda t: "no connections" in t, "the row to leave")
    with client_of(rasman) as c:
        assert c.connections(include_pending=True) == []

    pane.keys("d")
    pane.wait(lambda t: "Dial: choose an entry" in t and "Crawl" in t, "the entry list")
    pane.keys("Escape")
    pane.wait(lambda t: "Dial: choose an entry" not in t, "the list to close")

    pane.keys("q")
    deadline = time.monotonic() + 20
    while not status.exists():
        assert time.monotonic() < deadline, f"rasphone did not quit; the pane shows:\n{pane.text()}"
        time.sleep(0.05)
    assert status.read_text().strip() == "0"
    del handle


def test_new_entry_in_a_terminal(rasman: Rasman, book: Path, pane: Pane, tmp_path: Path) -> None:
    """Typed as a person would: n, the fields, Ctrl+S; the entry is in the list and the book."""
    exe = shutil.which("rasphone")
    cmd = [exe] if exe else [sys.executable, "-m", "openras.tui.rasphone"]
    before = book.read_bytes()
    env = " ".join(
        f"{k}={shlex.quote(v)}"
        for k, v in rasman.env.items()
        if k in ("OPENRAS_SYSTEM_PHONEBOOK", "XDG_CONFIG_HOME", "PATH")
    )
    line = f"env {env} TERM=xterm-256color {shlex.join([*cmd, '--socket', str(rasman.socket), '-f', str(book)])}"
    r = pane.tmux("new-session", "-d", "-s", "t", "-x", "80", "-y", "24", line)
    assert r.returncode == 0, r.stderr
    pane.wait(lambda t: "no connections" in t and "Quit" in t, "the main screen")

    pane.keys("n")
    pane.wait(lambda t: "New entry" in t and "Host / number" in t, "the form")
    pane.keys("-l", "Lab")
    pane.keys("Tab")
    pane.wait(lambda t: "Lab" in t, "the name")
    pane.keys("Tab")
    time.sleep(0.2)  # the focus moves on the next frame
    pane.keys("-l", "lab.example.net")
    pane.wait(lambda t: "lab.example.net" in t, "the host")
    pane.keys("Tab")
    time.sleep(0.2)
    pane.keys("-l", "OpenRasLoopbackStepMs=5")
    pane.wait(lambda t: "OpenRasLoopbackStepMs=5" in t, "the keys")
    pane.keys("C-s")
    pane.wait(lambda t: "New entry" not in t, "the form to close")
    pane.keys("d")
    pane.wait(lambda t: "Dial: choose an entry" in t and "lab.example.net" in t, "the entry list")
    pane.keys("Escape")
    pane.wait(lambda t: "Dial: choose an entry" not in t, "the list to close")
    pane.keys("q")

    data = book.read_bytes()
    assert data.startswith(before)
    added = data[len(before) :].decode()
    assert added.startswith(
        "\n[Lab]\nOpenRasDevice=loopback\nPhoneNumber=lab.example.net\nOpenRasLoopbackStepMs=5\nGuid="
    ), added
