"""Package attributes that load their module on first use (PEP 562 ``__getattr__``).

A command's ``--help`` or ``rasdial /?`` should not pay for the wire codec, the phonebook
parser or asyncio because a package's ``__init__`` re-exports them.

For the same reason the modules a command loads do not import :mod:`typing` (a few
milliseconds, more than the rest of ``rasdial``'s own code): they import the names their
annotations use under ``if TYPE_CHECKING:`` with a module constant ``TYPE_CHECKING = False``,
which type checkers treat as ``typing.TYPE_CHECKING``. Their annotations are strings
(``from __future__ import annotations``) and are never evaluated at run time.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

TYPE_CHECKING = False  # typing's constant, without importing typing (see openras._lazy)
if TYPE_CHECKING:
    from typing import Any


def lazy_exports(
    package: str, namespace: dict[str, Any], names: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: each of ``names`` (attribute ->
    module) is imported when first read, then kept in ``namespace`` as a plain attribute."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *names})

    return __getattr__, __dir__
