"""The entry half of ``rasapi32``: phonebook entries, dial params and saved credentials.

Phonebooks are edited here, in the caller's process and with the caller's own file
permissions (a user can never make the root daemon write a file for them); saved
credentials live with the daemon, which keeps them in root-only files and hands back only
the 16-asterisk password handle.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar, overload

from openras import _windows, errors
from openras.errors import RasError
from openras.paths import user_phonebook
from openras.wire import protocol as P
from openras.wire.protocol import PASSWORD_HANDLE as PASSWORD_HANDLE

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
    "dwType": "Type",
    "dwVpnStrategy": "VpnStrategy",
    "dwRedialCount": "RedialAttempts",
    "dwRedialPause": "RedialSeconds",
    "dwIdleDisconnectSeconds": "IdleDisconnectSeconds",
}
#: Fields Windows keeps in the DEVICE block (read there first, then in the main block).
_DEVICE_INT_KEYS: Final = {"dwCountryCode": "CountryCode", "dwCountryID": "CountryID"}
_DEVICE_STR_KEYS: Final = {"szAreaCode": "AreaCode"}
_STR_KEYS: Final = {"guidId": "Guid"}
_DEVICE_BY_TYPE: Final = {RASET_Phone: "modem", RASET_Vpn: "vpn", RASET_Broadband: "PPPoE"}


@dataclass(frozen=True)
class _Flag:
    """One RASEO_/RASEO2_ bit and the pbk key Windows writes it as."""

    bit: int
    key: str
    device: bool = False  # kept in the DEVICE block
    inverted: bool = False  # key=1 means the bit is clear (LcpExtensions vs DisableLcp...)


#: dwfOptions bits with a pbk key of their own (ras-api.md 4.10 and 7.3).
_OPTIONS: Final = (
    _Flag(0x1, "UseDialingRules", device=True),
    _Flag(0x8, "IpHeaderCompression"),
    _Flag(0x10, "IpPrioritizeRemote"),
    _Flag(0x20, "LcpExtensions", inverted=True),
    _Flag(0x100, "ShowMonitorIconInTaskBar"),
    _Flag(0x200, "SwCompression"),
    _Flag(0x8000, "PromoteAlternates", device=True),
    _Flag(0x200000, "PreviewPhoneNumber"),
    _Flag(0x800000, "SharedPhoneNumbers"),
    _Flag(0x1000000, "PreviewUserPw"),
    _Flag(0x2000000, "PreviewDomain"),
    _Flag(0x4000000, "ShowDialingProgress"),
)
_OPTIONS2: Final = (
    # UsePreSharedKey: 1 in the L2TP entries of ras-api.md 7.3's export, 0 in its others
    # (the pairing with the bit is inferred; no key is written while the bit stays clear).
    _Flag(0x10, "IpSecFlags"),
    _Flag(0x80, "GlobalDeviceSettings"),
    _Flag(0x100, "RedialOnLinkFailure"),
    _Flag(0x40000, "DisableIKENameEkuCheck"),
    _Flag(0x200000, "DisableMobility"),
    _Flag(0x2000000, "CacheCredentials"),
)
#: Bits with no Windows key of known meaning are kept in these extension keys (decimal).
_REST_KEYS: Final = {"dwfOptions": "OpenRasOptions", "dwfOptions2": "OpenRasOptions2"}
_FRAMING_KEY: Final = "OpenRasFramingProtocol"  # Windows 10 writes none: PPP is all it has
_FLAGS: Final = {"dwfOptions": _OPTIONS, "dwfOptions2": _OPTIONS2}
_MODELLED: Final = {
    k.lower()
    for k in (
        *_INT_KEYS.values(),
        *_DEVICE_INT_KEYS.values(),
        *_DEVICE_STR_KEYS.values(),
        *_STR_KEYS.values(),
        *_REST_KEYS.values(),
        *(f.key for flags in _FLAGS.values() for f in flags),
        _FRAMING_KEY,
        "PhoneNumber",
        "Device",
        "PreferredDevice",
        "PreferredPort",  # follows the device name, as on Windows
    )
}


def _as_int(text: str | None, default: int = 0) -> int:
    from openras.phonebook.model import as_int

    return as_int(text, default)


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


def _same_book(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """One file by any spelling: relative, ``./``, through a symlink or a hard link."""
    if os.path.abspath(a) == os.path.abspath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _spellings(path: Path) -> list[str]:
    """The absolute and the resolved path of a book (the daemon records the absolute one
    the dialing client sent, which may be either)."""
    absolute, real = os.path.abspath(path), os.path.realpath(path)
    return [absolute] if absolute == real else [absolute, real]


def _writable(path: Path) -> None:
    """Windows answers 5 when a user edits the all-users phonebook; so do we."""
    from openras.phonebook import system_phonebook_path

    if os.geteuid() != 0 and _same_book(path, system_phonebook_path()):
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


def _device_type(entry: Any) -> str:
    """szDeviceType as written (``PPPoE`` keeps its case), else derived from ``Type=``."""
    for b in entry.blocks:
        if b.kind == "DEVICE" and b.value:
            return str(b.value)
    return _DEVICE_BY_TYPE.get(_as_int(entry.get("Type")), "")


def _flag_get(entry: Any, flag: _Flag) -> bool:
    raw = entry.device_get(flag.key) if flag.device else entry.get(flag.key)
    if raw is None:
        return False
    return (_as_int(raw) != 0) != flag.inverted


def _flags_get(entry: Any, attr: str) -> int:
    flags = _FLAGS[attr]
    mask = sum(f.bit for f in flags)
    out = _as_int(entry.get(_REST_KEYS[attr])) & ~mask & 0xFFFFFFFF
    for f in flags:
        if _flag_get(entry, f):
            out |= f.bit
    return out


#: RASDT_ device types -> the RASET_ type Windows gives an entry that has no ``Type=``.
_TYPE_BY_DEVICE: Final = {
    "modem": RASET_Phone,
    "isdn": RASET_Phone,
    "serial": RASET_Direct,
    "parallel": RASET_Direct,
    "pppoe": RASET_Broadband,
}


def _type_of_device(device_type: str) -> int:
    """``Type=`` missing: Windows goes by the device (a modem is a phone entry, PPPoE is
    broadband, everything else here, VPNs and openras's own links, is a VPN entry)."""
    return _TYPE_BY_DEVICE.get(device_type.strip().lower(), RASET_Vpn)


def _entry_to_struct(entry: Any, path: str | os.PathLike[str] | None = None) -> RASENTRY:
    """The RASENTRY of ``entry``; with the phonebook's ``path``, an entry without ``Guid=``
    gets the stable GUID Windows would show for it (derived, never written)."""
    rec = RASENTRY(
        szLocalPhoneNumber=entry.phone_number or "",
        szDeviceType=_device_type(entry),
        szDeviceName=entry.device_name or "",
        dwFramingProtocol=_as_int(entry.get(_FRAMING_KEY), 1),
        szAlternates=list(entry.alternates),
    )
    for attr, key in _INT_KEYS.items():
        setattr(rec, attr, _as_int(entry.get(key)))
    if not rec.dwType:
        rec.dwType = _type_of_device(rec.szDeviceType)
    for attr, key in _DEVICE_INT_KEYS.items():
        setattr(rec, attr, _as_int(entry.device_get(key)))
    for attr, key in _DEVICE_STR_KEYS.items():
        setattr(rec, attr, entry.device_get(key) or "")
    for attr, key in _STR_KEYS.items():
        setattr(rec, attr, entry.get(key) or "")
    if not rec.guidId and path is not None:
        rec.guidId = _windows.entry_guid(path, entry.name)
    for attr in _FLAGS:
        setattr(rec, attr, _flags_get(entry, attr))
    for key, value in entry.items():
        if key.lower() not in _MODELLED:
            rec.extra.setdefault(key, value)
    return rec


def _new_main_keys(props: RASENTRY) -> list[tuple[str, str]]:
    """The first main keys of a created entry, in the order a Windows export has them."""
    from openras.phonebook.model import miniport_port

    keys = [("Encoding", "1"), ("PBVersion", "4"), ("Type", str(int(props.dwType or RASET_Vpn)))]
    if props.szDeviceName:
        port = miniport_port(props.szDeviceName)
        if port is not None:
            keys.append(("PreferredPort", port))
        keys.append(("PreferredDevice", props.szDeviceName))
    return keys


def _apply_struct(
    e: Any, props: RASENTRY, new: bool, path: str | os.PathLike[str] | None = None
) -> None:
    """Write ``props`` into Entry ``e``, touching only keys whose value really changes: a
    number Windows reads the same ("010" and 10) or a field left as Get returned it keeps
    its line byte for byte."""
    old = _entry_to_struct(e, path)  # a derived GUID handed back is no change

    def changed(attr: str) -> Any:
        value = getattr(props, attr)
        return None if value == getattr(old, attr) else value

    for attr, key in _INT_KEYS.items():
        if (v := changed(attr)) is not None:
            e.set(key, str(int(v)))
    for attr, key in _STR_KEYS.items():
        if (v := changed(attr)) is not None and v:
            e.set(key, str(v))
    dtype = props.szDeviceType or (_DEVICE_BY_TYPE.get(props.dwType, "vpn") if new else "")
    if dtype and (new or dtype.casefold() != old.szDeviceType.casefold()):
        e.device_type = dtype
    if new or (props.szDeviceName and changed("szDeviceName") is not None):
        e.device_name = props.szDeviceName
    if props.szLocalPhoneNumber and changed("szLocalPhoneNumber") is not None:
        e.phone_number = props.szLocalPhoneNumber
    for attr, key in (*_DEVICE_INT_KEYS.items(), *_DEVICE_STR_KEYS.items()):
        if (v := changed(attr)) is not None:
            e.device_set(key, str(v))
    if changed("szAlternates") is not None:
        e.alternates = [str(n) for n in props.szAlternates]
    for attr, flags in _FLAGS.items():
        want = int(getattr(props, attr)) & 0xFFFFFFFF
        for f in flags:
            on = bool(want & f.bit)
            if on != _flag_get(e, f):
                value = str(int(on != f.inverted))
                (e.device_set if f.device else e.set)(f.key, value)
        rest = want & ~sum(f.bit for f in flags)
        if rest != _flags_get(e, attr) & ~sum(f.bit for f in flags):
            e.set(_REST_KEYS[attr], str(rest))
    if (v := changed("dwFramingProtocol")) is not None:
        e.set(_FRAMING_KEY, str(int(v)))
    for key, value in props.extra.items():
        # Against what Get returned, not e.get(): with a key repeated in two spellings
        # ("I=" and "i=0"), the two answer differently and an unchanged value was rewritten.
        if old.extra.get(key) != value and e.get(key) != value:
            e.set(key, value)


#: sizeof(RASENTRYW) on 64-bit Windows 10 (ras.h, pack 4, fields up to WINVER 0xA00).
SIZEOF_RASENTRY: Final = 6724


def _entry_size(rec: RASENTRY) -> int:
    """Bytes RasGetEntryProperties needs: the struct, then the alternate numbers as a
    NUL-separated, double-NUL-terminated UTF-16 list (dwAlternateOffset)."""
    if not rec.szAlternates:
        return SIZEOF_RASENTRY
    return SIZEOF_RASENTRY + 2 * (sum(len(n) + 1 for n in rec.szAlternates) + 1)


@overload
def RasGetEntryProperties(
    phonebook: str | None, entry: str | object
) -> tuple[int, RASENTRY | None]: ...
@overload
def RasGetEntryProperties(
    phonebook: str | None, entry: str | object, size: int
) -> tuple[int, RASENTRY | None, int]: ...
def RasGetEntryProperties(
    phonebook: str | None, entry: str | object, size: int | None = None
) -> tuple[int, RASENTRY | None] | tuple[int, RASENTRY | None, int]:
    """The entry's properties; an empty name gives the defaults (as Windows does).

    Without ``size``: ``(code, RASENTRY)``. With ``size`` (the C call's
    ``*lpdwEntryInfoSize``): ``(code, RASENTRY or None, needed_bytes)``, 603 with the needed
    size when ``size`` is short of it, so code ported from C can probe with 0 first.
    """
    if not isinstance(entry, str) or (
        size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0)
    ):
        bad = errors.ERROR_INVALID_PARAMETER
        return (bad, None) if size is None else (bad, None, 0)
    if entry == "":
        rec: RASENTRY | None = RASENTRY()
    else:
        code, found = _codeof(lambda: _locate(phonebook, entry))
        if code or found is None:
            return (code, None) if size is None else (code, None, 0)
        rec = _entry_to_struct(found[1], found[0])
    assert rec is not None
    if size is None:
        return 0, rec
    needed = _entry_size(rec)
    if size < needed:
        return errors.ERROR_BUFFER_TOO_SMALL, None, needed
    return 0, rec, needed


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
        created = e is None
        if e is None:
            code = validate_entry_name(entry, book)
            if code:
                raise RasError(code, entry)
            e = book.add_entry(entry, _new_main_keys(props))
        _apply_struct(e, props, created, None if created or book.path is None else book.path)

    def run() -> None:
        _writable(path)
        edit(path, apply, create=True)

    return _codeof(run)[0]


def RasRenameEntry(phonebook: str | None, old: str, new: str, *, call: Caller | None = None) -> int:
    """Rename by RasRenameEntry's own (looser) name rules: 123 only for an over-long, blank or
    ``.``-led name; 183 taken, 623 no such entry. ``call`` tells the daemon (see
    ``credentials_follow_rename``)."""
    from openras.phonebook import Phonebook, edit
    from openras.phonebook.names import validate_new_name

    code = validate_new_name(new)
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
        if call is not None:
            credentials_follow_rename(call, path, old, new)

    return _codeof(run)[0]


def RasDeleteEntry(
    phonebook: str | None,
    entry: str,
    *,
    connected: Callable[[str, str], bool],
    call: Caller | None = None,
) -> int:
    """Delete ``entry``; 817 while it has a live connection, 123 when there is no such entry.

    The entry's saved credentials go with it (the caller's own; every user's and the
    default ones when root), so a later entry of the same name does not dial with them.
    """
    from openras.phonebook import Phonebook, edit

    def run() -> None:
        try:
            path, _ = _locate(phonebook, entry)
        except errors.EntryNotFound:
            raise RasError(errors.ERROR_INVALID_NAME, entry) from None
        _writable(path)
        # The daemon records the absolute path the dialing client sent (client._entry_target):
        # a relative or symlinked argument must be compared in that form.
        names = _spellings(path)
        if any(connected(where, entry) for where in names):
            raise RasError(errors.ERROR_CANNOT_DELETE, entry)

        def apply(book: Phonebook) -> None:
            book.remove_entry(entry)

        edit(path, apply, create=False)
        if call is not None:
            credentials_follow_delete(call, path, entry)

    return _codeof(run)[0]


# ----------------------------------------------------------------------------------- credentials

Caller = Callable[[str, dict[str, Any]], dict[str, Any]]


def _cred_params(phonebook: str | None, entry: str) -> dict[str, Any]:
    return {
        "entry": entry,
        "phonebook": os.path.abspath(phonebook) if phonebook else "",
        "user_phonebook": str(user_phonebook()),
    }


def credentials_follow_rename(
    call: Caller, path: str | os.PathLike[str], old: str, new: str
) -> None:
    """After ``old`` was renamed ``new`` in ``path``: its saved credentials are re-filed."""
    _tell_daemon(call, path, P.ENTRY_RENAMED, {"old": old, "new": new})


def credentials_follow_delete(call: Caller, path: str | os.PathLike[str], entry: str) -> None:
    """After ``entry`` was deleted from ``path``: its saved credentials are dropped."""
    _tell_daemon(call, path, P.ENTRY_DELETED, {"entry": entry})


def _tell_daemon(
    call: Caller, path: str | os.PathLike[str], method: str, params: dict[str, Any]
) -> None:
    """The daemon re-files or drops an edited entry's saved credentials (it checks that the
    edit happened: only root's edit carries other users' credentials). Once per spelling the
    credentials may be kept under. Best effort: the phonebook edit stands, and a daemon that
    cannot be reached now keeps them under the old name. ``call`` is the client's request
    (``rasapi``'s process session)."""
    for where in _spellings(Path(path)):
        with contextlib.suppress(RasError):
            call(method, {**params, "phonebook": where})


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
    elif mask & RASCM_PreSharedKey and d.get("has_psk"):
        out.szPassword, out.dwMask = PASSWORD_HANDLE, out.dwMask | RASCM_PreSharedKey
    return 0, out


def set_credentials(
    call: Caller, phonebook: str | None, entry: str, creds: RASCREDENTIALS | object, clear: bool
) -> int:
    if not isinstance(creds, RASCREDENTIALS):
        return errors.ERROR_INVALID_PARAMETER
    mask = creds.dwMask
    # RASCM_PreSharedKey: szPassword carries the entry's pre-shared key (as on Windows), so
    # it cannot also carry the password in the same call.
    psk = bool(mask & RASCM_PreSharedKey)
    if psk and mask & RASCM_Password:
        return errors.ERROR_INVALID_PARAMETER
    params = {
        **_cred_params(phonebook, entry),
        "default": bool(mask & RASCM_DefaultCreds),
        "user": creds.szUserName,
        "password": "" if psk else creds.szPassword,
        "domain": creds.szDomain,
        "psk": creds.szPassword if psk else "",
        "mask": {
            "user": bool(mask & RASCM_UserName),
            "password": bool(mask & RASCM_Password),
            "domain": bool(mask & RASCM_Domain),
            "psk": psk,
        },
        "clear": bool(clear),
    }
    return _codeof(lambda: call(P.SET_CREDENTIALS, params))[0]
