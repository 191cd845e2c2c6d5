"""Windows' dialing rules for modem numbers: an entry's number in canonical form (country
code, area code, number) turned into the digits a modem dials from where the machine is.

On Windows an entry with ``UseDialingRules=1`` (RASEO_UseCountryAndAreaCodes) keeps its
number as ``CountryCode=``, ``AreaCode=`` and ``PhoneNumber=`` (its DEVICE block), and TAPI's
current *location* (Phone and Modem Options: the machine's country and area code, the codes
for an outside line, the code that disables call waiting, tone or pulse) decides what is
dialed: a number in the same area dials as a local call, one in another area of the same
country as a long-distance call, one in another country as an international call, each by a
rule of TAPI's letters (``E`` the country code, ``F`` the area code, ``G`` the number).

Linux has no TAPI, so the location is the administrator's file (``/etc/openras/location.conf``,
``$OPENRAS_LOCATION`` set by whoever starts the daemon): a modem belongs to the machine, and
where the machine is is not a caller's to say. Format (``#`` and ``;`` start comments)::

    [location]
    country-code = 1            ; the E.164 calling code where the modem is
    area-code = 206
    local-access = 9,           ; dialed before a local call (an outside line; ',' pauses)
    long-distance-access = 9,   ; before a long-distance or international call
    disable-call-waiting = *70,
    dialing = tone              ; or pulse (ATDP)
    same-area = G               ; the rules; defaults by country-code (below)
    long-distance = 1FG
    international = 011EFG

An entry that asks for dialing rules with no location file fails with 740
(ERROR_TAPI_CONFIGURATION) saying how to write one: dialing a wrong number is worse than not
dialing. Entries with ``UseDialingRules=0`` (Windows' default) dial ``PhoneNumber`` as written.

The translation (:func:`translate`) and the parser (:func:`parse`) are pure; :class:`Source`
reads the file, again only when it changed.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from openras.errors import (
    ERROR_BAD_PHONE_NUMBER,
    ERROR_PHONE_NUMBER_TOO_LONG,
    ERROR_TAPI_CONFIGURATION,
    RasError,
)

DEFAULT_PATH: Final = Path("/etc/openras/location.conf")
#: RAS_MaxPhoneNumber: what a modem dial may be once the rules are applied (723 beyond it).
MAX_DIALED: Final = 128
#: What a code may hold: digits, * and #, and the modem's pause/wait characters.
_CODE: Final = re.compile(r"^[0-9*#,WwPp!@$]{0,16}$")
_DIGITS: Final = re.compile(r"^[0-9]{1,10}$")
_RULE: Final = re.compile(r"^[0-9*#,WwPp!@$EFG]{1,32}$")
_KEYS: Final = frozenset(
    {
        "country-code",
        "area-code",
        "local-access",
        "long-distance-access",
        "disable-call-waiting",
        "dialing",
        "same-area",
        "long-distance",
        "international",
        "name",
    }
)

#: (long-distance, international) rules where a country's differ from the common "0FG" /
#: "00EFG" (ITU-T E.164 national and international prefixes): the North American Numbering
#: Plan (1), Russia and Kazakhstan (7), Japan (81), Australia (61).
_RULES_BY_COUNTRY: Final = {
    "1": ("1FG", "011EFG"),
    "7": ("8FG", "810EFG"),
    "61": ("0FG", "0011EFG"),
    "81": ("0FG", "010EFG"),
}
_COMMON_RULES: Final = ("0FG", "00EFG")


def default_rules(country_code: str) -> tuple[str, str]:
    """The long-distance and international rules a country dials by, when the file says none."""
    return _RULES_BY_COUNTRY.get(country_code, _COMMON_RULES)


@dataclass(frozen=True)
class Location:
    """Where the machine's modems dial from (TAPI's current location)."""

    country_code: str
    area_code: str = ""
    local_access: str = ""
    long_distance_access: str = ""
    disable_call_waiting: str = ""
    pulse: bool = False
    same_area: str = "G"
    long_distance: str = ""
    international: str = ""
    name: str = ""
    #: The file it came from, for errors.
    source: str = ""


class LocationError(RasError):
    """A malformed location file: 740, naming the file and line."""

    def __init__(self, where: str, why: str) -> None:
        super().__init__(ERROR_TAPI_CONFIGURATION, f"{where}: {why}")


def parse(text: str, source: str) -> Location:
    """The location ``text`` (the file at ``source``) describes; :class:`LocationError` names
    the line of the first problem."""
    values: dict[str, str] = {}
    section = ""
    for lineno, raw in enumerate(text.splitlines(), 1):
        where = f"{source}, line {lineno}"
        line = re.split(r"\s[#;]|^[#;]", raw, maxsplit=1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            if line.lower() != "[location]":
                raise LocationError(where, f"unknown section {line!r} (only [location])")
            section = "location"
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep:
            raise LocationError(where, f"expected 'key = value', not {line!r}")
        if section != "location":
            raise LocationError(where, "keys belong under a [location] line")
        if key not in _KEYS:
            raise LocationError(where, f"unknown key {key!r} (known: {', '.join(sorted(_KEYS))})")
        if key in values:
            raise LocationError(where, f"{key} is set twice")
        _check(key, value, where)
        values[key] = value
    if "country-code" not in values:
        raise LocationError(source, "country-code is missing (the calling code, e.g. 1 or 44)")
    country = values["country-code"]
    long_distance, international = default_rules(country)
    return Location(
        country_code=country,
        area_code=values.get("area-code", ""),
        local_access=values.get("local-access", ""),
        long_distance_access=values.get("long-distance-access", ""),
        disable_call_waiting=values.get("disable-call-waiting", ""),
        pulse=values.get("dialing", "tone").lower() == "pulse",
        same_area=values.get("same-area", "G"),
        long_distance=values.get("long-distance", long_distance),
        international=values.get("international", international),
        name=values.get("name", ""),
        source=source,
    )


def _check(key: str, value: str, where: str) -> None:
    if key == "country-code" and not re.fullmatch(r"[0-9]{1,3}", value):
        raise LocationError(where, f"country-code must be 1 to 3 digits, not {value!r}")
    if key == "area-code" and value and not _DIGITS.match(value):
        raise LocationError(where, f"area-code must be up to 10 digits, not {value!r}")
    if (key.endswith("access") or key == "disable-call-waiting") and not _CODE.match(value):
        raise LocationError(
            where, f"{key}: up to 16 of 0-9 * # and the pauses , W P ! @ $, not {value!r}"
        )
    if key == "dialing" and value.lower() not in ("tone", "pulse"):
        raise LocationError(where, f"dialing is tone or pulse, not {value!r}")
    rule = key in ("same-area", "long-distance", "international")
    if rule and (not _RULE.match(value) or "G" not in value):
        raise LocationError(
            where,
            f"{key}: a rule of digits and E (country code), F (area code), G (the number); "
            f"it must dial G; not {value!r}",
        )
    if key == "name" and (len(value) > 64 or not value.isprintable()):
        raise LocationError(where, "name: up to 64 printable characters")


def subscriber(number: str) -> str:
    """``number`` without the separators people write (spaces, parentheses, dashes, dots)."""
    return "".join(c for c in number if c not in " ()-.")


def translate(number: str, *, country_code: str, area_code: str, location: Location) -> str:
    """What the modem dials for the canonical ``+country_code (area_code) number`` from
    ``location``: the call-waiting code, the outside-line code, then the rule for a local,
    long-distance or international call. 723 when it is longer than a RAS number may be."""
    digits = subscriber(number)
    country = country_code.strip()
    if country in ("", "0"):  # Windows writes 0 where the entry names no country
        country = location.country_code
    area = area_code.strip()
    if not re.fullmatch(r"[0-9]{1,3}", country):
        raise RasError(ERROR_BAD_PHONE_NUMBER, f"CountryCode={country_code!r}: not a calling code")
    if area and not _DIGITS.match(area):
        raise RasError(ERROR_BAD_PHONE_NUMBER, f"AreaCode={area_code!r}: not an area code")
    if country != location.country_code:
        rule, access = location.international, location.long_distance_access
    elif not area or area == location.area_code:
        rule, access = location.same_area, location.local_access
    else:
        rule, access = location.long_distance, location.long_distance_access
    body = "".join({"E": country, "F": area, "G": digits}.get(c, c) for c in rule)
    dialed = location.disable_call_waiting + access + body
    if len(dialed) > MAX_DIALED:
        raise RasError(
            ERROR_PHONE_NUMBER_TOO_LONG,
            f"{dialed[:40]}...: {len(dialed)} characters with the dialing rules "
            f"(at most {MAX_DIALED})",
        )
    return dialed


def canonical(number: str, *, country_code: str, area_code: str) -> str:
    """The number as Windows shows a canonical address: ``+1 (206) 5550100``."""
    area = f" ({area_code.strip()})" if area_code.strip() else ""
    return f"+{country_code.strip()}{area} {subscriber(number)}"


def default_path() -> Path:
    """``$OPENRAS_LOCATION`` (set by whoever starts the daemon), else the system file."""
    return Path(os.environ.get("OPENRAS_LOCATION") or DEFAULT_PATH)


class Source:
    """The location file, parsed again only when its identity (inode, size, mtime) changes."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()
        self._sig: tuple[int, int, int] | None = None
        self._location: Location | None = None
        self._error: RasError | None = None

    def current(self) -> Location:
        """The location; 740 when the file is missing (saying how to write one) or malformed."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise RasError(
                ERROR_TAPI_CONFIGURATION,
                f"this entry uses dialing rules (UseDialingRules=1) and {self.path} does not "
                "exist: ask the administrator to write it ([location], country-code = ..., "
                "area-code = ...; see docs/links.md), or set UseDialingRules=0 to dial the "
                "number as written",
            ) from None
        except OSError as exc:
            raise RasError(ERROR_TAPI_CONFIGURATION, f"{self.path}: {exc.strerror}") from None
        sig = (st.st_ino, st.st_size, st.st_mtime_ns)
        if sig != self._sig:
            self._sig, self._location, self._error = sig, None, None
            try:
                text = self.path.read_text(encoding="utf-8")
                self._location = parse(text, str(self.path))
            except LocationError as exc:
                self._error = exc
            except (OSError, UnicodeDecodeError) as exc:
                self._error = RasError(ERROR_TAPI_CONFIGURATION, f"{self.path}: {exc}")
        if self._error is not None:
            raise self._error
        assert self._location is not None
        return self._location


_SOURCES: dict[Path, Source] = {}


def current_location() -> Location:
    """The daemon's location (one ``stat`` a dial; the file is parsed when it changed)."""
    path = default_path()
    source = _SOURCES.get(path)
    if source is None:
        source = _SOURCES[path] = Source(path)
    return source.current()


__all__ = [
    "DEFAULT_PATH",
    "Location",
    "LocationError",
    "Source",
    "canonical",
    "current_location",
    "default_rules",
    "parse",
    "subscriber",
    "translate",
]
