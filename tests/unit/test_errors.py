"""The error table: exact Windows texts (scripts match on them) and a complete 600-875 range."""

from __future__ import annotations

import re

import pytest

from openras import errors
from openras._codes import CODES


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (0, "The operation completed successfully."),
        (6, "The handle is invalid."),
        (87, "The parameter is incorrect."),
        (600, "An operation is pending."),
        (623, "The system could not find the phone book entry for this connection."),
        (628, "The connection was terminated by the remote computer before it could be completed."),
        (629, "The connection was closed by the remote computer."),
        (631, "The user disconnected the modem (or other connecting device)."),
        (
            633,
            "The modem (or other connecting device) is already in use or is not configured "
            "properly.",
        ),
        (668, "The connection was terminated."),
        (
            691,
            "The remote connection was denied because the user name and password combination you "
            "provided is not recognized, or the selected authentication protocol is not permitted "
            "on the remote access server.",
        ),
        (
            709,
            "There was an error changing the password on the domain.  The password might have "
            "been too short or might have matched a previously used password.",
        ),
        (756, "This connection is already being dialed."),
        (
            797,
            "A connection to the remote access server was not made because the modem was not "
            "found.",
        ),
        (
            826,
            # Windows' message table (mprmsg.dll 10.0) has a line break here.
            "EAPTLS validation of the cached credentials failed. Please discard\r\ncached "
            "credentials.",
        ),
        (872, "The configuration for the interface is not valid"),
        (875, "Couldn't connect because there was a problem with device compliance."),
    ],
)
def test_exact_text(code: int, text: str) -> None:
    assert errors.message(code) == text


@pytest.mark.parametrize(
    ("code", "symbol"),
    [
        (600, "PENDING"),
        (644, "WARNING_MSG_ALIAS_NOT_ADDED"),
        (745, "ERROR_INVALID_SMM"),
        (746, "ERROR_SMM_UNINITIALIZED"),
        (747, "ERROR_NO_MAC_FOR_PORT"),
        (748, "ERROR_SMM_TIMEOUT"),
        (818, "ERROR_RASQEC_RESOURCE_CREATION_FAILED"),
        (819, "ERROR_RASQEC_NAPAGENT_NOT_ENABLED"),
        (820, "ERROR_RASQEC_NAPAGENT_NOT_CONNECTED"),
        (821, "ERROR_RASQEC_CONN_DOESNOTEXIST"),
        (822, "ERROR_RASQEC_TIMEOUT"),
        (862, "ERROR_EAP_USER_ROOT_CERT_INVALID"),
        (863, "ERROR_EAP_USER_ROOT_CERT_EXPIRED"),
        (864, "ERROR_EAP_SERVER_ROOT_CERT_NOT_FOUND"),
        (865, "ERROR_EAP_SERVER_ROOT_CERT_INVALID"),
        (866, "ERROR_EAP_SERVER_ROOT_CERT_NAME_REQUIRED"),
    ],
)
def test_symbol(code: int, symbol: str) -> None:
    assert errors.symbol(code) == symbol


def test_ras_range_is_complete() -> None:
    # RasError.h defines every code from RASBASE (600) to RASBASE+275; there are no gaps.
    for code in range(600, 876):
        assert errors.is_known(code), code
        symbol, text = CODES[code]
        assert symbol == "PENDING" or symbol.startswith(("ERROR_", "WARNING_")), code
        assert text, code
        # Windows' message table keeps a trailing space in 825 and a CR LF inside 826.
        assert text == text.strip() or code == 825, code
        assert "%0" not in text, code
        assert "\n" not in text or code == 826, code


def test_symbols_are_unique_and_well_formed() -> None:
    symbols = [symbol for symbol, _ in CODES.values()]
    assert len(symbols) == len(set(symbols))
    assert all(re.fullmatch(r"[A-Z][A-Z0-9_]*", s) for s in symbols)


def test_win32_codes() -> None:
    assert sorted(errors.WIN32_CODES) == [0, 5, 6, 8, 87, 122, 123, 183]
    assert errors.message(183) == "Cannot create a file when that file already exists."


def test_constants_agree_with_table() -> None:
    # errors.py's named constants must carry the SDK symbol of their value (a bool such as
    # TYPE_CHECKING is no code).
    for name in dir(errors):
        value = getattr(errors, name)
        if name.isupper() and name != "SUCCESS" and type(value) is int and value in CODES:
            assert CODES[value][0] == name, name


def test_unknown_code() -> None:
    assert not errors.is_known(599)
    assert errors.message(599) == "Unknown error 599."
    assert errors.symbol(876) == "ERROR_876"
