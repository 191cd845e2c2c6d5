"""``rasdial``: Windows' command-line dialer on openras, same syntax, same output lines.

Parsing is :mod:`rasdial_syntax`'s and every line printed is :mod:`rasdial_output`'s, so a
script written for Windows reads the same text here. This module only talks to rasman, in
the order Windows' rasdial does: dial, follow the states, release what it must not keep.

Rules a script can rely on (see docs/cli.md):

* A failed dial hangs up its own handle before exiting; so does Ctrl-C or SIGTERM, which
  ends the dial as error 631.
* ``rasdial ENTRY`` while ENTRY is connected prints ``You are already connected to ENTRY.``
  and leaves the connection as it was (rasdial gives back the reference the dial added).
* ``/DISCONNECT`` returns only once nothing of the connection is left, so the next line of a
  script may dial again. Without an entry it ends the only connection and refuses (exit 2)
  when there are several. Nothing to disconnect is error 668: the usual error block on
  stdout (what Windows prints there is not recorded), a note on stderr, exit 68.
* Exit status: 0 success, 2 usage, RAS error N as N - 600 for 603-855 except 726 and 727
  (so 126 and 127 never occur), 1 otherwise.

Imports stay within the client library so that start-up is fast; no asyncio. Each path
imports what it needs where it starts: the listing (no arguments) loads neither the syntax
module nor the dial machinery, only the transport.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterable, Sequence

from openras import errors
from openras.cli import rasdial_output as out

TYPE_CHECKING = False  # typing's constant, without importing typing (see openras._lazy)
if TYPE_CHECKING:  # imported where used: the listing needs neither the parser nor dialing
    from types import FrameType

    from openras.cli.rasdial_syntax import DialRequest, DisconnectRequest
    from openras.records import Event
    from openras.wire.follow import Question

NOTES = """\
On openras:
\tThe entry is looked up in the all-users phonebook ({system}),
\tthen in yours ({user}), unless /PHONEBOOK: names a file.
\tA password of * is asked for without echo (quote it in a POSIX shell: '*').
\t{prog} entry /DISCONNECT returns once the connection is completely gone.
\t{prog} /DISCONNECT without an entry ends the only connection; with several it
\trefuses, so name the one to end.
\t/PREFIXSUFFIX is accepted and has no effect (there are no dialing rules).

Exit status:
\t0 success; 2 usage error (nothing was done); 1 any other failure.
\t3-125 and 128-255: Remote Access error status + 600 (603-725 and 728-855;
\t91 = error 691, 23 = error 623, 68 = error 668). 126 and 127 are never used
\t(726 and 727 exit 1, as do codes outside 603-855). The error number itself
\tis always printed.

Examples:
\t{prog} Office
\t{prog} Office alice '*' /DOMAIN:CORP
\t{prog} Office /DISCONNECT
\t{prog} /PHONEBOOK:/etc/ppp/work.pbk "Branch VPN"

The connection manager is reached at $OPENRAS_SOCKET, else the system manager
when it runs, else your per-user one, started on demand. See also: openras --help.
"""


def _write(lines: Iterable[str], stream: str = "stdout") -> None:
    """Print lines as they happen (stdout may be a pipe a script is reading)."""
    f = sys.stdout if stream == "stdout" else sys.stderr
    try:
        f.write(out.render(lines))
        f.flush()
    except BrokenPipeError:
        # The reader went away; carry on (a dial must still finish or be hung up).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, f.fileno())
        os.close(devnull)


def _note(text: str) -> None:
    """A line for humans on stderr; stdout stays exactly what Windows prints."""
    _write([f"rasdial: {text}"], "stderr")


def _fail(exc: errors.RasError) -> int:
    _write(out.error_lines(exc.code))
    if exc.detail:
        _note(exc.detail)
    if isinstance(exc, errors.ManagerUnavailable):
        _note(
            "is the connection manager running? Start it with `openras daemon`, or set OPENRAS_SOCKET."
        )
    return out.exit_status(exc.code)


def _on_term(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run rasdial; returns the exit status (the console script exits with it)."""
    args = sys.argv[1:] if argv is None else list(argv)
    prog = os.path.basename(sys.argv[0]) if argv is None else "rasdial"
    if not prog or prog.endswith(".py"):  # run as python -m openras.cli.rasdial
        prog = "rasdial"
    signal.signal(signal.SIGTERM, _on_term)
    try:
        return _run(args, prog)
    except errors.RasError as exc:
        return _fail(exc)
    except KeyboardInterrupt:
        _note("interrupted")
        return out.EXIT_FAILURE
    except OSError as exc:  # a terminal or socket error nothing above expected
        _note(str(exc))
        return out.EXIT_FAILURE


def _run(args: list[str], prog: str) -> int:
    if not args:  # the listing, rasdial's commonest use: parse([]) is always ListRequest
        return _list()
    from openras.cli.rasdial_syntax import (
        DisconnectRequest,
        HelpRequest,
        ListRequest,
        RasdialUsageError,
        parse,
    )

    try:
        request = parse(args)
    except RasdialUsageError as exc:
        _note(exc.message)
        _write(out.usage_lines(prog))
        return out.EXIT_USAGE
    if isinstance(request, HelpRequest):
        return _help(prog)
    if isinstance(request, ListRequest):
        return _list()
    if isinstance(request, DisconnectRequest):
        return _disconnect(request, prog)
    return _dial(request)


def _help(prog: str) -> int:
    _write(out.usage_lines(prog))
    from openras.phonebook.locations import system_phonebook_path, user_phonebook_path

    notes = NOTES.format(prog=prog, system=system_phonebook_path(), user=user_phonebook_path())
    _write(notes.splitlines())
    return out.EXIT_SUCCESS


def _list() -> int:
    from openras.cli._connect import connection_fields

    names = [info["entry"] for info in connection_fields(None)]
    _write(out.list_lines(names))
    return out.EXIT_SUCCESS


def _ask_password(req: DialRequest, user: str | None = None) -> str:
    import getpass

    who = user or req.user or ""
    try:
        return getpass.getpass(f"Enter password for {who} to connect to '{req.entry}': ")
    except EOFError:
        raise errors.InvalidParameter(detail="no password was entered") from None


def _ask_user(req: DialRequest) -> str:
    """A user name typed at the terminal (the prompt on stderr: stdout stays Windows')."""
    sys.stderr.write(f"Enter a user name to connect to '{req.entry}': ")
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line.strip():
        raise errors.InvalidParameter(detail="no user name was entered")
    return line.strip()


def _dial(req: DialRequest) -> int:
    password = _ask_password(req) if req.prompt_password else (req.password or "")
    try:
        return _dial_once(req, req.user or "", password)
    except errors.RasError as exc:
        # The entry needs a password and none was given or saved (RasError.needs, set
        # before anything started): on a terminal, ask as for '*' and dial once more.
        asked = exc.needs == errors.NEEDS_CREDENTIALS and not password
        if not (asked and sys.stdin.isatty() and sys.stderr.isatty()):
            raise
    user = req.user or _ask_user(req)
    return _dial_once(req, user, _ask_password(req, user))


def _answer(question: Question) -> None:
    from openras.cli._session import answer_question

    answer_question(None, question)


def _dial_once(req: DialRequest, user: str, password: str) -> int:
    from openras.cli._connect import open_client, open_transport
    from openras.cli._session import (
        DialInterrupted,
        drop_reference,
        find_abandoned_attempt,
        follow_dial,
        hang_up_quietly,
    )

    reporter = out.ProgressReporter(req.entry)

    def on_state(event: Event) -> None:
        line = reporter.feed(event.state)
        if line is not None:
            _write([line])

    started = time.time()
    transport = open_transport(None)
    try:
        result = follow_dial(
            transport,
            req.entry,
            req.phonebook,
            user=user,
            password=password,
            domain=req.domain or "",
            phone_number=req.phone or "",
            callback_number=req.callback or "",
            on_state=on_state,
            # The server's question (a one-time code) is asked on a terminal; elsewhere the
            # dial fails with 703, as on Windows when the application allows no interaction.
            on_input=_answer if sys.stdin.isatty() and sys.stderr.isatty() else None,
        )
    except DialInterrupted as exc:
        transport.close()
        with open_client(None) as client:
            handle = exc.handle or find_abandoned_attempt(client, req.entry, started)
            if handle:
                hang_up_quietly(client, handle)
        return _fail(
            errors.RasError(errors.ERROR_USER_DISCONNECTION, "interrupted; the attempt was hung up")
        )
    except errors.RasError as exc:
        transport.close()
        line = reporter.failed_before_progress(exc.code)
        if line is not None and exc.needs != errors.NEEDS_CREDENTIALS:
            _write([line])  # as Windows: "Connecting to X..." precedes the error block
        if exc.handle:  # rasdial owns the failed attempt: release it before reporting
            with open_client(None) as client:
                hang_up_quietly(client, exc.handle)
        raise
    transport.close()
    if result.joined:
        with open_client(None) as client:
            drop_reference(client, result.handle)
        _write(out.already_connected_lines(req.entry))
    else:
        _write(out.dial_success_lines(req.entry))
    return out.EXIT_SUCCESS


def _disconnect(req: DisconnectRequest, prog: str) -> int:
    import contextlib

    from openras.cli._connect import open_client
    from openras.cli._session import connections_named, end_connection

    with open_client(None) as client:
        if req.entry is None:
            targets = client.connections()  # what `rasdial` lists
            if req.phonebook:
                book = os.path.abspath(req.phonebook)
                targets = [t for t in targets if t.phonebook == book]
            if not targets:
                _note("no connection to end")
                return _fail(errors.RasError(errors.ERROR_NO_CONNECTION))
            if len(targets) > 1:
                names = ", ".join(t.entry for t in targets)
                _note(
                    f"{len(targets)} connections are active ({names}); name the one to end,"
                    f' e.g. {prog} "{targets[0].entry}" /DISCONNECT'
                )
                return out.EXIT_USAGE
        else:
            targets = connections_named(client, req.entry, req.phonebook)
            if not targets:
                _note(f"you are not connected to {req.entry}")
                return _fail(errors.RasError(errors.ERROR_NO_CONNECTION))
        for info in targets:
            # InvalidHandle: it went away by itself meanwhile, which is what was asked.
            with contextlib.suppress(errors.InvalidHandle):
                end_connection(client, info.handle)
    _write(out.disconnect_success_lines())
    return out.EXIT_SUCCESS


if __name__ == "__main__":
    sys.exit(main())
