"""pywin32's ``win32ras`` on Linux: the same functions, call shapes, constants and errors.

A script written for Windows runs unchanged::

    import win32ras                     # after: python -m openras.win32ras --install-shim
    params, have_password = win32ras.GetEntryDialParams(None, "Office")
    handle, rc = win32ras.Dial(None, None, params, None)
    if rc:
        print(win32ras.GetErrorString(rc))
    win32ras.HangUp(handle)             # also after a failure: the handle is still owned

As in pywin32 over real RAS: ``Dial`` *returns* the RAS code, every other function *raises*
:class:`error` (``args == (winerror, funcname, strerror)``); ``HangUp`` returns at once, and the
handle answers winerror 6 from ``GetConnectStatus`` once the link is really gone. A callable
callback gets ``(hrasconn, msg, state, error, exterror)`` on a background thread and may call
``HangUp`` and ``GetErrorString``. Window-handle callbacks and the phonebook dialogs have no
Linux counterpart: the first is refused, the dialogs open ``$VISUAL``/``$EDITOR`` on the
phonebook when stdin is a terminal.

``python -m openras.win32ras --install-shim [DIR]`` writes a ``win32ras.py`` that re-exports
this module, a ``pywintypes.py`` that re-exports :mod:`openras.pywintypes` (its ``error``
is this module's), and ``win32event.py``/``win32api.py`` (the events, ``Sleep`` and the few
other calls pywin32's own RAS demos make) into DIR (default: the user site-packages), so
those imports find them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import site
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from openras import errors, paths, rasapi
from openras.errors import RasError

if TYPE_CHECKING:
    from openras.phonebook import Phonebook

__all__ = [
    "RASCS_AllDevicesConnected",
    "RASCS_ApplySettings",
    "RASCS_AuthAck",
    "RASCS_AuthCallback",
    "RASCS_AuthChangePassword",
    "RASCS_AuthLinkSpeed",
    "RASCS_AuthNotify",
    "RASCS_AuthProject",
    "RASCS_AuthRetry",
    "RASCS_Authenticate",
    "RASCS_Authenticated",
    "RASCS_CallbackComplete",
    "RASCS_CallbackSetByCaller",
    "RASCS_ConnectDevice",
    "RASCS_Connected",
    "RASCS_DeviceConnected",
    "RASCS_Disconnected",
    "RASCS_Interactive",
    "RASCS_InvokeEapUI",
    "RASCS_LogonNetwork",
    "RASCS_OpenPort",
    "RASCS_PasswordExpired",
    "RASCS_PortOpened",
    "RASCS_PrepareForCallback",
    "RASCS_Projected",
    "RASCS_ReAuthenticate",
    "RASCS_RetryAuthentication",
    "RASCS_StartAuthentication",
    "RASCS_SubEntryConnected",
    "RASCS_SubEntryDisconnected",
    "RASCS_WaitForCallback",
    "RASCS_WaitForModemReset",
    "RASDIALEXTENSIONS",
    "RASEAPF_Logon",
    "RASEAPF_NonInteractive",
    "RASEAPF_Preview",
    "CreatePhonebookEntry",
    "Dial",
    "EditPhonebookEntry",
    "EnumConnections",
    "EnumEntries",
    "GetConnectStatus",
    "GetEapUserIdentity",
    "GetEntryDialParams",
    "GetErrorString",
    "HangUp",
    "IsHandleValid",
    "SetEntryDialParams",
    "error",
]

# ------------------------------------------------------------------------------- constants
# pywin32's 28 RASCS_* constants, plus the four it lacks (SubEntry*, ApplySettings, InvokeEapUI).

RASCS_OpenPort: Final = 0
RASCS_PortOpened: Final = 1
RASCS_ConnectDevice: Final = 2
RASCS_DeviceConnected: Final = 3
RASCS_AllDevicesConnected: Final = 4
RASCS_Authenticate: Final = 5
RASCS_AuthNotify: Final = 6
RASCS_AuthRetry: Final = 7
RASCS_AuthCallback: Final = 8
RASCS_AuthChangePassword: Final = 9
RASCS_AuthProject: Final = 10
RASCS_AuthLinkSpeed: Final = 11
RASCS_AuthAck: Final = 12
RASCS_ReAuthenticate: Final = 13
RASCS_Authenticated: Final = 14
RASCS_PrepareForCallback: Final = 15
RASCS_WaitForModemReset: Final = 16
RASCS_WaitForCallback: Final = 17
RASCS_Projected: Final = 18
RASCS_StartAuthentication: Final = 19
RASCS_CallbackComplete: Final = 20
RASCS_LogonNetwork: Final = 21
RASCS_SubEntryConnected: Final = 22
RASCS_SubEntryDisconnected: Final = 23
RASCS_ApplySettings: Final = 24
RASCS_Interactive: Final = 0x1000
RASCS_RetryAuthentication: Final = 0x1001
RASCS_CallbackSetByCaller: Final = 0x1002
RASCS_PasswordExpired: Final = 0x1003
RASCS_InvokeEapUI: Final = 0x1004
RASCS_Connected: Final = 0x2000
RASCS_Disconnected: Final = 0x2001

RASEAPF_NonInteractive: Final = 2
RASEAPF_Logon: Final = 4
RASEAPF_Preview: Final = 8

_NO_MESSAGE: Final = "No error message is available"
#: RASDIALPARAMS string fields and their limits (buffer size - 1), in tuple order.
_PARAM_LIMITS: Final = (256, 128, 128, 256, 256, 15)
_PARAMS_FN: Final = "<RasDialParams conversion>"


# ------------------------------------------------------------------------------- errors


class error(Exception):
    """``pywintypes.error``: ``args == (winerror, funcname, strerror)``, also as attributes."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.winerror: int | None = args[0] if len(args) > 0 else None
        self.funcname: str | None = args[1] if len(args) > 1 else None
        self.strerror: str | None = args[2] if len(args) > 2 else None


#: ``error`` under a name GetErrorString's parameter (pywin32's name) does not hide.
_error = error


def _text(code: int) -> str:
    return errors.message(code) if errors.is_known(code) else _NO_MESSAGE


def _raise(code: int, funcname: str) -> None:
    """Raise :class:`error` for a failed RAS call, with the RasGetErrorString text."""
    if code:
        raise error(code, funcname, _text(code))


def _handle(value: object) -> int:
    """A handle argument as pywin32 takes it: an int, or None for NULL."""
    if value is None:
        return 0
    if isinstance(value, int):
        return int(value)
    raise TypeError(f"The object is not a PyHANDLE object (got {type(value).__name__})")


def _optional_str(value: object, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"{what} must be a string or None, not {type(value).__name__}")


def _dial_params(value: object) -> rasapi.RASDIALPARAMS:
    """A RASDIALPARAMS from a sequence of up to 6 strings (missing ones are empty)."""
    if isinstance(value, str | bytes):
        raise TypeError("RasDialParams must be a sequence of strings, not a single string")
    if not isinstance(value, Iterable):
        raise TypeError(f"RasDialParams must be a sequence, not {type(value).__name__}")
    items: tuple[object, ...] = tuple(value)
    if len(items) > len(_PARAM_LIMITS):
        raise error(0, _PARAMS_FN, "The RasDialParams sequence length must be less than 6")
    fields: list[str] = []
    for item, limit in zip(items, _PARAM_LIMITS, strict=False):
        if not isinstance(item, str):
            raise TypeError(f"RasDialParams items must be strings, not {type(item).__name__}")
        if len(item) > limit:
            raise ValueError(
                f"{_PARAMS_FN}: String size ({len(item)}) greater than acceptable size ({limit})"
            )
        if "\0" in item:
            raise ValueError(f"{_PARAMS_FN}: embedded null character")
        fields.append(item)
    entry, phone, callback, user, password, domain = fields + [""] * (6 - len(fields))
    return rasapi.RASDIALPARAMS(
        szEntryName=entry,
        szPhoneNumber=phone,
        szCallbackNumber=callback,
        szUserName=user,
        szPassword=password,
        szDomain=domain,
    )


# ------------------------------------------------------------------------------- dialing


class RASDIALEXTENSIONS:
    """The mutable RASDIALEXTENSIONS object (``fOptions`` is an alias of ``dwfOptions``)."""

    __slots__ = ("RasEapInfo", "dwfOptions", "hwndParent", "reserved", "reserved1")

    def __init__(self) -> None:
        self.dwfOptions = 0
        self.hwndParent = 0
        self.reserved = 0
        self.reserved1 = 0
        self.RasEapInfo: object = None

    @property
    def fOptions(self) -> int:
        return self.dwfOptions

    @fOptions.setter
    def fOptions(self, value: int) -> None:
        self.dwfOptions = value

    def __repr__(self) -> str:
        return f"<PyRASDIALEXTENSIONS dwfOptions=0x{self.dwfOptions:x}>"


Callback = Callable[[int, int, int, int, int], object]


class _Notifier:
    """Calls a script's RasDialFunc1 callback until its connection is hung up."""

    def __init__(self, callback: Callback) -> None:
        self.callback = callback
        self.stopped = False
        self.registered = False

    def register(self, handle: int) -> None:
        with _notifiers_lock:
            if not self.registered:
                self.registered = True
                _notifiers.setdefault(handle, []).append(self)

    def __call__(self, hrasconn: int, msg: int, state: int, err: int, exterror: int) -> None:
        self.register(hrasconn)  # the first call may come before Dial has returned
        if self.stopped:
            return
        try:
            self.callback(hrasconn, msg, state, err, exterror)
        except Exception:
            traceback.print_exc()  # pywin32 prints a failing callback's error and goes on
        if err or state >= RASCS_Connected:  # the last notification of this dial
            with _notifiers_lock:
                mine = _notifiers.get(hrasconn, [])
                if self in mine:
                    mine.remove(self)
                if not mine:
                    _notifiers.pop(hrasconn, None)


#: Notifiers of the dials still running, by handle; HangUp silences them (as RasHangUp does).
_notifiers: dict[int, list[_Notifier]] = {}
_notifiers_lock = threading.Lock()


def Dial(
    dialExtensions: RASDIALEXTENSIONS | None,
    fileName: str | None,
    RasDialParams: Any,
    callback: Callback | int | None,
) -> tuple[int, int]:
    """Dial; returns ``(handle, retcode)``. A non-zero handle must be hung up, even on failure.

    ``callback``: None dials synchronously; a callable is called as RasDialFunc1 on a
    background thread for each state (and again with a non-zero error when one fails).
    """
    if dialExtensions is not None and not isinstance(dialExtensions, RASDIALEXTENSIONS):
        raise TypeError("The object is not a PyRASDIALEXTENSIONS object")
    phonebook = _optional_str(fileName, "fileName")
    params = _dial_params(RasDialParams)
    ext = None
    if dialExtensions is not None:
        ext = rasapi.RASDIALEXTENSIONS(
            dwfOptions=dialExtensions.dwfOptions,
            hwndParent=dialExtensions.hwndParent,
            reserved=dialExtensions.reserved,
        )
    if callback is None:
        code, handle = rasapi.RasDial(ext, phonebook, params)
    elif callable(callback):
        notifier = _Notifier(callback)
        code, handle = rasapi.RasDial(ext, phonebook, params, 1, notifier)
        if handle:
            notifier.register(handle)
    elif isinstance(callback, int):
        raise error(
            0,
            "Dial",
            "Window-handle notification is not available on Linux: "
            "pass a callable (RasDialFunc1) or None as the callback",
        )
    else:
        raise error(
            0,
            "<Dial param parsing>",
            "The callback object must be an integer handle, None, or a callable object",
        )
    return handle, code


def HangUp(hras: int) -> None:
    """Start ending the connection and return at once (the link goes down afterwards)."""
    h = _handle(hras)
    with _notifiers_lock:
        silenced = _notifiers.pop(h, [])
    for notifier in silenced:  # before the request, so no notification slips in after it
        notifier.stopped = True
    code = rasapi.RasHangUp(h)
    if code and code != errors.ERROR_INVALID_HANDLE:
        for notifier in silenced:  # still connected (e.g. access denied): keep notifying
            notifier.stopped = False
        with _notifiers_lock:
            _notifiers.setdefault(h, []).extend(silenced)
    _raise(code, "RasHangup")  # pywin32's spelling


def IsHandleValid(hras: int | None) -> bool:
    """True for a non-zero handle. Like pywin32 this asks nothing of the system."""
    return _handle(hras) != 0


def GetConnectStatus(hrasconn: int) -> tuple[int, int, str, str]:
    """``(state, error, deviceType, deviceName)``; winerror 6 once the connection is gone."""
    code, status = rasapi.RasGetConnectStatus(_handle(hrasconn), endpoints=False)
    _raise(code, "RasGetConnectStatus")
    assert status is not None
    return status.rasconnstate, status.dwError, status.szDeviceType, status.szDeviceName


def EnumConnections() -> list[tuple[int, str, str, str]]:
    """``[(handle, entryName, deviceType, deviceName)]`` for each active connection."""
    code, conns = rasapi.RasEnumConnections()
    _raise(code, "RasEnumConnections")
    return [(c.hrasconn, c.szEntryName, c.szDeviceType, c.szDeviceName) for c in conns]


def EnumEntries(reserved: str | None = None, fileName: str | None = None) -> tuple[str, ...]:
    """The entry names of ``fileName``, or of the all-users and the user's phonebooks."""
    _optional_str(reserved, "reserved")
    phonebook = _optional_str(fileName, "fileName")
    code, names = rasapi.RasEnumEntries(reserved, phonebook)
    _raise(code, "RasEnumEntries")
    return tuple(n.szEntryName for n in names)


def GetErrorString(error: int) -> str:
    """The message text of a RAS error code (600-875).

    A code outside RasError.h (a Win32 code such as 6) makes RasGetErrorString fail with 87
    without setting the thread's last error; pywin32 then raises with ``GetLastError()``,
    which is 0, so the exception is ``(0, 'RasGetErrorString', 'No error message is
    available')``. :func:`openras.win32api.FormatMessage` has the Win32 texts.
    """
    if isinstance(error, bool) or not isinstance(error, int):
        raise TypeError(f"an integer is required, not {type(error).__name__}")
    if not -(2**31) <= error < 2**31:
        raise OverflowError("Python int too large to convert to C long")
    code, text = rasapi.RasGetErrorString(error)
    if code:
        raise _error(0, "RasGetErrorString", _NO_MESSAGE)
    return text


# ------------------------------------------------------------------------------- saved params


def GetEntryDialParams(
    fileName: str | None, entryName: str
) -> tuple[tuple[str, str, str, str, str, str], bool]:
    """``((entry, phone, callback, user, password, domain), havePassword)``.

    A saved password comes back as the 16-asterisk handle, which Dial and SetEntryDialParams
    take as "the saved password"; the phone number is never filled in (as on Windows).
    """
    phonebook = _optional_str(fileName, "fileName")
    if not isinstance(entryName, str):
        raise TypeError(f"entryName must be a string, not {type(entryName).__name__}")
    entry = entryName[: rasapi.RAS_MaxEntryName]
    code, params, have_password = rasapi.RasGetEntryDialParams(
        phonebook, rasapi.RASDIALPARAMS(szEntryName=entry)
    )
    _raise(code, "RasGetEntryDialParams")
    assert params is not None
    fields = (
        params.szEntryName,
        params.szPhoneNumber,
        params.szCallbackNumber,
        params.szUserName,
        params.szPassword,
        params.szDomain,
    )
    return fields, bool(have_password)


def SetEntryDialParams(fileName: str | None, RasDialParams: Any, bSavePassword: int) -> None:
    """Save user name, domain and password for ``RasDialParams[0]``.

    As in pywin32 the third argument goes to RasSetEntryDialParams' ``fRemovePassword``
    unchanged: non-zero *removes* the saved password. Empty fields leave what is saved; the
    password changes only together with a user name; the asterisk handle keeps it.
    """
    phonebook = _optional_str(fileName, "fileName")
    params = _dial_params(RasDialParams)
    if not isinstance(bSavePassword, int):
        raise TypeError(f"an integer is required, not {type(bSavePassword).__name__}")
    code = rasapi.RasSetEntryDialParams(phonebook, params, bool(bSavePassword))
    _raise(code, "SetEntryDialParams")  # sic: pywin32's name for this one


def GetEapUserIdentity(
    phoneBook: str | None, entry: str, flags: int, hwnd: int | None = None
) -> object:
    """No EAP identity is needed on Linux: raises 780 (ERROR_INVALID_FUNCTION_FOR_ENTRY),
    which Windows callers already take to mean "dial without one"; 623 for an unknown entry."""
    code, _ = rasapi.RasGetEntryProperties(_optional_str(phoneBook, "phoneBook"), entry)
    _raise(code, "RasGetEapUserIdentity")
    _raise(errors.ERROR_INVALID_FUNCTION_FOR_ENTRY, "RasGetEapUserIdentity")
    raise AssertionError("unreachable")


# ------------------------------------------------------------------------------- phonebook "dialogs"

#: Editors known to take ``+LINE`` to open at a line.
_LINE_EDITORS: Final = frozenset(
    {"vi", "vim", "nvim", "view", "nano", "emacs", "emacsclient", "mg", "joe", "micro", "jed"}
)
_NEW_ENTRY: Final = "New Connection"
_NEW_KEYS: Final = (("Encoding", "1"), ("Type", "2"), ("PhoneNumber", ""), ("OpenRasDevice", ""))
_HINTS: Final = (
    "; A new entry: rename it, fill it in, then save and quit. Quit without saving to cancel.",
    "; OpenRasDevice= picks the link (openvpn, wireguard, ssh, loopback); Type=2 is a VPN.",
)


def _check_hwnd(hwnd: object) -> None:
    if hwnd is not None and not isinstance(hwnd, int):
        raise TypeError(f"The object is not a PyHANDLE object (got {type(hwnd).__name__})")


def _editor(funcname: str, path: Path) -> list[str]:
    """The editor command line; raises :class:`error` when stdin is not a terminal."""
    stdin = sys.stdin
    if stdin is None or not stdin.isatty():
        raise error(
            0,
            funcname,
            "There is no phonebook dialog on Linux, and stdin is not a terminal to run "
            f"$EDITOR in: edit {path} directly, or use rasphone",
        )
    argv = shlex.split(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi")
    if not argv:
        raise error(0, funcname, "$VISUAL/$EDITOR is empty")
    return argv


def _codec_errors(book: Phonebook) -> str:
    """The error handler the phonebook layer read ``book`` with (a legacy code page, cp1252 or
    $OPENRAS_PBK_CODEPAGE's, keeps undefined bytes as escapes), so its bytes decode alike."""
    from openras.phonebook._codec import errors_for

    return errors_for(book.encoding)


def _header_line(book: Phonebook, data: bytes, entry: str) -> int:
    """1-based line of ``entry``'s ``[header]`` in ``data`` (0 when absent)."""
    from openras.phonebook import names_equal, tokenize
    from openras.phonebook._lexer import Kind

    text = data[len(book.bom) :].decode(book.encoding, _codec_errors(book))
    for token in tokenize(text):
        if token.kind is Kind.SECTION and names_equal(token.key, entry):
            return token.lineno
    return 0


def _edit_in_editor(funcname: str, path: Path, before: bytes, text: bytes, line: int) -> None:
    """Let the user edit ``text`` (``before``, maybe plus a new entry) and save it as ``path``.

    Unchanged text means cancel. The result must parse, and ``path`` must not have changed
    meanwhile; then it is written atomically under the phonebook's writer lock.
    """
    from openras.phonebook import atomic_write, locked, parse, read_bytes

    argv = _editor(funcname, path)
    if Path(argv[0]).name in _LINE_EDITORS and line > 0:
        argv.append(f"+{line}")
    fd, tmp = tempfile.mkstemp(prefix="rasphone-", suffix=".pbk")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text)
        try:
            rc = subprocess.call([*argv, tmp])
        except OSError as exc:
            raise error(0, funcname, f"cannot run the editor {argv[0]!r}: {exc.strerror}") from None
        if rc != 0:
            raise error(0, funcname, f"the editor {argv[0]!r} exited with status {rc}")
        after = Path(tmp).read_bytes()
        if after == text:
            return
        try:
            parse(after, path)
            with locked(path):
                current = read_bytes(path) if os.path.lexists(path) else b""
                if current != before:
                    raise RasError(errors.ERROR_CANNOT_WRITE_PHONEBOOK, f"{path} changed meanwhile")
                atomic_write(path, after)
        except RasError as exc:
            raise error(exc.code, funcname, _text(exc.code)) from exc
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def CreatePhonebookEntry(hWnd: int | None, fileName: str | None = None) -> None:
    """Add an entry by editing the phonebook (default: the user's) in ``$VISUAL``/``$EDITOR``
    with a new entry appended; needs a terminal on stdin, else raises :class:`error`."""
    from openras.phonebook import parse, read_bytes

    _check_hwnd(hWnd)
    path = Path(_optional_str(fileName, "fileName") or paths.user_phonebook())
    _editor("RasCreatePhonebookEntry", path)
    try:
        before = read_bytes(path) if os.path.lexists(path) else b""
        book = parse(before, path)
    except RasError as exc:
        raise error(exc.code, "RasCreatePhonebookEntry", _text(exc.code)) from exc
    name, n = _NEW_ENTRY, 1
    while book.find(name) is not None:
        n += 1
        name = f"{_NEW_ENTRY} {n}"
    book.add_entry(name, _NEW_KEYS)
    data = book.dumps()
    line = _header_line(book, data, name)
    # The hints go right under the new header (the model writes keys, not comments).
    lines = data[len(book.bom) :].decode(book.encoding, _codec_errors(book)).split("\n")
    lines[line:line] = [h + book.eol.rstrip("\n") for h in _HINTS]
    text = book.bom + "\n".join(lines).encode(book.encoding, _codec_errors(book))
    _edit_in_editor("RasCreatePhonebookEntry", path, before, text, line)


def EditPhonebookEntry(hWnd: int | None, fileName: str | None, entryName: str) -> None:
    """Edit ``entryName`` by opening its phonebook in ``$VISUAL``/``$EDITOR`` at the entry;
    needs a terminal on stdin, else raises :class:`error` (623 for an unknown entry)."""
    from openras.phonebook import load, phonebooks_for, read_bytes

    _check_hwnd(hWnd)
    phonebook = _optional_str(fileName, "fileName")
    if not isinstance(entryName, str):
        raise TypeError(f"entryName must be a string, not {type(entryName).__name__}")
    try:
        for path, _all_users in phonebooks_for(phonebook):
            book = load(path)
            if book.find(entryName) is not None:
                before = read_bytes(path)
                break
        else:
            raise RasError(errors.ERROR_CANNOT_FIND_PHONEBOOK_ENTRY, entryName)
    except RasError as exc:
        raise error(exc.code, "RasEditPhonebookEntry", _text(exc.code)) from exc
    line = _header_line(book, before, entryName)
    _edit_in_editor("RasEditPhonebookEntry", path, before, before, line)


# ------------------------------------------------------------------------------- the shim

_SHIM_MARK: Final = "# openras win32ras shim"
#: The modules a Windows RAS script imports, each re-exporting its openras counterpart.
_SHIMMED: Final = ("win32ras", "pywintypes", "win32event", "win32api")


def _shim_text(module: str) -> str:
    return f'''{_SHIM_MARK}: written by `python -m openras.win32ras --install-shim`.
"""pywin32's {module} on Linux: re-exports :mod:`openras.{module}`."""

from openras.{module} import *  # noqa: F403
from openras.{module} import __all__, __doc__  # noqa: F401
'''


def _is_ours(path: Path) -> bool:
    try:
        return path.read_text(encoding="utf-8", errors="replace").startswith(_SHIM_MARK)
    except OSError:
        return False


def install_shim(
    directory: str | os.PathLike[str] | None = None, *, force: bool = False
) -> list[Path]:
    """Write ``win32ras.py``, ``pywintypes.py``, ``win32event.py`` and ``win32api.py`` (each
    ``from openras.<module> import *``) into ``directory``; the paths written.

    The default is the user site-packages. If any of them exists and is not a shim of ours,
    nothing is written (FileExistsError) unless ``force``.
    """
    target_dir = Path(directory) if directory is not None else Path(site.getusersitepackages())
    targets = [target_dir / f"{module}.py" for module in _SHIMMED]
    if not force:
        foreign = [str(t) for t in targets if t.exists() and not _is_ours(t)]
        if foreign:
            raise FileExistsError(
                f"{' and '.join(foreign)} exist{'s' if len(foreign) == 1 else ''} and "
                f"{'is' if len(foreign) == 1 else 'are'} not an openras shim (use --force)"
            )
    target_dir.mkdir(parents=True, exist_ok=True)
    for module, target in zip(_SHIMMED, targets, strict=True):
        fd, tmp = tempfile.mkstemp(prefix=f".{module}.", suffix=".tmp", dir=target_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(_shim_text(module))
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    return targets


def main(argv: list[str] | None = None) -> int:
    """``python -m openras.win32ras --install-shim [DIR] [--force]``."""
    parser = argparse.ArgumentParser(
        prog="python -m openras.win32ras",
        description="pywin32's win32ras on Linux. --install-shim makes `import win32ras`, "
        "`import pywintypes`, `import win32event` and `import win32api` load their openras "
        "counterparts.",
    )
    parser.add_argument(
        "--install-shim",
        nargs="?",
        const="",
        metavar="DIR",
        help="write win32ras.py, pywintypes.py, win32event.py and win32api.py into DIR "
        "(default: the user site-packages)",
    )
    parser.add_argument(
        "--force", action="store_true", help="replace existing files of those names"
    )
    args = parser.parse_args(argv)
    if args.install_shim is None:
        parser.print_help()
        return 2
    try:
        targets = install_shim(args.install_shim or None, force=args.force)
    except (OSError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for target in targets:
        print(f"wrote {target}")
    if not args.install_shim and not site.ENABLE_USER_SITE:
        print(
            "note: this Python does not read the user site-packages (a venv?); "
            "give a directory on sys.path instead",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
