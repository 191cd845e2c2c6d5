"""One client surface: every public method of the blocking Client exists on AsyncClient with
the same parameters (names, kinds, defaults), as a coroutine; the same for Connection and
AsyncConnection. A method added to one and not the other fails here."""

from __future__ import annotations

import inspect

import pytest

from openras.aclient import AsyncClient, AsyncConnection
from openras.client import Client, Connection

#: What only the async side has, and why: the blocking client connects in its constructor.
ONLY_ASYNC = {"connect"}
#: Deliberate differences of default, and why: an async caller bounds the wait with its own
#: ``asyncio.timeout`` (the blocking one has no such tool, so it gets 30 s by default).
DEFAULTS_DIFFER = {"wait_gone"}


def public(cls: type) -> dict[str, object]:
    return {n: v for n, v in vars(cls).items() if not n.startswith("_") and callable(v)}


def shape(fn: object) -> list[tuple[str, object, object]]:
    sig = inspect.signature(fn)  # type: ignore[arg-type]
    return [(p.name, p.kind, p.default) for p in sig.parameters.values()]


@pytest.mark.parametrize(("sync", "asyn"), [(Client, AsyncClient), (Connection, AsyncConnection)])
def test_same_methods_same_parameters(sync: type, asyn: type) -> None:
    s, a = public(sync), public(asyn)
    assert set(s) <= set(a), sorted(set(s) - set(a))
    assert set(a) - set(s) <= ONLY_ASYNC, sorted(set(a) - set(s))
    for name in sorted(set(s) & set(a)):
        want, got = shape(s[name]), shape(a[name])
        if name in DEFAULTS_DIFFER:
            want, got = [w[:2] for w in want], [g[:2] for g in got]
        assert want == got, name
        fn = a[name]
        assert inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn), name
