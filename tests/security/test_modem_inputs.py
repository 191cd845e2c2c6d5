"""What of a user's modem entry reaches chat and pppd, which the root daemon starts: the
number, its area and country codes and the dialing rules' result only as dial characters in
the one ``ATD`` line of a script the daemon writes; AuthRestrictions only as pppd's own
``refuse-*`` words. Anything else is refused before a file is written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from openras.errors import RasError
from openras.links.base import DialParams, LinkSpec
from openras.links.ppp.argv import PppSettings, build_argv, chat_script
from openras.manager.entries import EntrySnapshot

#: The script's lines, the number aside: all the daemon's own.
_FIXED = {
    "ABORT 'BUSY'", "ABORT 'NO CARRIER'", "ABORT 'NO DIALTONE'", "ABORT 'NO DIAL TONE'",
    "ABORT 'NO ANSWER'", "ABORT 'ERROR'", "TIMEOUT 5", "'' ATZ", "CONNECT ''",
}  # fmt: skip
_ATD = re.compile(r"^OK ATD[TP][0-9*#,WwPp!@$+Tt]{1,128}$")


def _settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **keys: str) -> PppSettings:
    location = tmp_path / "location.conf"
    location.write_text("[location]\ncountry-code = 1\narea-code = 206\nlocal-access = 9,\n")
    monkeypatch.setenv("OPENRAS_LOCATION", str(location))
    base = {"device": "modem", "openrasserialport": "/dev/ttyS0", "usedialingrules": "1"}
    spec = LinkSpec(
        handle=3,
        owner_uid=1000,
        entry=EntrySnapshot("Modem", {**base, **{k.lower(): v for k, v in keys.items()}}),
        params=DialParams(user="alice", password="pw"),
        run_dir=tmp_path,
        marker="m",
    )
    return PppSettings.from_spec(spec)


@pytest.mark.parametrize(
    "keys",
    [
        {"PhoneNumber": "5550100\nOK ATH"},  # a second chat line
        {"PhoneNumber": "5550100 'ABORT'"},
        {"PhoneNumber": "5550100\\c"},  # chat's escapes
        {"PhoneNumber": "^C5550100"},
        {"PhoneNumber": "5550100", "AreaCode": "425\nOK ATH"},
        {"PhoneNumber": "5550100", "AreaCode": "425;rm"},
        {"PhoneNumber": "5550100", "CountryCode": "1 ATH"},
        {"PhoneNumber": "5550100", "CountryCode": "-1"},
        {"PhoneNumber": "5550100", "AuthRestrictions": "512 debug"},
    ],
)
def test_entry_text_never_becomes_a_chat_line_or_a_pppd_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keys: dict[str, str]
) -> None:
    with pytest.raises(RasError) as err:
        _settings(tmp_path, monkeypatch, **keys)
    assert err.value.code in (87, 749)


@pytest.mark.parametrize(
    ("keys", "dialed"),
    [
        ({"PhoneNumber": "555-0100", "AreaCode": "206", "CountryCode": "1"}, "9,5550100"),
        ({"PhoneNumber": "(555) 0100", "AreaCode": "425", "CountryCode": "1"}, "14255550100"),
        ({"PhoneNumber": "20 7946 0000", "AreaCode": "", "CountryCode": "44"}, "011442079460000"),
    ],
)
def test_what_reaches_chat_is_the_daemons_script_and_dial_characters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keys: dict[str, str], dialed: str
) -> None:
    settings = _settings(tmp_path, monkeypatch, **keys, AuthRestrictions="512")
    lines = chat_script(settings).splitlines()
    [atd] = [line for line in lines if line.startswith("OK ATD")]
    assert atd == f"OK ATDT{dialed}" and _ATD.match(atd)
    rest = {line for line in lines if line is not atd and not line.startswith("TIMEOUT")}
    assert rest <= _FIXED
    argv = build_argv(
        settings, pppd="/usr/sbin/pppd", ifname="orppp3", linkname="openras-3",
        logfile=tmp_path / "pppd.log", password_fd=5, chat_file=tmp_path / "chat",
    )  # fmt: skip
    assert "pw" not in argv
    assert {"refuse-pap", "refuse-chap", "refuse-mschap"} <= set(argv)
    assert "refuse-mschap-v2" not in argv
