"""Per-uid quotas (pure accounting, ``now`` passed in) and the request limits they rely on."""

from __future__ import annotations

import pytest

from openras import errors
from openras.manager import quota as Q
from openras.manager.quota import LogLimiter, Quota, QuotaExceeded, TokenBucket
from openras.wire.codec import MAX_REQUEST, MAX_REQUEST_DEPTH, FrameDecoder, encode

USER, OTHER, ROOT = 1000, 1001, 0


def test_sessions_per_uid_cap_names_the_quota() -> None:
    q = Quota()
    for _ in range(Q.SESSIONS_PER_UID):
        q.open_session(USER)
    with pytest.raises(QuotaExceeded) as caught:
        q.open_session(USER)
    assert caught.value.code == errors.ERROR_ACCESS_DENIED
    assert isinstance(caught.value, errors.AccessDenied)
    assert f"{Q.SESSIONS_PER_UID} open sessions" in (caught.value.detail or "")
    assert q.sessions(USER) == Q.SESSIONS_PER_UID  # the refused one was not counted
    q.open_session(OTHER)  # another user is not affected
    q.close_session(USER)
    q.open_session(USER)  # a closed session frees its place


def test_root_has_no_session_cap() -> None:
    q = Quota()
    for _ in range(Q.SESSIONS_PER_UID * 4):
        q.open_session(ROOT)
    assert q.sessions(ROOT) == Q.SESSIONS_PER_UID * 4


def test_session_budget_keeps_a_descriptor_reserve() -> None:
    assert Quota.session_budget(20000) == 20000 - Q.FD_RESERVE
    assert Quota.session_budget(300) == 150  # a tiny limit keeps half
    q = Quota()
    q.set_session_budget(3)
    q.open_session(USER)
    q.open_session(OTHER)
    q.open_session(ROOT)
    with pytest.raises(QuotaExceeded, match="at most 3 sessions"):
        q.open_session(USER + 5)
    q.open_session(ROOT)  # root is counted but never refused
    assert q.total_sessions == 4
    q.close_session(ROOT)
    q.close_session(ROOT)
    q.open_session(USER + 5)


def test_buffered_bytes_per_uid() -> None:
    q = Quota()
    a, b = object(), object()
    q.open_session(USER)
    q.open_session(USER)
    half = Q.BUFFERED_PER_UID // 2
    assert q.fits(USER, a, half) and q.account(USER, a, half)
    assert q.fits(USER, b, half) and q.account(USER, b, half)
    assert q.buffered(USER) == Q.BUFFERED_PER_UID
    assert not q.fits(USER, b, half + 1)  # asked before the bytes are kept
    assert q.fits(USER, a, 0)
    assert q.fits(OTHER, object(), half)  # per uid
    assert not q.account(USER, a, half + 1)  # recorded, and over: the caller cuts the uid off
    q.close_session(USER, a)
    assert q.buffered(USER) == half
    q.account(USER, b, 0)
    q.close_session(USER, b)
    assert q.buffered(USER) == 0 and q.sessions(USER) == 0


def test_root_buffers_are_unbounded() -> None:
    q = Quota()
    assert q.fits(ROOT, object(), 10 * Q.BUFFERED_PER_UID)
    assert q.account(ROOT, object(), 10 * Q.BUFFERED_PER_UID)


def test_dial_rate_is_a_token_bucket() -> None:
    q = Quota()
    for _ in range(Q.DIAL_BURST):
        q.admit_dial(USER, 100.0)
    with pytest.raises(QuotaExceeded, match="dials") as caught:
        q.admit_dial(USER, 100.0)
    assert caught.value.code == errors.ERROR_ACCESS_DENIED
    q.admit_dial(OTHER, 100.0)  # per uid
    q.admit_dial(USER, 100.0 + 1 / Q.DIAL_RATE)  # one token back
    with pytest.raises(QuotaExceeded):
        q.admit_dial(USER, 100.0 + 1 / Q.DIAL_RATE)
    for _ in range(1000):
        q.admit_dial(ROOT, 100.0)
    q.prune(100.0 + Q.DIAL_BURST / Q.DIAL_RATE + 1)  # full buckets are forgotten
    for _ in range(Q.DIAL_BURST):
        q.admit_dial(USER, 200.0)


def test_live_connections_cap() -> None:
    q = Quota()
    q.check_live(USER, Q.LIVE_PER_UID - 1)
    with pytest.raises(QuotaExceeded, match=f"{Q.LIVE_PER_UID} live connections"):
        q.check_live(USER, Q.LIVE_PER_UID)
    q.check_live(ROOT, 10 * Q.LIVE_PER_UID)


def test_token_bucket_never_exceeds_its_burst() -> None:
    b = TokenBucket(3, 1.0, stamp=0.0)
    assert [b.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert b.wait() == pytest.approx(1.0)
    assert b.take(1000.0) and b.tokens == pytest.approx(2.0)
    assert b.take(999.0) and b.tokens == pytest.approx(1.0)  # a clock going back adds none


def test_log_limiter_burst_then_one_notice_then_the_count() -> None:
    lim = LogLimiter(burst=Q.LOG_BURST, period=Q.LOG_PERIOD)
    verdicts = [lim.check(USER, 0.0) for _ in range(Q.LOG_BURST + 50)]
    assert all(v.log for v in verdicts[: Q.LOG_BURST])
    dropped = verdicts[Q.LOG_BURST :]
    assert not any(v.log for v in dropped)
    assert [v.first_dropped for v in dropped].count(True) == 1 and dropped[0].first_dropped
    assert lim.check(OTHER, 0.0).log  # per uid
    later = lim.check(USER, Q.LOG_PERIOD / Q.LOG_BURST)  # one line's worth of time
    assert later.log and later.suppressed == 50
    assert lim.check(USER, Q.LOG_PERIOD / Q.LOG_BURST).suppressed == 0


def test_log_limiter_forgets_quiet_keys() -> None:
    lim = LogLimiter(burst=2, period=1.0)
    for key in range(LogLimiter.MAX_KEYS + 10):
        assert lim.check(key, float(key)).log
    assert len(lim._buckets) <= LogLimiter.MAX_KEYS


# ---------------------------------------------------------------- the request limits (codec)


def request_decoder() -> FrameDecoder:
    return FrameDecoder(MAX_REQUEST, MAX_REQUEST_DEPTH)


def test_a_request_up_to_the_limit_is_fine() -> None:
    head = b'{"method":"m","parameters":{"pad":"'
    frame = head + b"x" * (MAX_REQUEST - len(head) - 3) + b'"}}'
    assert len(frame) == MAX_REQUEST
    assert request_decoder().feed(frame + b"\0")[0]["method"] == "m"
    with pytest.raises(errors.ProtocolError, match="exceeds"):
        request_decoder().feed(frame + b" \0")


def test_an_unterminated_request_is_cut_at_the_limit() -> None:
    dec = request_decoder()
    chunk = b" " * 65536
    for _ in range(MAX_REQUEST // len(chunk)):
        assert dec.feed(chunk) == []
    assert dec.pending == MAX_REQUEST
    with pytest.raises(errors.ProtocolError, match="unterminated"):
        dec.feed(chunk)
    assert dec.pending == 0  # nothing kept once broken
    with pytest.raises(errors.ProtocolError, match="after a protocol error"):
        dec.feed(b"{}\0")


def test_nesting_is_bounded_in_requests() -> None:
    assert request_decoder().feed(b'{"a":' + b"[" * 6 + b"]" * 6 + b"}\0")
    assert request_decoder().feed(
        encode({"method": "m", "parameters": {"mask": {"user": True, "x": [1, [2, {"a": None}]]}}})
    )
    for depth in (MAX_REQUEST_DEPTH + 1, 1000, 100_000):
        frame = b'{"a":' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}\0"
        with pytest.raises(errors.ProtocolError, match="nested deeper"):
            request_decoder().feed(frame)


@pytest.mark.parametrize("depth", [1000, 100_000, 900_000])
def test_deep_nesting_never_escapes_as_recursion_error(depth: int) -> None:
    """The client's decoder has no depth bound of its own, but a deep document is still a
    ProtocolError (msgspec's RecursionError is caught), never another exception."""
    frame = b'{"a":' + b"[" * depth + b"]" * depth + b"}\0"
    with pytest.raises(errors.ProtocolError, match="nested too deeply"):
        FrameDecoder().feed(frame)


def test_request_limits_are_below_the_client_limits() -> None:
    from openras.wire.codec import MAX_FRAME

    assert MAX_REQUEST <= MAX_FRAME
    assert FrameDecoder().max_frame == MAX_FRAME


def test_policy_limits_do_not_reach_the_connection_paths() -> None:
    """The dial quotas may come from the administrator's policy (a lookup); the caps asked on
    every accept and read are the fixed ones."""
    asked: list[int] = []

    def policy(uid: int) -> Q.Limits:
        asked.append(uid)
        return Q.Limits(1, 1, 1, 1, 1.0)

    q = Quota(policy)
    for _ in range(Q.SESSIONS_PER_UID):
        q.open_session(USER)
    assert q.fits(USER, object(), Q.BUFFERED_PER_UID)
    assert asked == []
    q.admit_dial(USER, 0.0)
    with pytest.raises(QuotaExceeded):
        q.admit_dial(USER, 0.0)
    with pytest.raises(QuotaExceeded):
        q.check_live(USER, 1)
    assert asked
