"""pywin32's ``win32event`` on Linux: the event objects RAS scripts wait on.

pywin32's own RAS demo (``win32/Demos/rastest.py``) signals its main thread from the dial
callback with ``CreateEvent``/``SetEvent`` and waits with ``WaitForSingleObject``; this module
has those, with Win32's semantics (auto-reset events release one waiter and clear
themselves, manual-reset ones stay set until ``ResetEvent``), so such scripts run unchanged.
An event also has ``set()``, so it can be given to :func:`openras.rasapi.RasConnectionNotification`.
Named events, security attributes and the rest of ``win32event`` are not provided.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Final

from openras.errors import ERROR_INVALID_HANDLE

__all__ = [
    "INFINITE",
    "WAIT_ABANDONED",
    "WAIT_FAILED",
    "WAIT_OBJECT_0",
    "WAIT_TIMEOUT",
    "CreateEvent",
    "PyHANDLE",
    "ResetEvent",
    "SetEvent",
    "WaitForMultipleObjects",
    "WaitForSingleObject",
]

INFINITE: Final = 0xFFFFFFFF
WAIT_OBJECT_0: Final = 0
WAIT_ABANDONED: Final = 0x80
WAIT_TIMEOUT: Final = 258
WAIT_FAILED: Final = 0xFFFFFFFF

#: One condition for every event: WaitForMultipleObjects must see any of them change.
_cond = threading.Condition()
_next_handle = [0x100]


class PyHANDLE:
    """An event handle: an int to pywin32 code (``int(h)``), ``Close()`` and ``set()``."""

    def __init__(self, manual_reset: bool, initial: bool) -> None:
        with _cond:
            _next_handle[0] += 4
            self.handle = _next_handle[0]
        self.manual_reset = manual_reset
        self.signaled = initial
        self.closed = False

    def __int__(self) -> int:
        return self.handle

    def __index__(self) -> int:
        return self.handle

    def __bool__(self) -> bool:
        return not self.closed

    def __repr__(self) -> str:
        return f"<PyHANDLE:{self.handle}>"

    def Close(self) -> None:
        self.closed = True

    def set(self) -> None:
        """Signal (what RasConnectionNotification calls on its event)."""
        SetEvent(self)


def _event(h: object) -> PyHANDLE:
    if not isinstance(h, PyHANDLE):
        raise TypeError(f"The object is not a PyHANDLE object (got {type(h).__name__})")
    if h.closed:
        from openras.pywintypes import error

        raise error(ERROR_INVALID_HANDLE, "WaitForSingleObject", "The handle is invalid.")
    return h


def CreateEvent(
    EventAttributes: object, bManualReset: int, bInitialState: int, Name: str | None
) -> PyHANDLE:
    """A new unnamed event (``EventAttributes`` must be None: no Windows security here)."""
    if EventAttributes is not None:
        raise TypeError("security attributes are not supported on Linux: pass None")
    if Name is not None:
        raise NotImplementedError("named events are not supported on Linux: pass None")
    return PyHANDLE(bool(bManualReset), bool(bInitialState))


def SetEvent(hEvent: PyHANDLE) -> None:
    ev = _event(hEvent)
    with _cond:
        ev.signaled = True
        _cond.notify_all()


def ResetEvent(hEvent: PyHANDLE) -> None:
    ev = _event(hEvent)
    with _cond:
        ev.signaled = False


def _timeout(milliseconds: int) -> float | None:
    if isinstance(milliseconds, bool) or not isinstance(milliseconds, int):
        raise TypeError("milliseconds must be an integer")
    return None if milliseconds in (INFINITE, -1) else max(0, milliseconds) / 1000


def WaitForMultipleObjects(handleList: Sequence[PyHANDLE], bWaitAll: int, milliSeconds: int) -> int:
    """``WAIT_OBJECT_0 + i`` for the first signaled event (all of them with ``bWaitAll``),
    ``WAIT_TIMEOUT`` when none is in time. Auto-reset events are cleared by the wait."""
    events = [_event(h) for h in handleList]
    if not events:
        raise ValueError("handleList must not be empty")
    limit = _timeout(milliSeconds)
    deadline = None if limit is None else time.monotonic() + limit
    with _cond:
        while True:
            ready = [i for i, ev in enumerate(events) if ev.signaled]
            done = len(ready) == len(events) if bWaitAll else bool(ready)
            if done:
                for i in ready if bWaitAll else ready[:1]:
                    if not events[i].manual_reset:
                        events[i].signaled = False
                return WAIT_OBJECT_0 + (0 if bWaitAll else ready[0])
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return WAIT_TIMEOUT
            _cond.wait(remaining)


def WaitForSingleObject(hHandle: PyHANDLE, milliseconds: int) -> int:
    """``WAIT_OBJECT_0`` once the event is signaled, ``WAIT_TIMEOUT`` if not in time."""
    return WaitForMultipleObjects([hHandle], False, milliseconds)
