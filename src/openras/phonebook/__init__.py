"""Windows ``rasphone.pbk`` phonebooks: a lossless reader/writer, the entry model, locations.

Reading then writing an unchanged book is byte-identical, an edit touches only its own line,
and unknown keys always survive. ``configparser`` is not used: keys repeat and ``Device=`` and
``DEVICE=`` differ only in case.
"""

from __future__ import annotations

from openras.phonebook._lexer import LexError, Token, tokenize
from openras.phonebook.files import (
    MAX_PHONEBOOK_BYTES,
    atomic_write,
    edit,
    load,
    lock_path,
    locked,
    read_bytes,
    save,
)
from openras.phonebook.locations import (
    phonebooks_for,
    system_phonebook_path,
    user_phonebook_path,
)
from openras.phonebook.model import MAIN, Block, Entry, Phonebook, new_guid, parse
from openras.phonebook.names import MAX_ENTRY_NAME, names_equal, validate_entry_name

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
