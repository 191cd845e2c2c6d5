"""``openras creds``: the credentials the daemon keeps for an entry (show, set, rm).

Saved passwords live in the daemon's root-only store, never in a phonebook; they read back
as "saved", never as text. ``--all-users`` (root) works on the defaults every user's dial of
an all-users entry gets when that user saved none of their own. ``--psk-stdin`` saves an
L2TP/IPsec entry's pre-shared key (Windows' ``RASCM_PreSharedKey``), read back as "saved" too.
"""

from __future__ import annotations

import sys
from argparse import Namespace

from openras.cli._common import CliError, emit_json
from openras.cli._connect import open_client
from openras.cli.rasdial_output import EXIT_SUCCESS, EXIT_USAGE

MASK = "*" * 16


def _whose(args: Namespace) -> str:
    return " (the all-users defaults)" if args.all_users else ""


def cmd_creds_show(args: Namespace) -> int:
    with open_client(args.socket) as client:
        saved = client.credentials(args.entry, args.phonebook, all_users=args.all_users)
    if args.json:
        emit_json(
            {
                "entry": args.entry,
                "all_users": args.all_users,
                "user": saved.user,
                "domain": saved.domain,
                "has_password": saved.has_password,
                "has_psk": saved.has_psk,
            }
        )
        return EXIT_SUCCESS
    if not (saved.user or saved.domain or saved.has_password or saved.has_psk):
        print(f"{args.entry}: no credentials saved{_whose(args)}")
        return EXIT_SUCCESS
    print(f"{args.entry}{_whose(args)}")
    print(f"  user      {saved.user or '-'}")
    print(f"  domain    {saved.domain or '-'}")
    print(f"  password  {MASK if saved.has_password else '(none)'}")
    if saved.has_psk:
        print(f"  psk       {MASK}")
    return EXIT_SUCCESS


def _new_psk(args: Namespace) -> str | None:
    """The pre-shared key from stdin's first line (never from argv: other users see it)."""
    if not getattr(args, "psk_stdin", False):
        return None
    psk = sys.stdin.readline().rstrip("\r\n")
    if not psk:
        raise CliError("no pre-shared key on stdin; nothing was saved", EXIT_USAGE)
    return psk


def _new_password(args: Namespace) -> str | None:
    if getattr(args, "psk_stdin", False):
        return None  # stdin is the key's; a password goes in its own call
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if args.ask_password or (args.user is None and args.domain is None and sys.stdin.isatty()):
        import getpass

        try:
            first = getpass.getpass(f"Password for {args.entry}: ")
            if getpass.getpass("Again: ") != first:
                raise CliError("the passwords differ; nothing was saved", EXIT_USAGE)
            return first
        except EOFError:
            raise CliError("no password was entered", EXIT_USAGE) from None
    return None


def cmd_creds_set(args: Namespace) -> int:
    psk = _new_psk(args)
    password = _new_password(args)
    if args.user is None and args.domain is None and password is None and psk is None:
        raise CliError(
            "nothing to save: give --user, --domain, -p (ask for the password), "
            "--password-stdin or --psk-stdin",
            EXIT_USAGE,
        )
    with open_client(args.socket) as client:
        client.save_credentials(
            args.entry,
            args.phonebook,
            user=args.user,
            password=password,
            domain=args.domain,
            all_users=args.all_users,
            psk=psk,
        )
    if not args.json:
        print(f"{args.entry}: credentials saved{_whose(args)}")
    return EXIT_SUCCESS


def cmd_creds_rm(args: Namespace) -> int:
    with open_client(args.socket) as client:
        client.forget_credentials(args.entry, args.phonebook, all_users=args.all_users)
    if not args.json:
        print(f"{args.entry}: credentials deleted{_whose(args)}")
    return EXIT_SUCCESS
