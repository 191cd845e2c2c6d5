"""Scripts written as Windows users write them against pywin32's win32ras, run unchanged
(``import win32ras`` through the shim) as subprocesses against a real rasman."""

from __future__ import annotations

import stat

from w32_support import lines, wait_until

from openras import Client, errors


def pending(rasman) -> list[int]:
    with Client(rasman.socket, autostart=False) as c:
        return [i.handle for i in c.connections(include_pending=True)]


def test_saved_password_sync_dial(rasman, user_book, run):
    """rasutil style: save the password, read back the asterisk handle, dial with it."""
    before = user_book.read_bytes()
    p = run("connect_saved.py", "Secret", "bob", "s3cret")
    assert p.returncode == 0, p.stdout + p.stderr
    out = lines(p.stdout)
    assert out[0] == "saved: user=bob password=" + "*" * 16 + " have=True"
    assert "connected 1 True" in out
    assert out[-1] == "disconnected"
    assert "s3cret" not in p.stdout + p.stderr
    assert user_book.read_bytes() == before  # the password never goes into the phonebook
    files = list((rasman.state_dir / "credentials").rglob("*.json"))
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert pending(rasman) == []


def test_saved_wrong_password_fails_691_and_handle_is_hung_up(rasman, user_book, run):
    p = run("connect_saved.py", "Secret", "bob", "wrong")
    assert p.returncode == 2, p.stdout + p.stderr
    out = lines(p.stdout)
    assert f"failed 691 {errors.message(691)}" in out
    assert out[-1] == "gone"
    assert pending(rasman) == []


def test_async_dial_reports_every_state_then_hang_up(rasman, run):
    p = run("async_dial.py", rasman.phonebook, "Demo")
    assert p.returncode == 0, p.stdout + p.stderr
    out = lines(p.stdout)
    assert "Dial returned rc=0 with a handle" in out  # the callback thread may print first
    status = [line for line in out if line.startswith("Status is")]
    assert status[0] == "Status is OpenPort (0000), error code is 0"
    assert status[-1] == "Status is Connected (2000), error code is 0"
    assert all(line.endswith("error code is 0") for line in status)
    assert f"no error text: {errors.message(0)}" in out  # GetErrorString(0) in the callback
    assert "connected to ['Demo']" in out
    assert out[-1] == "handle gone: 6 RasGetConnectStatus The handle is invalid."
    assert pending(rasman) == []


def test_async_failure_678_callback_hangs_up(rasman, run):
    """The callback sees the failing state again with its error and hangs up from inside."""
    p = run("async_dial.py", rasman.phonebook, "NoCarrier")
    assert p.returncode == 0, p.stdout + p.stderr
    out = lines(p.stdout)
    status = [line for line in out if line.startswith("Status is")]
    assert status[-2:] == [
        "Status is ConnectDevice (0002), error code is 0",
        "Status is ConnectDevice (0002), error code is 678",
    ]
    assert f"Detected call failure: {errors.message(678)}" in out
    assert "Tried to hang up gracefully on error, but didn't work...." not in out
    assert out[-1].startswith("handle gone: 6 ")
    assert pending(rasman) == []


def test_async_wrong_password_691(rasman, run):
    p = run("async_dial.py", rasman.phonebook, "Secret", "guess")
    assert p.returncode == 0, p.stdout + p.stderr
    out = lines(p.stdout)
    status = [line for line in out if line.startswith("Status is")]
    assert status[-1] == "Status is Authenticate (0005), error code is 691"
    assert f"Detected call failure: {errors.message(691)}" in out
    assert out[-1].startswith("handle gone: 6 ")


def test_async_right_password_connects(rasman, run):
    p = run("async_dial.py", rasman.phonebook, "Secret", "s3cret")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Status is Connected (2000), error code is 0" in lines(p.stdout)


def test_exception_in_callback_is_printed_and_dial_goes_on(rasman, run):
    p = run("async_dial.py", rasman.phonebook, "Demo", "--raise-in-callback")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "RuntimeError: a bug in the script's callback" in p.stderr
    assert "Status is Connected (2000), error code is 0" in lines(p.stdout)
    assert lines(p.stdout)[-1].startswith("handle gone: 6 ")


def test_connection_outlives_script_and_is_ended_by_name(rasman, run):
    p = run("dial_and_leave.py", rasman.phonebook, "Demo")
    assert p.returncode == 0, p.stdout + p.stderr
    handle = int(lines(p.stdout)[0].split()[-1])
    assert pending(rasman) == [handle]  # the dialing process is gone; the link is not
    shown = run("show.py", rasman.phonebook)
    out = lines(shown.stdout)
    assert out[:3] == ["entries type: tuple", "All phone-book entries:", "  Demo"]
    assert "  Demo ['int', 'str', 'str', 'str']" in out
    p = run("disconnect.py", "demo")  # entry names compare without case
    assert p.returncode == 0, p.stdout + p.stderr
    assert lines(p.stdout) == [
        "Disconnected from demo",
        "gone: 6 RasGetConnectStatus The handle is invalid.",
    ]
    assert pending(rasman) == []
    again = run("disconnect.py", "Demo")
    assert lines(again.stdout) == ["Could not find an open connection to Demo"]


def test_retry_loop_on_is_handle_valid(rasman, user_book, run):
    """No handle (unknown entry): the loop retries, then reports 623; a good entry dials once."""
    p = run("retry.py", "Ghost")
    assert p.returncode == 2, p.stdout + p.stderr
    assert lines(p.stdout) == ["Retrying..."] * 3 + [f"error 623: {errors.message(623)}"]
    p = run("retry.py", "Demo")
    assert p.returncode == 0, p.stdout + p.stderr
    assert lines(p.stdout) == ["connected: True", "hung up"]


def test_failed_dial_still_owns_a_handle(rasman, user_book, run):
    """A failure after the handle exists returns it with the code; the script hangs it up."""
    p = run("retry.py", "NoCarrier")
    assert p.returncode == 2, p.stdout + p.stderr
    assert lines(p.stdout) == [f"error 678: {errors.message(678)}"]
    # HangUp returns at once (as on Windows); the hung-up handle is then torn down and gone.
    wait_until(lambda: pending(rasman) == [], what="the failed handle to be gone")


def test_dropped_link_is_noticed_by_polling(rasman, run):
    p = run("dropper.py", rasman.phonebook, "Dropper")
    assert p.returncode == 0, p.stdout + p.stderr
    out = lines(p.stdout)
    assert out[0] == "dial rc 0"
    assert "gone" in out
    drops = [line for line in out if line.startswith("dropped with")]
    assert drops in ([], [f"dropped with 629: {errors.message(629)}"])
    assert "HangUp after the drop: 6" in out
    assert out[-1] == "connections: []"
    with Client(rasman.socket, autostart=False) as c:
        assert [d.error for d in c.history() if d.entry == "Dropper"] == [629]
