"""Bad command lines never end in a traceback: ``openras`` and ``rasdial`` run in-process.

Each command line either succeeds or fails with a message and a non-zero status. The socket
points at a path where no manager listens (and OPENRAS_SOCKET is set, so nothing is
auto-started), and the phonebooks live in the test's own directory, so whatever a generated
command line asks for is answered by the real code with "unreachable" or "no such entry".
"""

from __future__ import annotations

import getpass
import io
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from cli_support import Cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openras.cli import openras as openras_cli
from openras.cli import rasdial as rasdial_cli

Main = Callable[[Sequence[str]], int]

# Tokens that reach deep into the parsers, mixed with arbitrary text below.
OPENRAS_WORDS = [
    "dial", "hangup", "list", "status", "stats", "watch", "history", "entries", "entry",
    "error", "completion", "__complete", "show", "add", "edit", "rm", "rename", "import",
    "export", "bash", "zsh", "fish", "entries", "handles", "targets", "commands",
    "--json", "--all", "-a", "--no-wait", "--timeout", "--phonebook", "--socket", "--user",
    "--domain", "--phone", "--callback", "--password", "--set", "--unset", "--device",
    "--replace", "--force", "-o", "--", "-", "--5", "-5", "5", "0", "-0", "²", "٣", "\uff11",
    "0x10", "1e3", "nan", "inf", "-inf", "691", "ERROR_", "ERROR_AUTHENTICATION_FAILURE",
    "=", "K=V", "K", "=V", "", " ", "Demo", "Branch VPN", "[x]", "a\x00b", "9" * 5000,
    "\udcff", "é",
]  # fmt: skip
RASDIAL_WORDS = [
    "/?", "/D", "/d", "/DISCONNECT", "/disconnect", "/DOMAIN:", "/DOMAIN:x", "/PHONE:",
    "/PHONE:1", "/CALLBACK:", "/CALLBACK:2", "/PHONEBOOK:", "/PHONEBOOK:/nonexistent.pbk",
    "/PREFIXSUFFIX", "/PREFIXSUFFIX:1", "/", "//", "/:", "/\u0131", "/\udcff", "--help", "-", "*",
    "", "Demo", "Branch VPN", "user", "pw", "a\x00b", "²",
]  # fmt: skip


def argv_from(words: list[str]) -> st.SearchStrategy[list[str]]:
    token = st.one_of(st.sampled_from(words), st.text(max_size=12))
    return st.lists(token, max_size=7)


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No manager to reach, private phonebooks, an empty stdin, and no terminal to type into."""
    monkeypatch.setenv("OPENRAS_SOCKET", str(tmp_path / "absent.sock"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("OPENRAS_SYSTEM_PHONEBOOK", str(tmp_path / "system.pbk"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))

    def no_terminal(prompt: str = "", stream: object = None) -> str:
        raise EOFError  # what getpass meets when there is no terminal and stdin is empty

    monkeypatch.setattr(getpass, "getpass", no_terminal)


def run(main: Main, argv: list[str]) -> int:
    """``main(argv)``'s status; argparse's SystemExit is a status too, anything else escapes."""
    # As in a real process, stderr writes undecodable argv bytes (surrogates) as escapes.
    if isinstance(sys.stderr, io.TextIOWrapper):
        sys.stderr.reconfigure(errors="backslashreplace")
    try:
        return main(argv)
    except SystemExit as exc:
        assert isinstance(exc.code, int | None), exc.code
        return int(exc.code or 0)


def is_daemon_command(argv: list[str]) -> bool:
    """``openras daemon`` would really serve; it is not a command line to fuzz."""
    return any(w.startswith("da") and "daemon".startswith(w) for w in argv)


FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(argv=argv_from(OPENRAS_WORDS))
def test_openras_never_raises(
    offline: None, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    if is_daemon_command(argv):
        return
    status = run(openras_cli.main, argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert 0 <= status <= 255


@FUZZ
@given(argv=argv_from(RASDIAL_WORDS))
def test_rasdial_never_raises(
    offline: None, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    status = run(rasdial_cli.main, argv)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert 0 <= status <= 255
    if "/?" in argv or argv == ["--help"]:
        assert status == 0
    else:  # everything else needs the manager, which is absent, or is bad syntax
        assert status != 0, captured


# Found by the audit and by the fuzzing above; each must fail cleanly with a non-zero status.
BAD_OPENRAS = [
    ["--timeout", "inf", "list"],  # a socket timeout past time_t raised OverflowError
    ["--timeout", "1e300", "list"],
    ["list", "--timeout", "1000001"],
    ["error", "--", "--5"],
    ["error", "²"],
    ["error", "٣"],
    ["error", "9" * 5000],
    ["error", "-" + "9" * 5000],
    ["error", ""],
    ["status", "²"],
    ["status", "--", "--5"],
    ["status", "9" * 5000],
    ["hangup", "\u0661"],
    ["watch", "²"],
    ["stats", "²"],
    ["dial", "Demo", "--timeout", "nan"],
    ["dial", "Demo", "--timeout", "inf"],
    ["dial", "Demo", "--timeout", "-1"],
    ["dial", "Demo", "-p"],
    ["dial", "Demo", "--password-stdin"],
    ["entry", "show", "a\x00b"],
    ["entry", "add", "a\x00b", "--device", "loopback"],
    ["entry", "add", "X", "--set", "novalue"],
    ["entry", "edit", "X", "--set", "=V"],
    ["entry", "import", "a\x00b"],
    ["entry", "export", "-o", "a\x00b"],
    ["--phonebook", "a\x00b", "entries"],
    ["--socket", "a\x00b", "list"],
    ["completion", "fish"],
    ["nonsense"],
    [],
]


@pytest.mark.parametrize("argv", BAD_OPENRAS, ids=lambda a: " ".join(a)[:40] or "(empty)")
def test_openras_bad_input_fails_cleanly(
    offline: None, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    status = run(openras_cli.main, argv)
    err = capsys.readouterr().err
    assert status != 0
    assert "Traceback" not in err
    assert err.strip(), "a failure says why"


def test_error_accepts_a_negative_number(offline: None, capsys: pytest.CaptureFixture[str]) -> None:
    """A Win32 HRESULT-style negative code is a number, not a name (one dash only)."""
    status = run(openras_cli.main, ["error", "--", "-5"])
    assert capsys.readouterr().out.startswith("-5 ")
    assert status == 1  # not a known code


BAD_RASDIAL = [
    ["/PHONEBOOK:"],
    ["Demo", "/PHONEBOOK:"],
    ["a", "b", "c", "d"],
    ["/D", "a", "b"],
    ["/DOMAIN:x"],
    ["/X"],
    ["/\udcff"],
    ["Demo", "u", "*"],
    ["a\x00b"],
    ["Demo", "/PHONEBOOK:a\x00b"],
    ["a\x00b", "/D"],
]


@pytest.mark.parametrize("argv", BAD_RASDIAL, ids=lambda a: " ".join(a)[:40])
def test_rasdial_bad_input_fails_cleanly(
    offline: None, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    status = run(rasdial_cli.main, argv)
    captured = capsys.readouterr()
    assert status != 0
    assert "Traceback" not in captured.err
    assert (captured.out + captured.err).strip()


# With a manager: the targets reach resolve_target and the daemon's replies.
ONLINE_COMMANDS = ["status", "stats", "hangup", "list", "history", "entries", "error"]
ONLINE_TARGETS = [
    "Demo", "demo", "1", "0", "-1", "²", "٣", "--5", "9" * 30, "Branch VPN", "", "Nope",
]  # fmt: skip


TIMEOUTS = ["0.5", "30", "1e-9", "inf", "1e300", "nan", "-1", "0", "1e6", "1000001"]


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    command=st.sampled_from(ONLINE_COMMANDS),
    target=st.one_of(st.sampled_from(ONLINE_TARGETS), st.text(max_size=8)),
    json=st.booleans(),
    timeout=st.none() | st.sampled_from(TIMEOUTS),
)
def test_openras_targets_against_a_manager(
    cli: Cli,
    command: str,
    target: str,
    json: bool,
    timeout: str | None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = [command, "--", target] if command not in ("list", "history", "entries") else [command]
    if json:
        argv.insert(0, "--json")
    if timeout is not None:
        argv[:0] = ["--timeout", timeout]
    status = run(openras_cli.main, argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if command in ("status", "stats", "hangup") and target not in ("Demo", "demo"):
        assert status != 0, (argv, err)  # nothing is connected but maybe Demo


@pytest.mark.parametrize("argv", [["status", "²"], ["status", "--", "--5"], ["hangup", "٣"]])
def test_unicode_digits_are_entry_names_not_handles(cli: Cli, argv: list[str]) -> None:
    """The audit's crash: ``str.isdigit`` took ``²`` for a handle and ``int()`` refused it."""
    result = cli.openras(*argv)  # asserts there is no traceback
    assert result.returncode == 68, result.stderr
    assert "no connection" in result.stderr
