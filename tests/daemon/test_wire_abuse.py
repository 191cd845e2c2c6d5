"""A bad client ends its own session only; bad arguments answer 87, never a traceback."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys

import pytest
from rasman_helpers import Events, Raw, alive, is_gone, pending, wait_until

from openras import Client, errors
from openras.manager import quota
from openras.manager.server import MAX_QUEUED_CALLS
from openras.states import RasConnState
from openras.wire import protocol as P
from openras.wire.codec import MAX_FRAME, MAX_REQUEST, MAX_REQUEST_DEPTH, encode


@pytest.fixture
def bystanders(rasman):
    """A live connection and a healthy second client that must not notice a bad client."""
    c = Client(rasman.socket)
    conn = c.dial("Demo", rasman.phonebook)
    [pid] = rasman.link_pids()
    yield c, conn.handle, pid
    assert c.status(conn.handle).state is RasConnState.Connected  # still there, same client
    assert rasman.link_pids() == [pid] and alive(pid)
    c.hang_up(conn.handle)
    c.close()
    assert "Traceback" not in rasman.log.read_text()


MALFORMED = [
    b"{not json}\0",
    b"[1, 2, 3]\0",
    b'"a string"\0',
    b"\xff\xfe\xfd\0",
    b"\0",
    b'{"method": 5, "parameters": {}}\0',
    b'{"method": "org.openras.Manager.Ping", "parameters": [1]}\0',
    b'{"parameters": {}}\0',
]


def test_malformed_frames_close_that_client_only(rasman, bystanders):
    c, h, _ = bystanders
    for junk in MALFORMED:
        bad = Raw(rasman.socket)
        assert bad.call(P.PING) is not None  # a working session first
        bad.send(junk)
        assert bad.recv() is None, junk  # closed, no answer
        bad.close()
        assert c.status(h).state is RasConnState.Connected
    assert rasman.log.read_text().count("protocol error") >= len(MALFORMED)


def test_oversized_frame_closes_that_client_only(rasman, bystanders):
    c, h, _ = bystanders
    bad = Raw(rasman.socket, timeout=30)
    chunk = b" " * 65536
    sent = 0
    try:
        bad.send(b'{"method": "org.openras.Manager.Ping", "parameters": {"pad": "')
        while sent <= MAX_FRAME + len(chunk):
            bad.send(chunk)
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the daemon hung up on us while we were still sending: that is the point
    assert bad.closed_by_peer()
    bad.close()
    assert c.status(h).state is RasConnState.Connected
    # The daemon closes the socket and then logs why: the line may trail the close.
    wait_until(lambda: "exceeds" in rasman.log.read_text(), 10, "the oversized frame logged")


def test_oversized_terminated_frame(rasman, bystanders):
    c, h, _ = bystanders
    bad = Raw(rasman.socket, timeout=30)
    payload = encode({"method": P.PING, "parameters": {"pad": "x" * (MAX_FRAME + 10)}})
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        bad.send(payload)
    assert bad.closed_by_peer()
    bad.close()
    assert c.status(h).refs == 1


def test_truncated_frame_closes_that_client_only(rasman, bystanders):
    c, h, _ = bystanders
    bad = Raw(rasman.socket)
    bad.send(b'{"method": "org.openras.Manager.GetConnectStatus", "parameters": {"hand')
    bad.sock.shutdown(1)  # SHUT_WR: EOF in the middle of a frame
    assert bad.recv() is None
    bad.close()
    wait_until(lambda: "truncated frame" in rasman.log.read_text(), 5, what="the log line")
    assert c.status(h).state is RasConnState.Connected


def counts(c: Client) -> tuple[int, int]:
    """(sessions, subscribers) the daemon holds right now."""
    ping = c.call(P.PING)
    return ping["sessions"], ping["subscribers"]


def test_client_killed_mid_dial(rasman, bystanders, extra_pbk):
    """The dialer dies mid-call; its attempt goes on and stays the daemon's to manage."""
    c, _, _ = bystanders
    baseline = counts(c)
    script = "import sys\nfrom openras import Client\nClient(sys.argv[1], autostart=False).dial('SlowDial', sys.argv[2])\n"
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(rasman.socket), str(extra_pbk)], env=rasman.env
    )
    try:
        h = wait_until(lambda: pending(c, "SlowDial"), 15, what="the attempt")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    wait_until(
        lambda: c.status(h).state is RasConnState.Connected,
        10,
        what="the orphaned attempt to finish",
    )
    c.hang_up(h, wait=True)
    assert is_gone(c, h)
    wait_until(lambda: counts(c) == baseline, what="the dead dialer's session to go")


def test_client_killed_while_subscribed(rasman, bystanders):
    c, _, _ = bystanders
    baseline = counts(c)
    script = (
        "import sys\nfrom pathlib import Path\nfrom openras.wire.transport import Transport\n"
        "t = Transport(Path(sys.argv[1]))\n"
        "for msg in t.stream('org.openras.Manager.Subscribe', {}):\n"
        "    print(msg['event'], flush=True)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(rasman.socket)],
        env=rasman.env,
        stdout=subprocess.PIPE,
        text=True,
    )
    events = Events(rasman.socket)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "subscribed"
        conn = c.dial("Secret", rasman.phonebook, password="s3cret")
        assert proc.stdout.readline().strip() == "created"  # the subscriber is live
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        c.hang_up(conn.handle, wait=True)
        events.wait_for(lambda e: e.get("event") == "disconnected" and e["handle"] == conn.handle)
        # the dead subscriber's session and queue are gone; only our Events remain
        wait_until(
            lambda: counts(c) == (baseline[0] + 1, baseline[1] + 1), what="no leak after kill"
        )
    finally:
        events.close()
    wait_until(lambda: counts(c) == baseline, what="the closed Events to go too")


def test_client_killed_mid_sync_dial_leaks_nothing(rasman, bystanders, extra_pbk):
    """A synchronous Dial (no ``more``) of a killed client frees its session at once."""
    c, _, _ = bystanders
    baseline = counts(c)
    raw = Raw(rasman.socket)
    raw.send(encode(P.call(P.DIAL, {"entry": "SlowDial", "phonebook": str(extra_pbk)})))
    h = wait_until(lambda: pending(c, "SlowDial"), 15, what="the attempt")
    assert counts(c) == (baseline[0] + 1, baseline[1] + 1)
    raw.close()
    wait_until(lambda: counts(c) == baseline, 5, what="the session and its subscriber to go")
    assert c.status(h).phase == "dialing"  # the attempt itself goes on
    c.hang_up(h, wait=True)


STRING_PARAMS = [
    ("entry", 5),
    ("entry", ["Demo"]),
    ("entry", {"name": "Demo"}),
    ("entry", "x" * 257),
    ("entry", "De\0mo"),
    ("phone_number", "1" * 129),
    ("phone_number", 5551234),
    ("callback_number", "1" * 129),
    ("user", "u" * 257),
    ("password", "p" * 257),
    ("password", 1234),
    ("domain", "d" * 16),
    ("phonebook", 3.5),
    ("user_phonebook", True),
]


def test_wrong_types_and_over_long_fields_answer_87(rasman):
    raw = Raw(rasman.socket)
    for name, value in STRING_PARAMS:
        params = {"entry": "Demo", "phonebook": str(rasman.phonebook), name: value}
        reply = raw.call(P.DIAL, params)
        assert reply is not None and reply["error"] == P.ERROR_NAME, (name, value)
        assert reply["parameters"]["code"] == errors.ERROR_INVALID_PARAMETER, (name, value)
    assert raw.call(P.PING)["parameters"]["uid"] == 0  # the session went on throughout
    raw.close()
    assert rasman.link_pids() == []
    assert "Traceback" not in rasman.log.read_text()


def test_limits_are_inclusive(rasman):
    """256 characters of entry name are fine (the entry just is not there: 623)."""
    with Client(rasman.socket) as c:
        with pytest.raises(errors.EntryNotFound):
            c.dial("x" * 256, rasman.phonebook)
        with pytest.raises(errors.InvalidParameter):
            c.dial("x" * 257, rasman.phonebook)
        with pytest.raises(errors.InvalidParameter):
            c.dial("", rasman.phonebook)  # neither entry nor number
        conn = c.dial(
            "Demo", rasman.phonebook, phone_number="5" * 128, user="u" * 256, domain="d" * 15
        )
        assert c.status(conn.handle).phone_number == "5" * 128
        conn.hang_up()


def test_handle_of_wrong_type_is_an_invalid_handle(rasman):
    """A handle that is no integer names no connection: 6, as RasHangUp(garbage) does."""
    raw = Raw(rasman.socket)
    for handle in ("1", 1.0, None, True, [1], {"h": 1}):
        for method in (P.GET_STATUS, P.HANG_UP, P.STATISTICS, P.WAIT_DELETED):
            reply = raw.call(method, {"handle": handle})
            assert reply["parameters"]["code"] == errors.ERROR_INVALID_HANDLE, (method, handle)
    raw.close()


def test_unknown_method_and_missing_parameters(rasman):
    raw = Raw(rasman.socket)
    reply = raw.call("org.openras.Manager.NoSuchThing")
    assert reply["error"] == "org.varlink.service.MethodNotFound"
    reply = raw.call(P.GET_STATUS, {})
    assert reply["parameters"]["code"] == errors.ERROR_INVALID_HANDLE
    reply = raw.call(P.DIAL, {"entry": "Nope", "phonebook": str(rasman.phonebook)})
    assert reply["parameters"]["code"] == errors.ERROR_CANNOT_FIND_PHONEBOOK_ENTRY
    assert "handle" not in reply["parameters"]  # no handle for a dial that never started
    reply = raw.call(P.DIAL, {"entry": "Demo", "phonebook": "/nonexistent/dir/x.pbk"})
    assert reply["parameters"]["code"] in (
        errors.ERROR_CANNOT_OPEN_PHONEBOOK,
        errors.ERROR_CANNOT_LOAD_PHONEBOOK,
    )
    info = raw.call("org.varlink.service.GetInfo")
    assert P.INTERFACE in info["parameters"]["interfaces"]
    raw.close()
    assert "Traceback" not in rasman.log.read_text()
    assert rasman.link_pids() == []


# ------------------------------------------------------------------- request limits and quotas


def test_requests_are_limited_to_1_mib(rasman, bystanders):
    """What the daemon reads is bounded below the client's limit: a request of up to
    MAX_REQUEST is served, one byte more closes that session (without reading on)."""
    c, h, _ = bystanders
    head = encode({"method": P.PING, "parameters": {"pad": ""}})[:-4]  # up to the pad's quote
    fits = head + b"x" * (MAX_REQUEST - len(head) - 3) + b'"}}\0'
    assert len(fits) == MAX_REQUEST + 1  # the frame and its NUL
    ok = Raw(rasman.socket)
    ok.send(fits)
    assert ok.recv()["parameters"]["uid"] == 0
    ok.close()
    bad = Raw(rasman.socket)
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        bad.send(fits[:-4] + b'x"}}\0')  # one byte more
    assert bad.closed_by_peer()
    bad.close()
    assert c.status(h).state is RasConnState.Connected
    wait_until(lambda: f"exceeds {MAX_REQUEST}" in rasman.log.read_text(), 5, what="the line")


@pytest.mark.parametrize("depth", [MAX_REQUEST_DEPTH + 1, 10_000, 500_000])
def test_deeply_nested_json_closes_that_client_only(rasman, bystanders, depth):
    c, h, _ = bystanders
    bad = Raw(rasman.socket)
    assert bad.call(P.PING) is not None
    other = Raw(rasman.socket)
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        bad.send(b'{"method": "x", "parameters": {"a": ' + b"[" * depth + b"]" * depth + b"}}\0")
    assert bad.recv() is None
    bad.close()
    assert other.call(P.PING) is not None  # the same client's other session goes on
    other.close()
    assert c.status(h).state is RasConnState.Connected
    wait_until(lambda: "nested deeper" in rasman.log.read_text(), 5, what="the line")
    text = rasman.log.read_text()
    assert text.count("nested deeper") == 1 and "RecursionError" not in text


def test_pipelined_calls_are_bounded(rasman):
    """A few calls sent at once are answered in order; a client queueing more than
    MAX_QUEUED_CALLS unanswered calls has its session closed."""
    raw = Raw(rasman.socket)
    raw.send(b"".join(encode(P.call(P.GET_STATUS, {"handle": 1000 + i})) for i in range(10)))
    for _ in range(10):
        assert raw.recv()["parameters"]["code"] == errors.ERROR_INVALID_HANDLE
    raw.close()
    flood = Raw(rasman.socket)
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        flood.send(encode(P.call(P.PING)) * (MAX_QUEUED_CALLS * 4))
    answered = 0
    while flood.recv() is not None:
        answered += 1
        assert answered <= MAX_QUEUED_CALLS * 4
    flood.close()
    assert answered < MAX_QUEUED_CALLS * 4
    wait_until(lambda: "calls queued unanswered" in rasman.log.read_text(), 5, what="the line")


def test_root_has_no_session_cap(rasman):
    sessions = [Raw(rasman.socket) for _ in range(quota.SESSIONS_PER_UID + 20)]
    try:
        for raw in sessions:
            assert raw.call(P.PING)["parameters"]["uid"] == 0
    finally:
        for raw in sessions:
            raw.close()


def test_lines_about_a_bad_client_are_rate_limited(rasman):
    for _ in range(quota.LOG_BURST * 4):
        bad = Raw(rasman.socket)
        bad.send(b"{not json}\0")
        assert bad.recv() is None
        bad.close()
    wait_until(lambda: "suppressed" in rasman.log.read_text(), 5, what="the notice")
    with Client(rasman.socket) as c:
        c.call(P.PING)  # a round trip: every line about the bad sessions has been queued
    text = rasman.log.read_text()
    assert text.count("protocol error") == quota.LOG_BURST
    assert text.count("suppressed") == 1
    assert "Traceback" not in text
