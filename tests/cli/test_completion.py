"""Shell completion, run for real: bash's completion functions on COMP_WORDS/COMP_CWORD.

Each case loads ``openras completion bash`` into a bash subprocess, sets the words the way
readline splits a command line (``/PHONEBOOK:x`` is three words: ``:`` is in
COMP_WORDBREAKS), calls the function and then lets bash itself parse each reply the way it
would parse it once inserted on the command line, so a name with a space must come back
as one word.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pexpect
import pytest
from cli_support import OPENRAS, TIMEOUT, Cli

EXTRA = "\n[Branch VPN]\nOpenRasDevice=loopback\n\n[Branch Office]\nOpenRasDevice=loopback\n"


@pytest.fixture
def books(phonebook: Path, tmp_path: Path) -> Path:
    """Adds entries with spaces to the user's book; returns a second book for /PHONEBOOK:."""
    phonebook.write_text(phonebook.read_text() + EXTRA)
    other = tmp_path / "other book.pbk"
    other.write_text("[Only Here]\nOpenRasDevice=loopback\n\n[Other]\nOpenRasDevice=loopback\n")
    return other


def env_for(cli: Cli) -> dict[str, str]:
    return {**cli.env, "PATH": os.path.dirname(OPENRAS[0]) + os.pathsep + os.environ["PATH"]}


def complete(cli: Cli, function: str, words: list[str], shell: str = "bash") -> list[str]:
    """The words the shell would insert: COMPREPLY, each parsed by bash as on a command line."""
    script = cli.openras("completion", "bash").stdout
    array = " ".join(shlex.quote(w) for w in words)
    script += (
        f"COMP_WORDS=({array}); COMP_CWORD={len(words) - 1}; {function}\n"
        # Each reply as the shell reads it once inserted: a reply of two words fails here.
        'q=""; [[ ${COMP_WORDS[COMP_CWORD]} == [\\"\\\']* ]] && q=${COMP_WORDS[COMP_CWORD]:0:1}\n'
        'for r in "${COMPREPLY[@]}"; do eval "set -- $q$r$q"; '
        'if (( $# != 1 )); then echo "SPLIT:$r"; else printf "%s\\n" "$1"; fi; done\n'
    )
    result = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", script],
        capture_output=True,
        text=True,
        env=env_for(cli),
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "SPLIT:" not in result.stdout, result.stdout
    return result.stdout.splitlines()


def test_entry_names_with_spaces_come_back_as_one_word(cli: Cli, books: Path) -> None:
    assert complete(cli, "_openras", ["openras", "dial", "Br"]) == ["Branch VPN", "Branch Office"]
    assert complete(cli, "_openras", ["openras", "dial", "Branch\\ V"]) == ["Branch VPN"]
    assert complete(cli, "_openras", ["openras", "entry", "show", "Branch\\ O"]) == [
        "Branch Office"
    ]


def test_an_open_quote_is_completed_inside_the_quote(cli: Cli, books: Path) -> None:
    script_words = ["openras", "dial", '"Branch V']
    assert complete(cli, "_openras", script_words) == ["Branch VPN"]


def test_targets_include_handles_and_connected_names(cli: Cli, books: Path) -> None:
    assert cli.openras("dial", "Branch VPN").returncode == 0
    [handle] = [ln.split()[0] for ln in cli.openras("list").stdout.splitlines()[1:]]
    assert complete(cli, "_openras", ["openras", "hangup", ""]) == [handle, "Branch VPN"]
    assert complete(cli, "_openras", ["openras", "status", "B"]) == ["Branch VPN"]


def test_each_command_offers_its_own_options(cli: Cli, books: Path) -> None:
    dial = complete(cli, "_openras", ["openras", "dial", "--"])
    assert {"--user", "--ask-password", "--password-stdin", "--domain", "--json"} <= set(dial)
    assert "--all" not in dial
    assert "--all" in complete(cli, "_openras", ["openras", "hangup", "--a"])
    assert complete(cli, "_openras", ["openras", "entry", "export", "--o"]) == ["--output"]
    assert "--version" in complete(cli, "_openras", ["openras", "--"])
    assert complete(cli, "_openras", ["openras", "dial", "Demo", "--user", ""]) == []


def test_phonebook_option_is_honoured(cli: Cli, books: Path) -> None:
    words = ["openras", "--phonebook", shlex.quote(str(books)), "dial", ""]
    assert complete(cli, "_openras", words) == ["Only Here", "Other"]


def test_rasdial_entry_names_switches_and_phonebook(cli: Cli, books: Path) -> None:
    assert complete(cli, "_rasdial", ["rasdial", "Branch"]) == ["Branch VPN", "Branch Office"]
    assert complete(cli, "_rasdial", ["rasdial", "Demo", ""]) == []  # the user name is free
    assert complete(cli, "_rasdial", ["rasdial", "/ph"]) == ["/PHONE:", "/PHONEBOOK:"]
    # As readline splits it: /PHONEBOOK : <path>, the entry after it.
    book = shlex.quote(str(books))
    words = ["rasdial", "/PHONEBOOK", ":", book, "O"]
    assert complete(cli, "_rasdial", words) == ["Only Here", "Other"]
    # ... and the entry first, the switch after it.
    assert complete(cli, "_rasdial", ["rasdial", "Only\\ ", "/PHONEBOOK", ":", book]) == [
        str(books)
    ]


def test_rasdial_completes_the_phonebook_file(cli: Cli, books: Path) -> None:
    prefix = str(books.parent / "other")
    assert complete(cli, "_rasdial", ["rasdial", "/PHONEBOOK", ":", prefix]) == [str(books)]
    # Right after the colon the word being replaced is ":" itself.
    os.chdir(books.parent)
    try:
        replies = complete(cli, "_rasdial", ["rasdial", "/PHONEBOOK", ":"])
    finally:
        os.chdir("/")
    assert ":other book.pbk" in replies


def tab_then_run(child: pexpect.spawn, prompt: str, typed: str, completed: str) -> list[str]:
    """Type ``typed`` and TAB; expect ``completed`` inserted; run the line behind printf
    (Ctrl-A goes to its start) and return the words the shell really parsed."""
    child.send(typed + "\t")
    child.expect_exact(completed)
    child.send("\x01printf '[%s]\\n' \x05; echo END.RUN\r")  # Ctrl-A/Ctrl-E: start, end
    child.expect_exact("\nEND.RUN")  # the output's line, not the echoed command
    out = str(child.before).replace("\r", "")
    child.expect_exact(prompt)
    return [m[1] for m in re.finditer(r"\[([^\[\]\r\n]*)\]$", out, re.MULTILINE)]


def test_tab_in_an_interactive_bash_inserts_one_quoted_word(cli: Cli, books: Path) -> None:
    """Readline itself on a pty: TAB, then the completed line is run (behind printf)."""
    rc = Path(books.parent / "bashrc")
    rc.write_text(cli.openras("completion", "bash").stdout + "PS1='$ '\n")
    child = pexpect.spawn(
        "bash", ["--noprofile", "--rcfile", str(rc), "-i"], env=env_for(cli),
        encoding="utf-8", timeout=TIMEOUT,
    )  # fmt: skip
    try:
        child.expect_exact("$ ")
        words = tab_then_run(child, "$ ", "openras dial Branch\\ V", "Branch\\ VPN ")
        assert words == ["openras", "dial", "Branch VPN"]
        book = shlex.quote(str(books))
        words = tab_then_run(child, "$ ", f"rasdial /PHONEBOOK:{book} On", "Only\\ Here ")
        assert words == ["rasdial", f"/PHONEBOOK:{books}", "Only Here"]
        child.send("exit\r")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)


@pytest.mark.skipif(not shutil.which("zsh"), reason="zsh is not installed (scripts/test.sh)")
def test_tab_in_an_interactive_zsh(cli: Cli, books: Path) -> None:
    """zsh's own completion system (compinit) on a pty, with the script sourced."""
    home = books.parent / "zhome"
    home.mkdir()
    script = home / "openras.zsh"
    script.write_text(cli.openras("completion", "zsh").stdout)
    (home / ".zshrc").write_text(
        f"autoload -U compinit; compinit -u -D\nsource {shlex.quote(str(script))}\n"
        "PS1='zsh> '\nunsetopt beep prompt_sp prompt_cr\n"
    )
    env = {**env_for(cli), "ZDOTDIR": str(home), "HOME": str(home), "TERM": "dumb"}
    child = pexpect.spawn("zsh", ["-i"], env=env, encoding="utf-8", timeout=TIMEOUT)
    try:
        child.expect_exact("zsh> ")
        words = tab_then_run(child, "zsh> ", "openras dial Branch\\ V", "Branch\\ VPN ")
        assert words == ["openras", "dial", "Branch VPN"]
        book = shlex.quote(str(books))
        words = tab_then_run(child, "zsh> ", f"rasdial /PHONEBOOK:{book} On", "Only\\ Here ")
        assert words == ["rasdial", f"/PHONEBOOK:{books}", "Only Here"]
        words = tab_then_run(child, "zsh> ", "openras dial --ask-p", "--ask-password ")
        assert words == ["openras", "dial", "--ask-password"]
        child.send("exit\r")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
