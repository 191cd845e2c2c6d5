"""``openras entries`` and ``openras entry ...``: phonebook entries, through the phonebook API.

Reading looks where a dial looks (the all-users book, then the user's, or ``--phonebook``);
writing goes to ``--phonebook`` or else the user's own book, under the phonebook's lock and
atomically, so a concurrent rasphone or a second ``openras`` loses nothing.
"""

from __future__ import annotations

import os
import sys
from argparse import Namespace
from pathlib import Path
from typing import Any

from openras import errors
from openras.cli import _term
from openras.cli._common import CliError, emit_json
from openras.cli.rasdial_output import EXIT_SUCCESS, EXIT_USAGE, exit_status
from openras.phonebook import (
    MAIN,
    Entry,
    Phonebook,
    edit,
    load,
    phonebooks_for,
    user_phonebook_path,
)


def _books(args: Namespace) -> list[tuple[Path, bool]]:
    return phonebooks_for(args.phonebook)


def _target_book(args: Namespace) -> Path:
    return Path(args.phonebook) if args.phonebook else user_phonebook_path()


def _device(entry: Entry) -> str:
    return (entry.openras("Device") or entry.device_type or "").lower()


def _find(args: Namespace, name: str) -> tuple[Entry, Path, bool]:
    for path, all_users in _books(args):
        entry = load(path).find(name)
        if entry is not None:
            return entry, path, all_users
    raise errors.EntryNotFound(detail=f"no entry {name!r} in {_where(args)}")


def _where(args: Namespace) -> str:
    if args.phonebook:
        return str(args.phonebook)
    return "the all-users or your phonebook"


def entry_json(entry: Entry, path: Path, all_users: bool) -> dict[str, Any]:
    return {
        "name": entry.name,
        "phonebook": str(path),
        "all_users": all_users,
        "device_type": _device(entry),
        "device_name": entry.device_name or "",
        "phone_number": entry.phone_number or "",
        "guid": entry.guid or "",
    }


def _pairs(values: list[str] | None) -> list[tuple[str, str]]:
    out = []
    for item in values or []:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise CliError(f"--set needs KEY=VALUE, not {item!r}", EXIT_USAGE)
        out.append((key.strip(), value))
    return out


# ------------------------------------------------------------------------------------ reading


def cmd_entries(args: Namespace) -> int:
    rows: list[tuple[Entry, Path, bool]] = []
    for path, all_users in _books(args):
        rows += [(e, path, all_users) for e in load(path)]
    if args.json:
        emit_json([entry_json(e, p, a) for e, p, a in rows])
        return EXIT_SUCCESS
    if not rows:
        book = args.phonebook or user_phonebook_path()
        print(f"No entries. Add one with: openras entry add NAME --device TYPE  (into {book})")
        return EXIT_SUCCESS
    style = _term.Style(sys.stdout)
    cells = [
        [e.name, _device(e) or "-", e.phone_number or "-", f"{p}{' (all users)' if a else ''}"]
        for e, p, a in rows
    ]
    print(_term.table(cells, ["ENTRY", "DEVICE", "PHONE", "PHONEBOOK"], style))
    return EXIT_SUCCESS


def cmd_entry_show(args: Namespace) -> int:
    entry, path, all_users = _find(args, args.name)
    if args.json:
        doc = entry_json(entry, path, all_users)
        doc["blocks"] = [
            {"kind": b.kind, "value": b.value, "items": [[k, v] for k, v in b.items]}
            for b in entry.blocks
        ]
        emit_json(doc)
        return EXIT_SUCCESS
    style = _term.Style(sys.stdout)
    sys.stdout.write(style(f"# {path}{' (all users)' if all_users else ''}", "dim") + "\n")
    sys.stdout.write(_text(entry))
    return EXIT_SUCCESS


def _text(entry: Entry, eol: str = "\n") -> str:
    """The entry's own lines (comments included), blank lines at its end trimmed."""
    lines = [ln.rstrip("\r\n") for ln in entry.lines]
    while lines and not lines[-1].strip():
        lines.pop()
    return "".join(ln + eol for ln in lines)


# ------------------------------------------------------------------------------------ writing


def _check_keys(items: list[tuple[str, str]]) -> None:
    """Refuse, all at once, ``OpenRas*`` keys no driver reads and devices that do not exist."""
    from openras.links.registry import entry_key_problems

    problems = entry_key_problems(items)
    if problems:
        raise CliError("; ".join(problems) + "; nothing was changed", EXIT_USAGE)


def cmd_entry_add(args: Namespace) -> int:
    items: list[tuple[str, str]] = []
    if args.device:
        items.append(("OpenRasDevice", args.device))
    if args.phone:
        items.append(("PhoneNumber", args.phone))
    items += _pairs(args.set)
    _check_keys(items)
    book = _target_book(args)

    def add(pb: Phonebook) -> None:
        pb.add_entry(args.name, items)

    edit(book, add)
    print(f"Added {args.name} to {book}.")
    return EXIT_SUCCESS


def cmd_entry_edit(args: Namespace) -> int:
    changes = _pairs(args.set)
    if args.phone is not None:
        changes.append(("PhoneNumber", args.phone))
    if args.device is not None:
        changes.append(("OpenRasDevice", args.device))
    if not changes and not args.unset:
        raise CliError(
            "nothing to change: give --set KEY=VALUE, --unset KEY, --phone or --device", EXIT_USAGE
        )
    _check_keys(changes)
    book = _target_book(args)

    def change(pb: Phonebook) -> None:
        entry = pb[args.name]
        for key, value in changes:
            if key.casefold() == "phonenumber":
                entry.phone_number = value
            else:
                entry.set(key, value)
        for key in args.unset or []:
            if not entry.remove(key, block=MAIN):
                raise CliError(f"{args.name} has no {key}= to remove", 1)

    edit(book, change, create=False)
    print(f"Changed {args.name} in {book}.")
    return EXIT_SUCCESS


def _entry_api(code: int, what: str) -> None:
    """Raise the entry API's code as the RasError the commands print (0 passes)."""
    if code:
        raise errors.RasError(code, what)


def cmd_entry_rm(args: Namespace) -> int:
    """Through RasDeleteEntry, so its rules hold here too: 817 while the entry is connected,
    5 for a book the caller may not write, and its saved credentials go with it."""
    from openras import rasapi

    book = _target_book(args)
    _entry_api(rasapi.RasDeleteEntry(str(book), args.name), f"{args.name} in {book}")
    print(f"Removed {args.name} from {book}.")
    return EXIT_SUCCESS


def cmd_entry_rename(args: Namespace) -> int:
    """Through RasRenameEntry: Windows' name rules, and the saved credentials follow."""
    from openras import rasapi

    book = _target_book(args)
    _entry_api(rasapi.RasRenameEntry(str(book), args.old, args.new), f"{args.old} in {book}")
    print(f"Renamed {args.old} to {args.new} in {book}.")
    return EXIT_SUCCESS


def _copy_items(entry: Entry) -> list[tuple[str, str]]:
    """Every key of every block, in order, block headers included (comments are not keys)."""
    items: list[tuple[str, str]] = []
    for block in entry.blocks:
        if block.kind != MAIN:
            items.append((block.kind, block.value))
        items += list(block.items)
    return items


def _import_link_file(args: Namespace) -> int:
    """``entry import FILE.ovpn|FILE.conf``: a checked, self-contained copy and its entry."""
    from openras import importer

    if len(args.names) > 1:
        raise CliError("an .ovpn or .conf file makes one entry: give at most one NAME", EXIT_USAGE)
    book = _target_book(args)
    try:
        imp = importer.prepare(Path(args.file), args.names[0] if args.names else None, book.parent)
    except importer.ImportRefused as exc:
        lines = "\n".join(f"  {p}" for p in exc.problems)
        raise CliError(
            f"{args.file} cannot be dialed as it is; nothing was imported:\n{lines}", 1
        ) from None
    except OSError as exc:
        raise CliError(f"{args.file}: {exc.strerror}", 1) from None
    _check_keys(imp.items)

    def add(pb: Phonebook) -> None:
        if pb.find(imp.name) is not None:
            if not args.replace:
                raise errors.RasError(
                    errors.ERROR_ALREADY_EXISTS,
                    f"{imp.name!r} is already in {book} (use --replace, or give another NAME)",
                )
            pb.remove_entry(imp.name)
        try:
            importer.write_copy(imp, replace=args.replace)
        except importer.ImportRefused as exc:
            raise CliError(f"{exc.source}: {exc.problems[0]}", 1) from None
        pb.add_entry(imp.name, imp.items)

    edit(book, add)
    for note in imp.notes:
        print(f"  {note}")
    print(f"Imported {imp.name} into {book} ({imp.device}, copy in {imp.copy}).")
    return EXIT_SUCCESS


def cmd_entry_import(args: Namespace) -> int:
    from openras.importer import kind_of

    if kind_of(Path(args.file)) is not None:
        return _import_link_file(args)
    source = load(args.file)
    wanted = args.names or source.names()
    picked: list[Entry] = []
    for name in wanted:
        entry = source.find(name)
        if entry is None:
            raise errors.EntryNotFound(detail=f"no entry {name!r} in {args.file}")
        picked.append(entry)
    book = _target_book(args)
    if os.path.abspath(args.file) == os.path.abspath(book):
        raise CliError(f"{args.file} is the phonebook being imported into", EXIT_USAGE)

    def add_all(pb: Phonebook) -> None:
        for entry in picked:
            if pb.find(entry.name) is not None:
                if not args.replace:
                    raise errors.RasError(
                        errors.ERROR_ALREADY_EXISTS,
                        f"{entry.name!r} is already in {book} (use --replace)",
                    )
                pb.remove_entry(entry.name)
            pb.add_entry(entry.name, _copy_items(entry))

    edit(book, add_all)
    print(
        f"Imported {len(picked)} entr{'y' if len(picked) == 1 else 'ies'} into {book}: {', '.join(e.name for e in picked)}."
    )
    return EXIT_SUCCESS


def cmd_entry_export(args: Namespace) -> int:
    if args.names:
        chosen = [_find(args, name)[0] for name in args.names]
    else:
        chosen = [e for path, _ in _books(args) for e in load(path)]
    if not chosen:
        raise CliError(
            "no entries to export", exit_status(errors.ERROR_CANNOT_FIND_PHONEBOOK_ENTRY)
        )
    # A new .pbk in Windows' own form: CRLF lines, a blank line between entries; stdout gets
    # the same bytes, so `> file` and `-o file` make the same file.
    data = "\r\n".join(_text(e, "\r\n") for e in chosen).encode("utf-8")
    if args.output in (None, "-"):
        binary = getattr(sys.stdout, "buffer", None)
        if binary is None:  # a text-only stream (embedded use): CRLF as text
            sys.stdout.write(data.decode("utf-8"))
        else:
            sys.stdout.flush()
            binary.write(data)
            binary.flush()
        return EXIT_SUCCESS
    out = Path(args.output)
    if out.exists() and not args.force:
        raise errors.RasError(
            errors.ERROR_ALREADY_EXISTS, f"{out} exists (use --force to overwrite)"
        )
    Phonebook.loads(data, out)  # what we write must read back
    from openras.phonebook import atomic_write, locked

    with locked(out):
        atomic_write(out, data)
    print(
        f"Exported {len(chosen)} entr{'y' if len(chosen) == 1 else 'ies'} to {out}.",
        file=sys.stderr,
    )
    return EXIT_SUCCESS
