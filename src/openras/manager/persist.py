"""Crash-safe storage of the connection table (temp file, rename; fsync where it matters).

The table is rewritten after every change, atomically (temp file, rename) but without fsync:
it must survive the daemon's death, and the page cache does; after a machine crash its rows
are of another boot and are dropped on load anyway, since no link survives a reboot. Two
fsyncs per state change cost ~9 ms under load, as much as a whole WireGuard handshake. The
manager also coalesces the writes of a burst of changes into one (``Manager._persist``).

What must survive a machine crash is that handles never go back. The counter and the
instance id (the prefix of every link's marker) live in a small file of their own, written
durably and before the table, reserving handles a block at a time, so it is fsynced once per
``HANDLE_BLOCK`` dials. If the table file is ever unreadable or stale, the next handle comes
from there, and the old links can still be found.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import secrets
from pathlib import Path
from typing import Any

import msgspec

from openras.links.base import DialParams

STATE_FILE = "connections.json"
IDS_FILE = "ids.json"
_HANDLE_RE = re.compile(rb'"(next_)?handle"\s*:\s*(\d{1,18})')
_INSTANCE_RE = re.compile(rb'"instance"\s*:\s*"([0-9a-f]{1,64})"')
_RUN_DIR_RE = re.compile(r"link-(\d{1,18})")
#: Handles reserved in the ids file per durable write (a restart may skip the unused ones).
HANDLE_BLOCK = 64


def handle_floor(*, ids: dict[str, Any], corrupt: bytes, run_dirs: list[str]) -> int:
    """The lowest next handle that cannot reuse one ever handed out (pure, for recovery).

    Sources: the ids file, any handle number still legible in a corrupt table file, and the
    link run directories (``link-N``) on disk.
    """
    seen = [int(ids.get("next_handle") or 1)]
    seen += [int(n) + (0 if nxt else 1) for nxt, n in _HANDLE_RE.findall(corrupt)]
    seen += [int(m.group(1)) + 1 for d in run_dirs if (m := _RUN_DIR_RE.fullmatch(d))]
    return max(seen)


def instances_in(*, ids: dict[str, Any], corrupt: bytes) -> list[str]:
    """Instance ids the previous daemon may have marked its links with."""
    found = [str(ids["instance"])] if ids.get("instance") else []
    found += [m.decode() for m in _INSTANCE_RE.findall(corrupt)]
    return list(dict.fromkeys(found))


def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


def new_instance_id() -> str:
    return secrets.token_hex(6)


def atomic_write(path: Path, data: bytes, mode: int = 0o600, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data``: readers see the old bytes or the new, never a mix.

    ``durable`` also fsyncs the file and its directory, so the new bytes outlive a machine
    crash; without it they outlive the process (what the table needs, see above).
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    if not durable:
        return
    dfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


class StateStore:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / STATE_FILE
        self.ids_path = state_dir / IDS_FILE
        #: The bytes of a table file that could not be decoded (kept aside as ``.corrupt``).
        self.corrupt = b""
        self._ids_written: tuple[str, int] | None = None

    def load(self) -> dict[str, Any] | None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            data = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("table", {}), dict):
            return data
        self.set_aside(raw)
        return None

    def set_aside(self, raw: bytes) -> None:
        """Keep an unusable table file as ``.corrupt`` and remember its bytes.

        Never happens with atomic writes (a disk or a hand did it). The caller recovers the
        counter and the links' instance from ids.json and these bytes.
        """
        self.corrupt = raw
        with contextlib.suppress(OSError):
            os.replace(self.path, self.path.with_suffix(".corrupt"))

    def load_ids(self) -> dict[str, Any]:
        try:
            data = msgspec.json.decode(self.ids_path.read_bytes())
        except (OSError, msgspec.DecodeError):
            return {}
        return data if isinstance(data, dict) else {}

    def save(self, record: dict[str, Any]) -> None:
        """Write ``record`` now, on the calling thread (ids first, then the table)."""
        self.reserve(record)
        self.write_table(msgspec.json.encode(record))

    def reserve(self, record: dict[str, Any]) -> None:
        """Make the ids file cover ``record``'s next handle before any table names it.

        First, so the counter on disk is never behind a handle in the table file (or in a
        reply); a block ahead, so that the next dials need no fsync.
        """
        instance = str(record.get("instance", ""))
        next_handle = int(record["table"]["next_handle"])
        written = self._ids_written
        if written is None or written[0] != instance or next_handle > written[1]:
            reserved = next_handle + HANDLE_BLOCK
            payload = {"instance": instance, "next_handle": reserved}
            atomic_write(self.ids_path, msgspec.json.encode(payload))
            self._ids_written = (instance, reserved)

    def write_table(self, data: bytes) -> None:
        atomic_write(self.path, data, durable=False)


class ParamStore:
    """The dial parameters of live connections, for a redial after a daemon restart.

    A redial (RedialOnLinkFailure) of an adopted link needs the password the caller dialed
    with. It is kept here, one 0600 file per handle in a 0700 directory of the (root-only)
    state dir, never in the table file or a log; the file goes when the row does.
    """

    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir / "params"

    def _path(self, handle: int) -> Path:
        return self.root / f"{handle}.json"

    def save(self, handle: int, params: DialParams) -> None:
        if not (params.user or params.password or params.domain or params.phone_number):
            return
        self.root.mkdir(mode=0o700, exist_ok=True)
        # Like the table, they must outlive the daemon, not the machine (no link survives a
        # reboot): no fsync, which cost every dial with a password about a millisecond.
        atomic_write(
            self._path(handle), msgspec.json.encode(dataclasses.asdict(params)), durable=False
        )

    def load(self, handle: int) -> DialParams | None:
        try:
            data = msgspec.json.decode(self._path(handle).read_bytes())
            return DialParams(**{k: str(v) for k, v in data.items()})
        except (OSError, msgspec.DecodeError, TypeError, AttributeError):
            return None

    def delete(self, handle: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(handle).unlink()

    def handles(self) -> list[int]:
        try:
            names = [p.stem for p in self.root.glob("*.json")]
        except OSError:
            return []
        return [int(n) for n in names if n.isdigit()]
