"""Windows' dialing rules (TAPI locations) for modem numbers: the translation and the
location file, pure."""

from __future__ import annotations

from pathlib import Path

import pytest

from openras.errors import (
    ERROR_BAD_PHONE_NUMBER,
    ERROR_PHONE_NUMBER_TOO_LONG,
    ERROR_TAPI_CONFIGURATION,
    RasError,
)
from openras.links.ppp import dialing
from openras.links.ppp.argv import PppSettings, chat_script

SEATTLE = dialing.parse(
    "# an office behind a PBX\n[location]\ncountry-code = 1\narea-code = 206\n"
    "local-access = 9,\nlong-distance-access = 8,\ndisable-call-waiting = *70,  ; comment\n",
    "location.conf",
)
LONDON = dialing.parse("[location]\ncountry-code = 44\narea-code = 20\n", "location.conf")


@pytest.mark.parametrize(
    ("location", "country", "area", "number", "dialed"),
    [
        # same area: a local call, the local outside line
        (SEATTLE, "1", "206", "555-0100", "*70,9,5550100"),
        (SEATTLE, "1", "", "555 0100", "*70,9,5550100"),  # no area code: local
        (SEATTLE, "0", "206", "5550100", "*70,9,5550100"),  # Windows' 0: this country
        # another area: NANP long distance (1 + area), the long-distance line
        (SEATTLE, "1", "425", "(555) 0100", "*70,8,14255550100"),
        # another country: NANP's international prefix 011
        (SEATTLE, "44", "20", "7946 0000", "*70,8,011442079460000"),
        # the common rules elsewhere: 0 + area, 00 + country
        (LONDON, "44", "161", "496 0000", "01614960000"),
        (LONDON, "1", "206", "555-0100", "0012065550100"),
        (LONDON, "44", "20", "7946-0000", "79460000"),
    ],
)
def test_a_canonical_number_is_dialed_as_the_location_says(
    location: dialing.Location, country: str, area: str, number: str, dialed: str
) -> None:
    assert (
        dialing.translate(number, country_code=country, area_code=area, location=location) == dialed
    )


def test_rules_and_tone_or_pulse_come_from_the_file() -> None:
    loc = dialing.parse(
        "[location]\ncountry-code = 49\narea-code = 30\ndialing = pulse\n"
        "same-area = FG\nlong-distance = 0FG\ninternational = 00EFG\n",
        "f",
    )
    assert loc.pulse
    # a location that dials the area code on local calls too (ten-digit dialing)
    assert dialing.translate("1234567", country_code="49", area_code="30", location=loc) == (
        "301234567"
    )
    assert dialing.default_rules("81") == ("0FG", "010EFG")
    assert dialing.default_rules("33") == ("0FG", "00EFG")


@pytest.mark.parametrize(
    ("text", "line", "why"),
    [
        ("[location]\narea-code = 206\n", None, "country-code is missing"),
        ("country-code = 1\n", 1, "under a [location] line"),
        ("[location]\ncountry-code = 1\ncountry-code = 2\n", 3, "set twice"),
        ("[location]\ncountry-code = one\n", 2, "1 to 3 digits"),
        ("[location]\ncountry-code = 1\narea-code = 2O6\n", 3, "area-code"),
        ("[location]\ncountry-code = 1\nlocal-access = 9;rm\n", 3, "local-access"),
        ("[location]\ncountry-code = 1\nlocal-access = 9 x\n", 3, "local-access"),
        ("[location]\ncountry-code = 1\ndialing = rotary\n", 3, "tone or pulse"),
        ("[location]\ncountry-code = 1\nlong-distance = 1F\n", 3, "must dial G"),
        ("[location]\ncountry-code = 1\ninternational = 0x11EFG\n", 3, "a rule of"),
        ("[location]\ncountry-code = 1\nspeaker = on\n", 3, "unknown key"),
        ("[phone]\ncountry-code = 1\n", 1, "unknown section"),
        ("[location]\ncountry-code 1\n", 2, "key = value"),
    ],
)
def test_a_malformed_location_is_740_naming_the_line(text: str, line: int | None, why: str) -> None:
    with pytest.raises(RasError) as err:
        dialing.parse(text, "/etc/openras/location.conf")
    assert err.value.code == ERROR_TAPI_CONFIGURATION
    where = "/etc/openras/location.conf" + (f", line {line}" if line else "")
    assert str(err.value.detail).startswith(where), err.value.detail
    assert why in str(err.value.detail)


def test_bad_entry_codes_and_too_long_numbers_are_refused() -> None:
    with pytest.raises(RasError) as err:
        dialing.translate("5550100", country_code="1x", area_code="", location=SEATTLE)
    assert err.value.code == ERROR_BAD_PHONE_NUMBER
    with pytest.raises(RasError) as err:
        dialing.translate("5550100", country_code="1", area_code="42-5", location=SEATTLE)
    assert err.value.code == ERROR_BAD_PHONE_NUMBER
    with pytest.raises(RasError) as err:
        dialing.translate("5" * 120, country_code="44", area_code="20", location=SEATTLE)
    assert err.value.code == ERROR_PHONE_NUMBER_TOO_LONG


def test_the_file_is_read_again_only_when_it_changed(tmp_path: Path) -> None:
    path = tmp_path / "location.conf"
    source = dialing.Source(path)
    with pytest.raises(RasError) as err:
        source.current()
    assert err.value.code == ERROR_TAPI_CONFIGURATION
    assert "UseDialingRules=0" in str(err.value.detail)  # says what to do
    path.write_text("[location]\ncountry-code = 1\narea-code = 206\n")
    first = source.current()
    assert first.area_code == "206" and source.current() is first
    path.write_text("[location]\ncountry-code = 44\narea-code = 20\n")  # another size
    assert source.current().country_code == "44"
    path.write_text("[location]\ncountry-code = 44\nbogus = 1\n")
    with pytest.raises(RasError) as err:
        source.current()
    assert "line 3" in str(err.value.detail)


def _modem_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keys: dict[str, str], number: str = ""
) -> PppSettings:
    from openras.links.base import DialParams, LinkSpec
    from openras.manager.entries import EntrySnapshot

    location = tmp_path / "location.conf"
    location.write_text("[location]\ncountry-code = 1\narea-code = 206\ndialing = pulse\n")
    monkeypatch.setenv("OPENRAS_LOCATION", str(location))
    base = {"device": "modem", "openrasserialport": "/dev/ttyS0", "phonenumber": "555-0100"}
    spec = LinkSpec(
        handle=7,
        owner_uid=0,
        entry=EntrySnapshot("Office", {**base, **keys}, device_type="modem"),
        params=DialParams(user="alice", password="pw", phone_number=number),
        run_dir=tmp_path,
        marker="m",
    )
    return PppSettings.from_spec(spec)


def test_a_modem_entry_dials_through_the_rules_only_when_it_asks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = {"usedialingrules": "1", "areacode": "425", "countrycode": "1"}
    settings = _modem_settings(tmp_path, monkeypatch, rules)
    assert (settings.number, settings.pulse) == ("14255550100", True)
    assert "OK ATDP14255550100\n" in chat_script(settings)
    # Windows' default, UseDialingRules=0: the number as written, by tone
    plain = _modem_settings(tmp_path, monkeypatch, {**rules, "usedialingrules": "0"})
    assert (plain.number, plain.pulse) == ("5550100", False)
    assert "OK ATDT5550100\n" in chat_script(plain)
    # a number the caller gives (RASDIALPARAMS.szPhoneNumber) is dialed as given
    given = _modem_settings(tmp_path, monkeypatch, rules, number="555 0199")
    assert given.number == "5550199"
