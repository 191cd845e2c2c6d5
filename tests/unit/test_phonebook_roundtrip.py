"""Property tests: any phonebook we can generate reads back to the same bytes and meaning."""

from __future__ import annotations

import codecs
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openras import _rasentry
from openras.errors import PhonebookError
from openras.phonebook import Entry, parse
from openras.phonebook.names import name_key

Case = tuple[bytes, list[tuple[str, list[tuple[str, str]]]]]

EOLS = st.sampled_from(["\r\n", "\n"])
WS = st.sampled_from(["", "", " ", "\t", "  "])
# Printable text without line breaks or control characters (cp1252-friendly subset mixed in).
SAFE = st.characters(
    blacklist_categories=("Cc", "Cs", "Zl", "Zp"),
    blacklist_characters="\x85",
)
TEXT = st.text(SAFE, max_size=20)
KEYS = st.sampled_from(
    [
        "Type",
        "type",
        "TYPE",
        "VpnStrategy",
        "PhoneNumber",
        "phonenumber",
        "Device",
        "device",
        "Port",
        "Guid",
        "Encoding",
        "OpenRasDevice",
        "X",
        "RedialSeconds",
        "IdleDisconnectSeconds",
        "PreviewUserPw",
        "LcpExtensions",
        "CountryCode",
        "AreaCode",
        "PreferredDevice",
        "PreferredPort",
        "OpenRasOptions",
    ]
)
STARTERS = st.sampled_from(["MEDIA", "media", "DEVICE", "NETCOMPONENTS", "NetComponents"])


@st.composite
def key_line(draw: st.DrawFn) -> tuple[str, str, str]:
    """``(line body, key, value)`` for a Key=Value line with random spacing."""
    key = draw(
        st.one_of(KEYS, STARTERS, st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True))
    )
    value = draw(st.one_of(TEXT, st.sampled_from(["010", "abc", "-1", "0x10", "1"]))).strip(" \t")
    body = f"{draw(WS)}{key}{draw(WS)}={draw(WS)}{value}{draw(WS)}"
    return body, key, value


@st.composite
def name(draw: st.DrawFn) -> str:
    n = draw(st.text(SAFE, min_size=1, max_size=15))
    if not n.strip(" \t"):
        n = "x" + n
    return n


@st.composite
def phonebook(draw: st.DrawFn) -> Case:
    """Random phonebook bytes plus the entries/keys it must read back as."""
    lines: list[str] = []
    model: list[tuple[str, list[tuple[str, str]]]] = []
    for _ in range(draw(st.integers(0, 2))):
        lines.append(draw(st.sampled_from(["", "; note", "# note", "  ;x", " \t"])))
    for _ in range(draw(st.integers(0, 4))):
        nm = draw(name())
        lines.append(f"{draw(WS)}[{nm}]{draw(WS)}")
        keys: list[tuple[str, str]] = []
        for _ in range(draw(st.integers(0, 8))):
            kind = draw(st.integers(0, 5))
            if kind == 0:
                lines.append(draw(st.sampled_from(["", " ", "; c", "#c"])))
            else:
                body, k, v = draw(key_line())
                lines.append(body)
                keys.append((k, v))
        model.append((nm, keys))
    text = "".join(line + draw(EOLS) for line in lines)
    if text and draw(st.booleans()):
        text = text.rstrip("\r\n")  # unterminated last line
    enc = draw(st.sampled_from(["utf-8", "utf-8-bom", "cp1252"]))
    if enc == "cp1252":
        try:
            data = text.encode("cp1252")
        except UnicodeEncodeError:
            data = text.encode("utf-8")
    elif enc == "utf-8-bom":
        data = codecs.BOM_UTF8 + text.encode("utf-8")
    else:
        data = text.encode("utf-8")
    return data, model


def _flat(entry: Entry) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for b in entry.blocks:
        if b.kind != "main":
            out.append((b.kind.casefold(), b.value))
        out.extend((k.casefold(), v) for k, v in b.items)
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(phonebook())
def test_phonebook_roundtrip_property(case: Case) -> None:
    data, model = case
    pb = parse(data, "gen.pbk")
    assert pb.dumps() == data
    assert pb.names() == [n for n, _ in model]
    for entry, (_, keys) in zip(pb.entries, model, strict=True):
        assert _flat(entry) == [(k.casefold(), v) for k, v in keys]
        # Every main-block key answers case-insensitively with its first value.
        for k, _v in entry.items():
            first = next(val for kk, val in entry.items() if kk.casefold() == k.casefold())
            assert entry.get(k.upper()) == first
            assert entry.get(k.lower()) == first


@settings(max_examples=100, deadline=None)
@given(phonebook(), st.data())
def test_phonebook_edit_changes_one_line_property(case: Case, data: st.DataObject) -> None:
    raw, _ = case
    pb = parse(raw)
    candidates = [(i, k) for i, e in enumerate(pb.entries) for k, _ in e.items()]
    if not candidates:
        return
    idx, key = data.draw(st.sampled_from(candidates))
    new_value = data.draw(st.from_regex(r"[A-Za-z0-9.]{0,10}", fullmatch=True))
    before_flat = [_flat(e) for e in pb.entries]
    pb.entries[idx].set(key, new_value)
    out = pb.dumps()
    before = raw.split(b"\n")
    after = out.split(b"\n")
    assert len(before) == len(after)
    assert sum(a != b for a, b in zip(before, after, strict=True)) <= 1
    again = parse(out)
    assert again.entries[idx].get(key) == new_value
    for i, e in enumerate(again.entries):
        if i != idx:
            assert _flat(e) == before_flat[i]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_phonebook_arbitrary_bytes_error_or_identical(data: bytes) -> None:
    error: PhonebookError | None = None
    try:
        pb = parse(data, "fuzz.pbk")
    except PhonebookError as exc:
        error = exc
    if error is not None:
        assert error.code == 625
        assert "fuzz.pbk:" in str(error)
    else:
        assert pb.dumps() == data


PIECES = [b"[a]", b"[b]", b"K=v", b"DEVICE=vpn", b"Device=x", b"", b";", b"\xe9", b"\xef\xbb\xbf"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(PIECES), st.sampled_from([b"\r\n", b"\n", b""]))))
def test_phonebook_structured_bytes_error_or_identical(parts: list[tuple[bytes, bytes]]) -> None:
    data = b"".join(p + e for p, e in parts)
    try:
        pb = parse(data)
    except PhonebookError:
        return
    assert pb.dumps() == data


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(phonebook())
def test_phonebook_get_then_set_entry_properties_is_identity(case: Case) -> None:
    """RasGetEntryProperties then RasSetEntryProperties of every entry rewrites nothing, however
    odd its values ("010", "abc", empty, repeated keys, blocks in any order)."""
    data, _ = case
    try:
        names = parse(data).names()
    except PhonebookError:
        return
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "gen.pbk"
        path.write_bytes(data)
        seen: set[str] = set()
        for nm in names:
            if name_key(nm) in seen:
                continue
            seen.add(name_key(nm))
            code, props = _rasentry.RasGetEntryProperties(str(path), nm)
            assert code == 0
            assert props is not None
            assert _rasentry.RasSetEntryProperties(str(path), nm, props) == 0
            assert path.read_bytes() == data, nm


def test_a_key_repeated_in_two_spellings_survives_get_then_set(tmp_path: Path) -> None:
    """Found by the property above: ``I=`` then ``i=0`` (one key to Windows, two lines) came
    back as ``I=0`` after an unchanged RasGetEntryProperties/RasSetEntryProperties."""
    data = b"[0]\r\nType=\r\nType=\r\nI=\r\ni=0\r\n"
    path = tmp_path / "gen.pbk"
    path.write_bytes(data)
    code, props = _rasentry.RasGetEntryProperties(str(path), "0")
    assert code == 0 and props is not None
    assert _rasentry.RasSetEntryProperties(str(path), "0", props) == 0
    assert path.read_bytes() == data
