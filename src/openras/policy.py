"""Who may dial what through the root daemon: the administrator's ``/etc/openras/policy.conf``.

The system rasman dials for every local user, so what a user may make root do is written
down, not implied. The file is re-read when it changes (one ``stat`` a dial, so an
edit takes effect at the next dial without a restart); a missing file means the built-in
defaults below; a malformed one refuses every non-root dial, naming the
line, until it is fixed (a typo must not open the door). Root is never restricted.

Format (``#`` and ``;`` start comments)::

    [default]                    # every non-root user
    entries = all-users own      # which entries: all-users (the administrator's phonebook),
                                 # own (any other phonebook the user can read), none
    devices = loopback ssh       # drivers allowed for "own" entries (all-users entries are
                                 # the administrator's choice and need no listing)
    full-tunnel = no             # may "own" entries route everything (default route)

    [group:netdev]               # members of a group (Debian's convention for "may manage
    devices = *                  # networking"); later sections override earlier ones key by
    full-tunnel = yes            # key, and [user:NAME] sections override groups

    [user:alice]
    entries = all-users
    max-connections = 4          # quotas (defaults in openras.manager.quota): live
    dial-burst = 10              # connections, dials at once, and dials per second
    dial-rate = 2                # once the burst is spent

A refusal is error 5 (``ERROR_ACCESS_DENIED``) whose detail quotes the line that decided.
Privileged ports and all-users credentials towards a server the caller chose are refused
whatever the file says: no line can allow them.

The decision is pure (:func:`decide`, fed the caller's groups); :func:`load` is the I/O.
"""

from __future__ import annotations

import os
import pwd
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from openras import errors

DEFAULT_PATH: Final = Path("/etc/openras/policy.conf")
ENTRY_KINDS: Final = frozenset({"all-users", "own"})
KEYS: Final = frozenset(
    {"entries", "devices", "full-tunnel", "max-connections", "dial-burst", "dial-rate"}
)
#: Quota keys (openras.manager.quota has the defaults): whole numbers, dial-rate a decimal.
QUOTA_KEYS: Final = frozenset({"max-connections", "dial-burst", "dial-rate"})

#: The built-in policy (what a missing file means): every user dials the administrator's
#: entries and their own loopback and ssh entries; members of ``netdev`` dial any of their
#: own entries and may route everything, as Debian lets that group manage networking.
BUILTIN: Final = """\
[default]
entries = all-users own
devices = loopback ssh
full-tunnel = no

[group:netdev]
devices = *
full-tunnel = yes
"""


@dataclass(frozen=True)
class Grant:
    """What one dial is allowed; the defaults are root's (everything)."""

    #: The link may route everything (a default route, ``redirect-gateway``, AllowedIPs 0/0).
    full_tunnel: bool = True
    #: The policy line that decided ``full_tunnel`` ("policy.conf:7: full-tunnel = no"),
    #: quoted in the refusal (error 5).
    full_tunnel_rule: str = "built-in default"
    #: The dial carries credentials the administrator saved for all users (not the caller's):
    #: the link must authenticate the server only against what the all-users entry names
    #: (its own server, its host key / CA; never a file of the caller's), or the caller could
    #: point root's secret at a server of their own.
    admin_credentials: bool = False


@dataclass(frozen=True)
class Setting:
    """One key's value and where it was set (quoted in refusals)."""

    value: str
    where: str


@dataclass(frozen=True)
class Section:
    """``[default]``, ``[group:NAME]`` or ``[user:NAME]`` and its keys."""

    kind: str  # default | group | user
    name: str
    keys: Mapping[str, Setting] = field(default_factory=dict)


@dataclass(frozen=True)
class Policy:
    """A parsed policy file (or the error that makes it refuse every non-root dial)."""

    sections: tuple[Section, ...] = ()
    source: str = "built-in policy"
    broken: str = ""

    def settings_for(self, user: str, groups: Iterable[str]) -> dict[str, Setting]:
        """The keys in force for a user in ``groups``: default, then groups, then user."""
        member = set(groups)
        out: dict[str, Setting] = {}
        for kind in ("default", "group", "user"):
            for sec in self.sections:
                if sec.kind != kind:
                    continue
                if kind == "group" and sec.name not in member:
                    continue
                if kind == "user" and sec.name != user:
                    continue
                out.update(sec.keys)
        return out


class PolicyError(ValueError):
    """A malformed policy file: ``where`` is file:line."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where


_SECTION = re.compile(r"\[\s*(default|group:[^\]\s]+|user:[^\]\s]+)\s*\]\Z")
_BOOL = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}


def parse(text: str, source: str) -> Policy:
    """Parse a policy file; PolicyError naming the line for anything not understood."""
    sections: list[Section] = []
    current: dict[str, Setting] | None = None
    kind = name = ""

    def close() -> None:
        if current is not None:
            sections.append(Section(kind, name, dict(current)))

    for n, raw in enumerate(text.splitlines(), 1):
        line = re.split(r"\s[#;]|^[#;]", raw, maxsplit=1)[0].strip()
        if not line:
            continue
        where = f"{source}:{n}"
        if line.startswith("["):
            m = _SECTION.match(line)
            if not m:
                raise PolicyError(where, f"not a section header: {line!r}")
            close()
            kind, _, name = m.group(1).partition(":")
            current = {}
            continue
        key, eq, value = line.partition("=")
        key, value = key.strip().lower(), " ".join(value.split())
        if not eq:
            raise PolicyError(where, f"expected 'key = value', got {line!r}")
        if current is None:
            raise PolicyError(where, "a key before the first [section]")
        if key not in KEYS:
            raise PolicyError(where, f"unknown key {key!r} (known: {', '.join(sorted(KEYS))})")
        _check_value(key, value, where)
        current[key] = Setting(value, f"{where}: {key} = {value}")
    close()
    return Policy(tuple(sections), source)


def _check_value(key: str, value: str, where: str) -> None:
    if key == "full-tunnel" and value.lower() not in _BOOL:
        raise PolicyError(where, f"full-tunnel must be yes or no, not {value!r}")
    if key == "entries":
        words = set(value.lower().split())
        if words != {"none"} and not words <= ENTRY_KINDS:
            raise PolicyError(where, f"entries: all-users, own or none, not {value!r}")
    if key == "devices" and not value:
        raise PolicyError(where, "devices: a list of drivers, * for all, or none")
    if key in QUOTA_KEYS:
        try:
            number = float(value) if key == "dial-rate" else int(value)
        except ValueError:
            number = -1
        if not number > 0:
            kind = "a number above 0" if key == "dial-rate" else "a whole number above 0"
            raise PolicyError(where, f"{key} must be {kind}, not {value!r}")


def load(path: Path | None = None) -> Policy:
    """The policy at ``path`` (default: ``$OPENRAS_POLICY`` set by whoever starts the daemon,
    else /etc/openras/policy.conf): built-in when missing, broken when malformed."""
    if path is None:
        path = default_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return parse(BUILTIN, "built-in policy")
    except (OSError, UnicodeDecodeError) as exc:
        return Policy((), str(path), broken=f"{path}: cannot be read: {exc}")
    try:
        return parse(text, str(path))
    except PolicyError as exc:
        return Policy((), str(path), broken=str(exc))


def default_path() -> Path:
    """``$OPENRAS_POLICY`` (set by whoever starts the daemon, never by a caller), else
    /etc/openras/policy.conf."""
    return Path(os.environ.get("OPENRAS_POLICY") or DEFAULT_PATH)


class Source:
    """The policy file, re-read whenever its identity (inode, size, mtime) changes."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()
        self._sig: tuple[int, int, int] | None = None
        self._policy = load(self.path)
        self._sig = self._signature()

    def _signature(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def current(self) -> Policy:
        sig = self._signature()
        if sig != self._sig:
            self._sig = sig
            self._policy = load(self.path)
        return self._policy


def quota_overrides(policy: Policy, caller: Caller) -> dict[str, float]:
    """The quota keys the policy sets for ``caller`` (``max-connections``, ``dial-burst``,
    ``dial-rate``); absent ones keep openras.manager.quota's defaults. A broken policy sets
    none (its dials are refused anyway)."""
    keys = policy.settings_for(caller.name, caller.groups)
    return {k: float(v.value) for k, v in keys.items() if k in QUOTA_KEYS}


@dataclass(frozen=True)
class Caller:
    """Who dials: uid, account name and group names (from the account databases)."""

    uid: int
    name: str
    groups: tuple[str, ...]

    @classmethod
    def of(cls, uid: int) -> Caller:
        """The account as the databases say now, looked up at most every few seconds."""
        import time

        now = time.monotonic()
        hit = _CALLERS.get(uid)
        if hit is not None and hit[0] > now:
            return hit[1]
        caller = cls._lookup(uid)
        if len(_CALLERS) > 4096:
            _CALLERS.clear()
        _CALLERS[uid] = (now + CALLER_TTL, caller)
        return caller

    @classmethod
    def _lookup(cls, uid: int) -> Caller:
        import grp

        try:
            pw = pwd.getpwuid(uid)
        except KeyError:
            return cls(uid, str(uid), ())
        names = []
        for gid in os.getgrouplist(pw.pw_name, pw.pw_gid):
            try:
                names.append(grp.getgrgid(gid).gr_name)
            except KeyError:
                continue
        return cls(uid, pw.pw_name, tuple(names))


#: How long an account's name and groups are reused (a group change takes this long).
CALLER_TTL: Final = 5.0
_CALLERS: dict[int, tuple[float, Caller]] = {}


def _refuse(detail: str) -> errors.RasError:
    hint = f"; an administrator decides this in {default_path()}"
    return errors.RasError(errors.ERROR_ACCESS_DENIED, detail + hint)


def decide(policy: Policy, caller: Caller, *, driver: str, all_users: bool) -> Grant:
    """The grant for ``caller`` dialing an entry of ``driver`` (all-users or own), or
    RasError 5 quoting the policy line that refuses it."""
    if caller.uid == 0:
        return Grant()
    if policy.broken:
        raise _refuse(f"the dial policy is broken, so only root may dial: {policy.broken}")
    keys = policy.settings_for(caller.name, caller.groups)
    entries = keys.get("entries", Setting("all-users", "built-in: entries = all-users"))
    kind = "all-users" if all_users else "own"
    allowed = set(entries.value.lower().split())
    if kind not in allowed:
        what = "the all-users phonebook" if all_users else "your own phonebooks"
        raise _refuse(f"dialing entries of {what} is not allowed for you ({entries.where})")
    if all_users:
        # The administrator wrote the entry: its device and routes are the administrator's.
        return Grant(full_tunnel=True, full_tunnel_rule="all-users entry")
    devices = keys.get("devices", Setting("loopback", "built-in: devices = loopback"))
    names = set(devices.value.lower().replace(",", " ").split())
    if "*" not in names and driver.lower() not in names:
        raise _refuse(f"{driver} links of your own are not allowed for you ({devices.where})")
    tunnel = keys.get("full-tunnel", Setting("no", "built-in: full-tunnel = no"))
    return Grant(full_tunnel=_BOOL[tunnel.value.lower()], full_tunnel_rule=tunnel.where)
