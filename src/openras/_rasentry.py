"""The entry half of ``rasapi32``: phonebook entries, dial params and saved credentials.

Phonebooks are edited here, in the caller's process and with the caller's own file
permissions (a user can never make the root daemon write a file for them); saved
credentials live with the daemon, which keeps them in root-only files and hands back only
the 16-asterisk password handle.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

from openras import errors
from openras.errors import RasError
from openras.paths import user_phonebook
from openras.wire import protocol as P

T = TypeVar("T")

RASCM_UserName: Final = 0x1
RASCM_Password: Final = 0x2
RASCM_Domain: Final = 0x4
RASCM_DefaultCreds: Final = 0x8
RASCM_PreSharedKey: Final = 0x10
RASET_Phone: Final = 1
RASET_Vpn: Final = 2
RASET_Direct: Final = 3
RASET_Internet: Final = 4
RASET_Broadband: Final = 5
PASSWORD_HANDLE: Final = "*" * 16


@dataclass
class RASENTRY:
    """The fields of RASENTRY a phonebook carries; ``extra`` holds every other main key."""

    szLocalPhoneNumber: str = ""
    szAreaCode: str = ""
    dwCountryCode: int = 0
    dwCountryID: int = 0
    szDeviceType: str = ""
    szDeviceName: str = ""
    dwType: int = RASET_Vpn
    dwVpnStrategy: int = 0
    dwfOptions: int = 0
    dwfOptions2: int = 0
    dwRedialCount: int = 0
    dwRedialPause: int = 0
    dwIdleDisconnectSeconds: int = 0
    dwFramingProtocol: int = 1
    guidId: str = ""
    szAlternates: list[str] = field(default_factory=list)
    #: Other main-section keys (``OpenRas*`` and any Windows key not modelled above).
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class RASCREDENTIALS:
    dwMask: int = 0
    szUserName: str = ""
    szPassword: str = ""
    szDomain: str = ""


#: RASENTRY fields <-> main-section keys of the pbk (numbers stored as decimal text).
_INT_KEYS: Final = {
    "dwCountryCode": "CountryCode",
    "dwCountryID": "CountryID",
    "dwType": "Type",
    "dwVpnStrategy": "VpnStrategy",
    "dwRedialCount": "RedialAttempts",
    "dwRedialPause": "RedialSeconds",
    "dwIdleDisconnectSeconds": "IdleDisconnectSeconds",
}
_STR_KEYS: Final = {"szAreaCode": "AreaCode", "guidId": "Guid"}
_MODELLED: Final = {k.lower() for k in (*_INT_KEYS.values(), *_STR_KEYS.values())} | {
    "phonenumber",
    "device",
}


def _as_int(text: str | None) -> int:
    try:
        return int((text or "0").strip(), 0)
    except ValueError:
        return 0


def _codeof(fn: Callable[[], T]) -> tuple[int, T | None]:
    try:
        return 0, fn()
    except RasError as exc:
        return exc.code, None
    except PermissionError:
        return errors.ERROR_ACCESS_DENIED, None


def _books(phonebook: str | None) -> list[tuple[Path, bool]]:
    from openras.phonebook import phonebooks_for

    return phonebooks_for(phonebook)


def _locate(phonebook: str | None, name: str) -> tuple[Path, Any]:
    """(path, Entry) of ``name``; RasError 621/623 otherwise."""
    from openras.phonebook import load

    for path, _all in _books(phonebook):
        entry = load(path).find(name)
        if entry is not None:
            return path, entry
    raise errors.EntryNotFound(detail=name)


def _writable(path: Path) -> None:
    """Windows answers 5 when a user edits the all-users phonebook; so do we."""
    from openras.phonebook import system_phonebook_path

    if os.geteuid() != 0 and os.path.abspath(path) == os.path.abspath(system_phonebook_path()):
        raise errors.AccessDenied(detail=f"{path} is the all-users phonebook")
    target = path if path.exists() else path.parent
    if target.exists() and not os.access(target, os.W_OK):
        raise errors.AccessDenied(detail=f"{path} is not writable")


def _target_book(phonebook: str | None, name: str) -> Path:
    """Where an edit of ``name`` goes: its current book, else the explicit or default one."""
    try:
        return _locate(phonebook, name)[0]
    except RasError:
        pass
    if phonebook:
        return Path(phonebook)
    from openras.phonebook import system_phonebook_path

    return system_phonebook_path() if os.geteuid() == 0 else user_phonebook()


# ----------------------------------------------------------------------------------- entries


def RasValidateEntryName(phonebook: str | None, entry: str) -> int:
    from openras.phonebook import validate_entry_name

    code = validate_entry_name(entry)
    if code:
        return code
    for path, _all in _books(phonebook):
        if not path.exists():
            continue
        c, _ = _codeof(lambda: _locate(str(path), entry))  # noqa: B023 - called at once
        if c == 0:
            return errors.ERROR_ALREADY_EXISTS
    return 0


def _entry_to_struct(entry: Any) -> RASENTRY:
    rec = RASENTRY(
        szLocalPhoneNumber=entry.phone_number or "",
        szDeviceType=entry.device_type or "",
        szDeviceName=entry.device_name or "",
    )
    for attr, key in _INT_KEYS.items():
        setattr(rec, attr, _as_int(entry.get(key)))
    for attr, key in _STR_KEYS.items():
        setattr(rec, attr, entry.get(key) or "")
    if entry.redial_on_link_failure:
        rec.dwfOptions2 |= 0x100  # RASEO2_ReconnectIfDropped
    numbers = entry.get_all("PhoneNumber", block=None)
    rec.szAlternates = [n for n in numbers[1:] if n]
    for key, value in entry.items():
        if key.lower() not in _MODELLED:
            rec.extra.setdefault(key, value)
    return rec


def RasGetEntryProperties(
    phonebook: str | None, entry: str | object
) -> tuple[int, RASENTRY | None]:
    """The entry's properties; an empty name gives the defaults (as Windows does)."""
    if not isinstance(entry, str):
        return errors.ERROR_INVALID_PARAMETER, None
    if entry == "":
        return 0, RASENTRY()
    code, found = _codeof(lambda: _locate(phonebook, entry))
    if code or found is None:
        return code, None
    return 0, _entry_to_struct(found[1])


def RasSetEntryProperties(
    phonebook: str | None, entry: str | object, props: RASENTRY | object
) -> int:
    """Modify ``entry`` or create it; only the fields given change, other keys survive."""
    if not isinstance(props, RASENTRY) or not isinstance(entry, str):
        return errors.ERROR_INVALID_PARAMETER
    from openras.phonebook import Phonebook, edit, validate_entry_name

    path = _target_book(phonebook, entry)

    def apply(book: Phonebook) -> None:
        e = book.find(entry)
        if e is None:
            code = validate_entry_name(entry, book)
            if code:
                raise RasError(code, entry)
            e = book.add_entry(entry, [("Encoding", "1"), ("Type", str(props.dwType or RASET_Vpn))])
        for attr, key in _INT_KEYS.items():
            number = int(getattr(props, attr))
            if number or e.get(key) is not None:
                e.set(key, str(number))
        for attr, key in _STR_KEYS.items():
            text = str(getattr(props, attr))
            if text:
                e.set(key, text)
        if props.szLocalPhoneNumber:
            e.phone_number = props.szLocalPhoneNumber
        for key, value in props.extra.items():
            e.set(key, value)

    def run() -> None:
        _writable(path)
        edit(path, apply, create=True)

    return _codeof(run)[0]


def RasRenameEntry(phonebook: str | None, old: str, new: str) -> int:
    from openras.phonebook import Phonebook, edit, validate_entry_name

    code = validate_entry_name(new)
    if code:
        return code

    def run() -> None:
        path, _ = _locate(phonebook, old)
        _writable(path)

        def apply(book: Phonebook) -> None:
            if book.find(new) is not None and new.casefold() != old.casefold():
                raise RasError(errors.ERROR_ALREADY_EXISTS, new)
            book.rename_entry(old, new)

        edit(path, apply, create=False)

    return _codeof(run)[0]


def RasDeleteEntry(
    phonebook: str | None, entry: str, *, connected: Callable[[str, str], bool]
) -> int:
    """Delete ``entry``; 817 while it has a live connection, 123 when there is no such entry."""
    from openras.phonebook import Phonebook, edit

    def run() -> None:
        try:
            path, _ = _locate(phonebook, entry)
        except errors.EntryNotFound:
            raise RasError(errors.ERROR_INVALID_NAME, entry) from None
        _writable(path)
        if connected(str(path), entry):
            raise RasError(errors.ERROR_CANNOT_DELETE, entry)

        def apply(book: Phonebook) -> None:
            book.remove_entry(entry)

        edit(path, apply, create=False)

    return _codeof(run)[0]


# ----------------------------------------------------------------------------------- credentials

Caller = Callable[[str, dict[str, Any]], dict[str, Any]]


def _cred_params(phonebook: str | None, entry: str) -> dict[str, Any]:
    return {
        "entry": entry,
        "phonebook": os.path.abspath(phonebook) if phonebook else "",
        "user_phonebook": str(user_phonebook()),
    }


def get_credentials(
    call: Caller, phonebook: str | None, entry: str, mask: int
) -> tuple[int, RASCREDENTIALS | None]:
    params = {**_cred_params(phonebook, entry), "default": bool(mask & RASCM_DefaultCreds)}
    code, d = _codeof(lambda: call(P.GET_CREDENTIALS, params))
    if code or d is None:
        return code, None
    out = RASCREDENTIALS(dwMask=mask & RASCM_DefaultCreds)
    if mask & RASCM_UserName:
        out.szUserName, out.dwMask = d["user"], out.dwMask | RASCM_UserName
    if mask & RASCM_Domain:
        out.szDomain, out.dwMask = d["domain"], out.dwMask | RASCM_Domain
    if mask & RASCM_Password and d["has_password"]:
        out.szPassword, out.dwMask = PASSWORD_HANDLE, out.dwMask | RASCM_Password
    return 0, out


def set_credentials(
    call: Caller, phonebook: str | None, entry: str, creds: RASCREDENTIALS | object, clear: bool
) -> int:
    if not isinstance(creds, RASCREDENTIALS):
        return errors.ERROR_INVALID_PARAMETER
    mask = creds.dwMask
    params = {
        **_cred_params(phonebook, entry),
        "default": bool(mask & RASCM_DefaultCreds),
        "user": creds.szUserName,
        "password": creds.szPassword,
        "domain": creds.szDomain,
        "mask": {
            "user": bool(mask & RASCM_UserName),
            "password": bool(mask & RASCM_Password),
            "domain": bool(mask & RASCM_Domain),
        },
        "clear": bool(clear),
    }
    return _codeof(lambda: call(P.SET_CREDENTIALS, params))[0]
