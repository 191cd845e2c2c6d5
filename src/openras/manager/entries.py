"""Resolving what a dial names (phonebook + entry) into a frozen view the daemon keeps.

The daemon reads phonebooks on the caller's behalf, opening them with the caller's own
credentials (:mod:`openras.asuser`), so the kernel decides what the caller may read; and it
keeps a snapshot of the entry's keys with the connection: a link adopted after a restart runs
with the settings it was dialed with, even if the file changed since.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from openras import asuser, errors

if TYPE_CHECKING:
    from openras.phonebook.model import Phonebook


@dataclass(frozen=True)
class EntrySnapshot:
    """An entry's main keys (first occurrence wins), looked up case-insensitively, with
    ``PhoneNumber`` and ``PreferredDevice`` filled in from the DEVICE and MEDIA blocks where
    Windows keeps them (see :func:`snapshot`), and its device type (``DEVICE=`` of the device
    block, which is not a main key; else derived from ``Type=``), so a driver is chosen from
    what the entry really is."""

    name: str
    keys: Mapping[str, str] = field(default_factory=dict)
    phonebook: str = ""
    all_users: bool = False
    device_type: str = ""
    #: The first link's alternate numbers (its later DEVICE blocks' ``PhoneNumber=``).
    alternates: tuple[str, ...] = ()

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.keys.get(key.lower(), default)

    def to_record(self) -> dict[str, object]:
        """The snapshot as the table row keeps it: made once, shared by the row's records
        (the keys too: a snapshot never changes), not a copy per record. Not to be changed."""
        made: dict[str, object] | None = self.__dict__.get("_record_made")
        if made is None:
            made = self._record()
            object.__setattr__(self, "_record_made", made)
        return made

    def _record(self) -> dict[str, object]:
        return {
            "name": self.name,
            "keys": self.keys if type(self.keys) is dict else dict(self.keys),
            "phonebook": self.phonebook,
            "all_users": self.all_users,
            "device_type": self.device_type,
            "alternates": list(self.alternates),
        }

    @classmethod
    def from_record(cls, rec: Mapping[str, object]) -> EntrySnapshot:
        keys = rec.get("keys")
        return cls(
            name=str(rec.get("name", "")),
            keys={str(k): str(v) for k, v in keys.items()} if isinstance(keys, dict) else {},
            phonebook=str(rec.get("phonebook", "")),
            all_users=bool(rec.get("all_users", False)),
            device_type=str(rec.get("device_type", "")),
            alternates=tuple(str(n) for n in alts)
            if isinstance(alts := rec.get("alternates"), list)
            else (),
        )


#: Keys a driver reads that Windows keeps in the entry's first DEVICE block.
_DEVICE_KEYS = ("TryNextAlternateOnFail", "UseDialingRules", "AreaCode", "CountryCode", "CountryID")


def snapshot(entry: object, phonebook: Path, all_users: bool) -> EntrySnapshot:
    """Freeze a phonebook Entry: every main key, lower-cased (the first of a repeated key
    wins), plus the phone number and device name its DEVICE/MEDIA blocks hold when the main
    block has no such key, and its device type."""
    from openras.phonebook import Entry

    assert isinstance(entry, Entry)
    keys: dict[str, str] = {}
    for key, value in entry.items():
        keys.setdefault(key.lower(), value)
    # Windows keeps PhoneNumber in the DEVICE block; the typed view knows where to look.
    if entry.phone_number and "phonenumber" not in keys:
        keys["phonenumber"] = entry.phone_number
    # The device a minimal entry names only in its MEDIA block (Device=WAN Miniport (IKEv2)).
    if entry.device_name and "preferreddevice" not in keys:
        keys["preferreddevice"] = entry.device_name
    # Keys of the DEVICE block, as Windows writes them: whether a failed call tries the next
    # number, and the number's dialing rules (country and area code).
    for key in _DEVICE_KEYS:
        found = entry.get(key, None, block="DEVICE", index=0)
        if found is not None and key.lower() not in keys:
            keys[key.lower()] = found
    return EntrySnapshot(
        name=entry.name,
        keys=keys,
        phonebook=str(phonebook),
        all_users=all_users,
        device_type=entry.device_type or "",
        alternates=tuple(n for n in entry.alternates if n.strip()),
    )


#: Phonebooks up to this size are read on the event loop when the daemon reads as the caller
#: (see :func:`cheap_to_read`): a small book parses in well under a millisecond.
INLINE_PHONEBOOK_MAX = 64 * 1024


def cheap_to_read(uid: int, phonebook: str | None, user_phonebook: str | None) -> bool:
    """Whether a dial's reads can be made on the event loop instead of a worker thread.

    They can when the daemon reads as the caller itself (root dialing, or a per-user daemon's
    own user): those are direct reads of small files, tens of microseconds of work, where the
    hop to a thread and back costs 0.3-0.5 ms of the dial under load; and when each
    phonebook :func:`resolve` may read is small. Anyone else's files are opened under a
    switched identity (:mod:`openras.asuser`: its pool of threads, or a helper process where
    it knows no system call numbers) and may be as large as the limit: always a thread, then.
    """
    if os.geteuid() != uid:
        return False
    from openras.phonebook import system_phonebook_path

    books = [phonebook] if phonebook else [str(system_phonebook_path()), user_phonebook]
    for book in books:
        if not book:
            continue
        try:
            size = os.stat(book).st_size
        except OSError:
            continue  # resolve reports it
        if size > INLINE_PHONEBOOK_MAX:
            return False
    return True


#: The largest phonebook read for a non-root caller (root's: MAX_PHONEBOOK_BYTES). A
#: typical entry is under 1 KB and a full Windows export about 2.8 KB: 8 MiB is thousands of
#: entries, and it bounds the parsing one user can make the daemon do per call.
USER_PHONEBOOK_LIMIT = 8 * 1024 * 1024


def read_phonebook_as(uid: int, path: Path) -> bytes:
    """The phonebook's bytes as ``uid`` may read them (PhonebookError 621/622; FileNotFoundError
    when it does not exist, for the search order to skip)."""
    from openras.phonebook import MAX_PHONEBOOK_BYTES

    limit = MAX_PHONEBOOK_BYTES if uid == 0 else USER_PHONEBOOK_LIMIT
    try:
        return asuser.read_as(uid, path, limit)
    except FileNotFoundError:
        raise
    except asuser.TooLarge:
        raise errors.PhonebookError(
            errors.ERROR_CANNOT_LOAD_PHONEBOOK, f"{path}: larger than {limit} bytes"
        ) from None
    except asuser.NotRegular:
        raise errors.PhonebookError(
            errors.ERROR_CANNOT_OPEN_PHONEBOOK, f"{path}: not a regular file"
        ) from None
    except OSError as exc:
        raise errors.from_os_error(
            exc, errors.ERROR_CANNOT_OPEN_PHONEBOOK, str(path), cls=errors.PhonebookError
        ) from None


def is_system_phonebook(path: Path) -> bool:
    """Whether ``path`` is the all-users phonebook (the administrator's)."""
    from openras.phonebook import system_phonebook_path

    return os.path.abspath(path) == os.path.abspath(system_phonebook_path())


#: Parsed phonebooks by (path, the bytes the caller read): a dial still reads its phonebook
#: as the caller every time (the kernel decides), but the same bytes are not parsed again.
#: Parsing and indexing a 100-entry book took most of a dial's CPU in the daemon.
_PARSED: OrderedDict[tuple[str, bytes], Phonebook] = OrderedDict()
_PARSED_LOCK = threading.Lock()
PARSED_KEEP = 8
#: The cached books' bytes together (a parsed book holds about six times its size): one
#: book of a few thousand entries fits, and the oldest books go first to make room. Larger
#: books are parsed each time. Parsing a 1,000-entry book (82 KB) took 8-18 ms of the
#: daemon's CPU per dial, and the objects of each parse, freed between the dial's long-lived
#: ones, left the daemon's memory fragmented: about 70 KB more per dial.
PARSED_MAX_BYTES = 256 * 1024


def parse_cached(data: bytes, path: Path) -> Phonebook:
    """``parse(data, path)``, or the same bytes' earlier result (never mutated: the entries
    leave through :func:`snapshot`, a copy)."""
    from openras.phonebook.model import parse

    if len(data) > PARSED_MAX_BYTES:
        return parse(data, path)
    key = (str(path), data)
    with _PARSED_LOCK:  # dials of different users prepare in worker threads at once
        book = _PARSED.get(key)
        if book is not None:
            _PARSED.move_to_end(key)
            return book
    book = parse(data, path)  # a PhonebookError is not kept: the next read parses again
    book.find("")  # its lazy index is built here, not by two threads sharing it later
    with _PARSED_LOCK:
        _PARSED[key] = book
        while len(_PARSED) > PARSED_KEEP or sum(len(k[1]) for k in _PARSED) > PARSED_MAX_BYTES:
            _PARSED.popitem(last=False)
    return book


def resolve(
    uid: int, entry_name: str, phonebook: str | None, user_phonebook: str | None
) -> EntrySnapshot:
    """Find ``entry_name`` in the named phonebook, or in all-users then the user's one.

    Every file is opened as the caller: one that is missing or that it may not read is 621
    (622 too large) when named, skipped in the search order; one that does not parse is 625
    when named, and skipped in the search order unless the entry is in none of the others
    (then its 625, naming the file and line, is the answer). No such entry is EntryNotFound
    (623), with a "did you mean" from the names in the books that were read.
    """
    from openras.phonebook import system_phonebook_path

    candidates: list[Path]
    if phonebook:
        candidates = [Path(phonebook)]
    else:
        candidates = [system_phonebook_path()]
        if user_phonebook:
            candidates.append(Path(user_phonebook))
    names: list[str] = []
    corrupt: list[errors.PhonebookError] = []
    for path in candidates:
        try:
            data = read_phonebook_as(uid, path)
        except FileNotFoundError:
            if phonebook:
                raise errors.PhonebookError(
                    errors.ERROR_CANNOT_OPEN_PHONEBOOK, f"{path}: No such file or directory"
                ) from None
            continue
        except errors.PhonebookError:
            if phonebook:
                raise
            continue
        try:
            book = parse_cached(data, path)
        except errors.PhonebookError as exc:
            if phonebook:
                raise
            # A corrupt book in the search order (an administrator's typo in the all-users
            # one) must not stop every user's own entries from dialing: the next is read.
            corrupt.append(exc)
            continue
        entry = book.find(entry_name)
        if entry is not None:
            return snapshot(entry, path, is_system_phonebook(path))
        names += book.names()
    if corrupt:  # the entry may be in the book that does not parse: say where it breaks
        raise corrupt[0]
    raise errors.EntryNotFound(detail=f"no entry {entry_name!r}{did_you_mean(entry_name, names)}")


def did_you_mean(name: str, names: list[str]) -> str:
    """`` (did you mean 'Office'?)`` for the closest of ``names`` (case-insensitive), or ''."""
    import difflib

    folded = {n.casefold(): n for n in names}
    near = difflib.get_close_matches(name.casefold(), list(folded), n=1, cutoff=0.6)
    return f" (did you mean {folded[near[0]]!r}?)" if near else ""
