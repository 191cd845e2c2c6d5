"""Where the daemon listens and keeps its state, for root and for a per-user instance.

``OPENRAS_SOCKET`` overrides the socket everywhere (daemon and every client); that is how
tests and several instances run side by side.
"""

from __future__ import annotations

import os
from pathlib import Path

SOCKET_ENV = "OPENRAS_SOCKET"


def runtime_dir() -> Path:
    if os.geteuid() == 0:
        return Path(os.environ.get("RUNTIME_DIRECTORY", "/run/openras"))
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return Path(xdg) / "openras"
    return Path(f"/tmp/openras-{os.geteuid()}")  # noqa: S108 - private 0700 dir, checked on use


def default_socket() -> Path:
    """The socket this process talks to (or serves) unless told otherwise."""
    override = os.environ.get(SOCKET_ENV)
    if override:
        return Path(override)
    return runtime_dir() / "rasman.sock"


def is_default_user_socket(path: Path) -> bool:
    """True for the default path, which the client may start a daemon for (like gpg-agent).

    For root that is the system instance: without systemd to start it, the first client does.
    """
    return not os.environ.get(SOCKET_ENV) and path == runtime_dir() / "rasman.sock"


def default_state_dir() -> Path:
    if os.geteuid() == 0:
        return Path(os.environ.get("STATE_DIRECTORY", "/var/lib/openras"))
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "openras"


def user_phonebook() -> Path:
    """The caller's own phonebook (the %APPDATA% phonebook's analogue)."""
    from openras.phonebook.locations import user_phonebook_path

    return user_phonebook_path()
