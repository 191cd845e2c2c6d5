"""The manager's event streams, indexed by handle: each event reaches exactly the streams
that want it (the index must answer as asking every stream did)."""

from __future__ import annotations

import itertools

from openras.manager.service import Subscriber, Subscribers


def test_each_event_reaches_exactly_the_streams_that_want_it() -> None:
    subs = Subscribers()
    streams = [
        Subscriber(uid=uid, handle=handle)
        for uid, handle in itertools.product((0, 1000, 1001), (None, 5, 6))
    ]
    for sub in streams:
        subs.add(sub)
    assert len(subs) == len(streams)
    for owner, handle in itertools.product((1000, 1001), (5, 6, 7, None)):
        event = {"event": "state", "owner": owner, "handle": handle}
        got = subs.for_event(event)
        assert sorted(map(id, got)) == sorted(id(s) for s in streams if s.wants(event))
        assert len(got) == len(set(map(id, got)))  # never twice


def test_discard_and_re_add_under_a_new_handle() -> None:
    subs = Subscribers()
    sub = Subscriber(uid=1000)
    subs.add(sub)
    sub.handle = 9
    subs.add(sub)  # filed again under its handle, not twice
    assert len(subs) == 1 and sub in subs
    assert subs.for_event({"owner": 1000, "handle": 9}) == [sub]
    assert subs.for_event({"owner": 1000, "handle": 8}) == []
    subs.discard(sub)
    subs.discard(sub)  # twice is harmless
    assert len(subs) == 0 and list(subs) == []
