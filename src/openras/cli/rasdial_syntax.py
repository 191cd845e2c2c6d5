"""The ``rasdial`` command line, in Windows rasdial.exe's syntax.

Pure and stdlib-only so that ``rasdial`` starts fast and the grammar can be tested (and fuzzed)
without a connection manager. :func:`parse` turns ``argv`` (without the program name) into one
of four frozen requests or raises :class:`RasdialUsageError`::

    rasdial                                         -> ListRequest()
    rasdial /?                                      -> HelpRequest()
    rasdial entry [user [password|*]] [/switch...]  -> DialRequest(...)
    rasdial [entry] /DISCONNECT                     -> DisconnectRequest(...)

The rules, and where they come from (the syntax is Windows'; how Windows treats edge cases
such as a repeated switch or an empty value is undocumented, so those rules are openras's and
are strict on purpose):

* Only ``/`` starts a switch, as on Windows. RAS entry names may not contain ``/``
  (RasValidateEntryName), so ``/`` never clashes with an entry name, whereas ``-`` is legal in
  entry names, user names and passwords: honouring ``-`` as a switch prefix would make a
  password such as ``-x9`` undialable and change the meaning of existing Windows scripts. The
  one Linux concession is that ``rasdial --help`` alone (an absurd entry name) means ``/?``.
* Switch names are matched case-insensitively, in any order, before or after the positional
  arguments. The match is ASCII-only: a name with a non-ASCII letter whose upper case is
  ASCII (a dotless i, a long s) is unknown rather than a lookalike of a real switch. ``/D`` is
  the short form of ``/DISCONNECT``; no other abbreviation is accepted.
* ``/DOMAIN:``, ``/PHONE:``, ``/CALLBACK:`` and ``/PHONEBOOK:`` need a non-empty value after the
  first ``:``; the value is everything after it, so it may itself contain ``:`` or ``/``
  (``/PHONEBOOK:/etc/ppp/x.pbk``). ``/PREFIXSUFFIX``, ``/DISCONNECT``, ``/D`` and ``/?`` take
  none. Giving a switch twice is an error, even with the same value (``/D`` and
  ``/DISCONNECT`` are the same switch).
* ``/?`` anywhere wins over everything else, including errors elsewhere on the line, so help
  is always reachable.
* Positionals are entry, user name, password, in that order; an entry name with spaces is one
  argv element (the shell's quoting). A password of ``*`` asks for a prompt. An empty entry
  name is refused here; an empty user name or password is passed on as given.
* ``/DISCONNECT`` accepts an optional entry and ``/PHONEBOOK:``, nothing else. Dial switches
  without an entry name are an error rather than a silent listing.

Error messages never echo positional arguments, because a misplaced one may be a password.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, TypeAlias

__all__ = [
    "DialRequest",
    "DisconnectRequest",
    "HelpRequest",
    "ListRequest",
    "RasdialRequest",
    "RasdialUsageError",
    "parse",
]


class RasdialUsageError(ValueError):
    """The command line does not follow rasdial's syntax; ``message`` says how."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class ListRequest:
    """``rasdial`` with no arguments: list the active connections."""


@dataclass(frozen=True, slots=True)
class HelpRequest:
    """``rasdial /?``: print the usage text."""


@dataclass(frozen=True, slots=True)
class DialRequest:
    """Dial ``entry``.

    ``user``/``password`` of ``None`` mean "not given": use what is saved for the entry.
    ``prompt_password`` is true when the password was ``*`` (``password`` is then ``None``).
    The password is left out of ``repr`` so that requests can be logged.
    """

    entry: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    prompt_password: bool = False
    domain: str | None = None
    phone: str | None = None
    callback: str | None = None
    phonebook: str | None = None
    prefixsuffix: bool = False


@dataclass(frozen=True, slots=True)
class DisconnectRequest:
    """Hang up ``entry``, or, when ``entry`` is ``None``, the caller's connection(s)."""

    entry: str | None = None
    phonebook: str | None = None


RasdialRequest: TypeAlias = ListRequest | HelpRequest | DialRequest | DisconnectRequest

# Canonical switch name -> takes a value. Aliases map onto a canonical name below.
_TAKES_VALUE: Final[dict[str, bool]] = {
    "DOMAIN": True,
    "PHONE": True,
    "CALLBACK": True,
    "PHONEBOOK": True,
    "PREFIXSUFFIX": False,
    "DISCONNECT": False,
    "?": False,
}
_ALIASES: Final[dict[str, str]] = {"D": "DISCONNECT"}
_DIAL_ONLY: Final = ("DOMAIN", "PHONE", "CALLBACK", "PREFIXSUFFIX")
_MAX_POSITIONALS: Final = 3
_PROMPT: Final = "*"  # the password that asks for a prompt


def _shown(name: str) -> str:
    """A switch as it may appear in a message: as typed if printable and short, else repr'd."""
    text = "/" + name
    if len(text) > 40:
        text = text[:37] + "..."
    return text if text.isprintable() else repr(text)


def _canonical(name: str) -> str | None:
    if not name.isascii():
        return None
    key = name.upper()
    key = _ALIASES.get(key, key)
    return key if key in _TAKES_VALUE else None


def parse(argv: Sequence[str]) -> RasdialRequest:
    """The request ``argv`` (arguments after the program name) asks for.

    Raises :class:`RasdialUsageError` for anything rasdial.exe would answer with its usage
    text; no other exception escapes for any list of strings.
    """
    args = list(argv)
    if args == ["--help"] or "/?" in args:
        return HelpRequest()

    positionals: list[str] = []
    values: dict[str, str] = {}
    flags: set[str] = set()
    for arg in args:
        if not arg.startswith("/"):
            positionals.append(arg)
            continue
        name, colon, value = arg[1:].partition(":")
        key = _canonical(name)
        if key is None:
            raise RasdialUsageError(f"unknown switch {_shown(name)}")
        if key in values or key in flags:
            raise RasdialUsageError(f"/{key} is given more than once")
        if _TAKES_VALUE[key]:
            if not value:
                raise RasdialUsageError(f"/{key} needs a value: /{key}:<value>")
            values[key] = value
        elif colon:
            raise RasdialUsageError(f"/{key} takes no value")
        else:
            flags.add(key)

    phonebook = values.get("PHONEBOOK")
    if "DISCONNECT" in flags:
        if len(positionals) > 1:
            raise RasdialUsageError("/DISCONNECT takes no user name or password")
        for key in _DIAL_ONLY:
            if key in values or key in flags:
                raise RasdialUsageError(f"/{key} cannot be used with /DISCONNECT")
        entry = positionals[0] if positionals else None
        if entry == "":
            raise RasdialUsageError("the entry name is empty")
        return DisconnectRequest(entry=entry, phonebook=phonebook)

    if not positionals:
        if values or flags:
            raise RasdialUsageError("an entry name is required")
        return ListRequest()
    if len(positionals) > _MAX_POSITIONALS:
        raise RasdialUsageError("too many arguments: expected entryname [username [password|*]]")
    entry = positionals[0]
    if entry == "":
        raise RasdialUsageError("the entry name is empty")
    user = positionals[1] if len(positionals) > 1 else None
    password = positionals[2] if len(positionals) > 2 else None
    prompt = password == _PROMPT
    return DialRequest(
        entry=entry,
        user=user,
        password=None if prompt else password,
        prompt_password=prompt,
        domain=values.get("DOMAIN"),
        phone=values.get("PHONE"),
        callback=values.get("CALLBACK"),
        phonebook=phonebook,
        prefixsuffix="PREFIXSUFFIX" in flags,
    )
