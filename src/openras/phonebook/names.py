"""Entry-name rules of RasValidateEntryName / RasRenameEntry, as plain functions."""

from __future__ import annotations

from typing import Final, Protocol

from openras.errors import ERROR_ALREADY_EXISTS, ERROR_INVALID_NAME, ERROR_SUCCESS

__all__ = [
    "MAX_ENTRY_NAME",
    "name_key",
    "names_equal",
    "validate_entry_name",
    "validate_new_name",
]

#: RAS_MaxEntryName.
MAX_ENTRY_NAME: Final = 256
_FORBIDDEN: Final = frozenset("|><?*\\/:")


class Names(Protocol):
    """What ``validate_entry_name`` asks of a phonebook (a ``Phonebook`` is one)."""

    def find(self, name: str) -> object | None: ...


def name_key(name: str) -> str:
    """The form entry names are compared in. Windows ignores case character by character, so
    ``lower()`` (not ``casefold()``, which would make "Straße" equal "STRASSE")."""
    return name.lower()


def names_equal(a: str, b: str) -> bool:
    """Windows compares entry names without regard to case."""
    return name_key(a) == name_key(b)


def validate_new_name(name: object) -> int:
    """0 or 123 by RasRenameEntry's rules, which are looser than RasValidateEntryName's.

    Windows checks only the length (<= 256), "not all blanks" and "no leading ``.``"; we also
    refuse control characters, which a text phonebook line cannot hold.
    """
    if not isinstance(name, str) or not name.strip(" \t") or len(name) > MAX_ENTRY_NAME:
        return ERROR_INVALID_NAME
    if name.startswith("."):
        return ERROR_INVALID_NAME
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        return ERROR_INVALID_NAME
    return ERROR_SUCCESS


def validate_entry_name(name: object, phonebook: Names | None = None) -> int:
    """0 when ``name`` may name a new entry, else 123 (ERROR_INVALID_NAME) or 183.

    Invalid: what ``validate_new_name`` refuses, any of ``| > < ? * \\ / :``, or no letter or
    digit at all ("---", an ideographic space: Windows wants one non-blank alphanumeric).
    With a ``phonebook``, a name already present gives 183 (ERROR_ALREADY_EXISTS).
    """
    code = validate_new_name(name)
    if code:
        return code
    assert isinstance(name, str)
    if any(ch in _FORBIDDEN for ch in name) or not any(ch.isalnum() for ch in name):
        return ERROR_INVALID_NAME
    if phonebook is not None and phonebook.find(name) is not None:
        return ERROR_ALREADY_EXISTS
    return ERROR_SUCCESS
