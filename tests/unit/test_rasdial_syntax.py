"""rasdial's command-line grammar: examples, every error, and generated command lines."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openras.cli.rasdial_syntax import (
    DialRequest,
    DisconnectRequest,
    HelpRequest,
    ListRequest,
    RasdialRequest,
    RasdialUsageError,
    parse,
)

# --- examples -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], ListRequest()),
        (["/?"], HelpRequest()),
        (["--help"], HelpRequest()),
        (["Office", "/?"], HelpRequest()),
        (["/BOGUS", "/?", "/PHONEBOOK:"], HelpRequest()),  # help wins over errors
        (["Office"], DialRequest("Office")),
        (["Office VPN", "alice"], DialRequest("Office VPN", user="alice")),
        (["Office", "alice", "s3cret"], DialRequest("Office", "alice", "s3cret")),
        (["Office", "alice", "*"], DialRequest("Office", "alice", None, prompt_password=True)),
        (["Office", "", ""], DialRequest("Office", "", "")),
        (["-x", "-u", "-p"], DialRequest("-x", "-u", "-p")),  # '-' is not a switch prefix
        (
            ["/phonebook:C:\\Users\\a\\x.pbk", "Office", "/Domain:CORP", "alice", "pw"],
            DialRequest("Office", "alice", "pw", domain="CORP", phonebook="C:\\Users\\a\\x.pbk"),
        ),
        (
            ["Office", "/PHONEBOOK:/etc/openras/a:b.pbk"],
            DialRequest("Office", phonebook="/etc/openras/a:b.pbk"),
        ),
        (
            ["Office", "/PHONE:555-0100", "/CALLBACK:555-0199", "/prefixsuffix"],
            DialRequest("Office", phone="555-0100", callback="555-0199", prefixsuffix=True),
        ),
        (["/DISCONNECT"], DisconnectRequest()),
        (["/d"], DisconnectRequest()),
        (["Office", "/d"], DisconnectRequest("Office")),
        (["/Disconnect", "Office VPN"], DisconnectRequest("Office VPN")),
        (
            ["/D", "/PHONEBOOK:/tmp/x.pbk", "Office"],
            DisconnectRequest("Office", phonebook="/tmp/x.pbk"),
        ),
    ],
)
def test_examples(argv: list[str], expected: RasdialRequest) -> None:
    assert parse(argv) == expected


def test_value_keeps_colons() -> None:
    assert parse(["E", "/DOMAIN::x:"]) == DialRequest("E", domain=":x:")


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["Office", "/FOO"], "unknown switch /FOO"),
        (["Office", "/"], "unknown switch /"),
        (["Office", "/DOM:x"], "unknown switch /DOM"),  # no abbreviations
        (["Office", "/DISC"], "unknown switch /DISC"),
        (["Office", "/d\u0131sconnect"], "unknown switch"),  # dotless i upper-cases to I
        (["Office", "/PHONEBOOK:"], "/PHONEBOOK needs a value"),
        (["Office", "/PHONEBOOK"], "/PHONEBOOK needs a value"),
        (["Office", "/domain"], "/DOMAIN needs a value"),
        (["Office", "/PHONE:"], "/PHONE needs a value"),
        (["Office", "/CALLBACK"], "/CALLBACK needs a value"),
        (["Office", "/PREFIXSUFFIX:yes"], "/PREFIXSUFFIX takes no value"),
        (["Office", "/D:"], "/DISCONNECT takes no value"),
        (["Office", "/DOMAIN:a", "/domain:a"], "/DOMAIN is given more than once"),
        (["Office", "/PREFIXSUFFIX", "/prefixsuffix"], "/PREFIXSUFFIX is given more than once"),
        (["Office", "/D", "/DISCONNECT"], "/DISCONNECT is given more than once"),
        (["Office", "alice", "pw", "extra"], "too many arguments"),
        (["Office", "alice", "/D"], "/DISCONNECT takes no user name or password"),
        (["Office", "alice", "pw", "/D"], "/DISCONNECT takes no user name or password"),
        (["Office", "/D", "/DOMAIN:x"], "/DOMAIN cannot be used with /DISCONNECT"),
        (["/D", "/PHONE:1"], "/PHONE cannot be used with /DISCONNECT"),
        (["/D", "/CALLBACK:1"], "/CALLBACK cannot be used with /DISCONNECT"),
        (["/D", "/PREFIXSUFFIX"], "/PREFIXSUFFIX cannot be used with /DISCONNECT"),
        (["/PHONEBOOK:x.pbk"], "an entry name is required"),
        (["/DOMAIN:x"], "an entry name is required"),
        ([""], "the entry name is empty"),
        (["", "/D"], "the entry name is empty"),
    ],
)
def test_usage_errors(argv: list[str], fragment: str) -> None:
    with pytest.raises(RasdialUsageError) as info:
        parse(argv)
    assert fragment in info.value.message
    assert str(info.value) == info.value.message


def test_help_alias_only_alone() -> None:
    # With other arguments it is an ordinary (if odd) entry name.
    assert parse(["--help", "u"]) == DialRequest("--help", "u")


def test_errors_never_echo_positionals() -> None:
    with pytest.raises(RasdialUsageError) as info:
        parse(["Office", "alice", "hunter2", "oops"])
    assert "hunter2" not in info.value.message
    assert "oops" not in info.value.message


def test_password_not_in_repr() -> None:
    request = parse(["Office", "alice", "hunter2"])
    assert "hunter2" not in repr(request)
    assert isinstance(request, DialRequest)
    assert request.password == "hunter2"


def test_long_or_unprintable_switch_names_are_shown_safely() -> None:
    with pytest.raises(RasdialUsageError) as info:
        parse(["E", "/" + "X" * 500])
    assert len(info.value.message) < 80
    with pytest.raises(RasdialUsageError) as info:
        parse(["E", "/\x1b[2J"])
    assert "\x1b" not in info.value.message


def test_requests_are_frozen() -> None:
    request = DialRequest("E")
    with pytest.raises(AttributeError):
        request.entry = "F"  # type: ignore[misc]


# --- generated command lines ----------------------------------------------------------------

positional_text = st.text().filter(lambda s: not s.startswith("/"))
entry_text = st.text(min_size=1).filter(lambda s: not s.startswith("/") and s != "--help")
value_text = st.text(min_size=1)


@st.composite
def spelled(draw: st.DrawFn, name: str) -> str:
    """``name`` in a random mix of upper and lower case."""
    flips = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    return "".join(c.lower() if f else c.upper() for c, f in zip(name, flips, strict=True))


@dataclass(frozen=True)
class Case:
    argv: list[str]
    expected: RasdialRequest


@st.composite
def shuffled(draw: st.DrawFn, positionals: list[str], switches: list[str]) -> list[str]:
    """Switches in random places; positionals keep their relative order."""
    slots = ["P"] * len(positionals) + ["S"] * len(switches)
    order = draw(st.permutations(slots))
    pos, sw = iter(positionals), iter(draw(st.permutations(switches)))
    return [next(pos) if slot == "P" else next(sw) for slot in order]


@st.composite
def dial_cases(draw: st.DrawFn) -> Case:
    entry = draw(entry_text)
    user = draw(st.none() | positional_text)
    password = None if user is None else draw(st.none() | st.just("*") | positional_text)
    optional = {
        name: draw(st.none() | value_text) for name in ("DOMAIN", "PHONE", "CALLBACK", "PHONEBOOK")
    }
    prefixsuffix = draw(st.booleans())

    switches = [f"/{draw(spelled(n))}:{v}" for n, v in optional.items() if v is not None]
    if prefixsuffix:
        switches.append("/" + draw(spelled("PREFIXSUFFIX")))
    positionals = [p for p in (entry, user, password) if p is not None]
    argv = draw(shuffled(positionals, switches))
    expected = DialRequest(
        entry=entry,
        user=user,
        password=None if password == "*" else password,
        prompt_password=password == "*",
        domain=optional["DOMAIN"],
        phone=optional["PHONE"],
        callback=optional["CALLBACK"],
        phonebook=optional["PHONEBOOK"],
        prefixsuffix=prefixsuffix,
    )
    return Case(argv, expected)


@st.composite
def disconnect_cases(draw: st.DrawFn) -> Case:
    entry = draw(st.none() | entry_text)
    phonebook = draw(st.none() | value_text)
    switches = ["/" + draw(spelled(draw(st.sampled_from(["DISCONNECT", "D"]))))]
    if phonebook is not None:
        switches.append(f"/{draw(spelled('PHONEBOOK'))}:{phonebook}")
    argv = draw(shuffled([] if entry is None else [entry], switches))
    return Case(argv, DisconnectRequest(entry=entry, phonebook=phonebook))


@given(dial_cases())
@settings(max_examples=300)
def test_generated_dials_parse(case: Case) -> None:
    assert parse(case.argv) == case.expected


@given(disconnect_cases())
@settings(max_examples=200)
def test_generated_disconnects_parse(case: Case) -> None:
    assert parse(case.argv) == case.expected


@given(dial_cases(), st.data())
def test_any_switch_twice_is_an_error(case: Case, data: st.DataObject) -> None:
    switches = [a for a in case.argv if a.startswith("/")]
    if not switches:
        return
    again = data.draw(st.sampled_from(switches))
    with pytest.raises(RasdialUsageError, match="more than once"):
        parse([*case.argv, again])


@given(dial_cases(), positional_text)
def test_a_fourth_positional_is_an_error(case: Case, extra: str) -> None:
    assert isinstance(case.expected, DialRequest)
    if case.expected.password is None and not case.expected.prompt_password:
        return
    with pytest.raises(RasdialUsageError, match="too many"):
        parse([*case.argv, extra])


_TOKENS = [
    "/?",
    "/D",
    "/d",
    "/DISCONNECT",
    "/PREFIXSUFFIX",
    "/PHONEBOOK:",
    "/PHONEBOOK:x",
    "/DOMAIN",
    "/DOMAIN:d",
    "/PHONE:1",
    "/CALLBACK:2",
    "/",
    "/:",
    "*",
    "--help",
    "-",
    "",
    ":",
]

junk_arg = st.one_of(
    st.text(),
    st.sampled_from(_TOKENS),
    st.builds(lambda a, b: f"/{a}:{b}", st.text(max_size=12), st.text(max_size=12)),
    st.builds(lambda a: "/" + a, st.text(max_size=12)),
)


@given(st.lists(junk_arg, max_size=8))
@settings(max_examples=500)
def test_junk_only_ever_raises_usage_errors(argv: list[str]) -> None:
    request: object
    try:
        request = parse(argv)
    except RasdialUsageError as error:
        request = error.message
    if isinstance(request, str):
        assert request  # a usage error always says what is wrong
    else:
        assert isinstance(request, ListRequest | HelpRequest | DialRequest | DisconnectRequest)


@given(st.lists(junk_arg, max_size=8))
def test_parse_is_deterministic_and_does_not_touch_argv(argv: list[str]) -> None:
    before = list(argv)
    first: object
    try:
        first = parse(argv)
    except RasdialUsageError as error:
        first = error.message
    second: object
    try:
        second = parse(argv)
    except RasdialUsageError as error:
        second = error.message
    assert first == second
    assert argv == before
