"""``rasphone -d``/``-h`` without the UI: plain lines and an exit status, for scripts.

Uses the blocking client so that these paths import neither asyncio nor Textual and start fast.
Exit status: 0 done, 1 the action failed (the RAS code is printed), 130 interrupted.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from openras import errors
from openras.client import Client, SavedCredentials
from openras.records import Event
from openras.tui.view import error_line, find_entry, state_name

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130

Prompt = Callable[[str], tuple[str, str] | None]


def tty_prompt(entry: str) -> tuple[str, str] | None:
    """Ask for a user name and password on the terminal (None without one)."""
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return None
    sys.stderr.write(f"User name for {entry}: ")
    sys.stderr.flush()
    user = sys.stdin.readline().rstrip("\n")
    return user, getpass.getpass(f"Password for {entry}: ")


def _fail(err: TextIO, entry: str, exc: BaseException) -> int:
    if isinstance(exc, errors.RasError):
        detail = f" ({exc.detail})" if exc.detail else ""
        err.write(f"rasphone: {entry}: {error_line(exc.code)}{detail}\n")
    else:
        err.write(f"rasphone: {entry}: {exc}\n")
    return EXIT_FAILED


def dial(
    entry: str,
    phonebook: Path | None,
    socket: Path | None,
    *,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    prompt: Prompt = tty_prompt,
) -> int:
    """``rasphone -d ENTRY``: dial, print each state, hang up a failed attempt."""
    choice, _problems = find_entry(entry, phonebook)
    user = password = ""
    dial_book = phonebook if phonebook is not None else (choice.dial_phonebook if choice else None)
    handle = 0

    def on_state(event: Event) -> None:
        nonlocal handle
        handle = event.handle or handle
        out.write(f"  {state_name(event.state)}\n")
        out.flush()

    try:
        with Client(socket) as client:
            if choice is not None and choice.needs_credentials:
                saved = saved_credentials(client, choice.name, dial_book)
                if saved is None or not saved.has_password:  # else the daemon uses the saved ones
                    creds = prompt(entry)
                    if creds is not None:
                        user, password = creds
            out.write(f"Dialing {entry}...\n")
            out.flush()
            try:
                client.dial(
                    entry, dial_book, user=user, password=password, on_state=on_state,
                    on_input=ask_question if sys.stdin.isatty() else None,
                )  # fmt: skip
            except KeyboardInterrupt:
                if handle:
                    _quiet_hang_up(client, handle)
                err.write(f"rasphone: {entry}: cancelled; the attempt was hung up.\n")
                return EXIT_INTERRUPTED
            except errors.RasError as exc:
                if exc.handle:
                    _quiet_hang_up(client, exc.handle)
                return _fail(err, entry, exc)
    except (errors.RasError, OSError) as exc:
        return _fail(err, entry, exc)
    out.write(f"Connected to {entry}.\n")
    return EXIT_OK


def ask_question(prompt: str, echo: bool) -> str | None:
    """The server's question while dialing (a one-time code), asked at the terminal."""
    import getpass

    text = prompt.rstrip().rstrip(":") + ": "
    try:
        answer = input(text) if echo else getpass.getpass(text)
    except EOFError:
        return None
    return answer or None


def saved_credentials(
    client: Client, entry: str, phonebook: Path | None
) -> SavedCredentials | None:
    """What the daemon has saved for ``entry`` (never the password itself), or None when
    nothing is saved or the daemon cannot say; the caller then asks the user."""
    try:
        saved = client.credentials(entry, phonebook)
    except errors.RasError:
        return None
    return saved if saved.user or saved.has_password else None


def _quiet_hang_up(client: Client, handle: int) -> None:
    with contextlib.suppress(errors.RasError):
        client.hang_up(handle, wait=False)


def hang_up(
    entry: str,
    phonebook: Path | None,
    socket: Path | None,
    *,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """``rasphone -h ENTRY``: hang up every connection of the entry; return once each is gone."""
    book = os.path.abspath(phonebook) if phonebook is not None else None
    folded = entry.casefold()
    try:
        with Client(socket) as client:
            mine = [
                c
                for c in client.connections(include_pending=True)
                if (c.entry_name or c.entry).casefold() == folded
                and (book is None or os.path.abspath(c.phonebook) == book)
            ]
            if not mine:
                err.write(f"rasphone: {entry}: not connected.\n")
                return EXIT_FAILED
            for conn in mine:
                out.write(f"Disconnecting {entry} (handle {conn.handle})...\n")
                out.flush()
                with contextlib.suppress(errors.InvalidHandle):  # ended by itself meanwhile
                    client.hang_up(conn.handle, wait=True)
    except KeyboardInterrupt:
        err.write(f"rasphone: {entry}: interrupted; the hang-up continues in the background.\n")
        return EXIT_INTERRUPTED
    except (errors.RasError, OSError) as exc:
        return _fail(err, entry, exc)
    out.write(f"Disconnected {entry}.\n")
    return EXIT_OK
