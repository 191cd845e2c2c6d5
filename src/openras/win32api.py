"""pywin32's ``win32api`` on Linux: the few calls RAS scripts make.

pywin32's ``win32/scripts/rasutil.py`` waits between dial attempts with ``win32api.Sleep``;
scripts also time things with ``GetTickCount`` and print errors with ``FormatMessage``.
Those are here with Win32's units (milliseconds) and shapes; the rest of ``win32api`` is not.
"""

from __future__ import annotations

import time
from typing import Final

from openras import errors

__all__ = ["CloseHandle", "FormatMessage", "GetLastError", "GetTickCount", "Sleep"]

_NO_TEXT: Final = "No error message is available"


def Sleep(time_ms: int, bAlertable: int = 0) -> int:
    """Sleep ``time_ms`` milliseconds; returns 0 (Win32's SleepEx result, as pywin32 does)."""
    if isinstance(time_ms, bool) or not isinstance(time_ms, int):
        raise TypeError("time must be an integer")
    time.sleep(max(0, time_ms) / 1000)
    return 0


def GetTickCount() -> int:
    """Milliseconds since boot (CLOCK_BOOTTIME, as Windows counts), wrapping at 2**32."""
    return int(time.clock_gettime(time.CLOCK_BOOTTIME) * 1000) & 0xFFFFFFFF


def GetLastError() -> int:
    """0: nothing here sets a thread's last error (RAS calls return their codes)."""
    return 0


def CloseHandle(handle: object) -> None:
    """Close a :mod:`openras.win32event` event (other handles: nothing to close)."""
    close = getattr(handle, "Close", None)
    if callable(close):
        close()


def FormatMessage(*args: object) -> str:
    """``FormatMessage(errCode)`` (or pywin32's long form, whose third argument is the code):
    the system text of a Win32 or RAS code with Windows' trailing CR LF."""
    code = args[0] if len(args) == 1 else (args[2] if len(args) >= 3 else None)
    if isinstance(code, bool) or not isinstance(code, int):
        raise TypeError("FormatMessage needs an error code")
    if not errors.is_known(code & 0xFFFFFFFF):
        from openras.pywintypes import error

        raise error(317, "FormatMessageW", _NO_TEXT)
    return errors.message(code & 0xFFFFFFFF) + "\r\n"
