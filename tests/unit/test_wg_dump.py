"""``wg show dump`` parsing and the handshake monitor (pure, with a fake clock)."""

from __future__ import annotations

import base64
import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openras.links.wireguard.dump import (
    DialTimedOut,
    DumpError,
    DumpPeer,
    HandshakeDone,
    PeerMonitor,
    PeerSilent,
    WgDump,
    parse_dump,
)

PRIV = "0IQ/EUv2oOw8SwCJ3zqHZKn4GsEvd+jpCxhDNPBtT18="
PUB = "x9Nil0ivh9fMNTUQCVv3hnLD2spoxHeg62rjtOjGo3Q="
PEER = "Z0hBhXj3lmSCtUMx1ljcSr84OjJWk+GwH5K7PNVjqnI="

# Shaped like the lab's transcript (links-lab.md §4): interface line, then one peer.
RECORDED = (
    f"{PRIV}\t{PUB}\t43512\toff\n"
    f"{PEER}\t(none)\t10.99.0.1:51820\t10.99.7.0/24\t1795458652\t476\t564\t25\n"
)


def test_recorded_dump() -> None:
    dump = parse_dump(RECORDED)
    assert dump.interface is not None
    assert dump.interface.public_key == PUB
    assert dump.interface.listen_port == 43512
    assert dump.interface.fwmark is None
    assert dump.interface.has_private_key
    (peer,) = dump.peers
    assert peer == DumpPeer(
        public_key=PEER,
        has_preshared_key=False,
        endpoint="10.99.0.1:51820",
        allowed_ips=("10.99.7.0/24",),
        latest_handshake=1795458652,
        rx_bytes=476,
        tx_bytes=564,
        persistent_keepalive=25,
    )
    assert (dump.rx_bytes, dump.tx_bytes, dump.latest_handshake) == (476, 564, 1795458652)


def test_the_private_key_is_never_kept() -> None:
    dump = parse_dump(RECORDED)
    assert PRIV not in repr(dump)
    assert PRIV not in str(vars(dump.interface))


def test_never_handshaked_peer_and_none_fields() -> None:
    text = f"(none)\t{PUB}\t0\t0xca6c\n{PEER}\t(hidden)\t(none)\t(none)\t0\t0\t148\toff\n"
    dump = parse_dump(text)
    assert dump.interface is not None
    assert not dump.interface.has_private_key
    assert dump.interface.fwmark == 0xCA6C
    peer = dump.peers[0]
    assert peer.endpoint is None
    assert peer.allowed_ips == ()
    assert peer.persistent_keepalive is None
    assert peer.has_preshared_key
    assert dump.latest_handshake == 0


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a\tb\tc\n",
        f"{PRIV}\t{PUB}\tport\toff\n",
        f"{PRIV}\t{PUB}\t1\toff\n{PEER}\t(none)\t(none)\t(none)\t-1\t0\t0\toff\n",
        f"{PRIV}\t{PUB}\t1\toff\n{PEER}\t(none)\t(none)\t(none)\t\u00b2\t0\t0\toff\n",
        f"{PRIV}\t{PUB}\t1\toff\n(none)\t(none)\t(none)\t(none)\t0\t0\t0\toff\n",
    ],
)
def test_malformed(text: str) -> None:
    with pytest.raises(DumpError):
        parse_dump(text)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab0123456789\t\n()none/.:=+ x\u00b2"), max_size=300))
def test_fuzz_parse_dump(text: str) -> None:
    """Any input either parses or raises DumpError (a ValueError), nothing else."""
    with contextlib.suppress(DumpError):
        parse_dump(text)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_parse_dump_any_text(text: str) -> None:
    with contextlib.suppress(DumpError):
        parse_dump(text)


_KEY = st.binary(min_size=32, max_size=32).map(lambda b: base64.b64encode(b).decode())
_U64 = st.integers(0, 2**64 - 1)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(_KEY, st.booleans(), _U64, _U64, _U64, st.none() | st.integers(1, 65535)),
        max_size=5,
    )
)
def test_generated_dumps_round_trip(
    peers: list[tuple[str, bool, int, int, int, int | None]],
) -> None:
    lines = [f"{PRIV}\t{PUB}\t51820\toff"]
    for key, psk, hs, rx, tx, ka in peers:
        psk_text = "(hidden)" if psk else "(none)"
        ka_text = "off" if ka is None else str(ka)
        lines.append(f"{key}\t{psk_text}\t1.2.3.4:5\t10.0.0.0/8,::/0\t{hs}\t{rx}\t{tx}\t{ka_text}")
    dump = parse_dump("\n".join(lines) + "\n")
    assert [(p.public_key, p.has_preshared_key, p.latest_handshake, p.rx_bytes, p.tx_bytes,
             p.persistent_keepalive) for p in dump.peers] == peers  # fmt: skip
    assert dump.rx_bytes == sum(p[3] for p in peers)


# -- the monitor -----------------------------------------------------------------------------


def dump(handshake: int, rx: int, tx: int) -> WgDump:
    peer = DumpPeer(PEER, False, "1.2.3.4:5", (), handshake, rx, tx, None)
    return WgDump(None, (peer,))


def test_monitor_connects_on_first_handshake() -> None:
    mon = PeerMonitor(started=100.0, dial_timeout=5.0, dead_after=3.0)
    assert mon.observe(dump(0, 0, 148), 100.05) == []
    assert mon.observe(dump(1795458652, 92, 148), 100.10) == [HandshakeDone(PEER, 1795458652)]
    assert mon.connected
    assert mon.observe(dump(1795458652, 92, 148), 100.2) == []


def test_monitor_dial_timeout_exactly_at_deadline() -> None:
    mon = PeerMonitor(started=100.0, dial_timeout=5.0, dead_after=3.0)
    assert mon.observe(dump(0, 0, 148), 104.99) == []
    assert mon.observe(dump(0, 0, 296), 105.0) == [DialTimedOut(5.0, 296, 0)]
    assert mon.observe(dump(0, 0, 296), 106.0) == []  # reported once


def test_monitor_timeout_without_dumps() -> None:
    mon = PeerMonitor(started=0.0, dial_timeout=1.0, dead_after=3.0)
    assert mon.timeout(0.5) == []
    assert mon.timeout(1.0) == [DialTimedOut(1.0, 0, 0)]
    assert mon.timeout(2.0) == []


def test_monitor_silence_needs_our_traffic() -> None:
    mon = PeerMonitor(started=0.0, dial_timeout=5.0, dead_after=3.0)
    mon.observe(dump(10, 100, 100), 1.0)
    # idle both ways for a long time: nothing to judge by, not dead
    assert mon.observe(dump(10, 100, 100), 50.0) == []
    # we keep sending but the peer stays silent
    assert mon.observe(dump(10, 100, 132), 52.0) == [PeerSilent(51.0)]


def test_monitor_rx_or_handshake_keeps_it_alive() -> None:
    mon = PeerMonitor(started=0.0, dial_timeout=5.0, dead_after=3.0)
    mon.observe(dump(10, 100, 100), 1.0)
    assert mon.observe(dump(10, 132, 132), 3.5) == []  # peer keepalive arrived
    assert mon.observe(dump(10, 132, 164), 6.0) == []  # 2.5 s silent: still within limit
    assert mon.observe(dump(14, 132, 196), 6.4) == []  # a new handshake counts as heard
    (event,) = mon.observe(dump(14, 132, 228), 9.5)
    assert isinstance(event, PeerSilent)
    assert event.silent_for == pytest.approx(3.1)


def test_monitor_adopted_link() -> None:
    mon = PeerMonitor(started=0.0, dial_timeout=5.0, dead_after=3.0)
    mon.mark_connected(dump(10, 100, 100), 0.0)
    assert mon.connected
    assert mon.observe(dump(10, 100, 120), 4.0) == [PeerSilent(4.0)]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0.0, 2.0), st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)),
        max_size=40,
    )
)
def test_monitor_properties(steps: list[tuple[float, int, int, int]]) -> None:
    """At most one Connected and one terminal event, in that order; an idle link (tx never
    grows) is never declared silent; nothing is reported before the deadline without cause."""
    mon = PeerMonitor(started=0.0, dial_timeout=3.0, dead_after=2.0)
    now, hs, rx, tx = 0.0, 0, 0, 0
    seen: list[object] = []
    tx_grew = False
    for dt, d_hs, d_rx, d_tx in steps:
        now += dt
        hs, rx = hs + d_hs, rx + d_rx
        tx_grew = tx_grew or (d_tx > 0 and mon.connected)
        tx += d_tx
        events = mon.observe(dump(hs, rx, tx), now)
        for event in events:
            if isinstance(event, DialTimedOut):
                assert now >= 3.0
            if isinstance(event, PeerSilent):
                assert tx_grew
        seen += events
    kinds = [type(e) for e in seen]
    assert kinds.count(HandshakeDone) <= 1
    assert kinds.count(DialTimedOut) + kinds.count(PeerSilent) <= 1
    if PeerSilent in kinds:
        assert kinds.index(HandshakeDone) < kinds.index(PeerSilent)
    if DialTimedOut in kinds:
        assert HandshakeDone not in kinds


def test_dial_poll_backs_off() -> None:
    from openras.links.wireguard.driver import dial_poll_interval

    fast, medium = 10.2, 11.0  # the dial's interface came up at 10.0
    assert dial_poll_interval(10.05, fast, medium) == 0.001
    assert dial_poll_interval(10.5, fast, medium) == 0.01
    assert dial_poll_interval(12.0, fast, medium) == 0.05


#: wireguard-go 0.0.20220316's answer to get=1 (recorded; the private key replaced).
UAPI_ANSWER = (
    "private_key=" + "11" * 32 + "\n"
    "listen_port=51999\n"
    "public_key=6e6826db39b2d5d0558510afb4e23fbf641f76e294c2bdac229b493d69832445\n"
    "preshared_key=" + "00" * 32 + "\n"
    "protocol_version=1\n"
    "endpoint=127.0.0.1:5\n"
    "last_handshake_time_sec=0\n"
    "last_handshake_time_nsec=0\n"
    "tx_bytes=0\n"
    "rx_bytes=0\n"
    "persistent_keepalive_interval=25\n"
    "allowed_ip=10.9.0.1/32\n"
    "allowed_ip=10.9.1.0/24\n"
    "errno=0\n\n"
)
#: What ``wg show orprobe0 dump`` printed for the same interface (private key replaced).
DUMP_OF_SAME = (
    "ERERERERERERERERERERERERERERERERERERERERERE=\t(none)\t51999\toff\n"
    "bmgm2zmy1dBVhRCvtOI/v2QfduKUwr2sIptJPWmDJEU=\t(none)\t127.0.0.1:5\t"
    "10.9.0.1/32,10.9.1.0/24\t0\t0\t0\t25\n"
)


def test_uapi_answer_reads_like_the_dump() -> None:
    from openras.links.wireguard.dump import parse_uapi

    got = parse_uapi(UAPI_ANSWER)
    want = parse_dump(DUMP_OF_SAME)
    assert got.peers == want.peers
    assert got.interface is not None and want.interface is not None
    assert (got.interface.listen_port, got.interface.has_private_key) == (51999, True)
    assert "11" * 32 not in repr(got)  # the private key is dropped


def test_uapi_handshake_and_errors() -> None:
    from openras.links.wireguard.dump import parse_uapi

    later = UAPI_ANSWER.replace("last_handshake_time_sec=0", "last_handshake_time_sec=1700000000")
    later = later.replace("rx_bytes=0", "rx_bytes=92")
    dump = parse_uapi(later)
    assert (dump.latest_handshake, dump.rx_bytes) == (1700000000, 92)
    for bad in ("errno=1\n\n", UAPI_ANSWER.replace("errno=0\n", ""),
                UAPI_ANSWER.replace("public_key=6e", "public_key=zz"), "garbage\nerrno=0\n"):  # fmt: skip
        with pytest.raises(DumpError):
            parse_uapi(bad)
