"""rasphone's phonebook edits, without Textual: new, edit, rename, delete and import.

Every change goes through the phonebook API (``edit``: under the book's lock, written
atomically, untouched lines kept byte for byte) into ``-f FILE`` or else the user's own book.
Failures are :class:`Refused`, whose text says what went wrong and what to do; the screens
show it as it is. The daemon's part (saved credentials following a rename or a delete) is the
app's, as it holds the session.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from openras import errors
from openras.phonebook import MAIN, Entry, Phonebook, edit, load, user_phonebook_path
from openras.tui.view import MASK, error_line, is_secret

#: The devices rasphone offers, each with its main key: (key, label, placeholder).
DEVICES: Final[dict[str, tuple[str, str, str] | None]] = {
    "loopback": None,
    "openvpn": ("OpenRasOpenVpnProfile", "OpenVPN profile", "the .ovpn file, e.g. ~/office.ovpn"),
    "wireguard": (
        "OpenRasWireGuardConfig",
        "WireGuard config",
        "the wg-quick .conf, e.g. ~/wg0.conf",
    ),
    "ssh": ("OpenRasSshMode", "ssh mode", "socks (default, no root) or tun (root)"),
}
#: Keys whose value names a file the link reads (checked to exist when set here).
_FILE_KEYS: Final = frozenset({"openrasopenvpnprofile", "openraswireguardconfig"})
#: Largest profile an import copies (real ones are a few KiB, inline keys included).
MAX_PROFILE_BYTES: Final = 1 << 20


class Refused(Exception):
    """An edit that did not happen: ``str()`` is the reason and what to do, for the UI."""


def target_book(phonebook: Path | None) -> Path:
    """Where changes go: ``-f FILE``, else the user's own phonebook."""
    return phonebook if phonebook is not None else user_phonebook_path()


def config_dir() -> Path:
    """The user's openras config directory (next to their phonebook): imported profiles."""
    return user_phonebook_path().parent


def _same(a: Path, b: Path) -> bool:
    from openras._rasentry import _same_book

    return _same_book(a, b)


def spellings(path: Path) -> list[str]:
    """The absolute and the resolved path of a book (the daemon records the absolute one
    the dialing client sent, which may be either)."""
    from openras._rasentry import _spellings

    return _spellings(path)


def refuse_read_only(book: Path) -> None:
    """Non-root users may not change the all-users phonebook (Windows answers 5 too)."""
    from openras.phonebook import system_phonebook_path

    if os.geteuid() != 0 and _same(book, system_phonebook_path()):
        raise Refused(
            f"{book} is the all-users phonebook: only root may change it. Import its "
            "entries into your own phonebook (i) and change the copies, or run rasphone "
            "as root."
        )


def _ras(exc: errors.RasError, book: Path) -> Refused:
    """A phonebook error in words, with what to do for the usual ones."""
    detail = f" ({exc.detail})" if exc.detail else ""
    hint = {
        errors.ERROR_ALREADY_EXISTS: " Choose another name, or rename or delete that entry first.",
        errors.ERROR_INVALID_NAME: " Use a name without [ ] and not starting with a dot.",
        errors.ERROR_ACCESS_DENIED: f" You may not write {book}; use rasphone -f YOUR_FILE.",
    }.get(exc.code, "")
    return Refused(f"{error_line(exc.code)}{detail}.{hint}")


def _os(exc: OSError, what: Path) -> Refused:
    why = exc.strerror or str(exc)
    return Refused(f"Cannot write {what}: {why}.")


def check_keys(items: list[tuple[str, str]]) -> None:
    """Refuse ``OpenRas*`` keys no driver reads and unknown devices, all at once, in the
    registry's words ("did you mean ...")."""
    from openras.links.registry import entry_key_problems

    problems = entry_key_problems(items)
    if problems:
        text = "; ".join(problems)
        raise Refused(f"{text[:1].upper()}{text[1:]}. Nothing was changed.")


_KEY: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")


def parse_lines(text: str) -> list[tuple[str, str]]:
    """``KEY=VALUE`` lines (blank lines skipped); Refused names the first bad line."""
    out: list[tuple[str, str]] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        key, eq, value = line.partition("=")
        key = key.strip()
        if not eq or not _KEY.match(key):
            raise Refused(f"Line {n} ({line.strip()!r}) is not KEY=VALUE. Nothing was changed.")
        if "\n" in value or "\r" in value:  # pragma: no cover - splitlines took them
            raise Refused(f"Line {n}: a value is one line.")
        out.append((key, value.strip()))
    return out


def _check_files(items: list[tuple[str, str]], book: Path) -> None:
    """A profile or config key must name an existing file (a relative path is the driver's:
    relative to the phonebook's directory)."""
    for key, value in items:
        if key.casefold() in _FILE_KEYS and value and MASK not in value:
            path = Path(value).expanduser()
            if not path.is_absolute():
                path = book.parent / path
            if not path.is_file():
                raise Refused(
                    f"{key}: there is no file {path}. Give the full path of an existing file, "
                    "or import the file with i (it is copied next to your phonebook)."
                )


def _run(book: Path, fn: Callable[[Phonebook], None], *, create: bool) -> None:
    """``edit(book, fn)`` with the phonebook's and the system's errors as Refused."""
    refuse_read_only(book)
    try:
        edit(book, fn, create=create)
    except Refused:
        raise
    except errors.RasError as exc:
        raise _ras(exc, book) from None
    except OSError as exc:
        raise _os(exc, book) from None


# ------------------------------------------------------------------------------------ new


@dataclass(frozen=True)
class NewEntry:
    name: str
    device: str
    host: str = ""
    main: str = ""
    extra: str = ""

    def items(self) -> list[tuple[str, str]]:
        items = [("OpenRasDevice", self.device)]
        if self.host.strip():
            items.append(("PhoneNumber", self.host.strip()))
        spec = DEVICES.get(self.device)
        main = self.main.strip()
        if spec is not None and main:
            key = spec[0]
            if key.casefold() in _FILE_KEYS:
                main = str(Path(main).expanduser().absolute())  # as typed: from here
            items.append((key, main))
        elif spec is not None and self.device in ("openvpn", "wireguard"):
            raise Refused(f"Give the {spec[1]}: an {self.device} entry needs it.")
        items += parse_lines(self.extra)
        return items


def create(book: Path, new: NewEntry) -> None:
    """Add ``new`` at the end of ``book`` (created if missing)."""
    name = new.name.strip()
    if not name:
        raise Refused("Give the entry a name.")
    if new.device not in DEVICES:
        raise Refused(f"Choose a device: {', '.join(DEVICES)}.")
    items = new.items()
    check_keys(items)
    _check_files(items, book)

    def add(pb: Phonebook) -> None:
        pb.add_entry(name, items)

    _run(book, add, create=True)


# ------------------------------------------------------------------------------------ edit


def editable_lines(entry: Entry) -> list[tuple[str, str]]:
    """What the edit form lists as KEY=VALUE: the main block's OpenRas* keys but the device
    (it has its own field), secrets masked. Windows keys are not listed, so stay as they are."""
    return [
        (k, MASK if is_secret(k) and v else v)
        for k, v in entry.items(MAIN)
        if k.casefold().startswith("openras") and k.casefold() != "openrasdevice"
    ]


@dataclass(frozen=True)
class Change:
    """An edit of one entry: ``host`` None leaves PhoneNumber alone, ``device`` "" leaves the
    device; ``lines`` replaces the listed keys (a listed key left out is removed)."""

    name: str
    host: str | None
    device: str
    lines: str


def apply_change(book: Path, change: Change) -> bool:
    """Edit the entry in ``book``; only changed keys are written. False: nothing changed."""
    wanted: list[tuple[str, str]] = []
    host, device = change.host, change.device
    for key, value in parse_lines(change.lines):
        # The fields' keys typed as lines: the phone number lives where Windows keeps it.
        if key.casefold() == "phonenumber":
            host = value
        elif key.casefold() == "openrasdevice":
            device = value.strip().lower()
        else:
            wanted.append((key, value))
    sets = list(wanted)
    if device:
        sets.append(("OpenRasDevice", device))
    check_keys(sets)
    changed = False

    def apply(pb: Phonebook) -> None:
        nonlocal changed
        entry = pb.find(change.name)
        if entry is None:
            raise Refused(f"{change.name} is no longer in {book}; nothing was changed.")
        before = editable_lines(entry)
        old = {k.casefold(): v for k, v in before}
        # Only a new path must exist: an edit of the host keeps working without the profile.
        _check_files([(k, v) for k, v in wanted if old.get(k.casefold()) != v], book)
        if host is not None and host.strip() != (entry.phone_number or ""):
            entry.phone_number = host.strip()
            changed = True
        if device and device != (entry.openras("Device") or "").strip().lower():
            entry.set("OpenRasDevice", device)
            changed = True
        kept = {k.casefold() for k, _ in wanted}
        for key, _value in before:
            if key.casefold() not in kept:
                entry.remove(key, block=MAIN)
                changed = True
        for key, value in wanted:
            if old.get(key.casefold()) == value:
                continue  # unchanged, or a masked secret left as it was
            if value == MASK and key.casefold() in old:
                continue
            if entry.get(key) == value:
                continue
            entry.set(key, value)
            changed = True

    _run(book, apply, create=False)  # the file is rewritten only if its bytes change
    return changed


# ------------------------------------------------------------------------------------ rename, delete


def rename(book: Path, old: str, new: str) -> None:
    from openras.phonebook.names import validate_new_name

    new = new.strip()
    if not new:
        raise Refused("Give the new name.")
    if validate_new_name(new):
        raise _ras(errors.RasError(errors.ERROR_INVALID_NAME, f"entry name {new!r}"), book)

    def apply(pb: Phonebook) -> None:
        if pb.find(old) is None:
            raise Refused(f"{old} is no longer in {book}; nothing was changed.")
        pb.rename_entry(old, new)

    _run(book, apply, create=False)


def delete(book: Path, name: str) -> None:
    def apply(pb: Phonebook) -> None:
        if pb.find(name) is None:
            raise Refused(f"{name} is no longer in {book}; nothing was changed.")
        pb.remove_entry(name)

    _run(book, apply, create=False)


# ------------------------------------------------------------------------------------ import


def _copy_items(entry: Entry, source_dir: Path) -> list[tuple[str, str]]:
    """Every key of every block, in order, block headers included (comments are not keys).
    A relative profile or config path was the source book directory's: it is made absolute,
    so the copy still names the same file."""
    items: list[tuple[str, str]] = []
    for block in entry.blocks:
        if block.kind != MAIN:
            items.append((block.kind, block.value))
        for key, value in block.items:
            path = Path(value.strip()).expanduser()
            if key.casefold() in _FILE_KEYS and value.strip() and not path.is_absolute():
                value = str(source_dir / path)
            items.append((key, value))
    return items


def profile_kind(path: Path, data: bytes) -> str | None:
    """``openvpn``, ``wireguard`` or None (a phonebook, or not a profile we know)."""
    from openras.importer import kind_of

    return kind_of(path, data)


def _read(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            data = f.read(MAX_PROFILE_BYTES + 1)
    except FileNotFoundError:
        raise Refused(
            f"There is no file {path}. Give the path of a .pbk, .ovpn or .conf file."
        ) from None
    except IsADirectoryError:
        raise Refused(
            f"{path} is a directory. Give the path of a .pbk, .ovpn or .conf file."
        ) from None
    except OSError as exc:
        raise Refused(f"Cannot read {path}: {exc.strerror or exc}.") from None
    if len(data) > MAX_PROFILE_BYTES:
        raise Refused(f"{path} is larger than {MAX_PROFILE_BYTES // 1024} KiB; not a profile.")
    return data


def import_file(book: Path, source: str, name: str = "") -> list[str]:
    """Import ``source`` into ``book``; the names added.

    A ``.pbk``: all its entries (refused if any name is taken). An OpenVPN ``.ovpn`` or a
    wg-quick ``.conf``: copied 0600 into the user's openras config directory and added as
    one entry (``name``, by default the file's stem) whose key names the copy.
    """
    if not source.strip():
        raise Refused("Give the path of a .pbk, .ovpn or .conf file.") from None
    refuse_read_only(book)
    path = Path(source.strip()).expanduser().absolute()
    data = _read(path)
    kind = profile_kind(path, data)
    if kind is None and path.suffix.lower() != ".pbk":
        raise Refused(
            f"{path.name} is not a phonebook (.pbk), an OpenVPN profile (.ovpn) or a "
            "wg-quick config (.conf with an [Interface] section)."
        )
    if kind is None:
        return _import_book(book, path)
    return [_import_profile(book, path, data, kind, name.strip() or path.stem)]


def _import_book(book: Path, path: Path) -> list[str]:
    if _same(path, book):
        raise Refused(f"{path} is the phonebook being imported into.")
    try:
        source = load(path)
    except errors.RasError as exc:
        raise _ras(exc, path) from None
    picked = source.entries
    if not picked:
        raise Refused(f"{path} holds no entries.")

    def add_all(pb: Phonebook) -> None:
        taken = [e.name for e in picked if pb.find(e.name) is not None]
        if taken:
            raise Refused(
                f"Already in {book}: {', '.join(taken)}. Rename or delete those first; "
                "nothing was imported."
            )
        for entry in picked:
            pb.add_entry(entry.name, _copy_items(entry, path.parent))

    _run(book, add_all, create=True)
    return [e.name for e in picked]


def _free_path(directory: Path, stem: str, suffix: str, data: bytes) -> tuple[Path, bool]:
    """A name for the copy: ``stem.suffix``, else ``stem-2.suffix``...; True if an identical
    copy already exists there (it is reused)."""
    safe = re.sub(r"[^A-Za-z0-9_.@+-]", "_", stem).lstrip(".") or "profile"
    for n in range(1, 1000):
        candidate = directory / (f"{safe}{suffix}" if n == 1 else f"{safe}-{n}{suffix}")
        try:
            if candidate.read_bytes() == data:
                return candidate, True
        except FileNotFoundError:
            return candidate, False
        except OSError:
            continue
    raise Refused(f"Too many copies of {stem}{suffix} in {directory}; remove old ones.")


def _import_profile(book: Path, path: Path, data: bytes, kind: str, name: str) -> str:
    """The checked, self-contained copy ``openras entry import`` makes (openras.importer):
    files the profile names inlined, meaningless lines commented out, every refusal listed."""
    from openras import importer

    directory = config_dir()
    try:
        imp = importer.prepare(path, name, directory)
    except importer.ImportRefused as exc:
        raise Refused(
            f"{path.name} cannot be dialed as it is; nothing was imported: "
            + "; ".join(exc.problems)
        ) from None
    except OSError as exc:
        raise _os(exc, path) from None
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise _os(exc, directory) from None
    copy, reused = _free_path(directory, path.stem, imp.copy.suffix, imp.data)
    imp.copy = copy
    if not reused:
        try:
            importer.write_copy(imp)
        except importer.ImportRefused as exc:
            raise Refused(f"{copy}: {exc.problems[0]}") from None
        except OSError as exc:
            raise _os(exc, copy) from None
    items = imp.items

    def add(pb: Phonebook) -> None:
        pb.add_entry(name, items)

    try:
        _run(book, add, create=True)
    except Refused:
        if not reused:
            copy.unlink(missing_ok=True)
        raise
    return name
