"""Saved dial credentials, kept by the daemon in root-only files (never in a phonebook).

One 0600 JSON file per (user, phonebook, entry) under ``<state>/credentials/<uid>/``; the
all-users default credentials (``RASCM_DefaultCreds``) live under ``default/`` and only root
may set them. A saved password never leaves the daemon: readers get the 16-asterisk handle,
and a caller passing that handle back means "keep the saved one". The same goes for an
L2TP/IPsec entry's pre-shared key (``RASCM_PreSharedKey``), kept beside them. They follow an entry a
client renames or deletes (``EntryRenamed``/``EntryDeleted``): :meth:`CredentialStore.move_entry`
and :meth:`CredentialStore.forget_entry`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import msgspec

from openras._digest import sha256_hex
from openras.atomic import atomic_write
from openras.wire.protocol import PASSWORD_HANDLE as PASSWORD_HANDLE


@dataclass(frozen=True)
class Saved:
    user: str = ""
    password: str | None = None  # None: no password saved
    domain: str = ""
    psk: str | None = None  # the entry's IPsec pre-shared key (RASCM_PreSharedKey)

    @property
    def has_password(self) -> bool:
        return self.password is not None

    @property
    def has_psk(self) -> bool:
        return self.psk is not None


class CredentialStore:
    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir / "credentials"

    def _path(self, owner: int | None, phonebook: str, entry: str) -> Path:
        digest = sha256_hex(f"{os.path.abspath(phonebook)}\0{entry.casefold()}".encode())
        return self.root / ("default" if owner is None else str(owner)) / f"{digest[:32]}.json"

    def get(self, owner: int | None, phonebook: str, entry: str) -> Saved | None:
        try:
            raw = self._path(owner, phonebook, entry).read_bytes()
        except FileNotFoundError:
            return None
        data = msgspec.json.decode(raw)
        return Saved(
            user=data.get("user", ""),
            password=data.get("password"),
            domain=data.get("domain", ""),
            psk=data.get("psk"),
        )

    def lookup(self, owner: int, phonebook: str, entry: str) -> Saved | None:
        """The user's own credentials, else the all-users default ones."""
        return self.get(owner, phonebook, entry) or self.get(None, phonebook, entry)

    def put(self, owner: int | None, phonebook: str, entry: str, saved: Saved) -> None:
        path = self._path(owner, phonebook, entry)
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.parent.mkdir(mode=0o700, exist_ok=True)
        record = {
            "phonebook": os.path.abspath(phonebook),
            "entry": entry,
            "user": saved.user,
            "password": saved.password,
            "domain": saved.domain,
            "psk": saved.psk,
        }
        atomic_write(path, msgspec.json.encode(record), mode=0o600)

    def delete(self, owner: int | None, phonebook: str, entry: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(owner, phonebook, entry).unlink()

    def owners(self) -> list[int | None]:
        """Every owner with a credentials directory (None: the default credentials)."""
        try:
            names = [p.name for p in self.root.iterdir() if p.is_dir()]
        except FileNotFoundError:
            return []
        return [None if n == "default" else int(n) for n in names if n == "default" or n.isdigit()]

    def forget_entry(
        self, phonebook: str, entry: str, owners: Iterable[int | None] | None = None
    ) -> int:
        """Drop the credentials of a deleted entry (every owner's, or those of ``owners``);
        how many went.

        For the daemon once it has checked the entry is really gone from ``phonebook``.
        """
        n = 0
        for owner in self.owners() if owners is None else owners:
            path = self._path(owner, phonebook, entry)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                n += 1
        return n

    def move_entry(
        self, phonebook: str, old: str, new: str, owners: Iterable[int | None] | None = None
    ) -> int:
        """Re-file the credentials of a renamed entry (every owner's, or those of ``owners``)
        under its new name; how many moved."""
        n = 0
        for owner in self.owners() if owners is None else owners:
            saved = self.get(owner, phonebook, old)
            if saved is None:
                continue
            self.put(owner, phonebook, new, saved)
            if self._path(owner, phonebook, old) != self._path(owner, phonebook, new):
                self.delete(owner, phonebook, old)
            n += 1
        return n


def apply_update(
    current: Saved | None,
    *,
    user: str,
    password: str,
    domain: str,
    set_user: bool,
    set_password: bool,
    set_domain: bool,
    clear: bool,
    psk: str = "",
    set_psk: bool = False,
) -> Saved | None:
    """RasSetCredentials' rules: masked fields change, the asterisk handle keeps a password
    (and a pre-shared key)."""
    cur = current or Saved()
    if clear:
        new = Saved(
            user="" if set_user else cur.user,
            password=None if set_password else cur.password,
            domain="" if set_domain else cur.domain,
            psk=None if set_psk else cur.psk,
        )
    else:
        new_password = cur.password
        if set_password and password != PASSWORD_HANDLE:
            new_password = password
        new_psk = cur.psk
        if set_psk and psk != PASSWORD_HANDLE:
            new_psk = psk or None  # an empty key is no key
        new = Saved(
            user=user if set_user else cur.user,
            password=new_password,
            domain=domain if set_domain else cur.domain,
            psk=new_psk,
        )
    if not new.user and new.password is None and not new.domain and new.psk is None:
        return None
    return new
