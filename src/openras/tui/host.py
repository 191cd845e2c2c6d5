"""What rasphone's screens and forms ask of the app that shows them.

The app (:mod:`.app`) opens the screens (:mod:`.screens`, :mod:`.forms`); a screen reaches
back only through this protocol, so the screens never import the app and the app is free to
import them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from textual.notifications import SeverityLevel

    from openras.aclient import AsyncClient
    from openras.records import ConnectionInfo
    from openras.tui.view import Row


@runtime_checkable
class Host(Protocol):
    """The running rasphone app (``RasphoneApp`` is one)."""

    #: The live session with rasman (None while it is unreachable).
    client: AsyncClient | None
    rows: dict[int, Row]
    recent: dict[int, deque[str]]
    #: Why the last connection ended, kept for a details screen still open on it.
    ended: dict[int, str]

    def tell(
        self, text: str, *, severity: SeverityLevel = "information", title: str = ""
    ) -> None: ...
    def confirm_hang_up(self, handles: Iterable[int]) -> None: ...
    def show_entry(self, info: ConnectionInfo) -> None: ...
    def edit_entry(self, book: Path, name: str) -> None: ...
    def rename_entry(self, book: Path, name: str) -> None: ...
    def delete_entry(self, book: Path, name: str) -> None: ...
