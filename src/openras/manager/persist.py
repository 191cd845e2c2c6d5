"""Crash-safe storage of the connection table (slot files written in place by turns) and of
the handle counter (temp file, rename, fsync).

The table is rewritten after every change, crash-safely (two slot files written by turns,
see :class:`StateStore`) but without fsync: it must survive the daemon's death, and the
page cache does; after a machine crash its rows are of another boot and are dropped on load
anyway, since no link survives a reboot. Two fsyncs per state change cost ~9 ms under load,
as much as a whole WireGuard handshake. The manager also coalesces the writes of a burst of
changes into one (``Manager._persist``).

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
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from openras.atomic import atomic_write as atomic_write
from openras.links.base import DialParams

#: The table's two slot files (see StateStore) and the one file of earlier versions.
SLOT_FILES = ("connections.0", "connections.1")
LEGACY_STATE_FILE = "connections.json"
_SLOT_HEADER = re.compile(rb"openras-table seq=(\d{1,19}) len=(\d{1,12}) crc=([0-9a-f]{8})\n")
IDS_FILE = "ids.json"
_HANDLE_RE = re.compile(rb'"(next_)?handle"\s*:\s*(\d{1,18})')
_INSTANCE_RE = re.compile(rb'"instance"\s*:\s*"([0-9a-f]{1,64})"')
_RUN_DIR_RE = re.compile(r"link-(\d{1,18})")
#: Handles reserved in the ids file per durable write (a restart may skip the unused ones).
HANDLE_BLOCK = 64
_ENCODER = msgspec.json.Encoder()
#: Buffers per vectored write (the kernel's limit).
#: Rows joined into one piece of a table write: a join in C per piece instead of a few
#: Python steps (a crc, a length, a separator) per row, which were most of a write's cost in
#: a burst of dials (about 80 -> 35 us at 100 rows); a piece (~40 KB at 600-byte rows) stays
#: under malloc's mmap threshold and goes back to its free lists at once.
ROWS_PER_PIECE = 64
_IOV_MAX = os.sysconf("SC_IOV_MAX") if "SC_IOV_MAX" in os.sysconf_names else 1024


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
    return os.urandom(6).hex()  # secrets.token_hex, without hmac's libcrypto


class StateStore:
    """The table in two slot files, overwritten in place by turns, and the ids file.

    The table is written several times per dial, on the event loop, so a write must not
    touch file-system metadata: a new temp file and a rename each time costs a journalled
    metadata update, an in-place ``pwrite`` to a file kept open does not. In place alone could
    leave a torn file (a SIGKILL can stop a write between pages), so there are two slots: each
    write goes to the slot *not* holding the newest table, behind a header with a sequence
    number, the length and a CRC. Loading takes the valid slot with the highest sequence;
    a torn one is ignored (the other holds the table as it was one change earlier).
    """

    def __init__(self, state_dir: Path) -> None:
        self.slots = (state_dir / SLOT_FILES[0], state_dir / SLOT_FILES[1])
        #: The single-file table of earlier versions, read if no slot is (then removed).
        self.legacy = state_dir / LEGACY_STATE_FILE
        self.ids_path = state_dir / IDS_FILE
        #: The bytes of table files that could not be decoded (kept aside as ``.corrupt``).
        self.corrupt = b""
        self._ids_written: tuple[str, int] | None = None
        self._seq = 0
        self._fds: list[int | None] = [None, None]

    @property
    def path(self) -> Path:
        """The slot that holds the newest table written or loaded."""
        return self.slots[self._seq % 2]

    def load(self) -> dict[str, Any] | None:
        """The newest readable table record, or None (unreadable files are set aside)."""
        found: list[tuple[int, dict[str, Any]]] = []
        unusable: list[bytes] = []
        for slot in self.slots:
            raw = _read_if_exists(slot)
            if raw is None:
                continue
            parsed = parse_slot(raw)
            if parsed is not None and _is_table_record(parsed[1]):
                found.append(parsed)
            else:
                unusable.append(raw)
        if found:
            self._seq, record = max(found, key=lambda item: item[0])
            return record
        raw = _read_if_exists(self.legacy)
        if raw is not None:
            try:
                data = msgspec.json.decode(raw)
            except msgspec.DecodeError:
                data = None
            if _is_table_record(data):
                return data  # type: ignore[no-any-return]
            unusable.append(raw)
        if unusable:
            self.set_aside(b"".join(unusable))
        return None

    def set_aside(self, raw: bytes) -> None:
        """Keep unusable table bytes as ``connections.corrupt``; remove the files they were.

        Never happens by our writes (a disk or a hand did it). The caller recovers the
        counter and the links' instance from ids.json and these bytes.
        """
        self.corrupt = raw
        with contextlib.suppress(OSError):
            atomic_write(self.legacy.with_suffix(".corrupt"), raw, 0o600)
        self.close()
        for path in (*self.slots, self.legacy):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        self._seq = 0

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

    def save_table(
        self,
        *,
        boot_id: str,
        instance: str,
        next_handle: int,
        rows: Sequence[msgspec.Raw],
        history: list[dict[str, Any]],
    ) -> None:
        """:meth:`save` of ``{"boot_id", "instance", "table": {"next_handle", "rows",
        "history"}}`` whose rows are encoded already (``Conn.encoded``): the slot is written
        from its pieces (header, the record around the rows, each row) by vectored writes,
        never joined. At 1,000 rows the table is most of a megabyte: a bytes object for it,
        and another for header + JSON, on every write left that much again of the daemon's
        memory in malloc's free lists."""
        self._reserve(instance, next_handle)
        head = b'{"boot_id":%b,"instance":%b,"table":{"next_handle":%d,"rows":[' % (
            _ENCODER.encode(boot_id),
            _ENCODER.encode(instance),
            next_handle,
        )
        pieces: list[bytes | msgspec.Raw] = [head]
        for i in range(0, len(rows), ROWS_PER_PIECE):
            if i:
                pieces.append(b",")
            pieces.append(b",".join(rows[i : i + ROWS_PER_PIECE]))
        pieces.append(b'],"history":' + _ENCODER.encode(history) + b"}}")
        crc = size = 0
        for piece in pieces:
            crc = zlib.crc32(piece, crc)
            size += len(piece)
        header = b"openras-table seq=%d len=%d crc=%08x\n" % (self._seq + 1, size, crc)
        self._write_slot([header, *pieces])

    def reserve(self, record: dict[str, Any]) -> None:
        """Make the ids file cover ``record``'s next handle before any table names it.

        First, so the counter on disk is never behind a handle in the table file (or in a
        reply); a block ahead, so that the next dials need no fsync.
        """
        self._reserve(str(record.get("instance", "")), int(record["table"]["next_handle"]))

    def _reserve(self, instance: str, next_handle: int) -> None:
        written = self._ids_written
        if written is None or written[0] != instance or next_handle > written[1]:
            reserved = next_handle + HANDLE_BLOCK
            payload = {"instance": instance, "next_handle": reserved}
            atomic_write(self.ids_path, msgspec.json.encode(payload), 0o600)
            self._ids_written = (instance, reserved)

    def write_table(self, data: bytes) -> None:
        """Write the encoded table to the older slot, in place (see the class docstring)."""
        self._write_slot([slot_bytes(self._seq + 1, data)])

    def _write_slot(self, pieces: Sequence[bytes | msgspec.Raw]) -> None:
        """Write a whole slot file (header and JSON, in pieces) as the next sequence number."""
        seq = self._seq + 1
        index = seq % 2
        fd = self._fds[index]
        if fd is None:
            fd = self._fds[index] = os.open(
                self.slots[index], os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600
            )
        offset = 0
        for i in range(0, len(pieces), _IOV_MAX):
            chunk = pieces[i : i + _IOV_MAX]
            want = sum(len(piece) for piece in chunk)
            done = os.pwritev(fd, chunk, offset)
            if done < want:  # a short write (a full disk, a signal): the rest in one piece
                rest = memoryview(b"".join(bytes(piece) for piece in chunk))
                while done < want:
                    done += os.pwrite(fd, rest[done:], offset + done)
            offset += want
        os.ftruncate(fd, offset)
        self._seq = seq
        if seq <= 2:
            with contextlib.suppress(FileNotFoundError):
                self.legacy.unlink()  # superseded by the slots

    def close(self) -> None:
        for i, fd in enumerate(self._fds):
            if fd is not None:
                os.close(fd)
                self._fds[i] = None


def slot_bytes(seq: int, data: bytes) -> bytes:
    """A slot file: ``openras-table seq=N len=L crc=C`` and a newline, then the JSON."""
    return b"openras-table seq=%d len=%d crc=%08x\n" % (seq, len(data), zlib.crc32(data)) + data


def parse_slot(raw: bytes) -> tuple[int, dict[str, Any]] | None:
    """(sequence, record) of a slot file, or None if it is torn, garbled or not ours."""
    m = _SLOT_HEADER.match(raw)
    if m is None:
        return None
    body = raw[m.end() : m.end() + int(m.group(2))]
    if len(body) != int(m.group(2)) or zlib.crc32(body) != int(m.group(3), 16):
        return None
    try:
        record = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None
    return (int(m.group(1)), record) if isinstance(record, dict) else None


def _is_table_record(data: object) -> bool:
    return isinstance(data, dict) and isinstance(data.get("table", {}), dict)


def _read_if_exists(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


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

    def save(self, handle: int, params: DialParams) -> bool:
        """Write ``params`` for ``handle``; False when there is nothing worth a file."""
        if not (params.user or params.password or params.domain or params.phone_number):
            return False
        self.root.mkdir(mode=0o700, exist_ok=True)
        # Like the table, they must outlive the daemon, not the machine (no link survives a
        # reboot): no fsync, which cost every dial with a password about a millisecond. A
        # handle is never reused, so the file is new and written in place (no temp file and
        # rename, 0.3 ms under load); a torn one reads as missing (load gives None).
        data = msgspec.json.encode(dataclasses.asdict(params))
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(self._path(handle), flags, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        return True

    def load(self, handle: int) -> DialParams | None:
        try:
            data = msgspec.json.decode(self._path(handle).read_bytes())
            admin = data.pop("admin_credentials", False) is True
            return DialParams(**{k: str(v) for k, v in data.items()}, admin_credentials=admin)
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
