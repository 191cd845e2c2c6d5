"""``rasphone -d/-h/-f`` without the UI: plain output and exit status, via the real binary."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tui_support import Rasman, client_of

from openras import errors
from openras.tui import cli


def rasphone(
    *args: str, ras: Rasman | None = None, socket: Path | None = None
) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("rasphone")
    cmd = [exe] if exe else [sys.executable, "-m", "openras.tui.rasphone"]
    sock = socket or (ras.socket if ras else None)
    cmd += ["--socket", str(sock)] if sock else []
    env = ras.env if ras else None
    return subprocess.run(
        [*cmd, *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env=env,
        check=False,
    )


def wait_no_connections(ras: Rasman, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    with client_of(ras) as c:
        while c.connections(include_pending=True):
            assert time.monotonic() < deadline, "connections left"
            time.sleep(0.02)


def test_dial_and_hang_up(rasman: Rasman, book: Path) -> None:
    r = rasphone("-f", str(book), "-d", "Demo", ras=rasman)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "Dialing Demo..."
    assert "  OpenPort" in lines
    assert "  Authenticate" in lines
    assert lines[-1] == "Connected to Demo."
    with client_of(rasman) as c:
        [conn] = c.connections()
        assert conn.entry == "Demo"

    r = rasphone("-f", str(book), "-h", "demo", ras=rasman)  # entry names ignore case
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "Disconnected demo."
    with client_of(rasman) as c, pytest.raises(errors.InvalidHandle):
        c.status(conn.handle)  # -h returns only once the handle answers 6

    r = rasphone("-f", str(book), "-h", "Demo", ras=rasman)
    assert r.returncode == 1
    assert "not connected" in r.stderr


def test_failed_dial_prints_code_and_hangs_up(rasman: Rasman, book: Path) -> None:
    r = rasphone("-f", str(book), "-d", "Secret", ras=rasman)  # no terminal: no password
    assert r.returncode == 1
    assert f"rasphone: Secret: Error 691: {errors.message(691)}" in r.stderr
    assert "Traceback" not in r.stderr
    wait_no_connections(rasman)  # the failed attempt was hung up


def test_unknown_entry(rasman: Rasman, book: Path) -> None:
    r = rasphone("-f", str(book), "-d", "Nope", ras=rasman)
    assert r.returncode == 1
    assert "Error 623" in r.stderr


def test_no_daemon(tmp_path: Path, book: Path) -> None:
    r = rasphone("-f", str(book), "-d", "Demo", socket=tmp_path / "none.sock")
    assert r.returncode == 1
    assert "no connection manager" in r.stderr
    assert "Traceback" not in r.stderr


def test_usage() -> None:
    r = rasphone("--help")
    assert r.returncode == 0
    assert "-d ENTRY" in r.stdout and "-h ENTRY" in r.stdout
    r = rasphone("-e", "Office")
    assert r.returncode == 2
    assert "not supported" in r.stderr
    r = rasphone("-d", "A", "-h", "B")
    assert r.returncode == 2


def test_dial_prompts_for_credentials(rasman: Rasman, book: Path) -> None:
    asked: list[str] = []

    def prompt(entry: str) -> tuple[str, str]:
        asked.append(entry)
        return "bob", "secret"

    out, err = io.StringIO(), io.StringIO()
    assert cli.dial("Secret", book, rasman.socket, out=out, err=err, prompt=prompt) == 0, (
        err.getvalue()
    )
    assert asked == ["Secret"]
    assert out.getvalue().endswith("Connected to Secret.\n")
    out, err = io.StringIO(), io.StringIO()
    assert cli.dial("Demo", book, rasman.socket, out=out, err=err, prompt=prompt) == 0
    assert asked == ["Secret"]  # Demo needs no credentials
    assert cli.hang_up("Secret", book, rasman.socket, out=out, err=err) == 0
    assert cli.hang_up("Demo", None, rasman.socket, out=out, err=err) == 0
    wait_no_connections(rasman)


def test_dial_uses_saved_credentials_without_asking(rasman: Rasman, book: Path) -> None:
    """``rasphone -d`` asks the daemon first: with a saved password nobody is prompted."""
    with client_of(rasman) as c:
        c.save_credentials("Secret", book, user="bob", password="secret")

    def prompt(entry: str) -> tuple[str, str]:
        raise AssertionError(f"asked for {entry}'s credentials although they are saved")

    out, err = io.StringIO(), io.StringIO()
    assert cli.dial("Secret", book, rasman.socket, out=out, err=err, prompt=prompt) == 0, (
        err.getvalue()
    )
    assert out.getvalue().endswith("Connected to Secret.\n")
    # Only the user name saved: the prompt is still needed for the password.
    with client_of(rasman) as c:
        c.hang_up(c.connections()[0].handle, wait=True)
        c.forget_credentials("Secret", book)
        c.save_credentials("Secret", book, user="bob")
    asked: list[str] = []

    def ask(entry: str) -> tuple[str, str]:
        asked.append(entry)
        return "bob", "secret"

    assert cli.dial("Secret", book, rasman.socket, out=out, err=err, prompt=ask) == 0
    assert asked == ["Secret"]
    assert cli.hang_up("Secret", book, rasman.socket, out=out, err=err) == 0
    wait_no_connections(rasman)
