"""What rasphone shows, computed without Textual: labels, units, and the phonebook's entries.

Kept pure so the formatting rules are testable on their own and so the plain ``-d``/``-h``
mode shares them without importing the UI toolkit.
"""

from __future__ import annotations

import pwd
from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Final

from openras import errors
from openras.phonebook import Entry, load, phonebooks_for, user_phonebook_path
from openras.records import ConnectionInfo, ProjectionInfo, Statistics
from openras.states import RasConnState

__all__ = [
    "COLUMNS",
    "Row",
    "Credentials",
    "EntryChoice",
    "describe",
    "entry_properties",
    "error_line",
    "fmt_bytes",
    "fmt_duration",
    "list_entries",
    "needs_credentials",
    "owner_name",
    "phase_label",
    "state_name",
]

#: Keys whose values are secrets: shown masked on the entry screen (the file should hold none,
#: but test and hand-written books do).
_SECRET_HINTS: Final = ("password", "presharedkey", "secret", "psk")
#: openras devices that may authenticate with a user name and password (Windows types always
#: may). ssh does unless the entry names a key (``OpenRasSshIdentity``); see needs_credentials.
_CREDENTIAL_DEVICES: Final = frozenset({"openvpn", "ssh"})
MASK: Final = "********"


def state_name(state: RasConnState) -> str:
    """``AuthProject`` rather than ``RasConnState.AuthProject`` or ``10``."""
    return state.name


def phase_label(info: ConnectionInfo, *, hanging_up: bool = False) -> str:
    """The State column: the running state while dialing, else the phase in words."""
    if info.phase == "connected":
        return "Hanging up…" if hanging_up else "Connected"
    if info.phase == "disconnecting":
        return "Disconnecting"
    if info.phase == "failed":
        return f"Failed ({info.error})"
    if info.phase == "dialing":
        return state_name(info.state)
    return info.phase or state_name(info.state)


def error_line(code: int) -> str:
    """``Error 691: <Windows text>``: the code and its words, as rasdial prints them."""
    return f"Error {code}: {errors.message(code)}"


def describe(exc: BaseException) -> str:
    """One line for a failure: the RAS code and text, or the OS error."""
    if isinstance(exc, TimeoutError):
        return "it stopped answering"
    if isinstance(exc, errors.ManagerUnavailable) and exc.detail:
        return exc.detail  # "no connection manager at PATH: ..." says it better than 711's text
    if isinstance(exc, errors.RasError):
        detail = f" ({exc.detail})" if exc.detail else ""
        return f"{error_line(exc.code)}{detail}"
    return f"{type(exc).__name__}: {exc}"


def fmt_duration(seconds: float | None) -> str:
    """``H:MM:SS`` (days prefixed), blank when there is nothing to time."""
    if seconds is None:
        return ""
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours}:{minutes:02}:{secs:02}"
    return f"{days}d {clock}" if days else clock


def fmt_bytes(n: int | None) -> str:
    """Compact binary units (``43 B``, ``1.2 KiB``) so the columns fit 80 cells."""
    if n is None:
        return ""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


@lru_cache(maxsize=64)
def owner_name(uid: int) -> str:
    """The user name the Owner column shows (the uid when the account is unknown)."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def device_of(entry: Entry) -> str:
    """The driver an entry dials with: ``OpenRasDevice=`` or the Windows ``DEVICE=`` type."""
    return (entry.openras("Device") or entry.device_type or "").strip().lower()


def needs_credentials(entry: Entry) -> bool:
    """Whether the entry may want a user name and password before dialing.

    ``PreviewUserPw`` decides when present (as on Windows). Without it, Windows device types
    ask, openras devices ask only if they authenticate with a password (a loopback entry only
    when it sets ``OpenRasLoopbackPassword``, an ssh entry only without an
    ``OpenRasSshIdentity`` key), so keys-only links dial straight away. Whether credentials
    are already saved for the entry is the daemon's to say; the app asks it before prompting.
    """
    preview = entry.get("PreviewUserPw")
    if preview is not None and preview.strip():
        return preview.strip() != "0"
    if entry.openras("Device") is None:
        return True
    device = device_of(entry)
    if device == "loopback":
        return entry.openras("LoopbackPassword") is not None
    if device == "ssh":
        return not (entry.openras("SshIdentity") or "").strip()
    return device in _CREDENTIAL_DEVICES


def needs_psk(entry: Entry) -> bool:
    """An L2TP entry that requires IPsec (every ``DataEncryption`` but 0): it dials only
    with a pre-shared key saved for it."""
    if entry.openras("Device") is not None or (entry.device_type or "").lower() != "vpn":
        return False
    from openras.links.ppp import l2tp

    try:
        return l2tp.is_l2tp(entry) and l2tp.entry_ipsec(entry)
    except errors.RasError:  # a DataEncryption that is no number: the dial says so
        return False


@dataclass(frozen=True)
class Credentials:
    """What the credentials form gives: the user name, the password, and "Save password"."""

    user: str
    password: str
    save: bool = False


@dataclass(frozen=True)
class EntryChoice:
    """One dialable entry as the picker lists it."""

    name: str
    book: Path
    all_users: bool
    device: str
    host: str
    needs_credentials: bool
    #: L2TP/IPsec: the dial needs the entry's pre-shared key saved.
    needs_psk: bool = False

    @property
    def dial_phonebook(self) -> Path | None:
        """What to pass to dial: None for the all-users book (RasDial's NULL, which the
        daemon resolves there first), the path for any other book."""
        return None if self.all_users else self.book

    @property
    def book_label(self) -> str:
        """Short enough for 80 columns: the full path is on the entry's properties screen."""
        if self.all_users:
            return "all users"
        if self.book == user_phonebook_path():
            return "yours"
        return self.book.name


def list_entries(phonebook: Path | None) -> tuple[list[EntryChoice], list[str]]:
    """Entries of ``-f`` or of the all-users and per-user books, plus one line per book that
    could not be read (the picker shows them instead of failing)."""
    choices: list[EntryChoice] = []
    problems: list[str] = []
    for path, all_users in phonebooks_for(phonebook):
        try:
            book = load(path)
        except errors.RasError as exc:
            problems.append(f"{error_line(exc.code)} ({exc.detail or path})")
            continue
        choices.extend(
            EntryChoice(
                name=entry.name,
                book=path,
                all_users=all_users,
                device=device_of(entry),
                host=entry.phone_number or "",
                needs_credentials=needs_credentials(entry),
                needs_psk=needs_psk(entry),
            )
            for entry in book
        )
    return choices, problems


def find_entry(name: str, phonebook: Path | None) -> tuple[EntryChoice | None, list[str]]:
    """The entry ``name`` as a dial would resolve it (all-users book first)."""
    choices, problems = list_entries(phonebook)
    folded = name.casefold()
    for choice in choices:
        if choice.name.casefold() == folded:
            return choice, problems
    return None, problems


def is_secret(key: str) -> bool:
    folded = key.casefold()
    return any(hint in folded for hint in _SECRET_HINTS)


def entry_properties(book: Path, name: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """The entry's blocks as ``(title, [(key, value)])``, secrets masked; RasError if the
    book cannot be read or holds no such entry."""
    entry = load(book).find(name)
    if entry is None:
        raise errors.EntryNotFound(detail=f"no entry {name!r} in {book}")
    out: list[tuple[str, list[tuple[str, str]]]] = []
    for block in entry.blocks:
        title = f"[{entry.name}]" if block.kind == "main" else f"{block.kind}={block.value}"
        items = [(k, MASK if is_secret(k) and v else v) for k, v in block.items]
        out.append((title, items))
    return out


@dataclass
class Row:
    """What the UI knows of one connection: the daemon's record plus what it fetched."""

    info: ConnectionInfo
    projection: ProjectionInfo | None = None
    stats: Statistics | None = None
    #: (monotonic time, total bytes) of the previous sample, for the throughput graph.
    sample: tuple[float, int] | None = None
    rates: deque[float] = field(default_factory=lambda: deque(maxlen=RATE_SAMPLES))
    hanging_up: bool = False
    #: A drop reason was already announced (the state and the disconnected event both carry it).
    announced: bool = False

    @property
    def handle(self) -> int:
        return self.info.handle

    @property
    def label(self) -> str:
        """Entry name, or the number dialed without an entry."""
        return self.info.entry_name or self.info.phone_number or self.info.entry

    @property
    def device(self) -> str:
        kind, name = self.info.device_type, self.info.device_name
        return f"{kind}: {name}" if kind and name else kind or name

    @property
    def address(self) -> str:
        return (
            self.projection.local_address
            if self.projection and self.info.phase == "connected"
            else ""
        )

    def duration(self, now: float) -> float | None:
        if self.info.phase != "connected" or self.info.connected_at is None:
            return None
        return now - self.info.connected_at

    def add_sample(self, stats: Statistics, at: float) -> None:
        """Record statistics; the graph plots bytes per second in both directions."""
        total = stats.bytes_sent + stats.bytes_received
        if self.sample is not None and at > self.sample[0]:
            self.rates.append(max(0.0, (total - self.sample[1]) / (at - self.sample[0])))
        self.sample = (at, total)
        self.stats = stats

    def cells(self, now: float) -> dict[str, str]:
        """The table's cells by column key."""
        stats = self.stats if self.info.phase == "connected" else None
        return {
            "entry": self.label,
            "state": phase_label(self.info, hanging_up=self.hanging_up),
            "time": fmt_duration(self.duration(now)),
            "in": fmt_bytes(stats.bytes_received) if stats else "",
            "out": fmt_bytes(stats.bytes_sent) if stats else "",
            "address": self.address,
            "owner": owner_name(self.info.owner),
            "device": self.info.device_type or self.info.device_name,  # in full on Details
        }


#: Columns of the connections table: (key, label, fixed width or None for the content's),
#: most useful first; fixed widths keep columns from jumping as states and counters change.
#: Entry to Out fit an 80-column terminal whatever the names (each cell has one space of
#: padding either side: 18+11+16+10+11+11 = 77, plus the scroll bar); Address and Owner
#: follow, reachable by scrolling right, and everything is on the Details screen.
COLUMNS: Final[tuple[tuple[str, str, int | None], ...]] = (
    ("entry", "Entry", 16),
    ("device", "Device", 9),
    ("state", "State", 14),
    ("time", "Time", 8),
    ("in", "In", 9),
    ("out", "Out", 9),
    ("address", "Address", 15),
    ("owner", "Owner", None),
)
RATE_SAMPLES: Final = 60
