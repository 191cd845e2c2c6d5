"""Every error code the reference lists (ras-api.md §5) has its symbol and a text.

The list is checked in (``ras_api_codes.txt``) so the test runs anywhere; when the reference
sits beside the clone (``../shared``, as in CI) the list is also checked against it, so the two
cannot drift apart.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from openras import errors, rasapi
from openras._codes import CODES

HERE = Path(__file__).resolve().parent
CHECKED_IN = HERE / "ras_api_codes.txt"
REFERENCE = HERE.parents[2] / "shared" / "reference" / "ras-api.md"
_ROW = re.compile(r"^\| (0x[0-9A-Fa-f]+|\d+) \| ([A-Z_0-9]+)", re.M)


def parse_reference(text: str) -> list[tuple[int, str]]:
    """(code, symbol) of every table row in §5 (up to §6)."""
    start = text.index("## 5. Error codes")
    end = text.index("\n## 6.", start)
    return [(int(c, 0), sym) for c, sym in _ROW.findall(text[start:end])]


def checked_in() -> list[tuple[int, str]]:
    rows = []
    for line in CHECKED_IN.read_text().splitlines():
        if line and not line.startswith("#"):
            code, sym = line.split()
            rows.append((int(code, 0), sym))
    return rows


def test_checked_in_list_is_complete() -> None:
    rows = checked_in()
    assert len(rows) >= 250
    assert (1462, "ERROR_INCORRECT_SIZE") in rows and (0x80070057, "E_INVALIDARG") in rows


@pytest.mark.skipif(not REFERENCE.exists(), reason="the reference is not beside this clone")
def test_checked_in_list_matches_the_reference() -> None:
    assert parse_reference(REFERENCE.read_text()) == checked_in()


def test_parser_reads_both_tables() -> None:
    sample = (
        "## 5. Error codes\n| 600 | PENDING | x |\n| 601 | ERROR_A † | y |\n"
        "### 5.2\n| 0x80070057 | E_INVALIDARG | z |\n## 6. rasdial\n| 700 | ERROR_NOT | n |\n"
    )
    assert parse_reference(sample) == [
        (600, "PENDING"),
        (601, "ERROR_A"),
        (0x80070057, "E_INVALIDARG"),
    ]


@pytest.mark.parametrize(("code", "symbol"), checked_in())
def test_every_listed_code_has_symbol_and_text(code: int, symbol: str) -> None:
    assert CODES[code][0] == symbol
    rc, text = rasapi.RasGetErrorString(code)
    if 600 <= code <= 875 or code == 0:
        assert rc == 0 and text and text == errors.message(code)
    else:  # RasGetErrorString documents RasError.h codes only: Win32 ones are 87, no text
        assert (rc, text) == (rasapi.ERROR_INVALID_PARAMETER, "") and errors.message(code)
    assert getattr(rasapi, symbol) == code  # exported with the Windows value


def test_hresult_as_signed_value_and_new_constants() -> None:
    assert rasapi.E_INVALIDARG == errors.E_INVALIDARG == 0x80070057
    assert rasapi.ERROR_INCORRECT_SIZE == errors.ERROR_INCORRECT_SIZE == 1462
    assert rasapi.RasGetErrorString(-2147024809) == (rasapi.ERROR_INVALID_PARAMETER, "")
    assert rasapi.RasGetErrorString(1462) == (rasapi.ERROR_INVALID_PARAMETER, "")
    assert errors.message(0x80070057) == "The parameter is incorrect."
    assert rasapi.RasGetErrorString(True)[0] == rasapi.ERROR_INVALID_PARAMETER
    assert {"E_INVALIDARG", "ERROR_INCORRECT_SIZE"} <= set(rasapi.__all__)
