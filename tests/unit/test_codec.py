"""The wire codec: NUL-framed JSON objects, split anywhere, bounded, strict."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openras.errors import LocalProtocolError, ProtocolError
from openras.wire import protocol as P
from openras.wire.codec import MAX_FRAME, FrameDecoder, encode, encode_plain

ROOT = Path(__file__).resolve().parents[2]

MESSAGES: list[dict[str, Any]] = [
    P.call(
        P.DIAL,
        {"entry": "Demo", "phonebook": "/tmp/x.pbk", "password": "p\u00e4ss\u20ac"},
        more=True,
    ),
    P.reply({"handle": 7, "state": 0x2000, "error": 0, "phase": "connected"}, continues=True),
    {"error": P.ERROR_NAME, "parameters": {"code": 691, "message": "Access denied"}},
    {"method": P.PING, "parameters": {"nested": {"list": [1, 2.5, None, True, "\u0000nul"]}}},
    {},
]


def stream_of(msgs: list[dict[str, Any]]) -> bytes:
    return b"".join(encode(m) for m in msgs)


def decode_in_pieces(
    data: bytes, cuts: list[int], max_frame: int = MAX_FRAME
) -> list[dict[str, Any]]:
    dec = FrameDecoder(max_frame)
    out: list[dict[str, Any]] = []
    last = 0
    for cut in [*sorted(cuts), len(data)]:
        out += dec.feed(data[last:cut])
        last = cut
    assert dec.pending == 0
    return out


def test_a_frame_is_json_and_one_nul() -> None:
    frame = encode({"a": "x\0y"})
    assert frame.endswith(b"\0") and frame.count(b"\0") == 1  # a NUL inside text is escaped
    assert FrameDecoder().feed(frame) == [{"a": "x\0y"}]


def test_split_at_every_byte_boundary() -> None:
    data = stream_of(MESSAGES)
    for i in range(len(data) + 1):
        assert decode_in_pieces(data, [i]) == MESSAGES, f"split at {i}"


def test_byte_by_byte_and_all_at_once() -> None:
    data = stream_of(MESSAGES)
    assert decode_in_pieces(data, list(range(len(data)))) == MESSAGES
    assert FrameDecoder().feed(data) == MESSAGES


def test_two_cuts_everywhere_in_a_short_stream() -> None:
    data = stream_of(MESSAGES[1:3])
    for i in range(0, len(data), 3):
        for j in range(i, len(data), 5):
            assert decode_in_pieces(data, [i, j]) == MESSAGES[1:3]


def test_truncated_frame_yields_nothing_and_is_pending() -> None:
    data = encode({"method": P.PING, "parameters": {}})
    for cut in range(1, len(data)):
        dec = FrameDecoder()
        assert dec.feed(data[:cut]) == []
        assert dec.pending == cut  # at EOF the reader knows the peer truncated a frame


def test_truncated_then_completed_is_one_message() -> None:
    dec = FrameDecoder()
    assert dec.feed(b'{"a":') == []
    assert dec.feed(b"1}\0{") == [{"a": 1}]
    assert dec.pending == 1


@pytest.mark.parametrize(
    "frame",
    [
        b"{nope}\0",
        b"[1, 2]\0",  # a message is an object
        b'"text"\0',
        b"42\0",
        b"\0",  # an empty frame
        b'{"a": 1}}\0',
        b'{"a": "\xff\xfe"}\0',  # not UTF-8
        b'{"a": 1,}\0',
        b'{"a": NaN}\0',
        b'{"a": -Infinity}\0',
        b'{"a": 1e400}\0',  # out of a float's range (as msgspec, which the daemon uses)
        b'{"a": "\\ud800"}\0',  # half a UTF-16 pair
        b'{"a": ["\\udc00\\ud83d"]}\0',
        b'{"\\uDFFF": 1}\0',
    ],
)
def test_malformed_frame_raises_protocol_error(frame: bytes) -> None:
    dec = FrameDecoder()
    with pytest.raises(ProtocolError) as exc:
        dec.feed(frame)
    assert exc.value.code == 87
    with pytest.raises(ProtocolError):  # the decoder is spent: the session must end
        dec.feed(encode({"fine": True}))


def test_the_clients_decoder_takes_what_the_daemons_takes() -> None:
    """The client's decoder (stdlib json) and the daemon's (msgspec) agree on the grammar."""
    frames = [
        b'{"a": "\\ud83d\\ude00", "b": "\\\\ud800", "c": 1.5e308, "d": 12345678901234567890}\0',
        b'{"a": [1, {"b": [null, false, -0.0, 4.9e-324]}]}\0',
    ]
    for frame in frames:
        assert FrameDecoder().feed(frame) == FrameDecoder(max_depth=8).feed(frame)
    assert FrameDecoder().feed(frames[0])[0]["a"] == "\U0001f600"
    assert FrameDecoder().feed(frames[0])[0]["b"] == "\\ud800"  # a backslash, then text


def test_a_clients_calls_encode_as_the_daemons_replies() -> None:
    for msg in MESSAGES:
        assert FrameDecoder().feed(encode_plain(msg)) == FrameDecoder().feed(encode(msg))
    for bad in ({"x": object()}, {"x": float("nan")}, {"x": "\ud800"}):
        with pytest.raises(LocalProtocolError):
            encode_plain(bad)


def test_messages_before_a_bad_frame_are_not_returned_as_good() -> None:
    dec = FrameDecoder()
    with pytest.raises(ProtocolError):
        dec.feed(encode({"ok": 1}) + b"garbage\0")


def test_oversized_terminated_frame() -> None:
    dec = FrameDecoder(max_frame=64)
    assert dec.feed(encode({"a": "x" * 50})) == [{"a": "x" * 50}]  # 60 bytes: fine
    with pytest.raises(ProtocolError, match="exceeds"):
        FrameDecoder(max_frame=64).feed(encode({"a": "x" * 60}))


def test_oversized_unterminated_frame_fails_before_the_terminator() -> None:
    dec = FrameDecoder(max_frame=64)
    assert dec.feed(b"{" + b" " * 60) == []
    with pytest.raises(ProtocolError, match="unterminated"):
        dec.feed(b" " * 10)


def test_exactly_max_frame_is_accepted() -> None:
    msg = {"a": ""}
    size = len(encode(msg)) - 1
    msg = {"a": "y" * (100 - size)}
    assert len(encode(msg)) - 1 == 100
    assert FrameDecoder(max_frame=100).feed(encode(msg)) == [msg]
    with pytest.raises(ProtocolError):
        FrameDecoder(max_frame=99).feed(encode(msg))


def test_default_limit_holds_a_big_enumeration() -> None:
    rows = [
        {"handle": i, "entry": f"entry-{i}", "phonebook": "/etc/openras/rasphone.pbk" * 2}
        for i in range(5000)
    ]
    data = encode(P.reply({"connections": rows}))
    assert len(data) < MAX_FRAME
    assert FrameDecoder().feed(data)[0]["parameters"]["connections"][-1]["handle"] == 4999


def test_protocol_raise_for_error_round_trip() -> None:
    from openras import errors

    exc = errors.AuthenticationFailure(detail="bad password", handle=12)
    wire = FrameDecoder().feed(encode(P.error_reply(exc)))[0]
    with pytest.raises(errors.AuthenticationFailure) as caught:
        P.raise_for_error(wire)
    assert caught.value.code == 691 and caught.value.handle == 12
    assert P.raise_for_error(FrameDecoder().feed(encode(P.reply({"x": 1})))[0]) == {"x": 1}


# ---------------------------------------------------------------------------- properties

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=10,
)
MESSAGE = st.dictionaries(st.text(max_size=12), JSON, max_size=6)


@given(msgs=st.lists(MESSAGE, min_size=1, max_size=3), data=st.data())
@settings(max_examples=120, deadline=None)
def test_round_trip_any_split(msgs: list[dict[str, Any]], data: st.DataObject) -> None:
    stream = stream_of(msgs)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=6))
    assert decode_in_pieces(stream, cuts) == msgs


@given(junk=st.binary(max_size=200), data=st.data())
@settings(max_examples=300, deadline=None)
def test_any_bytes_either_decode_or_raise_the_same_in_any_split(
    junk: bytes, data: st.DataObject
) -> None:
    """Whole or in pieces: the same messages come out, or ProtocolError (and nothing else)."""

    def run(cuts: list[int]) -> tuple[list[dict[str, Any]], bool]:
        dec = FrameDecoder(max_frame=128)
        out: list[dict[str, Any]] = []
        last = 0
        try:
            for cut in [*sorted(cuts), len(junk)]:
                out += dec.feed(junk[last:cut])
                last = cut
        except ProtocolError:
            return out, True
        return out, False

    whole, whole_err = run([])
    cuts = data.draw(st.lists(st.integers(0, len(junk)), max_size=8))
    pieces, pieces_err = run(cuts)
    assert whole_err == pieces_err
    if not whole_err:
        assert pieces == whole
    else:
        # pieces may have handed out whole frames before reaching the bad one
        assert all(isinstance(m, dict) for m in pieces)


# ---------------------------------------------------------------------------- the atheris harness


def test_fuzz_codec_bounded(tmp_path: Path) -> None:
    """Run fuzz/fuzz_codec.py for ~3 s: no crash, no property violation."""
    pytest.importorskip("atheris")
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "fuzz" / "fuzz_codec.py"),
            "-max_total_time=3",
            "-max_len=2048",
            "-rss_limit_mb=2048",
        ],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Done" in proc.stderr


def test_whose_fault_a_protocol_error_is() -> None:
    """As h11: what this side cannot send is a LocalProtocolError (its own bug, nothing half
    sent); what the peer sent wrong is a RemoteProtocolError. Both are ProtocolErrors."""
    from openras.errors import LocalProtocolError, RemoteProtocolError

    with pytest.raises(LocalProtocolError):
        encode({"not json": object()})
    with pytest.raises(RemoteProtocolError):
        FrameDecoder().feed(b"{nope}\0")


def test_a_client_reports_a_broken_reply_as_the_daemons_fault(tmp_path) -> None:
    """A daemon that answers garbage: the client raises 635 (RemoteProtocolError), not 87
    (which would say the client's own call was wrong)."""
    import socket
    import threading

    from openras.errors import RemoteProtocolError
    from openras.wire.transport import Transport

    path = tmp_path / "s.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(1)

    def answer_garbage() -> None:
        conn, _ = server.accept()
        conn.recv(65536)
        conn.sendall(b"{not the protocol\0")
        conn.close()

    thread = threading.Thread(target=answer_garbage)
    thread.start()
    t = Transport(path, timeout=5)
    with pytest.raises(RemoteProtocolError) as info:
        t.call("org.openras.Manager.Ping")
    assert info.value.code == 635 and "broke the protocol" in (info.value.detail or "")
    t.close()
    thread.join(5)
    server.close()
