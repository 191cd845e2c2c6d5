"""Phonebook and Entry over the file's raw lines.

Every entry keeps its physical lines verbatim (terminator included); keys are looked up through
an index rebuilt lazily from those lines. Reading never normalises anything, so writing back an
unedited book reproduces its bytes exactly, and an edit replaces or inserts single lines.
``load``, ``save`` and ``edit`` put a book on disk through :mod:`.files`.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Final, TypeVar, overload

from openras.errors import (
    ERROR_ALREADY_EXISTS,
    ERROR_CANNOT_LOAD_PHONEBOOK,
    ERROR_CANNOT_OPEN_PHONEBOOK,
    ERROR_CANNOT_WRITE_PHONEBOOK,
    ERROR_CORRUPT_PHONEBOOK,
    EntryNotFound,
    InvalidParameter,
    PhonebookError,
    RasError,
)
from openras.phonebook import _codec
from openras.phonebook._lexer import (
    Kind,
    LexError,
    block_kind,
    check_text,
    classify,
    split_lines,
    strip_eol,
)
from openras.phonebook.files import StrPath, atomic_write, locked, read_bytes
from openras.phonebook.names import name_key, validate_entry_name, validate_new_name

__all__ = [
    "MAIN",
    "Block",
    "Entry",
    "Phonebook",
    "as_int",
    "edit",
    "load",
    "miniport_port",
    "new_guid",
    "parse",
    "save",
]

T = TypeVar("T")

#: Name of the entry's first block (the keys before any NETCOMPONENTS=/MEDIA=/DEVICE= line).
MAIN: Final = "main"
_BLANKS: Final = " \t"
# First non-blank character of blank and comment lines ("" = whitespace-only last line).
_TRIVIAL: Final = frozenset({"", "\r", "\n", ";", "#"})
_DEVICE_BY_TYPE: Final = {"1": "modem", "2": "vpn", "5": "pppoe"}
#: Port= Windows writes with each WAN miniport (ras-api.md 7.3; instance numbers vary).
_PORT_BY_MINIPORT: Final = (
    ("(sstp)", "VPN1-0"),
    ("(ikev2)", "VPN2-0"),
    ("(l2tp)", "VPN3-0"),
    ("(pptp)", "VPN4-0"),
    ("(pppoe)", "PPPoE11-0"),
)
Items = Mapping[str, str] | Iterable[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Block:
    """A read-only view of one block: ``kind`` is ``"main"``, ``"MEDIA"``, ``"DEVICE"`` or
    ``"NETCOMPONENTS"``; ``value`` is the header's value (``vpn`` in ``DEVICE=vpn``)."""

    kind: str
    value: str
    items: tuple[tuple[str, str], ...]


@dataclass(slots=True)
class _Key:
    line: int  # index into Entry._lines
    key: str
    fold: str
    value: str


@dataclass(slots=True)
class _Block:
    kind: str
    value: str
    start: int  # line index of the header (0 = the [Entry] line for the main block)
    keys: list[_Key]


def _check_key(key: str) -> str:
    if not isinstance(key, str) or not key or key != key.strip(_BLANKS):
        raise InvalidParameter(detail=f"bad phonebook key {key!r}")
    if key[0] in "[;#" or "=" in key or any(ord(c) < 0x20 for c in key):
        raise InvalidParameter(detail=f"bad phonebook key {key!r}")
    return key


def _check_value(value: object) -> str:
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str) or any(ord(c) < 0x20 and c != "\t" for c in value):
        raise InvalidParameter(detail=f"bad phonebook value {value!r}")
    return value.strip(_BLANKS)


def as_int(value: str | None, default: int) -> int:
    """A pbk number as Windows reads it: base 10 ("010" is 10), ``default`` if not one."""
    if value is None:
        return default
    v = value.strip()
    digits = v[1:] if v[:1] in "+-" else v
    return int(v) if digits.isascii() and digits.isdigit() else default


def _items(items: Items | None, extra: Mapping[str, str]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    if isinstance(items, Mapping):
        pairs.extend(items.items())
    elif items is not None:
        pairs.extend(items)
    pairs.extend(extra.items())
    return pairs


class Entry:
    """One ``[Name]`` section. Key names compare case-insensitively, except that ``DEVICE=``
    (upper case) opens the device block while ``Device=`` is a key of the MEDIA block."""

    __slots__ = ("_blocks", "_lines", "_owner")

    def __init__(self, lines: list[str], owner: Phonebook | None = None) -> None:
        self._lines = lines
        self._owner = owner
        self._blocks: list[_Block] | None = None

    # -- raw access -------------------------------------------------------------------------

    @property
    def lines(self) -> tuple[str, ...]:
        """The entry's physical lines, terminators included (header first)."""
        return tuple(self._lines)

    @property
    def name(self) -> str:
        return classify(strip_eol(self._lines[0]))[1]

    def __repr__(self) -> str:
        return f"<Entry {self.name!r}>"

    def _eol(self) -> str:
        return self._owner.eol if self._owner is not None else "\r\n"

    def _changed(self) -> None:
        self._blocks = None

    def _index(self) -> list[_Block]:
        if self._blocks is None:
            blocks = [_Block(MAIN, "", 0, [])]
            cur = blocks[0]
            for i in range(1, len(self._lines)):
                kind, key, value = classify(strip_eol(self._lines[i]), i)
                if kind is not Kind.KEY:
                    continue
                starter = block_kind(key)
                if starter is not None:
                    cur = _Block(starter, value, i, [])
                    blocks.append(cur)
                else:
                    cur.keys.append(_Key(i, key, key.casefold(), value))
            self._blocks = blocks
        return self._blocks

    def _block(self, block: str, index: int) -> _Block | None:
        want = MAIN if block.casefold() == MAIN else block.upper()
        n = 0
        for b in self._index():
            if b.kind == want:
                if n == index:
                    return b
                n += 1
        return None

    # -- keys ---------------------------------------------------------------------------------

    @property
    def blocks(self) -> list[Block]:
        """All blocks in file order, main block first."""
        return [
            Block(b.kind, b.value, tuple((k.key, k.value) for k in b.keys)) for b in self._index()
        ]

    def items(self, block: str = MAIN, index: int = 0) -> list[tuple[str, str]]:
        """``(key, value)`` pairs of one block in file order, repeats included."""
        b = self._block(block, index)
        return [] if b is None else [(k.key, k.value) for k in b.keys]

    def get(
        self, key: str, default: str | None = None, *, block: str = MAIN, index: int = 0
    ) -> str | None:
        """Value of the first ``key`` in a block (the main block unless told otherwise)."""
        b = self._block(block, index)
        if b is not None:
            fold = key.casefold()
            for k in b.keys:
                if k.fold == fold:
                    return k.value
        return default

    def get_all(self, key: str, *, block: str | None = MAIN, index: int = 0) -> list[str]:
        """Every value of ``key`` in a block, or in the whole entry when ``block`` is None."""
        fold = key.casefold()
        if block is None:
            return [k.value for b in self._index() for k in b.keys if k.fold == fold]
        b = self._block(block, index)
        return [] if b is None else [k.value for k in b.keys if k.fold == fold]

    def set(self, key: str, value: str | int, *, block: str = MAIN, index: int = 0) -> None:
        """Change the first ``key`` of a block in place (keeping its spelling and terminator),
        or append it after the block's last key."""
        _check_key(key)
        text = _check_value(value)
        if block_kind(key) is not None:
            raise InvalidParameter(detail=f"{key}= opens a block; use add_block()")
        b = self._block(block, index)
        if b is None:
            raise InvalidParameter(detail=f"entry {self.name!r} has no {block} block #{index}")
        fold = key.casefold()
        for k in b.keys:
            if k.fold == fold:
                line = self._lines[k.line]
                body = strip_eol(line)
                eq = body.index("=") + 1
                pad = len(body) - eq - len(body[eq:].lstrip(_BLANKS))
                head = body[: eq + pad]  # keep indentation, key spelling and spacing
                self._lines[k.line] = head + text + line[len(body) :]
                k.value = text
                return
        after = b.keys[-1].line if b.keys else b.start
        self._insert(after + 1, [f"{key}={text}"])

    def remove(self, key: str, *, block: str = MAIN, index: int = 0) -> int:
        """Delete every ``key`` line of a block; returns how many went."""
        b = self._block(block, index)
        if b is None:
            return 0
        fold = key.casefold()
        doomed = {k.line for k in b.keys if k.fold == fold}
        if doomed:
            self._lines[:] = [ln for i, ln in enumerate(self._lines) if i not in doomed]
            self._changed()
        return len(doomed)

    def add_block(
        self,
        kind: str,
        value: str = "",
        items: Items | None = None,
        *,
        before: tuple[str, int] | None = None,
    ) -> None:
        """Add a ``MEDIA=``/``DEVICE=``/``NETCOMPONENTS=`` block, blank-line separated as
        Windows writes them: after the entry's last key, or just before the block ``before``
        names (``("DEVICE", 0)``: a MEDIA block has to precede its DEVICE blocks)."""
        head = kind.upper()
        if head not in ("MEDIA", "DEVICE", "NETCOMPONENTS"):
            raise InvalidParameter(detail=f"unknown block kind {kind!r}")
        new = [f"{head}={_check_value(value)}"]
        for k, v in _items(items, {}):
            if block_kind(_check_key(k)) is not None:
                raise InvalidParameter(detail=f"{k}= opens a block")
            new.append(f"{k}={_check_value(v)}")
        target = self._block(*before) if before is not None else None
        if target is not None:
            self._insert(target.start, [*new, ""])
            return
        last = max(self._block_end(b) for b in self._index())
        self._insert(last + 1, ["", *new])

    @staticmethod
    def _block_end(b: _Block) -> int:
        return max(b.start, *(k.line for k in b.keys))

    def remove_block(self, kind: str, index: int = 0) -> bool:
        """Delete a sub-block (header to last key, and the blank line before it)."""
        b = self._block(kind, index)
        if b is None or b.kind == MAIN:
            return False
        start = b.start
        if start > 1 and not strip_eol(self._lines[start - 1]).strip(_BLANKS):
            start -= 1
        del self._lines[start : self._block_end(b) + 1]
        self._changed()
        return True

    def set_block_value(self, kind: str, index: int, value: str) -> None:
        """Change a block header's value (``DEVICE=vpn`` -> ``DEVICE=PPPoE``) in place."""
        b = self._block(kind, index)
        if b is None or b.kind == MAIN:
            raise InvalidParameter(detail=f"entry {self.name!r} has no {kind} block #{index}")
        text = _check_value(value)
        line = self._lines[b.start]
        body = strip_eol(line)
        self._lines[b.start] = body[: body.index("=") + 1] + text + line[len(body) :]
        b.value = text

    def _insert(self, at: int, bodies: list[str]) -> None:
        eol = self._eol()
        prev = self._lines[at - 1]
        new = [b + eol for b in bodies]
        if not prev.endswith("\n"):  # inserting after the file's unterminated last line
            self._lines[at - 1] = prev + eol
            new[-1] = bodies[-1]
        self._lines[at:at] = new
        self._changed()

    # -- typed views --------------------------------------------------------------------------

    def openras(self, key: str, default: str | None = None) -> str | None:
        """An ``OpenRas*`` extension key: ``openras("Device")`` reads ``OpenRasDevice=``."""
        full = key if key.casefold().startswith("openras") else "OpenRas" + key
        return self.get(full, default)

    def set_openras(self, key: str, value: str | int) -> None:
        full = key if key.casefold().startswith("openras") else "OpenRas" + key
        self.set(full, value)

    def device_get(self, key: str, default: str | None = None) -> str | None:
        """A dialing key (``PhoneNumber``, ``AreaCode``, ``CountryCode``...): Windows keeps
        them in the first DEVICE block; hand-written books often have them in the main one."""
        v = self.get(key, block="DEVICE")
        return v if v is not None else self.get(key, default)

    def device_set(self, key: str, value: str | int) -> None:
        """Set a dialing key where ``device_get`` reads it from (a main-block copy shadowed by
        the DEVICE block is left alone, as every unknown line is)."""
        if self._block("DEVICE", 0) is not None:
            self.set(key, value, block="DEVICE")
        else:
            self.set(key, value)

    @property
    def phone_number(self) -> str | None:
        """``PhoneNumber=`` of the first DEVICE block (where Windows keeps it), else main."""
        return self.device_get("PhoneNumber")

    @phone_number.setter
    def phone_number(self, value: str) -> None:
        self.device_set("PhoneNumber", value)

    def _link_devices(self) -> int:
        """How many DEVICE blocks belong to the first link: those before the second MEDIA
        block (later MEDIA/DEVICE pairs are multilink's other links, not alternates)."""
        media = devices = 0
        for b in self._index():
            if b.kind == "MEDIA":
                media += 1
                if media > 1:
                    break
            elif b.kind == "DEVICE":
                devices += 1
        return devices

    @property
    def alternates(self) -> list[str]:
        """Alternate numbers (RASENTRY.szAlternates): ``PhoneNumber=`` of the first link's
        second and later DEVICE blocks, in file order."""
        return [
            self.get("PhoneNumber", "", block="DEVICE", index=i) or ""
            for i in range(1, self._link_devices())
        ]

    @alternates.setter
    def alternates(self, numbers: Iterable[str]) -> None:
        """Rewrite the alternates: existing blocks get the new numbers in order, missing ones
        are added (typed like the first DEVICE block), surplus ones removed."""
        new = [_check_value(n) for n in numbers]
        have = self._link_devices()
        if new and have == 0:
            self.device_type = self.device_type or "vpn"
            have = 1
        for i, number in enumerate(new[: max(0, have - 1)], 1):
            if (self.get("PhoneNumber", block="DEVICE", index=i) or "") != number:
                self.set("PhoneNumber", number, block="DEVICE", index=i)
        for i in range(max(0, have - 1), len(new)):
            kind = self._block("DEVICE", 0)
            assert kind is not None
            later = self._block("MEDIA", 1)
            self.add_block(
                "DEVICE",
                kind.value,
                [("PhoneNumber", new[i])],
                before=("MEDIA", 1) if later is not None else None,
            )
        for i in range(have - 1, len(new), -1):
            self.remove_block("DEVICE", i)

    @property
    def device_type(self) -> str | None:
        """RAS device type in lower case (``vpn``, ``modem``, ``pppoe``...): the first
        ``DEVICE=`` value, else derived from ``Type=`` (1 modem, 2 vpn, 5 pppoe)."""
        b = self._block("DEVICE", 0)
        if b is not None and b.value:
            return b.value.lower()
        t = self.get("Type")
        return _DEVICE_BY_TYPE.get(t.strip()) if t is not None else None

    @device_type.setter
    def device_type(self, value: str) -> None:
        """Retype the first link's DEVICE blocks (alternates share the type); an entry with
        none gets one, holding its phone number so that stays what it was."""
        text = _check_value(value)
        n = self._link_devices()
        if n == 0:
            number = self.phone_number
            self.add_block("DEVICE", text, [] if number is None else [("PhoneNumber", number)])
        for i in range(n):
            self.set_block_value("DEVICE", i, text)

    @property
    def device_name(self) -> str | None:
        """``Device=`` of the first MEDIA block, else ``PreferredDevice=``."""
        v = self.get("Device", block="MEDIA")
        return v if v is not None else self.get("PreferredDevice")

    @device_name.setter
    def device_name(self, value: str) -> None:
        """Set ``Device=`` of the first MEDIA block and ``PreferredDevice=`` when present, as
        Windows keeps both; an entry without a MEDIA block gets ``MEDIA=rastapi`` (with the
        ``Port=`` Windows pairs with a known WAN miniport) ahead of its DEVICE blocks."""
        text = _check_value(value)
        old_port, new_port = miniport_port(self.device_name or ""), miniport_port(text)
        if self.get("PreferredDevice") is not None:
            self.set("PreferredDevice", text)
        if self._block("MEDIA", 0) is not None:
            self.set("Device", text, block="MEDIA")
        # One miniport for another (IKEv2 -> SSTP): its port goes with it, unless hand-set.
        if old_port is not None and new_port is not None:
            for block in (MAIN, "MEDIA"):
                key = "PreferredPort" if block == MAIN else "Port"
                if self.get(key, block=block) == old_port:
                    self.set(key, new_port, block=block)
        if self._block("MEDIA", 0) is not None:
            return
        items = [("Device", text)]
        port = miniport_port(text)
        if port is not None:
            items.insert(0, ("Port", port))
        self.add_block("MEDIA", "rastapi", items, before=("DEVICE", 0))

    @property
    def guid(self) -> str | None:
        """``Guid=`` (32 hex digits, RASENTRY.guidId)."""
        return self.get("Guid")

    @property
    def entry_type(self) -> int | None:
        """``Type=`` (RASET_Phone 1, Vpn 2, Direct 3, Internet 4, Broadband 5)."""
        v = self.get("Type")
        return None if v is None else as_int(v, 0)

    def _int_prop(self, key: str, default: int) -> int:
        return as_int(self.get(key), default)

    @property
    def vpn_strategy(self) -> int:
        """``VpnStrategy=`` (VS_Default 0 when absent or unreadable)."""
        return self._int_prop("VpnStrategy", 0)

    @vpn_strategy.setter
    def vpn_strategy(self, value: int) -> None:
        self.set("VpnStrategy", int(value))

    @property
    def redial_on_link_failure(self) -> bool:
        return self._int_prop("RedialOnLinkFailure", 0) != 0

    @redial_on_link_failure.setter
    def redial_on_link_failure(self, value: bool) -> None:
        self.set("RedialOnLinkFailure", int(bool(value)))

    @property
    def redial_attempts(self) -> int:
        """``RedialAttempts=`` (Windows default 3)."""
        return self._int_prop("RedialAttempts", 3)

    @redial_attempts.setter
    def redial_attempts(self, value: int) -> None:
        self.set("RedialAttempts", int(value))

    @property
    def redial_seconds(self) -> int:
        """``RedialSeconds=`` (Windows default 60)."""
        return self._int_prop("RedialSeconds", 60)

    @redial_seconds.setter
    def redial_seconds(self, value: int) -> None:
        self.set("RedialSeconds", int(value))

    @property
    def idle_disconnect_seconds(self) -> int:
        """``IdleDisconnectSeconds=``: 0 = use the global value, 0xFFFFFFFF = disabled."""
        return self._int_prop("IdleDisconnectSeconds", 0)

    @idle_disconnect_seconds.setter
    def idle_disconnect_seconds(self, value: int) -> None:
        self.set("IdleDisconnectSeconds", int(value))


class Phonebook:
    """An ordered list of entries plus whatever precedes the first one (comments, blanks).

    ``encoding``/``bom`` are those the file was read with and are used again on write; ``eol``
    is the terminator given to new lines (the file's majority, CRLF for a new book).
    """

    def __init__(
        self,
        path: str | PathLike[str] | None = None,
        *,
        encoding: str = "utf-8",
        bom: bytes = b"",
        eol: str = "\r\n",
    ) -> None:
        self.path: Path | None = Path(path) if path is not None else None
        self.encoding = encoding
        self.bom = bom
        self.eol = eol
        self._preamble: list[str] = []
        self._entries: list[Entry] = []
        self._by_name: dict[str, Entry] | None = None

    def __repr__(self) -> str:
        return f"<Phonebook {str(self.path)!r} entries={len(self._entries)}>"

    @classmethod
    def loads(cls, data: bytes, path: str | PathLike[str] | None = None) -> Phonebook:
        """Parse ``data``; PhonebookError(625) names ``path`` and the offending line."""
        return parse(data, path)

    # -- entries ------------------------------------------------------------------------------

    @property
    def entries(self) -> list[Entry]:
        return list(self._entries)

    def names(self) -> list[str]:
        return [e.name for e in self._entries]

    def __iter__(self) -> Iterator[Entry]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.find(name) is not None

    def _index(self) -> dict[str, Entry]:
        """Name key -> first entry of that name; built once, then kept up to date in place by
        add/remove/rename (rebuilding it per add made bulk adds quadratic)."""
        if self._by_name is None:
            index: dict[str, Entry] = {}
            for e in self._entries:
                index.setdefault(name_key(e.name), e)
            self._by_name = index
        return self._by_name

    def _unindex(self, key: str, entry: Entry) -> None:
        """Drop ``entry`` under ``key``; a later duplicate section of that name takes over."""
        index = self._index()
        if index.get(key) is not entry:
            return
        del index[key]
        for e in self._entries:
            if e is not entry and name_key(e.name) == key:
                index[key] = e
                break

    def find(self, name: str) -> Entry | None:
        """The first entry called ``name``, compared case-insensitively as Windows does."""
        return self._index().get(name_key(name))

    def __getitem__(self, name: str) -> Entry:
        e = self.find(name)
        if e is None:
            raise EntryNotFound(detail=name)
        return e

    def add_entry(self, name: str, items: Items | None = None, /, **keys: str) -> Entry:
        """Append a new entry; ``items``/``keys`` become its lines in order (``MEDIA``/
        ``DEVICE``/``NETCOMPONENTS`` items open blocks). A ``Guid`` is generated if none is
        given. Raises RasError 123 (bad name) or 183 (name taken)."""
        code = validate_entry_name(name, self)
        if code:
            raise RasError(code, f"entry name {name!r}")
        pairs = _items(items, keys)
        bodies = [f"[{name}]"]
        has_guid = False
        in_main = True
        for k, v in pairs:
            _check_key(k)
            if block_kind(k) is not None:
                if in_main and not has_guid:
                    bodies.append(f"Guid={new_guid()}")
                    has_guid = True
                in_main = False
                if bodies[-1]:
                    bodies.append("")
            elif in_main and k.casefold() == "guid":
                has_guid = True
            bodies.append(f"{k}={_check_value(v)}")
        if not has_guid:
            bodies.append(f"Guid={new_guid()}")
        bodies.append("")
        eol = self.eol
        last = self._entries[-1]._lines if self._entries else self._preamble
        if last and not last[-1].endswith("\n"):
            last[-1] += eol
        if last and strip_eol(last[-1]).strip(_BLANKS):
            last.append(eol)  # keep Windows' blank line between entries
        entry = Entry([b + eol for b in bodies], self)
        self._entries.append(entry)
        self._index().setdefault(name_key(name), entry)
        return entry

    def remove_entry(self, name: str) -> Entry:
        """Delete the first entry called ``name``; EntryNotFound (623) if there is none."""
        e = self.find(name)
        if e is None:
            raise EntryNotFound(detail=name)
        self._entries.remove(e)
        self._unindex(name_key(e.name), e)
        return e

    def rename_entry(self, old: str, new: str) -> Entry:
        """Rename in place (only the header line changes). 623 old missing, 123 bad new
        name (RasRenameEntry's looser rules), 183 new name taken by another entry; a change
        of case alone is allowed."""
        e = self.find(old)
        if e is None:
            raise EntryNotFound(detail=old)
        code = validate_new_name(new)
        if code:
            raise RasError(code, f"entry name {new!r}")
        other = self.find(new)
        if other is not None and other is not e:
            raise RasError(ERROR_ALREADY_EXISTS, f"entry name {new!r}")
        header = e._lines[0]
        body = strip_eol(header)
        indent = body[: len(body) - len(body.lstrip(_BLANKS))]
        old_key = name_key(e.name)
        e._lines[0] = f"{indent}[{new}]" + header[len(body) :]
        self._unindex(old_key, e)
        self._index()[name_key(new)] = e  # 183 above: no other entry holds the new name
        return e

    # -- output -------------------------------------------------------------------------------

    def dumps(self) -> bytes:
        """The file's bytes: identical to what was read if nothing changed."""
        parts = list(self._preamble)
        for e in self._entries:
            parts.extend(e._lines)
        try:
            data, self.encoding = _codec.encode("".join(parts), self.encoding, self.bom)
        except _codec.EncodingLoss as exc:
            where = str(self.path) if self.path is not None else "<phonebook>"
            raise PhonebookError(
                ERROR_CANNOT_WRITE_PHONEBOOK, f"{where}:{exc.lineno}: {exc.what}"
            ) from None
        return data

    def save(self, path: str | PathLike[str] | None = None) -> None:
        """Write atomically under the phonebook lock (see :func:`save`)."""
        save(self, path)


def miniport_port(device_name: str) -> str | None:
    """The ``Port=`` Windows pairs with a WAN miniport device name, if it is one we know."""
    folded = device_name.casefold()
    return next((port for m, port in _PORT_BY_MINIPORT if m in folded), None)


def new_guid() -> str:
    """A fresh ``Guid=`` value: 32 upper-case hex digits."""
    return uuid.uuid4().hex.upper()


def _corrupt(path: object, lineno: int, what: str) -> PhonebookError:
    return PhonebookError(ERROR_CORRUPT_PHONEBOOK, f"{path}:{lineno}: {what}")


def parse(data: bytes, path: str | PathLike[str] | None = None) -> Phonebook:
    """Parse phonebook bytes. PhonebookError(625) says ``file:line: what`` on bad content."""
    where = str(path) if path is not None else "<phonebook>"
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidParameter(detail="phonebook data must be bytes")
    data = bytes(data)
    try:
        text, encoding, bom = _codec.decode(data)
    except UnicodeDecodeError as exc:
        lineno = data.count(b"\n", 0, exc.start) + 1
        raise _corrupt(where, lineno, f"invalid {exc.encoding} text") from None
    except ValueError as exc:  # a bad $OPENRAS_PBK_CODEPAGE
        raise PhonebookError(ERROR_CANNOT_LOAD_PHONEBOOK, f"{where}: {exc}") from None
    try:
        check_text(text)
    except LexError as exc:
        raise _corrupt(where, exc.lineno, exc.what) from None
    crlf = text.count("\r\n")
    lf = text.count("\n")
    pb = Phonebook(path, encoding=encoding, bom=bom, eol="\r\n" if crlf * 2 >= lf else "\n")
    cur: list[str] = pb._preamble
    entries = pb._entries
    in_entry = False
    for n, line in enumerate(split_lines(text), 1):
        # Fast path for the common lines; classify() (slower, with messages) otherwise.
        c = line[:1]
        if c == " " or c == "\t":
            c = line.lstrip(_BLANKS)[:1]
        if c == "[":
            try:
                classify(strip_eol(line), n)
            except LexError as exc:
                raise _corrupt(where, n, exc.what) from None
            cur = [line]
            entries.append(Entry(cur, pb))
            in_entry = True
            continue
        if c not in _TRIVIAL:  # a Key=Value line
            if c == "=" or "=" not in line:
                try:
                    classify(strip_eol(line), n)
                except LexError as exc:
                    raise _corrupt(where, n, exc.what) from None
            if not in_entry:
                raise _corrupt(where, n, "Key=Value line before the first [Entry] header")
        cur.append(line)
    return pb


# ----------------------------------------------------------------------------------- files


def load(path: StrPath) -> Phonebook:
    """Read and parse a phonebook (621 cannot open, 622 too big, 625 corrupt at file:line)."""
    return parse(read_bytes(path), path)


def save(pb: Phonebook, path: StrPath | None = None) -> None:
    """Write ``pb`` to ``path`` (default ``pb.path``, which is updated) under the lock.

    This overwrites whatever is on disk; use ``edit`` to merge with concurrent writers.
    """
    dest = Path(path) if path is not None else pb.path
    if dest is None:
        raise PhonebookError(ERROR_CANNOT_WRITE_PHONEBOOK, "phonebook has no path")
    data = pb.dumps()
    with locked(dest):
        atomic_write(dest, data)
    pb.path = dest


@contextlib.contextmanager
def _editing(path: StrPath, create: bool) -> Iterator[Phonebook]:
    with locked(path):
        try:
            before = read_bytes(path)
        except PhonebookError as exc:
            if not create or exc.code != ERROR_CANNOT_OPEN_PHONEBOOK or os.path.lexists(path):
                raise
            before = b""
        pb = parse(before, path)
        yield pb
        after = pb.dumps()
        if after != before:
            atomic_write(path, after)


@overload
def edit(
    path: StrPath, fn: None = None, *, create: bool = True
) -> contextlib.AbstractContextManager[Phonebook]: ...
@overload
def edit(path: StrPath, fn: Callable[[Phonebook], T], *, create: bool = True) -> T: ...
def edit(
    path: StrPath, fn: Callable[[Phonebook], T] | None = None, *, create: bool = True
) -> T | contextlib.AbstractContextManager[Phonebook]:
    """Read-modify-write under the lock: ``edit(p, fn)`` returns ``fn(pb)``; ``with edit(p)
    as pb:`` saves on a clean exit. The file is rewritten only if its bytes change; a
    missing file starts empty when ``create`` is true."""
    if fn is None:
        return _editing(path, create)
    with _editing(path, create) as pb:
        return fn(pb)
