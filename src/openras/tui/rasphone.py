"""``rasphone``: the connections UI, with Windows rasphone's switches for scripts.

    rasphone                      the UI (connections table; d dials, h hangs up)
    rasphone -f book.pbk          the UI, dialing from that phonebook
    rasphone -d ENTRY [-f FILE]   dial without the UI (plain output, exit status)
    rasphone -h ENTRY [-f FILE]   hang up without the UI
    rasphone -s                   the UI (Windows' status switch)

``-h`` means hang up, as on Windows, so help is ``--help`` or ``-?``. Windows' entry editing
switches (-a -e -c -r -v) are not provided (they exit with status 2): entries are created,
edited, renamed, deleted and imported in the UI's entry list instead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

EXIT_USAGE = 2
_UNSUPPORTED = ("-a", "-e", "-c", "-r", "-v")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rasphone",
        add_help=False,
        description="openras connections: a live table of RAS connections; dial and hang up.",
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument("-d", metavar="ENTRY", dest="dial", help="dial ENTRY without the UI")
    action.add_argument("-h", metavar="ENTRY", dest="hang_up", help="hang up ENTRY without the UI")
    action.add_argument(
        "-s", "-S", dest="status", action="store_true", help="show the connections UI (default)"
    )
    parser.add_argument(
        "-f", metavar="FILE", dest="phonebook", type=Path, help="use this phonebook"
    )
    parser.add_argument(
        "--socket",
        type=Path,
        help="the connection manager's socket (default: $OPENRAS_SOCKET, else the system one when it runs, else your per-user one)",
    )
    parser.add_argument("--help", "-?", action="help", help="show this help and exit")
    for flag in _UNSUPPORTED:
        parser.add_argument(
            flag,
            metavar="ENTRY",
            dest=f"unsupported{flag}",
            nargs="?",
            const="",
            help=argparse.SUPPRESS,
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for flag in _UNSUPPORTED:
        if getattr(args, f"unsupported{flag}") is not None:
            parser.print_usage(sys.stderr)
            sys.stderr.write(
                f"rasphone: {flag} (entry editing) is not supported as a switch; run rasphone "
                "and press d for the entry list (n new, E edit, r rename, Del delete, "
                "i import).\n"
            )
            return EXIT_USAGE
    if args.dial is not None or args.hang_up is not None:
        from openras.tui import cli

        if args.dial is not None:
            return cli.dial(args.dial, args.phonebook, args.socket)
        return cli.hang_up(args.hang_up, args.phonebook, args.socket)

    from openras.tui.app import RasphoneApp

    app = RasphoneApp(socket=args.socket, phonebook=args.phonebook)
    result = app.run()
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
