"""pywin32's ``pywintypes`` on Linux: the exceptions Windows RAS scripts catch.

``error`` *is* :class:`openras.win32ras.error`, so ``except pywintypes.error`` catches what
``win32ras`` raises. ``com_error`` is there only so that an ``except pywintypes.com_error``
clause resolves: nothing in openras raises it (there is no COM on Linux).
``python -m openras.win32ras --install-shim`` writes a ``pywintypes.py`` re-exporting this.
"""

from __future__ import annotations

from typing import Any

from openras.win32ras import error

__all__ = ["com_error", "error"]


class com_error(Exception):
    """``pywintypes.com_error``: ``args == (hresult, strerror, excepinfo, argerror)``, also as
    attributes. Never raised here."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.hresult: int | None = args[0] if len(args) > 0 else None
        self.strerror: str | None = args[1] if len(args) > 1 else None
        self.excepinfo: Any = args[2] if len(args) > 2 else None
        self.argerror: int | None = args[3] if len(args) > 3 else None
