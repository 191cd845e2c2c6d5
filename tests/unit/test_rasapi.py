"""rasapi without a daemon: the Windows numbers, and arguments refused before any I/O."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from openras import errors
from openras import rasapi as r
from openras.states import RasConnState


@pytest.fixture(autouse=True)
def no_daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Point every call at a socket nobody listens on: a call that got through answers 711."""
    monkeypatch.setenv("OPENRAS_SOCKET", str(tmp_path / "nobody.sock"))
    with r._lock:
        if r._session is not None:
            r._session.close()
        r._session = None
    yield
    r._session = None


def test_windows_numbers() -> None:
    assert (r.RASCS_OpenPort, r.RASCS_Authenticate, r.RASCS_Connected, r.RASCS_Disconnected) == (
        0,
        5,
        0x2000,
        0x2001,
    )
    assert r.RASCS_Interactive == r.RASCS_PAUSED == 0x1000
    assert all(getattr(r, s.rascs_name) == int(s) for s in RasConnState)
    assert (r.RASCN_Connection, r.RASCN_Disconnection) == (1, 2)
    assert (r.RASCF_AllUsers, r.RASCF_OwnerKnown, r.RASCF_OwnerMatch) == (1, 4, 8)
    assert r.WM_RASDIALEVENT == 0xCCCD
    assert (r.RAS_MaxEntryName, r.RAS_MaxPhoneNumber, r.UNLEN, r.PWLEN, r.DNLEN) == (
        256,
        128,
        256,
        256,
        15,
    )
    assert (r.ERROR_INVALID_HANDLE, r.ERROR_INVALID_PARAMETER, r.ERROR_AUTHENTICATION_FAILURE) == (
        6,
        87,
        691,
    )
    assert r.ERROR_DIAL_ALREADY_IN_PROGRESS == 756


def test_records_have_the_windows_field_names() -> None:
    assert list(r.RASDIALPARAMS.__dataclass_fields__) == [
        "szEntryName",
        "szPhoneNumber",
        "szCallbackNumber",
        "szUserName",
        "szPassword",
        "szDomain",
        "dwSubEntry",
        "dwCallbackId",
    ]
    assert list(r.RASCONNSTATUS.__dataclass_fields__) == [
        "rasconnstate",
        "dwError",
        "szDeviceType",
        "szDeviceName",
        "szPhoneNumber",
        "localEndPoint",  # Windows 7's fields, then openras's own
        "remoteEndPoint",
        "rasconnsubstate",
        "szOpenRasDriver",
    ]
    assert r.RASCONN().dwSubEntry == 1


@pytest.mark.parametrize(
    "params",
    [
        r.RASDIALPARAMS(szEntryName="x" * 257),
        r.RASDIALPARAMS(szEntryName="Demo", szPhoneNumber="1" * 129),
        r.RASDIALPARAMS(szEntryName="Demo", szCallbackNumber="1" * 129),
        r.RASDIALPARAMS(szEntryName="Demo", szUserName="u" * 257),
        r.RASDIALPARAMS(szEntryName="Demo", szPassword="p" * 257),
        r.RASDIALPARAMS(szEntryName="Demo", szDomain="d" * 16),
        r.RASDIALPARAMS(szEntryName="De\0mo"),
        r.RASDIALPARAMS(szEntryName=5),  # type: ignore[arg-type]
        ("Demo", "", "", "", "", ""),
        None,
    ],
)
def test_dial_refuses_bad_params_before_io(params: object) -> None:
    assert r.RasDial(None, None, params) == (errors.ERROR_INVALID_PARAMETER, 0)


def test_dial_refuses_bad_notifier_and_phonebook() -> None:
    ok = r.RASDIALPARAMS(szEntryName="Demo")
    assert r.RasDial(None, None, ok, 3, lambda *a: None) == (87, 0)
    assert r.RasDial(None, None, ok, 1, "not callable") == (87, 0)
    assert r.RasDial(None, 42, ok) == (87, 0)  # type: ignore[arg-type]


def test_limits_are_inclusive_and_reach_the_daemon() -> None:
    """At the limits the arguments pass; with no daemon the call then answers 711."""
    params = r.RASDIALPARAMS("x" * 256, "1" * 128, "2" * 128, "u" * 256, "p" * 256, "d" * 15)
    assert r.RasDial(None, None, params) == (errors.ERROR_RASMAN_CANNOT_INITIALIZE, 0)


@pytest.mark.parametrize("handle", [0, -5, True, "1", 1.5, None])
def test_bad_handles_answer_6_without_io(handle: object) -> None:
    assert r.RasHangUp(handle) == errors.ERROR_INVALID_HANDLE  # type: ignore[arg-type]
    assert r.RasGetConnectStatus(handle) == (6, None)  # type: ignore[arg-type]
    assert r.RasGetConnectionStatistics(handle) == (6, None)  # type: ignore[arg-type]
    assert r.RasGetProjectionInfoEx(handle) == (6, None)  # type: ignore[arg-type]


def test_no_daemon_answers_711() -> None:
    assert r.RasEnumConnections() == (errors.ERROR_RASMAN_CANNOT_INITIALIZE, [])
    assert r.RasHangUp(5) == 711
    assert r.RasGetConnectStatus(5) == (711, None)


def test_connection_notification_argument_checks() -> None:
    ev = threading.Event()
    assert r.RasConnectionNotification(r.INVALID_HANDLE_VALUE, object(), r.RASCN_Connection) == 87
    assert r.RasConnectionNotification(r.INVALID_HANDLE_VALUE, ev, 0) == 87
    assert r.RasConnectionNotification(r.INVALID_HANDLE_VALUE, ev, "1") == 87  # type: ignore[arg-type]
    assert r.RasConnectionNotification(r.INVALID_HANDLE_VALUE, ev, r.RASCN_Connection) == 711
    assert not ev.is_set()


@pytest.mark.parametrize("code", [600, 623, 628, 629, 631, 633, 678, 691, 718, 756, 800])
def test_error_strings(code: int) -> None:
    rc, text = r.RasGetErrorString(code)
    assert rc == 0 and text == errors.message(code) and text.endswith(".")


def test_error_string_of_unknown_code() -> None:
    assert r.RasGetErrorString(99999) == (87, "")
    assert r.RasGetErrorString(None) == (87, "")  # type: ignore[arg-type]
