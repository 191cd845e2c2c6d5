"""CreatePhonebookEntry / EditPhonebookEntry: $EDITOR on the phonebook, on a real terminal."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from w32_support import SCRIPTS

from openras import errors
from openras import win32ras as w

CHILD = """\
import sys
from openras import win32ras
try:
    if sys.argv[1] == "edit":
        win32ras.EditPhonebookEntry(0, sys.argv[2], sys.argv[3])
    else:
        win32ras.CreatePhonebookEntry(0, sys.argv[2])
except win32ras.error as exc:
    print("error", exc.args)
    sys.exit(1)
print("ok")
"""


@pytest.fixture
def editor(tmp_path: Path) -> Path:
    """The fake editor installed under the name ``vi`` (so it is given ``+LINE``)."""
    path = tmp_path / "bin" / "vi"
    path.parent.mkdir()
    path.write_text(f"#!{sys.executable}\n" + (SCRIPTS / "fake_editor.py").read_text())
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def on_terminal(
    tmp_path: Path, editor: Path, *args: str, edits=(), exit_code: int = 0, env_extra=None
):
    """Run CHILD with a pty as stdin; returns (CompletedProcess, the editor's log records)."""
    log = tmp_path / "editor.log"
    log.unlink(missing_ok=True)
    env = {
        **os.environ,
        **(env_extra or {}),
        "EDITOR": str(editor),
        "FAKE_EDIT_LOG": str(log),
        "FAKE_EDITS": json.dumps(list(edits)),
        "FAKE_EDIT_EXIT": str(exit_code),
    }
    env.pop("VISUAL", None)
    master, slave = os.openpty()
    try:
        p = subprocess.run(
            [sys.executable, "-c", CHILD, *args],
            stdin=slave,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    finally:
        os.close(slave)
        os.close(master)
    records = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return p, records


def test_edit_opens_the_entry_and_saves_the_change(tmp_path, phonebook, editor):
    before = phonebook.read_bytes()
    p, (rec,) = on_terminal(
        tmp_path,
        editor,
        "edit",
        str(phonebook),
        "secret",
        edits=[("OpenRasLoopbackPassword=s3cret", "OpenRasLoopbackPassword=changed")],
    )
    assert (p.returncode, p.stdout.strip()) == (0, "ok"), p.stdout + p.stderr
    header = before.decode().splitlines().index("[Secret]") + 1
    assert rec["argv"][0] == f"+{header}"
    assert rec["tty"] is True
    assert phonebook.read_bytes() == before.replace(b"=s3cret", b"=changed")


def test_edit_left_unchanged_writes_nothing(tmp_path, phonebook, editor):
    inode = phonebook.stat().st_ino
    p, _ = on_terminal(tmp_path, editor, "edit", str(phonebook), "Demo")
    assert p.returncode == 0, p.stdout + p.stderr
    assert phonebook.stat().st_ino == inode


def test_edit_refuses_a_broken_result(tmp_path, phonebook, editor):
    before = phonebook.read_bytes()
    p, _ = on_terminal(
        tmp_path, editor, "edit", str(phonebook), "Demo", edits=[("[Slow]", "[Slow")]
    )
    assert p.returncode == 1
    assert p.stdout.strip() == f"error {(625, 'RasEditPhonebookEntry', errors.message(625))!r}"
    assert phonebook.read_bytes() == before


def test_editor_failure_is_an_error(tmp_path, phonebook, editor):
    before = phonebook.read_bytes()
    p, _ = on_terminal(
        tmp_path, editor, "edit", str(phonebook), "Demo", edits=[("Demo", "Oops")], exit_code=3
    )
    assert p.returncode == 1
    assert "exited with status 3" in p.stdout
    assert phonebook.read_bytes() == before


def test_create_appends_a_new_entry(tmp_path, phonebook, editor, rasman, fresh_rasapi):
    before = phonebook.read_bytes()
    p, (rec,) = on_terminal(
        tmp_path,
        editor,
        "create",
        str(phonebook),
        edits=[("[New Connection]", "[Created]"), ("OpenRasDevice=\n", "OpenRasDevice=loopback\n")],
    )
    assert (p.returncode, p.stdout.strip()) == (0, "ok"), p.stdout + p.stderr
    assert rec["text"].startswith(before.decode())  # the template was appended, nothing else
    assert rec["argv"][0] == f"+{rec['text'].splitlines().index('[New Connection]') + 1}"
    assert phonebook.read_bytes().startswith(before)
    assert w.EnumEntries(None, str(phonebook))[-1] == "Created"
    handle, rc = w.Dial(None, str(phonebook), ("Created",), None)  # and it dials
    assert rc == 0
    w.HangUp(handle)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            w.GetConnectStatus(handle)
        except w.error:
            break
        time.sleep(0.01)


def test_create_cancelled_and_create_in_a_new_phonebook(tmp_path, phonebook, editor):
    before = phonebook.read_bytes()
    p, _ = on_terminal(tmp_path, editor, "create", str(phonebook))
    assert p.returncode == 0, p.stdout + p.stderr
    assert phonebook.read_bytes() == before  # quitting without a change cancels
    new = tmp_path / "fresh" / "rasphone.pbk"
    p, (rec,) = on_terminal(
        tmp_path, editor, "create", str(new), edits=[("[New Connection]", "[First]")]
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert rec["argv"][0] == "+1"
    assert w.EnumEntries(None, str(new)) == ("First",)


def test_edit_and_create_in_a_book_of_the_configured_code_page(tmp_path, editor):
    """A cp1251 book (OPENRAS_PBK_CODEPAGE) with a byte cp1251 leaves undefined: the entry is
    found by its Cyrillic name, the editor opens at its line, and every byte survives."""
    book = tmp_path / "cyrillic.pbk"
    before = (
        "[Демо]\r\nOpenRasDevice=loopback\r\nNote=".encode("cp1251")
        + b"\x98"
        + "\r\n\r\n[Офис]\r\nOpenRasDevice=loopback\r\nOpenRasLoopbackStepMs=5\r\n".encode("cp1251")
    )
    book.write_bytes(before)
    cp = {"OPENRAS_PBK_CODEPAGE": "cp1251"}
    p, (rec,) = on_terminal(
        tmp_path,
        editor,
        "edit",
        str(book),
        "Офис",
        edits=[("StepMs=5", "StepMs=7")],
        env_extra=cp,
    )
    assert (p.returncode, p.stdout.strip()) == (0, "ok"), p.stdout + p.stderr
    assert rec["argv"][0] == "+5"
    assert book.read_bytes() == before.replace(b"StepMs=5", b"StepMs=7")
    after = book.read_bytes()
    p, (rec,) = on_terminal(tmp_path, editor, "create", str(book), env_extra=cp)
    assert (p.returncode, p.stdout.strip()) == (0, "ok"), p.stdout + p.stderr
    assert "[New Connection]" in rec["text"]
    assert book.read_bytes() == after  # unchanged template: cancelled
