"""``openras`` end to end: a real rasman, loopback entries, exit statuses and JSON shapes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pexpect
import pytest
from cli_support import OPENRAS, TIMEOUT, Cli, lines, on_pty

from openras import Client, errors
from openras.states import RasConnState

CONNECTION_FIELDS = {
    "detail",
    "handle",
    "entry",
    "entry_name",
    "phonebook",
    "phone_number",
    "device_type",
    "device_name",
    "state",
    "state_code",
    "phase",
    "error",
    "owner",
    "refs",
    "all_users",
    "guid",
    "created",
    "connected_at",
    "duration_s",
}
STATISTICS_FIELDS = {
    "send_bps",
    "receive_bps",
    "handle",
    "entry",
    "bytes_sent",
    "bytes_received",
    "frames_sent",
    "frames_received",
    "errors",
    "bps",
    "duration_ms",
}


def listed(cli: Cli, *extra: str) -> list[dict[str, object]]:
    result = cli.openras("list", "--json", *extra)
    assert result.returncode == 0, result.stderr
    docs: list[dict[str, object]] = json.loads(result.stdout)
    return docs


def test_list_json_field_names(cli: Cli, phonebook: Path) -> None:
    assert json.loads(cli.openras("list", "--json").stdout) == []
    assert cli.openras("dial", "Demo").returncode == 0
    [doc] = listed(cli)
    assert set(doc) == CONNECTION_FIELDS
    assert doc["entry"] == "Demo"
    assert doc["state"] == "Connected"
    assert doc["state_code"] == 0x2000
    assert doc["phase"] == "connected"
    assert doc["device_type"] == "loopback"
    assert doc["phonebook"] == str(phonebook)
    assert doc["refs"] == 1
    assert isinstance(doc["duration_s"], float)
    # The global form gives the same document.
    assert [set(d) for d in json.loads(cli.openras("--json", "list").stdout)] == [CONNECTION_FIELDS]


def test_dial_shows_each_state_and_the_handle(cli: Cli) -> None:
    result = cli.openras("dial", "Demo")
    assert result.returncode == 0
    progress = [ln.split(None, 1)[1] for ln in lines(result.stderr)]
    assert progress[0] == "Demo: OpenPort"
    assert progress[-1] == "Demo: Connected"
    assert "Demo: Authenticate" in progress
    [doc] = listed(cli)
    assert lines(result.stdout)[0].startswith(f"Connected to Demo (handle {doc['handle']}) in ")


def test_dial_json_and_already_connected(cli: Cli) -> None:
    first = json.loads(cli.openras("dial", "Demo", "--json").stdout)
    second = json.loads(cli.openras("dial", "Demo", "--json").stdout)
    assert first == {
        "handle": first["handle"],
        "entry": "Demo",
        "joined": False,
        "state": "Connected",
    }
    assert second == {**first, "joined": True}
    assert listed(cli)[0]["refs"] == 1  # the second dial gave its reference back


def test_dial_failures_map_to_exit_statuses_and_leave_nothing(cli: Cli) -> None:
    missing = cli.openras("dial", "NoSuchEntry")
    assert missing.returncode == 23
    assert "error 623" in missing.stderr
    wrong = cli.openras("dial", "Secret", "--user", "alice", "--password-stdin", input="nope\n")
    assert wrong.returncode == 91
    assert "dialing Secret failed at Authenticate: error 691" in wrong.stderr
    right = cli.openras("dial", "Secret", "--user", "alice", "--password-stdin", input="s3cret\n")
    assert right.returncode == 0
    assert [d["entry"] for d in listed(cli, "--all")] == ["Secret"]


def test_dial_no_wait_returns_with_the_handle(cli: Cli) -> None:
    result = cli.openras("dial", "Plodding", "--no-wait", "--json")
    assert result.returncode == 0
    doc = json.loads(result.stdout)
    with Client() as client:
        now = client.status(doc["handle"])
        assert now.entry == "Plodding"
        # The state reported is the daemon's, as a name and code, never ahead of it now.
        assert RasConnState[doc["state"]] == doc["state_code"]
        assert RasConnState.OpenPort <= doc["state_code"] <= now.state
        client.hang_up(doc["handle"], wait=True, timeout=TIMEOUT)


def test_dial_timeout_hangs_up_the_attempt(cli: Cli) -> None:
    result = cli.openras("--timeout", "0.3", "dial", "Plodding")
    assert result.returncode == 38
    assert "error 638" in result.stderr
    assert listed(cli, "--all") == []


def test_hangup_waits_until_the_handle_is_invalid(cli: Cli) -> None:
    assert cli.openras("dial", "Slow").returncode == 0
    [doc] = listed(cli)
    result = cli.openras("hangup", "Slow")
    assert result.returncode == 0
    assert lines(result.stdout) == [
        f"Hung up Slow (handle {doc['handle']}): the handle is now invalid."
    ]
    assert any("Slow: Disconnected" in ln for ln in lines(result.stderr))
    with Client() as client, pytest.raises(errors.InvalidHandle):
        client.status(int(str(doc["handle"])))


def test_hangup_by_handle_and_all(cli: Cli) -> None:
    assert cli.openras("dial", "Demo").returncode == 0
    assert cli.openras("dial", "Second").returncode == 0
    first = listed(cli)[0]
    assert cli.openras("hangup", str(first["handle"])).returncode == 0
    assert [d["entry"] for d in listed(cli)] == ["Second"]
    assert cli.openras("hangup", "--all").returncode == 0
    assert listed(cli, "--all") == []


def test_hangup_of_nothing(cli: Cli) -> None:
    result = cli.openras("hangup", "Demo")
    assert result.returncode == 68
    assert "no connection 'Demo'" in result.stderr


def test_hangup_without_target_needs_a_terminal(cli: Cli) -> None:
    assert cli.openras("dial", "Demo").returncode == 0
    result = cli.openras("hangup")
    assert result.returncode == 2
    assert "the interactive picker needs a terminal" in result.stderr
    assert len(listed(cli)) == 1


def test_status_stats_history(cli: Cli) -> None:
    assert cli.openras("dial", "Demo").returncode == 0
    status = json.loads(cli.openras("status", "Demo", "--json").stdout)
    assert set(status) == CONNECTION_FIELDS | {"projection", "statistics"}
    assert status["projection"]["local_address"] == "127.0.0.1"
    assert set(status["statistics"]) == STATISTICS_FIELDS
    text = cli.openras("status", str(status["handle"]))
    assert "State:" in text.stdout
    assert "Connected (connected)" in text.stdout
    stats = json.loads(cli.openras("stats", "--json").stdout)
    assert [set(s) for s in stats] == [STATISTICS_FIELDS]
    one = json.loads(cli.openras("stats", "Demo", "--json").stdout)
    assert one["handle"] == status["handle"]
    assert cli.openras("hangup", "Demo").returncode == 0
    history = json.loads(cli.openras("history", "--json").stdout)
    assert history[-1]["entry"] == "Demo"
    assert history[-1]["error"] == 631
    assert set(history[-1]) == {
        "handle",
        "entry",
        "error",
        "message",
        "time",
        "connected_at",
        "owner",
        "redialing",
        "detail",
    }


def test_watch_streams_events_as_json_lines(cli: Cli) -> None:
    proc = subprocess.Popen(
        [*OPENRAS, "watch", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli.env,
    )
    try:
        assert proc.stdout is not None
        assert proc.stderr is not None
        # watch says so on stderr once its subscription is live: nothing after is missed.
        assert proc.stderr.readline().startswith("Watching connection events")
        deadline = time.monotonic() + TIMEOUT
        seen: list[dict[str, object]] = []
        assert cli.openras("dial", "Demo").returncode == 0
        while not any(e["state"] == "Connected" for e in seen):
            assert time.monotonic() < deadline
            seen.append(json.loads(proc.stdout.readline()))
    finally:
        proc.terminate()
        proc.wait(TIMEOUT)
    assert seen[0]["event"] == "created"
    assert {"time", "event", "handle", "entry", "state", "state_code", "old_state"} <= set(seen[0])


def test_entries_and_entry_editing(cli: Cli, tmp_path: Path, phonebook: Path) -> None:
    names = [e["name"] for e in json.loads(cli.openras("entries", "--json").stdout)]
    assert names[:2] == ["Demo", "Secret"]
    assert (
        cli.openras(
            "entry", "add", "Lab", "--device", "loopback", "--set", "OpenRasLoopbackStepMs=5"
        ).returncode
        == 0
    )
    shown = json.loads(cli.openras("entry", "show", "Lab", "--json").stdout)
    assert shown["device_type"] == "loopback"
    assert ["OpenRasLoopbackStepMs", "5"] in shown["blocks"][0]["items"]
    dup = cli.openras("entry", "add", "Lab")
    assert dup.returncode == 1
    assert "error 183" in dup.stderr
    assert cli.openras("entry", "edit", "Lab", "--set", "OpenRasLoopbackStepMs=7").returncode == 0
    assert "OpenRasLoopbackStepMs=7" in cli.openras("entry", "show", "Lab").stdout
    assert cli.openras("entry", "rename", "Lab", "Lab2").returncode == 0
    assert lines(cli.rasdial("Lab2").stdout)[-1] == "Command completed successfully."
    busy = cli.openras("entry", "rm", "Lab2")  # RasDeleteEntry's rule: not while connected
    assert busy.returncode == 817 - 600
    assert "817" in busy.stderr
    assert "[Lab2]" in phonebook.read_text()
    assert cli.openras("hangup", "Lab2").returncode == 0
    exported = tmp_path / "out.pbk"
    assert cli.openras("entry", "export", "Lab2", "-o", str(exported)).returncode == 0
    assert exported.read_bytes().startswith(b"[Lab2]\r\n")
    assert cli.openras("entry", "rm", "Lab2").returncode == 0
    assert cli.openras("entry", "show", "Lab2").returncode == 23
    other = tmp_path / "other.pbk"
    imported = cli.openras("--phonebook", str(other), "entry", "import", str(exported))
    assert imported.returncode == 0, imported.stderr
    assert "[Lab2]" in other.read_text()
    assert "OpenRasLoopbackStepMs=7" in other.read_text()
    again = cli.openras("--phonebook", str(other), "entry", "import", str(exported))
    assert again.returncode == 1
    assert "--replace" in again.stderr
    assert "[Demo]" in phonebook.read_text()  # untouched by the import elsewhere


def test_error_command(cli: Cli) -> None:
    text = cli.openras("error", "691")
    assert lines(text.stdout)[:2] == ["691 ERROR_AUTHENTICATION_FAILURE", errors.message(691)]
    doc = json.loads(cli.openras("error", "ERROR_CANNOT_FIND_PHONEBOOK_ENTRY", "--json").stdout)
    assert doc == {
        "code": 623,
        "symbol": "ERROR_CANNOT_FIND_PHONEBOOK_ENTRY",
        "message": errors.message(623),
        "known": True,
        "exit_status": 23,
    }
    assert cli.openras("error", "nonsense").returncode == 2


@pytest.mark.parametrize(
    "argv",
    [["dial"], ["bogus"], ["list", "extra"], ["--timeout", "-1", "list"], ["hangup", "a", "b"]],
)
def test_usage_errors_exit_2(cli: Cli, argv: list[str]) -> None:
    result = cli.openras(*argv)
    assert result.returncode == 2
    assert "usage: openras" in result.stderr


def test_manager_unreachable_is_711(cli: Cli, tmp_path: Path) -> None:
    for argv in (["list"], ["dial", "Demo"], ["--socket", str(tmp_path / "x.sock"), "hangup", "1"]):
        env = {**cli.env, "OPENRAS_SOCKET": str(tmp_path / "nobody.sock")}
        result = cli.openras(*argv, env=env)
        assert result.returncode == 111
        assert "error 711" in result.stderr
        assert "is the connection manager running?" in result.stderr


def test_socket_option_overrides_the_environment(cli: Cli, tmp_path: Path) -> None:
    env = {**cli.env, "OPENRAS_SOCKET": str(tmp_path / "nobody.sock")}
    result = cli.openras("--socket", str(cli.daemon.socket), "list", "--json", env=env)
    assert result.returncode == 0
    assert json.loads(result.stdout) == []


def test_version_and_help(cli: Cli) -> None:
    assert cli.openras("--version").stdout.startswith("openras ")
    helped = cli.openras("--help")
    assert helped.returncode == 0
    assert "exit status" in helped.stdout
    assert "__complete" not in helped.stdout


def test_completion_scripts_and_words(cli: Cli) -> None:
    bash = cli.openras("completion", "bash").stdout
    assert "openras" in bash
    assert "__complete" in bash
    assert subprocess.run(["bash", "-n"], input=bash, text=True, check=False).returncode == 0
    zsh_script = cli.openras("completion", "zsh").stdout
    assert zsh_script.startswith("#compdef openras")
    if shutil.which("zsh"):
        assert (
            subprocess.run(["zsh", "-n"], input=zsh_script, text=True, check=False).returncode == 0
        )
    assert lines(cli.openras("__complete", "entries").stdout)[:2] == ["Demo", "Secret"]
    # every command the parser has (but the hidden one), in its order
    from openras.cli import openras as parser_table

    offered = lines(cli.openras("__complete", "commands").stdout)
    assert offered == [name for name, *_ in parser_table._COMMANDS if not name.startswith("_")]
    assert cli.openras("dial", "Demo").returncode == 0
    [doc] = listed(cli)
    assert lines(cli.openras("__complete", "targets").stdout) == [str(doc["handle"]), "Demo"]


def test_bash_completion_completes_entry_names(cli: Cli, tmp_path: Path) -> None:
    script = tmp_path / "complete.sh"
    script.write_text(
        cli.openras("completion", "bash").stdout
        + 'COMP_WORDS=(openras dial S); COMP_CWORD=2; _openras; printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = {**cli.env, "PATH": os.path.dirname(OPENRAS[0]) + os.pathsep + cli.env.get("PATH", "")}
    result = cli.run(["bash", str(script)], env=env)
    assert sorted(lines(result.stdout)) == ["Second", "Secret", "Slow", "Stubborn"]


def test_colour_only_on_a_terminal_and_never_with_no_color(cli: Cli) -> None:
    assert cli.openras("dial", "Demo").returncode == 0
    assert "\x1b[" not in cli.openras("list").stdout
    for no_color, expect_colour in ((None, True), ("1", False)):
        env = dict(cli.env)
        if no_color:
            env["NO_COLOR"] = no_color
        child = pexpect.spawn(
            OPENRAS[0], [*OPENRAS[1:], "list"], env=env, encoding="utf-8", timeout=TIMEOUT
        )
        child.expect(pexpect.EOF)
        child.close()
        assert ("\x1b[" in child.before) is expect_colour
        assert "Demo" in child.before


def test_dial_on_a_terminal_animates_one_line(cli: Cli) -> None:
    status, text = on_pty(cli, "dial", "Plodding")
    assert status == 0
    # Each state redraws the same line (carriage return, erase line); the result stays.
    assert text.count("\r\x1b[2K") >= len(["OpenPort", "Authenticate", "Projected", "Connected"])
    assert "Plodding: \x1b[36mAuthenticate\x1b[0m" in text
    plain = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)
    assert plain.rstrip().splitlines()[-1].startswith("Connected to Plodding (handle ")


def test_daemon_command_runs_rasman_in_the_foreground(cli: Cli, tmp_path: Path) -> None:
    sock = Path(f"/tmp/oras-cli-{os.getpid()}-{time.monotonic_ns()}.sock")
    proc = subprocess.Popen(
        [*OPENRAS, "--socket", str(sock), "daemon", "--state-dir", str(tmp_path / "state2")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=cli.env,
    )
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + TIMEOUT
        while "listening on" not in proc.stderr.readline():  # rasman logs when it serves
            assert time.monotonic() < deadline and proc.poll() is None
        result = cli.openras("--socket", str(sock), "list", "--json")
        assert result.returncode == 0
        assert json.loads(result.stdout) == []
    finally:
        proc.terminate()
        proc.wait(TIMEOUT)
        sock.unlink(missing_ok=True)
    assert proc.returncode == 0
