"""Making an entry from a provider's OpenVPN profile or a wg-quick config.

What a person downloads is rarely dialable as it is: it names certificate files beside it,
carries Windows-only switches and ``up``/``down`` scripts, or options openras refuses. An
import makes a self-contained, checked copy:

- the copy goes into the user's openras directory (``~/.config/openras/``), 0600, named
  after the entry, and the entry points at it; the original is never changed;
- files the profile names (``ca ca.crt``, ``tls-auth ta.key 1``) are inlined into the copy,
  so it no longer depends on where it was downloaded;
- lines that mean nothing here (``setenv``, ``up``/``down`` scripts, ``block-outside-dns``...)
  are commented out in the copy, each with a note saying why;
- everything else openras would refuse at dial time is listed at once, each with its line
  and a hint, and nothing is written.

Pure apart from reading the source and its files (as the caller: this runs in the client)
and :func:`write_copy`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from openras.errors import RasError

if TYPE_CHECKING:  # the driver's modules load only when an import needs them
    from openras.links.openvpn.profile import Option

OPENVPN_KEY = "OpenRasOpenVpnProfile"
WIREGUARD_KEY = "OpenRasWireGuardConfig"
#: The longest file an import reads (profiles and configs are small).
MAX_BYTES = 1 << 20


class ImportRefused(Exception):
    """The file cannot become a dialable entry: ``problems`` says every reason."""

    def __init__(self, source: Path, problems: list[str]) -> None:
        super().__init__(f"{source}: " + "; ".join(problems))
        self.source = source
        self.problems = problems


@dataclass
class Imported:
    """An entry to add: its keys, and the checked copy to write for it."""

    name: str
    device: str
    key: str
    copy: Path
    data: bytes
    notes: list[str] = field(default_factory=list)

    @property
    def items(self) -> list[tuple[str, str]]:
        return [("OpenRasDevice", self.device), (self.key, str(self.copy))]


def kind_of(path: Path, data: bytes | None = None) -> str | None:
    """``openvpn`` for .ovpn, ``wireguard`` for a .conf with an ``[Interface]`` (an OpenVPN
    one for a .conf with ``client``/``remote`` lines, as /etc/openvpn keeps them), else None
    (a phonebook, say). Without ``data`` a .conf is taken for WireGuard."""
    suffix = path.suffix.lower()
    if suffix == ".ovpn":
        return "openvpn"
    if suffix != ".conf":
        return None
    if data is None:
        return "wireguard"
    text = data.decode("utf-8", "replace")
    if re.search(r"^\s*\[Interface\]", text, re.MULTILINE | re.IGNORECASE):
        return "wireguard"
    if re.search(r"^\s*(remote|client)\b", text, re.MULTILINE):
        return "openvpn"
    return None


def _read(path: Path) -> bytes:
    with open(path, "rb") as f:
        data = f.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ImportRefused(path, [f"larger than {MAX_BYTES} bytes"])
    return data


def _safe_file_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "entry"


def prepare(source: Path, name: str | None, dest_dir: Path) -> Imported:
    """The entry and checked copy for ``source``; ImportRefused listing every problem."""
    kind = kind_of(source, _read(source) if source.suffix.lower() == ".conf" else None)
    entry = name or source.stem
    # The copy is named after the file (as downloaded), the entry after NAME or the file.
    if kind == "openvpn":
        data, notes = openvpn_copy(source)
        dest = _dest(dest_dir, source.stem, source.suffix.lower() or ".ovpn")
        return Imported(entry, "openvpn", OPENVPN_KEY, dest, data, notes)
    if kind == "wireguard":
        data, notes = wireguard_copy(source)
        return Imported(
            entry, "wireguard", WIREGUARD_KEY, _dest(dest_dir, source.stem, ".conf"), data, notes
        )
    raise ImportRefused(source, ["not an OpenVPN profile (.ovpn) or a wg-quick config (.conf)"])


def _dest(dest_dir: Path, entry: str, suffix: str) -> Path:
    return dest_dir / f"{_safe_file_name(entry)}{suffix}"


def write_copy(imp: Imported, *, replace: bool = False) -> None:
    """Write the copy 0600 (its directory 0700); refuse to overwrite unless ``replace``."""
    imp.copy.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    flags |= os.O_TRUNC if replace else os.O_EXCL
    try:
        fd = os.open(imp.copy, flags, 0o600)
    except FileExistsError:
        raise ImportRefused(
            imp.copy, ["a file of that name is already there (give --replace, or --name)"]
        ) from None
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(imp.data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


# ----------------------------------------------------------------------------------- OpenVPN


def openvpn_copy(source: Path) -> tuple[bytes, list[str]]:
    """A self-contained, checked copy of an OpenVPN profile, and the notes on what changed."""
    from openras.links.openvpn import profile as pf

    try:
        text = _read(source).decode("utf-8")
    except UnicodeDecodeError:
        raise ImportRefused(source, ["not text (UTF-8)"]) from None
    try:
        options = pf.parse(text, str(source))
    except RasError as exc:
        raise ImportRefused(source, [exc.detail or str(exc)]) from None
    lines = text.removeprefix("\ufeff").split("\n")
    notes: list[str] = []
    problems: list[str] = []
    for o in options:
        if o.block or o.inline is not None:
            continue
        index = o.line - 1
        original = lines[index].rstrip("\r")
        why = pf.DROPPED_AT_IMPORT.get(o.name)
        if why is not None:
            lines[index] = f"# dropped by openras import ({why}): {original}"
            notes.append(f"line {o.line}: '{original.strip()}' dropped: {why}")
            continue
        if o.name == "auth-user-pass" and o.args:
            lines[index] = "auth-user-pass"
            notes.append(
                f"line {o.line}: the password file {o.args[0]} is not copied; save the "
                "credentials with 'openras creds set ENTRY'"
            )
            continue
        rule = pf.ALLOWED.get(o.name)
        if rule is None or rule.file_arg is None or not o.args or o.args[0] == "[inline]":
            continue
        try:
            lines[index] = _inline(o, source)
        except (OSError, UnicodeDecodeError) as exc:
            why_not = exc.strerror if isinstance(exc, OSError) else "not text"
            problems.append(f"{source}:{o.line}: cannot read {o.args[0]}: {why_not}")
            continue
        notes.append(f"line {o.line}: {o.args[0]} copied into the profile")
    copy = "\n".join(lines)
    if not problems:

        def no_files(path: str, line: int) -> bytes:
            raise RasError(pf.ERROR_NO_CERT, f"{source}:{line}: {path} (not inlined)")

        try:
            problems += pf.problems(
                pf.parse(copy, str(source)), source=str(source), read_file=no_files
            )
        except RasError as exc:
            problems.append(exc.detail or str(exc))
    if problems:
        raise ImportRefused(source, problems)
    return copy.encode("utf-8"), notes


def _inline(o: Option, source: Path) -> str:
    """``ca FILE`` -> ``<ca>`` block; ``tls-auth FILE 1`` -> block + ``key-direction 1``."""
    import base64

    name, args = o.name, o.args
    path = Path(args[0]) if Path(args[0]).is_absolute() else source.parent / args[0]
    raw = _read(path)
    if name == "pkcs12":
        body = base64.b64encode(raw).decode("ascii") + "\n"
    else:
        body = raw.decode("ascii")
        if not body.endswith("\n"):
            body += "\n"
    block = f"<{name}>\n{body}</{name}>"
    if len(args) > 1 and name in ("tls-auth", "secret"):
        block += f"\nkey-direction {args[1]}"
    return block


# --------------------------------------------------------------------------------- WireGuard


def wireguard_copy(source: Path) -> tuple[bytes, list[str]]:
    """A wg-quick config checked as the driver will check it (copied unchanged)."""
    from openras.links.wireguard.config import parse_config, require_dialable

    data = _read(source)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ImportRefused(source, ["not text (UTF-8)"]) from None
    try:
        require_dialable(parse_config(text, str(source)))
    except RasError as exc:
        raise ImportRefused(source, [exc.detail or str(exc)]) from None
    return data, []
