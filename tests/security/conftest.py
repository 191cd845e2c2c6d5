"""The privilege suite: a root rasman, and attacks run as real non-root users the tests create.

Every attack runs in its own process as that user (``setpriv``: real uid, gid and groups), so
the daemon sees the attacker's uid through SO_PEERCRED exactly as it would in the field. The
users get a home directory of their own (their phonebook, profiles and keys live there).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "daemon"))

from rasman_helpers import python_for

pytestmark = pytest.mark.root


@dataclass
class LocalUser:
    """A real account: uid, gid, home (0700, theirs), and a way to run code as it."""

    name: str
    uid: int
    gid: int
    home: Path
    python: str

    def write(self, rel: str, text: str | bytes, mode: int = 0o600) -> Path:
        """A file in the user's home, owned by them (parent directories too)."""
        path = self.home / rel
        for parent in reversed(path.relative_to(self.home).parents):
            d = self.home / parent
            if not d.exists():
                d.mkdir(mode=0o700)
                os.chown(d, self.uid, self.gid)
        if isinstance(text, str):
            text = text.encode()
        path.write_bytes(text)
        path.chmod(mode)
        os.chown(path, self.uid, self.gid)
        return path

    def run(
        self, code: str, *args: str, env: dict[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run ``python -c code args`` as this user (cwd = home)."""
        return subprocess.run(
            [
                "setpriv",
                f"--reuid={self.uid}",
                f"--regid={self.gid}",
                "--init-groups",
                self.python,
                "-c",
                code,
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=str(self.home),
            env={
                "PATH": "/usr/bin:/bin",
                "HOME": str(self.home),
                "PYTHONPATH": _src_dir(),
                **(env or {}),
            },
        )

    def json(self, code: str, *args: str, **kw: Any) -> Any:
        """Run ``code`` as this user; it prints one JSON document, returned parsed."""
        proc = self.run(code, *args, **kw)
        assert proc.returncode == 0, f"as {self.name}: {proc.stderr}"
        return json.loads(proc.stdout)


def _src_dir() -> str:
    import openras

    return str(Path(openras.__file__).resolve().parent.parent)


def _make_user(tag: str) -> LocalUser:
    if os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("setpriv"):
        pytest.skip("needs root, useradd and setpriv")
    name = f"orsec{tag}{os.getpid() % 100000}"
    home = Path(f"/tmp/{name}-home")
    subprocess.run(
        ["useradd", "-M", "-d", str(home), "-s", "/usr/sbin/nologin", name],
        check=True,
        capture_output=True,
    )
    uid = int(subprocess.run(["id", "-u", name], capture_output=True, text=True).stdout)
    gid = int(subprocess.run(["id", "-g", name], capture_output=True, text=True).stdout)
    home.mkdir(mode=0o700)
    os.chown(home, uid, gid)
    python = python_for(uid, gid)
    if python is None:
        subprocess.run(["userdel", name], check=False, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)
        pytest.skip("no python3 the throwaway user may execute")
    return LocalUser(name, uid, gid, home, python)


def _remove_user(user: LocalUser) -> None:
    subprocess.run(["pkill", "-KILL", "-U", str(user.uid)], check=False, capture_output=True)
    subprocess.run(["userdel", user.name], check=False, capture_output=True)
    shutil.rmtree(user.home, ignore_errors=True)


@pytest.fixture
def attacker() -> Iterator[LocalUser]:
    """A plain local user with nothing but a home directory."""
    user = _make_user("a")
    try:
        yield user
    finally:
        _remove_user(user)


@pytest.fixture
def victim() -> Iterator[LocalUser]:
    """A second plain user, whose files and links the attacker goes after."""
    user = _make_user("v")
    try:
        yield user
    finally:
        _remove_user(user)


#: Runs as the user: ``dial(socket, entry, phonebook_or_empty, phone_or_empty)`` -> JSON
#: {"code": 0|err, "detail": ..., "handle": ...}; the link, if any, is left up.
DIAL = """
import json, sys
from openras import Client, RasError
sock, entry, book, phone = sys.argv[1:5]
try:
    with Client(sock, autostart=False, timeout=30) as c:
        conn = c.dial(entry, book or None, phone_number=phone or "")
        print(json.dumps({"code": 0, "handle": conn.handle, "state": int(conn.status().state)}))
except RasError as exc:
    print(json.dumps({"code": exc.code, "detail": exc.detail or "", "handle": getattr(exc, "handle", 0)}))
"""


@pytest.fixture
def dial_as() -> Callable[..., dict[str, Any]]:
    """``dial_as(user, rasman, entry, phonebook="", phone="")`` -> the DIAL script's JSON."""

    def run(user: LocalUser, rasman: Any, entry: str, phonebook: str = "", phone: str = "") -> Any:
        return user.json(DIAL, str(rasman.socket), entry, str(phonebook), phone)

    return run


@pytest.fixture
def system_phonebook() -> Iterator[Path]:
    """The all-users phonebook, in a directory every user can search (the default fixture's
    sits in root's 0700 pytest directory, which a real user cannot read, rightly)."""
    import tempfile

    d = Path(tempfile.mkdtemp(prefix="oras-sys-"))
    d.chmod(0o755)
    try:
        yield d / "rasphone.pbk"
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def policy() -> Iterator[Callable[[str], Path]]:
    """``policy(text)`` writes the daemon's policy file (it re-reads it at the next dial);
    removed at the end (the built-in policy again)."""
    path = Path(os.environ["OPENRAS_POLICY"])
    last = [0]

    def write(text: str) -> Path:
        path.write_text(text)
        last[0] += 1
        # A distinct mtime per write, however coarse the file system's clock.
        os.utime(path, ns=(0, 10**18 + last[0] * 10**9))
        return path

    try:
        yield write
    finally:
        path.unlink(missing_ok=True)
