"""Windows ``rasphone.pbk`` phonebooks: a lossless reader/writer, the entry model, locations.

Reading then writing an unchanged book is byte-identical, an edit touches only its own line,
and unknown keys always survive. ``configparser`` is not used: keys repeat and ``Device=`` and
``DEVICE=`` differ only in case.

Encoding: UTF-8 (with or without BOM) and UTF-16 with a BOM are detected; anything else is the
legacy ANSI code page, cp1252 unless ``$OPENRAS_PBK_CODEPAGE`` names another (``cp1251`` for a
Cyrillic Windows, ``cp1250``, ``cp932``...). A legacy book that gains text its code page cannot
hold is written as UTF-8; if it also holds a byte that code page leaves undefined, the write is
refused (624, naming the line) rather than losing the byte or writing invalid UTF-8.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from openras.phonebook._lexer import LexError, Token, tokenize
    from openras.phonebook.files import (
        MAX_PHONEBOOK_BYTES,
        atomic_write,
        lock_path,
        locked,
        read_bytes,
    )
    from openras.phonebook.locations import (
        phonebooks_for,
        system_phonebook_path,
        user_phonebook_path,
    )
    from openras.phonebook.model import (
        MAIN,
        Block,
        Entry,
        Phonebook,
        edit,
        load,
        new_guid,
        parse,
        save,
    )
    from openras.phonebook.names import MAX_ENTRY_NAME, names_equal, validate_entry_name

#: Each name and the module it lives in: loaded on first use, so that finding the books
#: (``locations``) does not pay for the parser.
_LAZY: Final = {
    "LexError": "openras.phonebook._lexer",
    "Token": "openras.phonebook._lexer",
    "tokenize": "openras.phonebook._lexer",
    "MAX_PHONEBOOK_BYTES": "openras.phonebook.files",
    "atomic_write": "openras.phonebook.files",
    "lock_path": "openras.phonebook.files",
    "locked": "openras.phonebook.files",
    "read_bytes": "openras.phonebook.files",
    "phonebooks_for": "openras.phonebook.locations",
    "system_phonebook_path": "openras.phonebook.locations",
    "user_phonebook_path": "openras.phonebook.locations",
    "MAIN": "openras.phonebook.model",
    "Block": "openras.phonebook.model",
    "Entry": "openras.phonebook.model",
    "Phonebook": "openras.phonebook.model",
    "edit": "openras.phonebook.model",
    "load": "openras.phonebook.model",
    "save": "openras.phonebook.model",
    "new_guid": "openras.phonebook.model",
    "parse": "openras.phonebook.model",
    "MAX_ENTRY_NAME": "openras.phonebook.names",
    "names_equal": "openras.phonebook.names",
    "validate_entry_name": "openras.phonebook.names",
}

__all__ = [
    "MAIN",
    "MAX_ENTRY_NAME",
    "MAX_PHONEBOOK_BYTES",
    "Block",
    "Entry",
    "LexError",
    "Phonebook",
    "Token",
    "atomic_write",
    "edit",
    "load",
    "lock_path",
    "locked",
    "names_equal",
    "new_guid",
    "parse",
    "phonebooks_for",
    "read_bytes",
    "save",
    "system_phonebook_path",
    "tokenize",
    "user_phonebook_path",
    "validate_entry_name",
]

if not TYPE_CHECKING:
    from openras._lazy import lazy_exports

    __getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)
