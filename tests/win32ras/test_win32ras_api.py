"""win32ras in process: pywin32's exact shapes, argument checks and error objects."""

from __future__ import annotations

import io
import threading
import time

import pytest

from openras import errors
from openras import win32ras as w
from openras.states import RasConnState

PYWIN32_RASCS = [
    "OpenPort",
    "PortOpened",
    "ConnectDevice",
    "DeviceConnected",
    "AllDevicesConnected",
    "Authenticate",
    "AuthNotify",
    "AuthRetry",
    "AuthCallback",
    "AuthChangePassword",
    "AuthProject",
    "AuthLinkSpeed",
    "AuthAck",
    "ReAuthenticate",
    "Authenticated",
    "PrepareForCallback",
    "WaitForModemReset",
    "WaitForCallback",
    "Projected",
    "StartAuthentication",
    "CallbackComplete",
    "LogonNetwork",
    "Interactive",
    "RetryAuthentication",
    "CallbackSetByCaller",
    "PasswordExpired",
    "Connected",
    "Disconnected",
]


def wait_gone(handle: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            w.GetConnectStatus(handle)
        except w.error as exc:
            assert exc.winerror == errors.ERROR_INVALID_HANDLE
            return
        time.sleep(0.01)
    pytest.fail(f"handle {handle} never went away")


def test_constants_match_rasconnstate():
    assert len(PYWIN32_RASCS) == 28
    for name in PYWIN32_RASCS:
        assert getattr(w, "RASCS_" + name) == RasConnState[name]
    for state in RasConnState:  # ours has the four pywin32 lacks as well
        assert getattr(w, state.rascs_name) == state
    assert (w.RASEAPF_NonInteractive, w.RASEAPF_Logon, w.RASEAPF_Preview) == (2, 4, 8)
    assert all(hasattr(w, name) for name in w.__all__)


def test_error_shape():
    exc = w.error(6, "RasGetConnectStatus", "The handle is invalid.")
    assert exc.args == (6, "RasGetConnectStatus", "The handle is invalid.")
    assert (exc.winerror, exc.funcname, exc.strerror) == exc.args
    assert str(exc) == "(6, 'RasGetConnectStatus', 'The handle is invalid.')"
    rc, fn, msg = exc.args  # `except win32ras.error as (rc, fn, msg)` in Python 2 scripts
    assert (rc, fn, msg) == (6, "RasGetConnectStatus", "The handle is invalid.")


@pytest.mark.parametrize(
    ("params", "exc_type"),
    [
        (("a", "", "", "", "", "", "extra"), w.error),
        (("Demo", None), TypeError),
        ("Demo", TypeError),
        (42, TypeError),
        (("x" * 257,), ValueError),
        (("Demo", "", "", "", "", "d" * 16), ValueError),
        (("De\0mo",), ValueError),
    ],
)
def test_dial_params_are_checked_like_pywin32(params, exc_type):
    with pytest.raises(exc_type) as info:
        w.Dial(None, None, params, None)
    if exc_type is w.error:
        assert info.value.args == (
            0,
            "<RasDialParams conversion>",
            "The RasDialParams sequence length must be less than 6",
        )


def test_window_handle_callback_is_refused():
    with pytest.raises(w.error) as info:
        w.Dial(None, None, ("Demo",), 0x1234)
    assert info.value.winerror == 0
    assert "Linux" in info.value.strerror
    with pytest.raises(w.error) as info:
        w.Dial(None, None, ("Demo",), "not a callback")
    assert info.value.funcname == "<Dial param parsing>"
    with pytest.raises(TypeError):
        w.Dial(object(), None, ("Demo",), None)


def test_rasdialextensions_object():
    ext = w.RASDIALEXTENSIONS()
    assert (ext.dwfOptions, ext.hwndParent, ext.reserved, ext.reserved1, ext.RasEapInfo) == (
        0,
        0,
        0,
        0,
        None,
    )
    ext.fOptions = 0x2
    assert ext.dwfOptions == 0x2
    with pytest.raises(AttributeError):
        ext.bogus = 1  # type: ignore[attr-defined]


def test_is_handle_valid_asks_nothing():
    assert w.IsHandleValid(0) is False
    assert w.IsHandleValid(None) is False
    assert w.IsHandleValid(123456) is True  # no system call, like pywin32
    with pytest.raises(TypeError):
        w.IsHandleValid("1")  # type: ignore[arg-type]


def test_get_error_string():
    assert w.GetErrorString(691) == errors.message(691)
    assert w.GetErrorString(0) == errors.message(0)
    with pytest.raises(w.error) as info:
        w.GetErrorString(99999)
    # pywin32: ReturnRasError("RasGetErrorString") with no code takes GetLastError(), which
    # RasGetErrorString does not set (its documentation says so): 0, and no text.
    assert info.value.args == (0, "RasGetErrorString", "No error message is available")
    with pytest.raises(TypeError):
        w.GetErrorString("691")  # type: ignore[arg-type]


def test_raised_errors_carry_code_function_and_text(rasman, fresh_rasapi):
    with pytest.raises(w.error) as info:
        w.GetConnectStatus(987654)
    assert info.value.args == (6, "RasGetConnectStatus", "The handle is invalid.")
    with pytest.raises(w.error) as info:
        w.HangUp(987654)
    assert info.value.args == (6, "RasHangup", "The handle is invalid.")
    with pytest.raises(w.error) as info:
        w.EnumEntries("reserved")
    assert info.value.args[:2] == (87, "RasEnumEntries")
    with pytest.raises(w.error) as info:
        w.EnumEntries(None, str(rasman.phonebook) + ".missing")
    assert info.value.args == (621, "RasEnumEntries", errors.message(621))
    with pytest.raises(w.error) as info:
        w.GetEntryDialParams(str(rasman.phonebook), "Nope")
    assert info.value.args[:2] == (623, "RasGetEntryDialParams")
    with pytest.raises(w.error) as info:
        w.GetEapUserIdentity(str(rasman.phonebook), "Demo", w.RASEAPF_NonInteractive)
    assert info.value.args[:2] == (errors.ERROR_INVALID_FUNCTION_FOR_ENTRY, "RasGetEapUserIdentity")


def test_dial_returns_the_code(rasman, fresh_rasapi):
    pb = str(rasman.phonebook)
    assert w.Dial(None, pb, ("Nope",), None) == (0, errors.ERROR_CANNOT_FIND_PHONEBOOK_ENTRY)
    ext = w.RASDIALEXTENSIONS()
    handle, rc = w.Dial(ext, pb, ["Demo"], None)  # any sequence will do
    assert rc == 0
    assert isinstance(handle, int) and handle > 0
    assert w.GetConnectStatus(handle) == (w.RASCS_Connected, 0, "vpn", "WAN Miniport (Loopback)")
    (conn,) = w.EnumConnections()
    assert conn[:2] == (handle, "Demo")
    assert [type(x) for x in conn] == [int, str, str, str]
    assert w.HangUp(handle) is None  # returns at once ...
    wait_gone(handle)  # ... and the handle answers 6 once the link is down
    assert w.EnumConnections() == []


def test_enum_entries_is_a_tuple_of_names(rasman, fresh_rasapi):
    names = w.EnumEntries(None, str(rasman.phonebook))
    assert names == ("Demo", "Secret", "Dropper", "Slow", "Stubborn", "NoCarrier")
    assert w.EnumEntries() == ()  # no default phonebook exists in this test


def test_entry_dial_params_follow_pywin32(rasman, fresh_rasapi):
    pb = str(rasman.phonebook)
    assert w.GetEntryDialParams(pb, "Secret") == (("Secret", "", "", "", "", ""), False)
    w.SetEntryDialParams(pb, ("Secret", "", "", "bob", "s3cret", "CORP"), 0)
    assert w.GetEntryDialParams(pb, "secret") == (("secret", "", "", "bob", "*" * 16, "CORP"), True)
    # Empty fields keep what is saved; the asterisk handle keeps the password.
    w.SetEntryDialParams(pb, ("Secret", "", "", "bob", "*" * 16), 0)
    assert w.GetEntryDialParams(pb, "Secret")[0][3:] == ("bob", "*" * 16, "CORP")
    handle, rc = w.Dial(None, pb, w.GetEntryDialParams(pb, "Secret")[0], None)
    assert rc == 0
    w.HangUp(handle)
    wait_gone(handle)
    # As in pywin32, the third argument is RAS's fRemovePassword: non-zero removes it.
    w.SetEntryDialParams(pb, ("Secret",), 1)
    assert w.GetEntryDialParams(pb, "Secret") == (("Secret", "", "", "bob", "", "CORP"), False)
    handle, rc = w.Dial(None, pb, ("Secret",), None)
    assert rc == errors.ERROR_AUTHENTICATION_FAILURE
    assert w.IsHandleValid(handle)
    assert w.GetConnectStatus(handle)[1] == 691  # readable, with its error, until hung up
    w.HangUp(handle)
    wait_gone(handle)
    with pytest.raises(w.error) as info:
        w.SetEntryDialParams(pb, ("Nope", "", "", "bob", "x"), 0)
    assert info.value.args[:2] == (623, "SetEntryDialParams")


def test_hang_up_inside_the_callback_ends_notifications(rasman, fresh_rasapi):
    seen: list[tuple[int, int]] = []
    done = threading.Event()

    def callback(hras: int, msg: int, state: int, error: int, exterror: int) -> None:
        assert msg == 0xCCCD  # WM_RASDIALEVENT
        seen.append((state, error))
        if state == w.RASCS_PortOpened:
            w.HangUp(hras)
            assert w.GetErrorString(0)
            done.set()

    handle, rc = w.Dial(None, str(rasman.phonebook), ("Slow",), callback)
    assert rc == 0
    assert done.wait(30)
    wait_gone(handle)
    assert seen == [(w.RASCS_OpenPort, 0), (w.RASCS_PortOpened, 0)]


def test_editor_dialogs_need_a_terminal(rasman, fresh_rasapi, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    pb = str(rasman.phonebook)
    with pytest.raises(w.error) as info:
        w.EditPhonebookEntry(0, pb, "Demo")
    assert info.value.winerror == 0
    assert info.value.funcname == "RasEditPhonebookEntry"
    assert "not a terminal" in info.value.strerror
    with pytest.raises(w.error) as info:
        w.CreatePhonebookEntry(0, pb)
    assert info.value.funcname == "RasCreatePhonebookEntry"
    with pytest.raises(w.error) as info:
        w.EditPhonebookEntry(0, pb, "Nope")
    assert info.value.args == (623, "RasEditPhonebookEntry", errors.message(623))
