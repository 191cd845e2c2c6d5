"""``PromoteAlternates``: after an alternate number answered, it becomes the entry's number.

Windows (RASEO_PromoteAlternates, the DEVICE block's ``PromoteAlternates=1``): "if an
alternate number connects successfully, that number becomes the primary phone number, and
the current primary phone number is moved to the alternate list". The dialing process does
it (rasapi32), with the user's own rights over the phonebook; so does openras: the daemon
runs as root and never writes a user's file, and the client that dialed edits the book as
the user, under the phonebook's lock, only when the entry asks. The numbers that follow the
promoted one keep their order, the old primary first among them.

It costs a dial nothing unless the link dialed a telephone number (the Connected event says
so with ``dialed_number``); then one projection and one status call say which of the entry's
numbers answered and where the entry lives. A book the user may not write (the all-users
book, for a plain user) is left as it is, as on Windows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openras.phonebook.model import Phonebook

Call = Callable[[str, dict[str, Any]], dict[str, Any]]
AsyncCall = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


def promoted(numbers: Sequence[str], answered: str) -> list[str] | None:
    """The entry's numbers (primary first) once ``answered`` is promoted; None when there is
    nothing to change (it is the primary already, or not one of them). Pure."""
    if not numbers or answered not in numbers or numbers[0] == answered:
        return None
    return [answered, *(n for n in numbers if n != answered)]


def promote_in_book(path: str, entry_name: str, answered: str) -> bool:
    """Make ``answered`` the primary number of ``entry_name`` in the book at ``path`` if the
    entry has ``PromoteAlternates=1``; True when the book was changed."""
    from openras.phonebook.model import edit

    def change(pb: Phonebook) -> bool:
        entry = pb.find(entry_name)
        if entry is None or (entry.device_get("PromoteAlternates") or "").strip() != "1":
            return False
        new = promoted([entry.phone_number or "", *entry.alternates], answered)
        if new is None:
            return False
        entry.phone_number = new[0]
        entry.alternates = new[1:]
        return True

    return bool(edit(path, change, create=False))


def after_connected(call: Call, handle: int, dialed_number: str) -> bool:
    """What the dialer does once Connected: promote the alternate that answered, if the
    link dialed numbers and the entry asks. Never fails the dial (the link is up)."""
    if not dialed_number:
        return False
    from openras.wire import protocol as P

    try:
        answered = _answered(call(P.PROJECTION, {"handle": handle}))
        if not answered:
            return False
        where = _where(call(P.GET_STATUS, {"handle": handle}))
        return where is not None and promote_in_book(*where, answered)
    except Exception as exc:  # the dial succeeded: the phonebook edit is extra
        _log_failure(handle, exc)
        return False


async def after_connected_async(call: AsyncCall, handle: int, dialed_number: str) -> bool:
    """:func:`after_connected` for the asyncio client (the file edit in a thread)."""
    if not dialed_number:
        return False
    import asyncio

    from openras.wire import protocol as P

    try:
        answered = _answered(await call(P.PROJECTION, {"handle": handle}))
        if not answered:
            return False
        where = _where(await call(P.GET_STATUS, {"handle": handle}))
        return where is not None and await asyncio.to_thread(promote_in_book, *where, answered)
    except Exception as exc:  # the dial succeeded: the phonebook edit is extra
        _log_failure(handle, exc)
        return False


def _answered(projection: dict[str, Any]) -> str:
    """The entry's number that answered, if one failed before it ("" otherwise)."""
    extra = projection.get("extra") or {}
    if not extra.get("numbers_failed_before"):
        return ""  # the entry's first number answered (or it has one number)
    return str(extra.get("dialed_number") or "")


def _where(status: dict[str, Any]) -> tuple[str, str] | None:
    path, name = str(status.get("phonebook") or ""), str(status.get("entry_name") or "")
    return (path, name) if path and name else None


def _log_failure(handle: int, exc: Exception) -> None:
    import logging  # only here: the tools' start-up does not pay for logging

    logging.getLogger("openras.promote").debug("PromoteAlternates, handle %d: %s", handle, exc)
