"""``openras``: the modern command line for openras connections and phonebooks.

Only argparse and the client library load at start-up; each command imports what it needs
(the phonebook package, the daemon) when it runs. Every failure ends as one ``openras: ...``
line on stderr and an exit status from the same table as ``rasdial`` (see ``EXIT_STATUS``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from openras import __version__, errors
from openras.cli import _completion as comp
from openras.cli._common import CliError
from openras.cli.rasdial_output import EXIT_FAILURE, EXIT_USAGE, exit_status

TYPE_CHECKING = False  # typing's constant, without importing typing (see openras._lazy)
if TYPE_CHECKING:
    from typing import Any, Final

Handler = Callable[[argparse.Namespace], int]
#: Adds a command's arguments to its parser (the second: the options every command takes).
_Arguments = Callable[[argparse.ArgumentParser, argparse.ArgumentParser], None]

DESCRIPTION: Final = """\
Dial, watch and hang up openras connections, and manage phonebook entries.

Connections belong to the connection manager (rasman), not to this command: a connection
you dial stays up after `openras` exits, until you hang it up or the link drops. The
system manager (root's, which can make tunnels) is used when it runs; else your own
per-user one, started for you, which can run only links that need no root."""

EXAMPLES: Final = """\
examples:
  openras entries                       list the entries you can dial
  openras dial Office                   dial an entry and show its progress
  openras dial Office --user alice -p   ... asking for the password
  openras list                          connected entries (--all: also dialing ones)
  openras status Office                 one connection: state, addresses, traffic
  openras hangup Office                 hang up and wait until it is completely gone
  openras hangup                        pick a connection to hang up (on a terminal)
  openras watch                         live events until Ctrl-C
  openras list --json                   the same, for scripts
  openras entry add Test --device loopback
  openras error 691                     what an error number means
  openras manager                       which connection manager answers: system or yours
  source <(openras completion bash)     tab completion for bash (zsh: completion zsh)
"""

EXIT_STATUS: Final = """\
exit status (the same for rasdial):
  0        success
  1        a failure without a status of its own (the message gives the error number)
  2        usage error: unknown option, missing argument, unclear target; nothing done
  3-125, 128-255
           Remote Access error status + 600 (603-725, 728-855; 126 and 127 are
           never used, 726/727 and codes outside 603-855 exit 1), for example:
             23  623 no such phonebook entry       91  691 user name or password wrong
             68  668 no such connection            38  638 timed out
             31  631 cancelled by the user        111  711 connection manager unreachable
           `openras error N` explains error N and shows its status.
"""


def terminal_columns() -> int:
    """``shutil.get_terminal_size().columns``, found the same way without importing shutil
    (bz2, lzma, fnmatch: a tenth of ``openras list``'s start-up, for one number)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class _Width(argparse.HelpFormatter):
    """argparse's formatter with the width it would have: every parser makes one per
    argument added, and argparse's own default imports shutil to find the width."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        if width is None:
            width = terminal_columns() - 2  # as argparse: the columns less 2
        super().__init__(prog, indent_increment, max_help_position, width)


class _Formatter(argparse.RawDescriptionHelpFormatter, _Width):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)


def _lazy(module: str, name: str) -> Handler:
    """A handler imported only when its command runs (keeps start-up light)."""

    def run(args: argparse.Namespace) -> int:
        import importlib

        handler: Handler = getattr(importlib.import_module(module), name)
        return handler(args)

    return run


def _common_options(defaults: bool) -> argparse.ArgumentParser:
    """Options accepted before and after the command name.

    The sub-command copies default to SUPPRESS so they never overwrite a value given before
    the command (``openras --json list`` and ``openras list --json`` both work).
    """
    p = argparse.ArgumentParser(add_help=False, formatter_class=_Width)

    def d(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    p.add_argument(
        "--phonebook",
        metavar="PBK",
        default=d(None),
        help="use this .pbk file (default: the all-users book, then yours)",
    )
    p.add_argument(
        "--socket",
        metavar="PATH",
        default=d(None),
        help="talk to the manager at PATH for this call (default: $OPENRAS_SOCKET,"
        " else the system manager when it runs, else your per-user one)",
    )
    p.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=_seconds,
        default=d(None),
        help="give up waiting after this long (dial, hang-up, replies)",
    )
    p.add_argument(
        "--no-wait",
        action="store_true",
        default=d(False),
        help="start the dial or hang-up and return without waiting for it",
    )
    p.add_argument(
        "--json",
        action="store_true",
        default=d(False),
        help="print JSON (stable field names) instead of text",
    )
    return p


#: The longest --timeout: sockets refuse timeouts past time_t (inf, 1e300); a million
#: seconds (11.5 days) is longer than any dial or reply is worth waiting for.
MAX_TIMEOUT: Final = 1e6


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    if not value <= MAX_TIMEOUT:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_TIMEOUT:g} seconds")
    return value


def _add_command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
    name: str,
    help: str,
    handler: Handler,
    epilog: str = "",
    **kw: object,
) -> argparse.ArgumentParser:
    """A command (or an ``entry`` action): its one-line help, made a sentence, describes it."""
    p = sub.add_parser(
        name,
        help=help,
        description=help[0].upper() + help[1:] + ".",
        epilog=epilog,
        formatter_class=_Formatter,
        parents=[common],
        **kw,  # type: ignore[arg-type]
    )
    p.set_defaults(handler=handler)
    return p


class _LazyCommands(argparse._SubParsersAction):  # type: ignore[type-arg]
    """Commands whose parsers are built when argv names them.

    A command is registered with its name and help line only (:meth:`add_lazy`): the choices
    keep their order, ``--help`` lists every command and an unknown name gets the same error,
    but a run builds just the parser of the command it runs. Building all of them cost more
    than the rest of ``openras list`` (argparse looks for a message catalogue with a stat per
    message it translates).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._builders: dict[str, Callable[[], object]] = {}

    def add_lazy(self, name: str, help: str | None, build: Callable[[], object]) -> None:
        """Register ``name``; ``build()`` adds its parser (with :meth:`add_parser`) on use."""
        self._name_parser_map[name] = None  # a placeholder: keeps membership and order
        if help is not None:
            self._choices_actions.append(self._ChoicesPseudoAction(name, (), help))
        self._builders[name] = build

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        if name not in self._builders:
            made: argparse.ArgumentParser = super().add_parser(name, **kwargs)
            return made
        # As the base class does, but in the placeholder's place, and the help line is there.
        if kwargs.get("prog") is None:
            kwargs["prog"] = f"{self._prog_prefix} {name}"
        kwargs.pop("help", None)
        parser: argparse.ArgumentParser = self._parser_class(**kwargs)
        self._name_parser_map[name] = parser
        return parser

    def build(self, name: str) -> None:
        build = self._builders.get(name)
        if build is not None and self._name_parser_map.get(name) is None:
            build()
            del self._builders[name]

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        self.build(values[0])
        super().__call__(parser, namespace, values, option_string)


def build_parser(lazy: bool = False) -> argparse.ArgumentParser:
    """The ``openras`` parser; ``lazy``: each command's parser is built only when a parse
    reaches it (what a run needs), else all of them (completion reads them all)."""
    common = _common_options(False)
    parser = argparse.ArgumentParser(
        prog="openras",
        description=DESCRIPTION,
        epilog=EXAMPLES + "\n" + EXIT_STATUS,
        formatter_class=_Formatter,
        parents=[_common_options(True)],
    )
    parser.add_argument("--version", action="version", version=f"openras {__version__}")
    sub: _LazyCommands = parser.add_subparsers(  # type: ignore[assignment]
        dest="command", metavar="COMMAND", title="commands", action=_LazyCommands
    )
    for name, help, handler, epilog, arguments in _COMMANDS:

        def build(
            name: str = name,
            help: str | None = help,
            handler: Handler = handler,
            epilog: str = epilog,
            arguments: _Arguments | None = arguments,
        ) -> None:
            if help is None:  # hidden: no help line, no description
                p = sub.add_parser(name, parents=[common], formatter_class=_Width)
                p.set_defaults(handler=handler)
            else:
                p = _add_command(sub, common, name, help, handler, epilog)
            if arguments is not None:
                arguments(p, common)

        if lazy:
            sub.add_lazy(name, help, build)
        else:
            build()
    return parser


def _handler(module: str, name: str) -> Handler:
    return _lazy(f"openras.cli.{module}", name)


def _dial_arguments(p: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    p.add_argument("entry", metavar="ENTRY", help="entry name (see `openras entries`)")
    p.add_argument("-u", "--user", help="user name (default: the one saved for the entry)")
    pw = p.add_mutually_exclusive_group()
    pw.add_argument(
        "-p", "--ask-password", action="store_true", help="ask for the password without echo"
    )
    pw.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin",
    )
    pw.add_argument("--password", help="the password (visible to other users in `ps`: prefer -p)")
    p.add_argument("--domain", help="domain for authentication")
    p.add_argument(
        "--save",
        action="store_true",
        help="once connected, save the user name and password the dial used (asked or given)",
    )
    p.add_argument(
        "--phone", metavar="NUMBER", help="dial this number (or host) instead of the entry's"
    )
    p.add_argument("--callback", metavar="NUMBER", help="callback number")


def _hangup_arguments(p: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    p.add_argument("target", metavar="HANDLE|ENTRY", nargs="?", help="the connection to end")
    p.add_argument("--all", action="store_true", help="hang up every connection you may end")
    p.add_argument(
        "--force",
        action="store_true",
        help="kill the link program at once instead of stopping it gracefully",
    )


def _list_arguments(p: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-a", "--all", action="store_true", help="also list dialing, failed and closing connections"
    )


def _status_arguments(p: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    p.add_argument("target", metavar="HANDLE|ENTRY")


def _stats_arguments(p: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    p.add_argument("target", metavar="HANDLE|ENTRY", nargs="?")


def _watch_arguments(p: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    p.add_argument(
        "target", metavar="HANDLE|ENTRY", nargs="?", help="only this connection or entry"
    )


def _entry_arguments(p: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    esub = p.add_subparsers(dest="entry_command", metavar="ACTION", title="actions")

    def action(name: str, help: str, handler: Handler, epilog: str = "") -> argparse.ArgumentParser:
        return _add_command(esub, common, name, help, handler, epilog)

    a = action("show", "print an entry's lines", _handler("_entries", "cmd_entry_show"))
    a.add_argument("name", metavar="NAME")
    a = action(
        "add",
        "add an entry",
        _handler("_entries", "cmd_entry_add"),
        "examples:\n  openras entry add Test --device loopback\n"
        "  openras entry add Work --device openvpn --set OpenRasOpenVpnProfile=work.ovpn\n\n"
        "--device sets OpenRasDevice= (loopback, openvpn, wireguard, ssh); any other\n"
        "key is given with --set KEY=VALUE, in the order wanted.",
    )
    a.add_argument("name", metavar="NAME")
    a.add_argument("--device", metavar="TYPE", help="link type: loopback, openvpn, wireguard, ssh")
    a.add_argument("--phone", metavar="NUMBER", help="phone number or host name")
    a.add_argument("--set", metavar="KEY=VALUE", action="append", help="add a key (repeatable)")
    a = action(
        "edit",
        "change or remove keys of an entry",
        _handler("_entries", "cmd_entry_edit"),
        "example:\n  openras entry edit Test --set OpenRasLoopbackStepMs=100 --unset OpenRasLoopbackPassword",
    )
    a.add_argument("name", metavar="NAME")
    a.add_argument("--set", metavar="KEY=VALUE", action="append", help="set a key (repeatable)")
    a.add_argument("--unset", metavar="KEY", action="append", help="remove a key (repeatable)")
    a.add_argument("--phone", metavar="NUMBER", help="set the phone number")
    a.add_argument("--device", metavar="TYPE", help="set the link type (OpenRasDevice=)")
    a = action("rm", "remove an entry", _handler("_entries", "cmd_entry_rm"))
    a.add_argument("name", metavar="NAME")
    a = action("rename", "rename an entry", _handler("_entries", "cmd_entry_rename"))
    a.add_argument("old", metavar="OLD")
    a.add_argument("new", metavar="NEW")
    a = action(
        "import",
        "copy entries from a .pbk file, or make one from an .ovpn or wg-quick .conf",
        _handler("_entries", "cmd_entry_import"),
        "examples:\n  openras entry import ~/Downloads/office.pbk Office\n"
        "  openras entry import ~/Downloads/provider-nl.ovpn          # entry provider-nl\n"
        "  openras entry import /etc/wireguard/lab.conf Lab\n\n"
        "From a .pbk, keys and blocks are copied in order (comments inside entries are\n"
        "not). An .ovpn or .conf is checked first, every problem listed at once, and\n"
        "copied (0600) beside your phonebook: files it names are copied into it, and\n"
        "lines that mean nothing here (setenv, up/down scripts...) are commented out\n"
        "with a note. The entry is named after the file unless NAME is given.",
    )
    a.add_argument("file", metavar="FILE")
    a.add_argument("names", metavar="NAME", nargs="*", help="entries to copy (default: all)")
    a.add_argument("--replace", action="store_true", help="replace entries of the same name")
    a = action(
        "export",
        "write entries as a .pbk file",
        _handler("_entries", "cmd_entry_export"),
        "example:\n  openras entry export Office -o office.pbk",
    )
    a.add_argument("names", metavar="NAME", nargs="*", help="entries to write (default: all)")
    a.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default: stdout)")
    a.add_argument("--force", action="store_true", help="overwrite FILE if it exists")


def _creds_arguments(p: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    csub = p.add_subparsers(dest="creds_command", metavar="ACTION", title="actions")
    for name, help, handler in (
        ("show", "show what is saved (never the password)", "cmd_creds_show"),
        ("set", "save a user name, domain or password", "cmd_creds_set"),
        ("rm", "delete what is saved", "cmd_creds_rm"),
    ):
        a = _add_command(csub, common, name, help, _handler("_creds", handler))
        a.add_argument("entry", metavar="ENTRY")
        a.add_argument(
            "--all-users", action="store_true", help="the all-users defaults (root only)"
        )
        if name == "set":
            a.add_argument("-u", "--user", help="user name to save")
            a.add_argument("--domain", help="domain to save")
            pw = a.add_mutually_exclusive_group()
            pw.add_argument(
                "-p", "--ask-password", action="store_true", help="ask for the password"
            )
            pw.add_argument(
                "--password-stdin", action="store_true", help="read the password from stdin"
            )
            pw.add_argument(
                "--psk-stdin",
                action="store_true",
                help="read an L2TP/IPsec entry's pre-shared key from stdin",
            )


def _daemon_arguments(p: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    p.add_argument("--state-dir", metavar="DIR", help="where the connection table is kept")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])


def _error_arguments(p: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    p.add_argument("code", metavar="CODE", help="a number, or an ERROR_ name")


def _completion_arguments(p: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    p.add_argument("shell", choices=["bash", "zsh"])


def _complete_arguments(p: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    p.add_argument("kind", choices=comp.KINDS)


def _cmd_completion(args: argparse.Namespace) -> int:
    """Print the completion script, its options read from this very parser."""
    sys.stdout.write(comp.script(args.shell, build_parser()))
    return 0


def _entry_help(args: argparse.Namespace) -> int:
    raise CliError(
        "which action? show, add, edit, rm, rename, import or export (see `openras entry --help`)",
        EXIT_USAGE,
    )


def _creds_help(args: argparse.Namespace) -> int:
    raise CliError(
        "which action? show, set or rm (see `openras creds --help`)",
        EXIT_USAGE,
    )


#: Each command: name, help line (None: hidden), handler, epilog, its arguments.
_COMMANDS: Final[list[tuple[str, str | None, Handler, str, _Arguments | None]]] = [
    (
        "dial",
        "dial a phonebook entry and show its progress",
        _handler("_commands", "cmd_dial"),
        "examples:\n  openras dial Office\n  openras dial Office --user alice --ask-password\n"
        "  printf '%s\\n' \"$PW\" | openras dial Office --user alice --password-stdin\n"
        "  openras dial Office --no-wait     # print the handle and return\n\n"
        "An entry that needs a user name and password the dial lacks (none given, none\n"
        "saved) asks for them on a terminal and dials again (--save keeps them); without a\n"
        "terminal, with --json or --password-stdin it fails at once with 691.\n"
        "If the entry is already connected, nothing changes and the command succeeds.\n"
        "A failed or interrupted dial is hung up before the command exits.",
        _dial_arguments,
    ),
    (
        "hangup",
        "hang up a connection and wait until it is completely gone",
        _handler("_commands", "cmd_hangup"),
        "examples:\n  openras hangup Office\n  openras hangup 7          # by handle\n"
        "  openras hangup            # on a terminal: pick from a list\n"
        "  openras hangup --all\n\n"
        "TARGET is a handle number or an entry name. The command returns when the\n"
        "handle is invalid, i.e. nothing of the link is left and the entry can be\n"
        "dialed again (--no-wait returns at once). Without TARGET and without a\n"
        "terminal it refuses (exit 2).",
        _hangup_arguments,
    ),
    (
        "list",
        "list connections",
        _handler("_listing", "cmd_list"),
        "Without --all only connected entries are listed (as `rasdial` does).\n"
        "JSON fields: handle entry entry_name phonebook phone_number device_type\n"
        "device_name state state_code phase error detail owner refs all_users guid\n"
        "created connected_at duration_s",
        _list_arguments,
    ),
    (
        "status",
        "show one connection: state, addresses, traffic",
        _handler("_commands", "cmd_status"),
        "",
        _status_arguments,
    ),
    (
        "stats",
        "show traffic statistics",
        _handler("_commands", "cmd_stats"),
        "Without a target: every connected entry (JSON: a list); with one: that\n"
        "connection (JSON: an object).",
        _stats_arguments,
    ),
    (
        "watch",
        "print connection events as they happen, until Ctrl-C",
        _handler("_commands", "cmd_watch"),
        "With a handle, stops when that connection is gone. --json prints one\n"
        "object per line: time event handle entry state state_code old_state phase\n"
        "error redial",
        _watch_arguments,
    ),
    (
        "history",
        "show recent disconnections and their reasons",
        _handler("_commands", "cmd_history"),
        "",
        None,
    ),
    (
        "entries",
        "list the phonebook entries you can dial",
        _handler("_entries", "cmd_entries"),
        "",
        None,
    ),
    (
        "entry",
        "show, add, change, remove, rename, import or export entries",
        _entry_help,
        "Changes go to --phonebook, else to your own phonebook\n"
        "($XDG_CONFIG_HOME/openras/rasphone.pbk, by default under ~/.config);\n"
        "they are written atomically under a lock.",
        _entry_arguments,
    ),
    (
        "creds",
        "show, save or delete the credentials kept for an entry",
        _creds_help,
        "examples:\n  openras creds set Office --user alice      # asks for the password\n"
        "  printf '%s\\n' \"$PW\" | openras creds set Office --password-stdin\n"
        "  openras creds show Office\n  openras creds rm Office\n"
        "  sudo openras creds set Office --all-users --user corp -p\n\n"
        "Passwords are kept by the connection manager in root-only files, never in a\n"
        "phonebook, and are never shown. A dial without a user name and password uses\n"
        "them. --all-users (root): the defaults every user's dial of the all-users\n"
        "entry gets, sent only to the server that entry names.",
        _creds_arguments,
    ),
    (
        "daemon",
        "run the connection manager (rasman) in the foreground",
        _handler("_commands", "cmd_daemon"),
        "example:\n  openras --socket /tmp/ras.sock daemon --state-dir /tmp/ras-state\n\n"
        "Stops on Ctrl-C or SIGTERM; connections stay up and are adopted when it\n"
        "starts again.",
        _daemon_arguments,
    ),
    (
        "manager",
        "show which connection manager answers (the system one or yours) and its pid",
        _handler("_manager", "cmd_manager"),
        "example:\n  openras manager\n\n"
        "Nothing is started: with no manager running it says how to start one (exit 111).",
        None,
    ),
    (
        "error",
        "explain a RAS or Windows error number",
        _handler("_commands", "cmd_error"),
        "examples:\n  openras error 691\n  openras error ERROR_AUTHENTICATION_FAILURE",
        _error_arguments,
    ),
    (
        "completion",
        "print a shell completion script",
        _cmd_completion,
        "examples:\n  source <(openras completion bash)      # in ~/.bashrc\n"
        "  source <(openras completion zsh)       # in ~/.zshrc, after compinit",
        _completion_arguments,
    ),
    ("__complete", None, comp.cmd_complete, "", _complete_arguments),
]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``openras``; returns the exit status (the console script exits with it)."""
    parser = build_parser(lazy=True)
    if any("\0" in arg for arg in (sys.argv[1:] if argv is None else argv)):
        # Only reachable in-process (exec cannot pass NUL); paths with NUL make os raise.
        print("openras: an argument contains a NUL character", file=sys.stderr)
        return EXIT_USAGE
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return handler(args)
    except CliError as exc:
        print(f"openras: {exc.text}", file=sys.stderr)
        return exc.status
    except errors.RasError as exc:
        print(f"openras: error {exc.code}: {exc.text}", file=sys.stderr)
        if exc.detail:
            print(f"openras: {exc.detail}", file=sys.stderr)
        if isinstance(exc, errors.ManagerUnavailable):
            print(
                "openras: is the connection manager running? Start one with `openras daemon`"
                " (with the same --socket), or unset OPENRAS_SOCKET to use the per-user one.",
                file=sys.stderr,
            )
        return exit_status(exc.code)
    except KeyboardInterrupt:
        print("openras: interrupted", file=sys.stderr)
        return exit_status(errors.ERROR_USER_DISCONNECTION)
    except TimeoutError:
        code = errors.ERROR_REQUEST_TIMEOUT
        print(f"openras: error {code}: {errors.message(code)} (no reply in time)", file=sys.stderr)
        return exit_status(code)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE
    except OSError as exc:
        print(f"openras: {exc}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
