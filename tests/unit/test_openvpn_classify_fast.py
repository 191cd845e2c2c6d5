"""classify_text skips a rule whose literals the log lacks: it must decide exactly as every
rule's regex over every line (newest first) does."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from openras.links.openvpn import parser as mp


def reference(lines: list[str]) -> tuple[int, str] | None:
    for pattern, code in mp._LOG_RULES:
        for line in reversed(lines):
            if pattern.search(line):
                return code, re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", "", line.strip())
    return None


FRAGMENTS = [
    "AUTH_FAILED", "auth-failure", "verification failed", "VERIFY OK: depth=1", "VERIFY ERROR",
    "verify eku error", "certificate verify failed", "alert unknown ca", "alert bad record",
    "Cannot load inline certificate", "cannot load the cert file", "Private key does not match",
    "RESOLVE: Cannot resolve", "Cannot resolve host address: x", "Connection refused",
    "ECONNREFUSED", "TLS key negotiation failed", "server_poll", "ETIMEDOUT",
    "No route to host", "ENETUNREACH", "Cannot open TUN/TAP", "ERROR: Cannot open tun",
    "Options error: x", "Initialization Sequence Completed", "TLS: Initial packet", "x",
    "2026-12-04 09:15:17 ", "  ", "VER\u0130FY ERROR", "\u017ferver_poll", "Kelvin \u212a",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(st.sampled_from(FRAGMENTS), max_size=4).map(" ".join), max_size=12))
def test_same_decision_as_every_rule_over_every_line(lines: list[str]) -> None:
    assert mp.classify_text(lines) == reference(lines)


def test_every_rule_has_literals_to_look_for() -> None:
    """A rule without literals would silently lose the shortcut (not the decision)."""
    assert all(mp._LOG_NEEDLES)
    assert mp._needles("a(?:b|c)d|ef") == ("a", "ef")
    assert mp._needles(".*x|y") == ()


def test_a_real_failure_in_a_long_log() -> None:
    noise = [f"2026-12-04 09:15:17 TLS: Initial packet from peer {n}" for n in range(60)]
    lines = [*noise, "2026-12-04 09:15:18 read UDPv4 [ECONNREFUSED]: Connection refused", *noise]
    assert mp.classify_text(lines) == (
        mp.errors.ERROR_VPN_REFUSED, "read UDPv4 [ECONNREFUSED]: Connection refused"
    )  # fmt: skip
