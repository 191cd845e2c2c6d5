"""Where phonebooks live: the all-users book, the per-user book, or an explicit path."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

__all__ = [
    "SYSTEM_PHONEBOOK",
    "phonebooks_for",
    "system_phonebook_path",
    "user_phonebook_path",
]

SYSTEM_PHONEBOOK: Final = Path("/etc/openras/rasphone.pbk")
PHONEBOOK_NAME: Final = "rasphone.pbk"


def user_phonebook_path(
    home: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> Path:
    """``$XDG_CONFIG_HOME/openras/rasphone.pbk`` (default ``~/.config``).

    ``home``/``environ`` let the daemon compute another user's path; a relative
    XDG_CONFIG_HOME is ignored as the XDG spec requires.
    """
    env = os.environ if environ is None else environ
    xdg = env.get("XDG_CONFIG_HOME", "")
    if home is None and xdg and os.path.isabs(xdg):
        base = Path(xdg)
    else:
        base = (Path(home) if home is not None else Path.home()) / ".config"
    return base / "openras" / PHONEBOOK_NAME


def system_phonebook_path(environ: Mapping[str, str] | None = None) -> Path:
    """The all-users phonebook; ``$OPENRAS_SYSTEM_PHONEBOOK`` overrides it (tests, packagers)."""
    env = os.environ if environ is None else environ
    override = env.get("OPENRAS_SYSTEM_PHONEBOOK", "")
    return Path(override) if override else SYSTEM_PHONEBOOK


def phonebooks_for(path: str | Path | None) -> list[tuple[Path, bool]]:
    """The books a NULL/explicit phonebook argument means, as ``(path, all_users)``.

    None gives the system book then the user's, each only if it exists (RasEnumEntries reads
    both); an explicit path is returned as is, existing or not, so the caller reports 621.
    """
    if path is not None:
        return [(Path(path), False)]
    out: list[tuple[Path, bool]] = []
    seen: set[Path] = set()
    for p, all_users in ((system_phonebook_path(), True), (user_phonebook_path(), False)):
        try:
            key = p.resolve()
        except OSError:
            key = p
        if key not in seen and p.is_file():
            seen.add(key)
            out.append((p, all_users))
    return out
