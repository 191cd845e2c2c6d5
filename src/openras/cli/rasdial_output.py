"""What ``rasdial`` prints, line for line as English Windows prints it, and its exit status.

Scripts written for Windows match rasdial's output literally ("Command completed
successfully.", "Remote Access error 691", "No connections", "Connected to"), so every line
here is the Windows text; the error texts come from :func:`openras.errors.message`. Windows
writes all of it, errors included, to standard output. The functions return lines without
terminators; :func:`render` joins them. Pure and stdlib-only, for a fast start and exact tests.

Exit status
-----------
Windows rasdial exits with the RAS error number itself (691, 800...), which a POSIX exit status
(8 bits) cannot carry. :func:`exit_status` maps codes so that every status has exactly one
meaning and the common case decodes by adding 600:

====================  ==========================================================================
status                meaning
====================  ==========================================================================
0                     success, and only success
1                     failed with a code that has no status of its own: a Win32 code (5, 6,
                      87, 123...), RAS 600-602, 726, 727, a RAS code above 855, or an unknown
                      code; the exact number is the N of the printed ``Remote Access error N``
2                     command-line (usage) error, nothing was attempted (POSIX convention)
3-125, 128-255        RAS error ``status + 600`` (603-725, 728-855)
====================  ==========================================================================

Why this shape: 603-855 holds every code a dial or hang-up can end with in practice (phonebook
621-625, link drops 628-631 and 668, authentication 691, the VPN codes 789-812, 829, 834...),
and "add 600" needs no table. 600 (pending) is not a failure, 601/602 are port-handle internals,
726/727 are IPX/TCPCFG leftovers; leaving those out frees 1 and 2 and keeps the statuses 126/127,
which shells use for "could not execute", free. What does not fit (the EAP certificate codes
856-866, 867-875, Win32 codes) still fails with a non-zero status and prints its exact number.
A shell reports death by signal N as 128+N, which overlaps statuses for RAS 729-792; a caller
that must tell them apart uses ``waitpid`` (Python's ``subprocess`` gives a negative
``returncode`` for a signal), and rasdial itself should turn SIGINT/SIGTERM into a hang-up and
an ordinary error code rather than dying of them.

Progress lines
--------------
:class:`ProgressReporter` prints "Connecting to X..." on entering OpenPort or ConnectDevice,
"Verifying username and password..." on Authenticate and "Registering your computer on the
network..." on AuthProject. A repeated notification of the state just seen is not a new entry,
and ConnectDevice right after OpenPort/PortOpened is the same attempt, so a one-device dial
shows one "Connecting" line; a further device (ConnectDevice after DeviceConnected) or a new
attempt (OpenPort again) shows another, as Windows' transcripts with "Connecting to X..." four
times for four tunnel types do.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from openras.errors import (
    ERROR_CANNOT_FIND_PHONEBOOK_ENTRY,
    ERROR_CANNOT_LOAD_PHONEBOOK,
    ERROR_CANNOT_OPEN_PHONEBOOK,
    ERROR_CANNOT_WRITE_PHONEBOOK,
    ERROR_CORRUPT_PHONEBOOK,
    ERROR_INVALID_PARAMETER,
    ERROR_RASMAN_CANNOT_INITIALIZE,
    message,
)
from openras.states import RasConnState

TYPE_CHECKING = False  # typing's constant, without importing typing (see openras._lazy)
if TYPE_CHECKING:
    from typing import Final

__all__ = [
    "COMMAND_COMPLETED",
    "EXIT_FAILURE",
    "EXIT_SUCCESS",
    "EXIT_USAGE",
    "ProgressReporter",
    "already_connected_lines",
    "dial_success_lines",
    "disconnect_success_lines",
    "error_lines",
    "exit_status",
    "list_lines",
    "progress_line",
    "ras_code_for_status",
    "render",
    "usage_lines",
]

COMMAND_COMPLETED: Final = "Command completed successfully."

EXIT_SUCCESS: Final = 0
EXIT_FAILURE: Final = 1
EXIT_USAGE: Final = 2

_RAS_OFFSET: Final = 600
_FIRST_MAPPED: Final = 603
_LAST_MAPPED: Final = 855
_UNMAPPED: Final = frozenset({726, 727})

_CONNECTING: Final = "Connecting to {entry}..."
#: Codes RasDial returns before its first notification (rasdial prints no progress for them).
_REFUSED_UP_FRONT: Final = frozenset(
    {
        ERROR_INVALID_PARAMETER,
        ERROR_CANNOT_OPEN_PHONEBOOK,
        ERROR_CANNOT_LOAD_PHONEBOOK,
        ERROR_CANNOT_FIND_PHONEBOOK_ENTRY,
        ERROR_CANNOT_WRITE_PHONEBOOK,
        ERROR_CORRUPT_PHONEBOOK,
        ERROR_RASMAN_CANNOT_INITIALIZE,
    }
)
_VERIFYING: Final = "Verifying username and password..."
_REGISTERING: Final = "Registering your computer on the network..."

_STATE_LINES: Final[dict[RasConnState, str]] = {
    RasConnState.OpenPort: _CONNECTING,
    RasConnState.ConnectDevice: _CONNECTING,
    RasConnState.Authenticate: _VERIFYING,
    RasConnState.AuthProject: _REGISTERING,
}
# ConnectDevice after these is the device step of an attempt OpenPort already announced.
_SAME_ATTEMPT: Final = frozenset({RasConnState.OpenPort, RasConnState.PortOpened})


def render(lines: Iterable[str]) -> str:
    """``lines`` as text, each ended by a newline (print with ``end=""``)."""
    return "".join(f"{line}\n" for line in lines)


def usage_lines(program: str = "rasdial") -> list[str]:
    """The usage text (for ``/?`` and for any syntax error), with ``program`` as invoked.

    Windows prints its ``argv[0]`` and, on current builds, two more lines pointing at
    Microsoft's privacy statement; those do not apply to openras and are left out.
    """
    return [
        "USAGE:",
        f"\t{program} entryname [username [password|*]] [/DOMAIN:domain]",
        "\t\t[/PHONE:phonenumber] [/CALLBACK:callbacknumber]",
        "\t\t[/PHONEBOOK:phonebookfile] [/PREFIXSUFFIX]",
        "",
        f"\t{program} [entryname] /DISCONNECT",
        "",
        f"\t{program}",
        "",
    ]


def list_lines(entries: Sequence[str]) -> list[str]:
    """``rasdial`` without arguments: the names of the active connections."""
    if not entries:
        return ["No connections", COMMAND_COMPLETED]
    return ["Connected to", *entries, COMMAND_COMPLETED]


def dial_success_lines(entry: str) -> list[str]:
    """A dial reached RASCS_Connected."""
    return [f"Successfully connected to {entry}.", COMMAND_COMPLETED]


def already_connected_lines(entry: str) -> list[str]:
    """The entry was connected before this dial (it only gained a reference).

    The wording is from memory of Windows, not from a captured transcript.
    """
    return [f"You are already connected to {entry}.", COMMAND_COMPLETED]


def disconnect_success_lines() -> list[str]:
    """``/DISCONNECT`` hung up."""
    return [COMMAND_COMPLETED]


def error_lines(code: int) -> list[str]:
    """The failure block for RAS or Win32 ``code``, help trailer included."""
    return [
        "",
        f"Remote Access error {code} - {message(code)}",
        "",
        "For more help on this error:",
        "        Type 'hh netcfg.chm'",
        f"        In help, click Troubleshooting, then Error Messages, then {code}",
    ]


def progress_line(state: RasConnState, entry: str) -> str | None:
    """The line ``state`` announces, if any, regardless of what came before."""
    template = _STATE_LINES.get(state)
    return None if template is None else template.format(entry=entry)


class ProgressReporter:
    """Turns the state notifications of one dial into progress lines (see module docstring)."""

    def __init__(self, entry: str) -> None:
        self._entry = entry
        self._previous: RasConnState | None = None

    def failed_before_progress(self, code: int) -> str | None:
        """The "Connecting to X..." line a failure before any notification still gets.

        Windows' rasdial prints it as soon as RasDial has taken the dial (its first
        notification is OpenPort), so any failure past the call's own checks follows it: 609
        for a device that does not exist here, 797, 691... Only what RasDial refuses up
        front, before any notification, is printed alone: a bad argument (87), the phonebook
        or entry not found or unreadable (621-625), no connection manager (711).
        """
        if self._previous is not None or code in _REFUSED_UP_FRONT:
            return None
        self._previous = RasConnState.OpenPort
        return _CONNECTING.format(entry=self._entry)

    def feed(self, state: RasConnState) -> str | None:
        """The line to print for this notification, or ``None``."""
        previous, self._previous = self._previous, state
        if state == previous:
            return None
        if state is RasConnState.ConnectDevice and previous in _SAME_ATTEMPT:
            return None
        return progress_line(state, self._entry)


def exit_status(code: int) -> int:
    """The process exit status for a result ``code`` (0 = success; table in module docstring)."""
    if code == 0:
        return EXIT_SUCCESS
    if _FIRST_MAPPED <= code <= _LAST_MAPPED and code not in _UNMAPPED:
        return code - _RAS_OFFSET
    return EXIT_FAILURE


def ras_code_for_status(status: int) -> int | None:
    """The RAS code an exit status stands for, or ``None`` (0, 1, 2 and 126/127 name none)."""
    code = status + _RAS_OFFSET
    if _FIRST_MAPPED <= code <= _LAST_MAPPED and code not in _UNMAPPED:
        return code
    return None
