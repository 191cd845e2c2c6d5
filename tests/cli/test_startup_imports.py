"""Start-up: a listing loads only the transport (issue 16's targets: ``rasdial`` <= 40 ms and
``openras list`` <= 45 ms, measured by bench/bench_cli.py).

What a listing imports is what its start-up costs, so these tests pin it: the modules below
each cost more than the listing's round trip, and none is needed to list connections.
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys

import pytest
from cli_support import TIMEOUT, Cli, lines

from openras.cli.openras import build_parser, terminal_columns
from openras.records import ConnectionInfo
from openras.wire import fields

#: Not needed to list connections, each one costly to import.
HEAVY = (
    "msgspec",  # the daemon's codec: its C core loads datetime, decimal, uuid
    "dataclasses",  # with inspect, ast, dis and tokenize
    "inspect",
    "typing",  # annotations' names come under TYPE_CHECKING (see openras._lazy)
    "asyncio",
    "subprocess",  # only to start the per-user daemon
    "shutil",  # argparse's formatters import it for the terminal's width
    "pathlib",  # with urllib.parse and ipaddress; the sockets are found as strings
    "openras.records",
    "openras.client",
    "openras.wire.follow",
    "openras.cli._session",
    "openras.cli._commands",
    "openras.cli.rasdial_syntax",
    "openras.phonebook",
)


def imported(
    cli: Cli, module: str, *args: str
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``python -m module args`` against the test's daemon: the result (stderr without
    the import lines) and every module it imported."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", module, *args],
        capture_output=True,
        text=True,
        env={**cli.env, "NO_COLOR": "1"},
        timeout=TIMEOUT,
        check=False,
    )
    names, rest = set(), []
    for line in result.stderr.splitlines():
        if line.startswith("import time:"):
            names.add(line.rsplit("|", 1)[1].strip())
        else:
            rest.append(line)
    result.stderr = "\n".join(rest)
    assert "Traceback" not in result.stderr, result.stderr
    assert "openras.wire.transport" in names  # it did import, and talk to the daemon
    return result, names


@pytest.mark.parametrize(
    ("module", "args"),
    [
        ("openras.cli.rasdial", ()),
        ("openras.cli.openras", ("list",)),
        ("openras.cli.openras", ("list", "--all", "--json")),
    ],
)
def test_a_listing_imports_nothing_heavy(cli: Cli, module: str, args: tuple[str, ...]) -> None:
    assert cli.rasdial("Demo").returncode == 0
    result, names = imported(cli, module, *args)
    assert result.returncode == 0, result.stderr
    assert "Demo" in result.stdout
    assert sorted(n for n in names if n in HEAVY or n.startswith("msgspec")) == []


def test_rasdial_lists_the_same_without_the_parser(cli: Cli) -> None:
    """``rasdial`` alone skips the syntax module; what it prints is still the listing."""
    assert cli.rasdial("Demo").returncode == 0
    result, _ = imported(cli, "openras.cli.rasdial")
    assert lines(result.stdout) == ["Connected to", "Demo", "Command completed successfully."]


def test_the_listing_fields_are_the_records_fields() -> None:
    """A listing's fields are exactly ConnectionInfo's (a field added to the record and not
    to fields.connection would be missing from `openras list --json`)."""
    wire = {"handle": 3, "state": 0x2000, "entry": "Demo", "connected_at": 5.0}
    made = fields.connection(wire)
    assert set(made) == {f.name for f in dataclasses.fields(ConnectionInfo)}
    assert ConnectionInfo.from_wire(wire) == ConnectionInfo(**made)


def commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser | None]:
    [action] = [a for a in parser._actions if a.dest == "command"]
    assert isinstance(action.choices, dict)
    return action.choices


def test_a_run_builds_only_the_parser_of_its_command() -> None:
    parser = build_parser(lazy=True)
    args = parser.parse_args(["--json", "list", "--all"])
    assert (args.command, args.json, args.all) == ("list", True, True)
    assert [name for name, p in commands(parser).items() if p is not None] == ["list"]
    assert list(commands(parser)) == list(commands(build_parser()))  # same names, same order


def test_completion_still_reads_every_command_from_the_parser() -> None:
    from openras.cli import _completion as comp

    table, _valued = comp.option_table(build_parser())
    assert "--all" in table["list"] and "--psk-stdin" in table["creds set"]
    assert {k.split()[0] for k in table if k} >= set(comp.COMMANDS)


@pytest.mark.parametrize("columns", ["100", "57", "0", "-3", "abc", None])
def test_the_width_is_shutils(monkeypatch: pytest.MonkeyPatch, columns: str | None) -> None:
    import shutil

    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert terminal_columns() == shutil.get_terminal_size().columns
