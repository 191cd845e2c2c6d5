"""Where the daemon listens and keeps its state, for root and for a per-user instance.

``OPENRAS_SOCKET`` overrides the socket everywhere (daemon and every client); that is how
tests and several instances run side by side.

A client's connection finds its socket as a string (:func:`default_socket_name`,
:func:`system_socket_name`): pathlib (with urllib.parse and ipaddress, which it imports) cost
a command's listing more than its round trip, so it loads with the first Path made here.
"""

from __future__ import annotations

import os
import stat

from openras import errors

TYPE_CHECKING = False  # typing's constant, without importing typing (see openras._lazy)
if TYPE_CHECKING:
    from pathlib import Path

SOCKET_ENV = "OPENRAS_SOCKET"
#: Where a user's client looks for the system daemon first (a client-side setting: it only
#: says where to knock; the daemon there still decides by SO_PEERCRED).
SYSTEM_SOCKET_ENV = "OPENRAS_SYSTEM_SOCKET"
SYSTEM_SOCKET = "/run/openras/rasman.sock"


def fallback_runtime_dir_name() -> str:
    """:func:`fallback_runtime_dir` as a string."""
    return f"/tmp/openras-{os.geteuid()}"  # noqa: S108 - checked by private_dir on use


def fallback_runtime_dir() -> Path:
    """Where a user without XDG_RUNTIME_DIR keeps the socket: shared /tmp, so see private_dir."""
    from pathlib import Path

    return Path(fallback_runtime_dir_name())


def _runtime_dir_name() -> str:
    """:func:`runtime_dir` as a string (``Path`` of it is equal to it)."""
    if os.geteuid() == 0:
        return os.environ.get("RUNTIME_DIRECTORY", "/run/openras")
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return os.path.join(xdg, "openras")
    return fallback_runtime_dir_name()


def runtime_dir() -> Path:
    from pathlib import Path

    return Path(_runtime_dir_name())


def private_problem(st: os.stat_result, uid: int) -> str | None:
    """Why a directory (its lstat) is not private to ``uid``, or None if it is."""
    if stat.S_ISLNK(st.st_mode):
        return "is a symbolic link"
    if not stat.S_ISDIR(st.st_mode):
        return "is not a directory"
    if st.st_uid != uid:
        return f"is owned by uid {st.st_uid}, not {uid}"
    if stat.S_IMODE(st.st_mode) & 0o077:
        return f"has mode {stat.S_IMODE(st.st_mode):04o}, not 0700"
    return None


def private_dir(path: Path) -> Path:
    """Create ``path`` as a 0700 directory of ours, or check the one that exists.

    In a world-writable parent another user could pre-create it (or a symlink) and then read
    or replace the socket that dial passwords travel over; such a directory is refused.
    """
    try:
        os.mkdir(path, 0o700)
        os.chmod(path, 0o700)  # whatever the umask; in sticky /tmp nobody can swap it meanwhile
    except FileExistsError:
        pass
    except OSError as exc:
        raise errors.ManagerUnavailable(detail=f"cannot create {path}: {exc.strerror}") from None
    problem = private_problem(os.lstat(path), os.geteuid())
    if problem is not None:
        raise errors.ManagerUnavailable(
            detail=f"refusing {path}: it {problem} (another user may have created it)"
        )
    return path


def check_runtime_dir(socket_path: str | Path) -> None:
    """If ``socket_path`` lives in the shared-/tmp fallback dir, make sure that dir is ours."""
    fallback = fallback_runtime_dir_name()
    if os.path.basename(fallback) not in os.fspath(socket_path):
        return  # a path's normal form keeps every name it has: it cannot be in that dir
    from pathlib import Path

    parent = Path(socket_path).parent
    if parent == Path(fallback):
        private_dir(parent)


def default_socket_name() -> str:
    """:func:`default_socket` as a string (``Path`` of it is equal to it)."""
    override = os.environ.get(SOCKET_ENV)
    if override:
        return override
    return os.path.join(_runtime_dir_name(), "rasman.sock")


def default_socket() -> Path:
    """The socket this process talks to (or serves) unless told otherwise."""
    from pathlib import Path

    return Path(default_socket_name())


def system_socket_name() -> str:
    """:func:`system_socket` as a string (``Path`` of it is equal to it)."""
    return os.environ.get(SYSTEM_SOCKET_ENV) or SYSTEM_SOCKET


def system_socket() -> Path:
    """The system (root) daemon's socket, as a user's client sees it."""
    from pathlib import Path

    return Path(system_socket_name())


def prefers_system() -> bool:
    """Whether a client should knock at the system daemon first: a user's client with no
    ``OPENRAS_SOCKET`` (the system daemon can make tunnels, a per-user one cannot; only when
    none answers does the client use, and maybe start, the user's own instance)."""
    return not os.environ.get(SOCKET_ENV) and os.geteuid() != 0


def is_default_user_socket(path: str | Path) -> bool:
    """True for the default path, which the client may start a daemon for (like gpg-agent).

    For root that is the system instance: without systemd to start it, the first client does.
    """
    from pathlib import Path

    return not os.environ.get(SOCKET_ENV) and Path(path) == runtime_dir() / "rasman.sock"


def default_state_dir() -> Path:
    from pathlib import Path

    if os.geteuid() == 0:
        return Path(os.environ.get("STATE_DIRECTORY", "/var/lib/openras"))
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "openras"


def user_phonebook() -> Path:
    """The caller's own phonebook (the %APPDATA% phonebook's analogue)."""
    from openras.phonebook.locations import user_phonebook_path

    return user_phonebook_path()
