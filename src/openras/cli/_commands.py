"""The connection commands of ``openras``: dial, hangup, list, status, stats, watch, history.

Each ``cmd_*`` takes the parsed arguments and returns the exit status; failures raise
:class:`~openras.cli._common.CliError` or :class:`~openras.errors.RasError`, which ``main``
turns into one message and the mapped status.
"""

from __future__ import annotations

import contextlib
import sys
import time
from argparse import Namespace

from openras import errors
from openras.cli import _term
from openras.cli._common import (
    CliError,
    connection_json,
    disconnect_json,
    emit_json,
    emit_json_line,
    error_json,
    event_json,
    integer,
    projection_json,
    resolve_target,
    statistics_json,
)
from openras.cli._connect import open_client, open_transport
from openras.cli._session import (
    HANGUP_TIMEOUT,
    DialInterrupted,
    DialResult,
    EventStream,
    answer_question,
    drop_reference,
    end_connection,
    find_abandoned_attempt,
    follow_dial,
    hang_up_quietly,
)
from openras.cli.rasdial_output import EXIT_SUCCESS, EXIT_USAGE, exit_status
from openras.client import Client
from openras.records import ConnectionInfo, Event
from openras.states import RasConnState
from openras.wire.follow import Question


class _Detach(Exception):
    """``dial --no-wait``: leave once the attempt has a handle."""

    def __init__(self, handle: int, state: RasConnState) -> None:
        super().__init__(handle)
        self.handle = handle
        self.state = state  # the state the attempt had reached when we left


def _password(args: Namespace) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    if args.ask_password:
        import getpass

        try:
            return getpass.getpass(f"Password for {args.entry}: ")
        except EOFError:
            raise CliError("no password was entered", EXIT_USAGE) from None
    return str(args.password or "")


def can_ask(args: Namespace) -> bool:
    """Whether a person can be asked for what a dial lacks: a terminal on stdin and stderr,
    and not ``--json`` or ``--password-stdin`` (scripts get the 691 at once instead)."""
    return (
        not getattr(args, "json", False)
        and not args.password_stdin
        and _term.is_tty(sys.stdin)
        and _term.is_tty(sys.stderr)
    )


def ask_credentials(args: Namespace, user: str) -> tuple[str, str, str]:
    """(user, password, domain) from the person at the terminal, for a dial the daemon
    refused with ``needs="credentials"``: the user name unless one was given (the saved
    one is the default), then the password without echo."""
    import getpass

    domain = args.domain or ""
    print(f"{args.entry} needs a user name and password.", file=sys.stderr)
    if not user:
        saved = None
        with contextlib.suppress(errors.RasError), open_client(args.socket) as client:
            saved = client.credentials(args.entry, args.phonebook)
        default = saved.user if saved is not None else ""
        domain = domain or (saved.domain if saved is not None else "")
        typed = _term.ask_line(f"User name{f' [{default}]' if default else ''}: ")
        if typed is None:
            raise CliError("no user name was entered", EXIT_USAGE)
        user = typed.strip() or default
        if not user:
            raise CliError("no user name was entered", EXIT_USAGE)
    try:
        password = getpass.getpass(f"Password for {user}: ")
    except EOFError:
        raise CliError("no password was entered", EXIT_USAGE) from None
    if not password:
        raise CliError("no password was entered", EXIT_USAGE)
    return user, password, domain


# ------------------------------------------------------------------------------------ dial


def cmd_dial(args: Namespace) -> int:
    password = _password(args)
    user, domain = args.user or "", args.domain or ""
    asked = False  # the terminal is asked once; a second refusal is reported
    spin = _term.Spinner(sys.stderr)
    style = _term.Style(sys.stderr)
    last: list[RasConnState] = []

    def on_state(event: Event) -> None:
        if args.no_wait:
            raise _Detach(event.handle, event.state)
        if event.phase == "failed":
            return  # the failure itself is reported once, below
        last.append(event.state)
        spin.update(f"{args.entry}: {style(event.state.name, 'cyan')}")

    deadline = time.monotonic() + args.timeout if args.timeout else None
    started = time.time()

    def on_input(question: Question) -> None:
        spin.done()
        answer_question(args.socket, question)

    while True:
        transport = open_transport(args.socket)
        try:
            result = follow_dial(
                transport,
                args.entry,
                args.phonebook,
                user=user,
                password=password,
                domain=domain,
                phone_number=args.phone or "",
                callback_number=args.callback or "",
                on_state=on_state,
                on_idle=spin.tick,
                idle=0.1 if spin.live else None,
                deadline=deadline,
                on_input=on_input if can_ask(args) else None,
            )
            break
        except errors.RasError as exc:
            # Nothing was started (the daemon refused before the link): ask, dial again.
            transport.close()
            if exc.needs != errors.NEEDS_CREDENTIALS or asked or exc.handle or not can_ask(args):
                return _dial_failed(args, spin, last, exc)
            spin.done()
            user, password, domain = ask_credentials(args, user)
            asked = True
            if deadline is not None:  # the time spent typing is not the dial's
                deadline = time.monotonic() + args.timeout
            spin.start = time.monotonic()
        except _Detach as exc:
            transport.close()
            return _detached(args, exc)
        except DialInterrupted as exc:
            transport.close()
            spin.done()
            with open_client(args.socket) as client:
                handle = exc.handle or find_abandoned_attempt(client, args.entry, started)
                if handle:
                    hang_up_quietly(client, handle)
            raise CliError(
                "interrupted; the attempt was hung up",
                exit_status(errors.ERROR_USER_DISCONNECTION),
            ) from None
    transport.close()
    spin.done()
    if args.save and password:
        with open_client(args.socket) as client:
            client.save_credentials(
                args.entry, args.phonebook, user=user, password=password, domain=domain or None
            )
        if not args.json:
            print(f"{args.entry}: credentials saved", file=sys.stderr)
    return _dialed(args, spin, result)


def _detached(args: Namespace, exc: _Detach) -> int:
    """``dial --no-wait``: say where the attempt is now, and its handle."""
    state = exc.state
    with contextlib.suppress(errors.RasError), open_client(args.socket) as client:
        state = client.status(exc.handle).state  # where the attempt is now
    if args.json:
        emit_json(
            {
                "handle": exc.handle,
                "entry": args.entry,
                "joined": False,
                "state": state.name,
                "state_code": int(state),
            }
        )
    else:
        print(
            f"Dialing {args.entry} (handle {exc.handle}); follow it with: openras watch {exc.handle}"
        )
    return EXIT_SUCCESS


def _dial_failed(
    args: Namespace, spin: _term.Spinner, last: list[RasConnState], exc: errors.RasError
) -> int:
    """Release a failed attempt (ours to hang up) and report the failure."""
    spin.done()
    if exc.handle:
        with open_client(args.socket) as client:
            hang_up_quietly(client, exc.handle)
    where = f" at {last[-1].name}" if last else ""
    raise CliError(
        f"dialing {args.entry} failed{where}: {_describe(exc)}", exit_status(exc.code)
    ) from None


def _dialed(args: Namespace, spin: _term.Spinner, result: DialResult) -> int:
    """Report a dial that reached Connected (or joined a connected entry)."""
    if result.joined:
        with open_client(args.socket) as client:
            drop_reference(client, result.handle)
    if args.json:
        emit_json(
            {
                "handle": result.handle,
                "entry": args.entry,
                "joined": result.joined,
                "state": "Connected",
            }
        )
    elif result.joined:
        print(f"{args.entry} was already connected (handle {result.handle}).")
    else:
        ok = _term.Style(sys.stdout)
        print(
            f"{ok('Connected', 'green', 'bold')} to {args.entry} (handle {result.handle}) in {spin.elapsed():.2f}s."
        )
    return EXIT_SUCCESS


def _describe(exc: errors.RasError) -> str:
    text = f"error {exc.code}: {exc.text}"
    return f"{text} ({exc.detail})" if exc.detail else text


# ------------------------------------------------------------------------------------ hangup


def hang_up_and_follow(client: Client, info: ConnectionInfo, args: Namespace) -> int:
    """End ``info``'s connection, showing the teardown until its handle is invalid."""
    timeout = args.timeout or HANGUP_TIMEOUT
    name = info.entry
    if args.no_wait:
        with contextlib.suppress(errors.InvalidHandle):
            end_connection(client, info.handle, wait=False, force=args.force)
        print(f"Hanging up {name} (handle {info.handle}); not waiting for the teardown.")
        return EXIT_SUCCESS
    spin = _term.Spinner(sys.stderr)
    with EventStream(args.socket, info.handle) as events:  # subscribe first: miss nothing
        spin.update(f"Hanging up {name} (handle {info.handle})")
        try:
            end_connection(client, info.handle, wait=False, force=args.force)
        except errors.InvalidHandle:
            spin.done()
            print(f"{name} (handle {info.handle}) is already gone.")
            return EXIT_SUCCESS
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                spin.done()
                raise errors.RasError(
                    errors.ERROR_REQUEST_TIMEOUT, f"handle {info.handle} is still tearing down"
                )
            event = events.next(min(0.1, left) if spin.live else left)
            if event is None:
                spin.tick()
                continue
            if event.kind == "state":
                reason = f", reason {event.error}" if event.error else ""
                spin.update(f"{name}: {event.state.name} ({event.phase}{reason})")
            elif event.kind == "disconnected":
                break
    client.wait_gone(info.handle, timeout)  # returns at once: the handle is deleted
    spin.done()
    ok = _term.Style(sys.stdout)
    print(
        f"{ok('Hung up', 'green', 'bold')} {name} (handle {info.handle}): the handle is now invalid."
    )
    return EXIT_SUCCESS


def cmd_hangup(args: Namespace) -> int:
    with open_client(args.socket, args.timeout) as client:
        if args.all:
            conns = client.connections(include_pending=True)
            if not conns:
                print("No connections.")
                return EXIT_SUCCESS
            for info in conns:
                hang_up_and_follow(client, info, args)
            return EXIT_SUCCESS
        if args.target is not None:
            return hang_up_and_follow(client, resolve_target(client, args.target, args), args)
        if not (_term.is_tty(sys.stdin) and _term.is_tty(sys.stdout)):
            raise CliError(
                "which connection? Name a handle or an entry (see `openras list`), or use --all;"
                " the interactive picker needs a terminal",
                EXIT_USAGE,
            )
        from openras.cli._picker import pick

        chosen = pick(client)
        if chosen is None:
            return EXIT_SUCCESS
        return hang_up_and_follow(client, chosen, args)


# ------------------------------------------------------------------------------------ reading


def cmd_status(args: Namespace) -> int:
    with open_client(args.socket, args.timeout) as client:
        info = resolve_target(client, args.target, args)
        proj = stats = None
        if info.phase == "connected":
            try:
                proj = client.projection(info.handle)
            except errors.RasError:
                proj = None
            try:
                stats = client.statistics(info.handle)
            except errors.RasError:
                stats = None
    if args.json:
        doc = connection_json(info)
        doc["projection"] = projection_json(proj) if proj else None
        doc["statistics"] = statistics_json(info, stats) if stats else None
        emit_json(doc)
        return EXIT_SUCCESS
    style = _term.Style(sys.stdout)
    fields: list[tuple[str, str]] = [
        ("Handle", str(info.handle)),
        ("Entry", info.entry),
        ("State", style(info.state.name, _term.state_colour(info.phase)) + f" ({info.phase})"),
    ]
    if info.error:
        fields.append(("Error", f"{info.error}: {errors.message(info.error)}"))
    fields += [
        (
            "Device",
            f"{info.device_type} ({info.device_name})" if info.device_name else info.device_type,
        ),
        ("Phone number", info.phone_number or "-"),
        ("Phonebook", info.phonebook or "-"),
        ("References", str(info.refs)),
        ("Started", _term.when(info.created)),
        ("Connected", _term.when(info.connected_at)),
    ]
    if proj is not None:
        fields += [
            ("Interface", proj.interface or "-"),
            ("Local address", proj.local_address or "-"),
            ("Remote address", proj.remote_address or "-"),
        ]
        if proj.dns:
            fields.append(("DNS", ", ".join(proj.dns)))
    if stats is not None:
        fields += [
            ("Duration", _term.duration(stats.duration_ms / 1000)),
            ("Sent", f"{_term.size(stats.bytes_sent)} in {stats.frames_sent} frames"),
            ("Received", f"{_term.size(stats.bytes_received)} in {stats.frames_received} frames"),
        ]
    width = max(len(k) for k, _ in fields)
    for key, value in fields:
        print(f"{key + ':':<{width + 1}} {value}")
    return EXIT_SUCCESS


def cmd_stats(args: Namespace) -> int:
    with open_client(args.socket, args.timeout) as client:
        if args.target is not None:
            targets = [resolve_target(client, args.target, args)]
        else:
            targets = client.connections()
        rows = []
        for info in targets:
            try:
                rows.append((info, client.statistics(info.handle)))
            except errors.InvalidHandle:
                if args.target is not None:
                    raise
    if args.json:
        docs = [statistics_json(i, s) for i, s in rows]
        emit_json(docs[0] if args.target is not None else docs)
        return EXIT_SUCCESS
    if not rows:
        print("No connections.")
        return EXIT_SUCCESS
    style = _term.Style(sys.stdout)
    header = ["HANDLE", "ENTRY", "SENT", "RECEIVED", "RATE OUT/IN", "FRAMES OUT/IN", "ERRORS"]
    header.append("DURATION")
    cells = [
        [
            str(i.handle),
            i.entry,
            _term.size(s.bytes_sent),
            _term.size(s.bytes_received),
            f"{_rate(s.send_bps)}/{_rate(s.receive_bps)}",
            f"{s.frames_sent}/{s.frames_received}",
            str(s.errors),
            _term.duration(s.duration_ms / 1000),
        ]
        for i, s in rows
    ]
    print(_term.table(cells, header, style))
    return EXIT_SUCCESS


def _rate(bps: int) -> str:
    """Bits per second, short: 950 b/s, 12.3 kb/s, 4.1 Mb/s."""
    for unit, scale in (("Gb/s", 1e9), ("Mb/s", 1e6), ("kb/s", 1e3)):
        if bps >= scale:
            return f"{bps / scale:.1f} {unit}"
    return f"{bps} b/s"


def cmd_watch(args: Namespace) -> int:
    handle: int | None = None
    entry: str | None = None
    if args.target is not None:
        with open_client(args.socket, args.timeout) as client:
            try:
                handle = resolve_target(client, args.target, args).handle
            except CliError:
                if integer(args.target) is not None:
                    raise
                entry = args.target  # not connected now: watch the entry's next connections
    style = _term.Style(sys.stdout)
    try:
        with EventStream(args.socket, handle) as events:
            # Said once the subscription is live (scripts may wait for this line).
            sys.stderr.write("Watching connection events; Ctrl-C to stop.\n")
            sys.stderr.flush()
            for event in events:
                if entry is not None and event.entry.casefold() != entry.casefold():
                    continue
                if args.json:
                    emit_json_line(event_json(event))
                    continue
                stamp = time.strftime("%H:%M:%S")
                what = {
                    "state": event.state.name,
                    "created": "created",
                    "disconnected": "gone",
                }.get(event.kind, event.kind)
                colour = "red" if event.error else _term.state_colour(event.phase)
                reason = (
                    f"  error {event.error}: {errors.message(event.error)}" if event.error else ""
                )
                print(
                    f"{stamp}  {event.handle:>4}  {event.entry}  {style(what, colour)}{reason}",
                    flush=True,
                )
                if handle is not None and event.kind == "disconnected":
                    return EXIT_SUCCESS
    except KeyboardInterrupt:
        return EXIT_SUCCESS
    return EXIT_SUCCESS  # pragma: no cover - the stream ends only by interruption


def cmd_history(args: Namespace) -> int:
    with open_client(args.socket, args.timeout) as client:
        rows = client.history()
    if args.json:
        emit_json([disconnect_json(d) for d in rows])
        return EXIT_SUCCESS
    if not rows:
        print("No disconnections recorded.")
        return EXIT_SUCCESS
    style = _term.Style(sys.stdout)
    cells = []
    for d in rows:
        lasted = d.time - d.connected_at if d.connected_at else None
        reason = f"{d.error} {errors.message(d.error)}" if d.error else "-"
        if d.detail:
            reason += f": {d.detail}"
        if d.redialing:
            reason += " (redialing)"
        cells.append([_term.when(d.time), str(d.handle), d.entry, _term.duration(lasted), reason])
    print(_term.table(cells, ["ENDED", "HANDLE", "ENTRY", "LASTED", "REASON"], style))
    return EXIT_SUCCESS


def cmd_error(args: Namespace) -> int:
    from openras._codes import CODES

    raw = args.code.strip()
    code = integer(raw)
    if code is None:
        key = raw.upper()
        for number, (name, _text) in CODES.items():
            if name == key or name == f"ERROR_{key}":
                code = number
                break
    if code is None:
        raise CliError(
            f"{args.code!r} is neither an error number nor a known ERROR_ name", EXIT_USAGE
        )
    doc = error_json(code)
    if args.json:
        emit_json(doc)
    else:
        style = _term.Style(sys.stdout)
        print(f"{style(str(code), 'bold')} {doc['symbol']}")
        print(doc["message"])
        if code:
            print(f"Exit status of openras and rasdial for this error: {doc['exit_status']}")
    return EXIT_SUCCESS if doc["known"] else 1


def cmd_daemon(args: Namespace) -> int:
    from openras import paths
    from openras.manager.__main__ import main as rasman_main

    argv = ["--socket", str(args.socket or paths.default_socket())]
    argv += ["--state-dir", str(args.state_dir or paths.default_state_dir())]
    argv += ["--log-level", args.log_level]
    rasman_main(argv)
    return EXIT_SUCCESS
