"""Small helpers the real-program drivers share: entry keys, paths, short helper commands."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from openras.errors import (
    ERROR_CONNECTING_DEVICE_NOT_FOUND,
    ERROR_INVALID_PARAMETER,
    RasError,
)
from openras.links.base import EntryView, LinkSpec, LinkStats
from openras.links.rtnl import Rtnl

#: ``OpenRasDialTimeoutMs`` when the entry does not set it.
DEFAULT_DIAL_TIMEOUT_MS = 15000
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HELPER_ENV = {"PATH": SYSTEM_PATH, "LANG": "C"}
#: Where the daemon looks for link programs (openvpn, wireguard-go, wg, ssh). Set by whoever
#: starts the daemon (an admin with programs in /opt, or a test that hides one); never read
#: from a phonebook, and the daemon's own PATH is not used, so a caller cannot choose them.
PROGRAM_PATH_ENV = "OPENRAS_LINK_PATH"


def program_path() -> str:
    """The directories link programs are looked up in (``OPENRAS_LINK_PATH`` or the system's)."""
    return os.environ.get(PROGRAM_PATH_ENV) or SYSTEM_PATH


def find_program(name: str) -> str:
    """The absolute path of link program ``name``; RasError(797) naming it when missing."""
    found = shutil.which(name, path=program_path())
    if found is None:
        raise RasError(
            ERROR_CONNECTING_DEVICE_NOT_FOUND,
            f"{name} is not installed (looked in {program_path()})",
        )
    return os.path.abspath(found)


def password_fd(user: str, password: str) -> int | None:
    """pppd's password for its ``passwordfd`` plugin: a memfd holding it (never a file or
    argv), or None when the dial has neither user name nor password. The caller closes it
    once the program that inherits it has started."""
    if not (user or password):
        return None
    fd = os.memfd_create("openras-ppp-password", 0)
    os.write(fd, password.encode())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def no_op_program() -> str:
    """``true``'s path: what pppd runs as its ip-up/ip-down scripts (the system's do not run)."""
    return next((p for p in ("/bin/true", "/usr/bin/true") if os.access(p, os.X_OK)), "/bin/true")


def link_exists(name: str) -> bool:
    """Whether interface ``name`` exists, without a helper process: ``if_nametoindex`` asks
    the calling thread's network namespace, the one the ``ip`` helpers spawned from the same
    loop thread work in. (A subprocess per check costs milliseconds a dial can feel.)"""
    try:
        socket.if_nametoindex(name)
    except OSError:
        return False
    return True


def unix_socket_answers(path: Path) -> bool:
    """Whether something accepts on the Unix socket ``path``; never blocks (a listener with a
    full backlog counts as not answering yet), so the event loop can call it directly."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.setblocking(False)
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


def entry_int(
    entry: EntryView, key: str, default: int, *, minimum: int = 0, maximum: int = 2**31 - 1
) -> int:
    """An integer entry key; RasError(87) naming the key when it is not a number in range."""
    raw = entry.get(key)
    if raw is None or not raw.strip():
        return default
    text = raw.strip()
    if not text.isdigit() or not minimum <= int(text) <= maximum:
        raise RasError(
            ERROR_INVALID_PARAMETER, f"{key}={text!r}: expected a number {minimum}..{maximum}"
        )
    return int(text)


def entry_bool(entry: EntryView, key: str, default: bool = False) -> bool:
    """A 0/1 entry key (Windows phonebooks write booleans as 0 and 1)."""
    raw = entry.get(key)
    if raw is None or not raw.strip():
        return default
    text = raw.strip().lower()
    if text in ("1", "yes", "true", "on"):
        return True
    if text in ("0", "no", "false", "off"):
        return False
    raise RasError(ERROR_INVALID_PARAMETER, f"{key}={raw.strip()!r}: expected 0 or 1")


def dial_timeout(entry: EntryView) -> float:
    """``OpenRasDialTimeoutMs`` in seconds (default 15 s)."""
    return entry_int(entry, "OpenRasDialTimeoutMs", DEFAULT_DIAL_TIMEOUT_MS, minimum=100) / 1000.0


def resolve_entry_path(spec: LinkSpec, key: str, value: str) -> Path:
    """A path from the entry: absolute, ``~/``-relative to the owner, or relative to the
    phonebook's directory."""
    text = value.strip()
    if not text:
        raise RasError(ERROR_INVALID_PARAMETER, f"{key} is empty")
    path = Path(text)
    if path.is_absolute():
        return path
    if spec.phonebook is None:
        raise RasError(ERROR_INVALID_PARAMETER, f"{key}={text!r} is relative but no phonebook")
    return spec.phonebook.parent / path


@dataclass(frozen=True)
class CmdResult:
    returncode: int
    stdout: str
    stderr: str


async def run_cmd(
    argv: Sequence[str], *, input_data: bytes | None = None, time_limit: float = 10.0
) -> CmdResult:
    """Run a short helper command (``ip``, ``wg``, ``ssh -O``) to completion, bounded.

    A helper that overruns ``time_limit`` is killed (by its pid) and reported as rc 124.
    """
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if input_data is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=HELPER_ENV,
        )
    except OSError as exc:
        return CmdResult(127, "", f"{argv[0]}: {exc.strerror}")
    try:
        out, err = await asyncio.wait_for(proc.communicate(input_data), time_limit)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        return CmdResult(124, "", f"{argv[0]}: timed out after {time_limit:g} s")
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        raise
    rc = proc.returncode if proc.returncode is not None else -1
    return CmdResult(rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))


def tail_text(path: Path, max_bytes: int = 4096) -> str:
    """The end of a log file (the program's own output), decoded leniently."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def interface_stats(ifname: str) -> LinkStats | None:
    """``ifname``'s counters over rtnetlink (in this thread's network namespace); None when
    there is no such interface."""
    try:
        with Rtnl() as rtnl:
            c = rtnl.counters(ifname)
    except OSError:
        return None
    if c is None:
        return None
    return LinkStats(
        bytes_sent=c.tx_bytes, bytes_received=c.rx_bytes, frames_sent=c.tx_packets,
        frames_received=c.rx_packets, errors=c.errors,
    )  # fmt: skip


def remove_quietly(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
