"""The dial policy: parsing (errors name the line) and decisions (pure)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from openras import errors
from openras.policy import BUILTIN, Caller, Policy, PolicyError, Source, decide, load, parse

ALICE = Caller(1000, "alice", ("alice",))
NETDEV = Caller(1001, "bob", ("bob", "netdev"))
ROOT = Caller(0, "root", ("root",))


def _refusal(policy: Policy, caller: Caller, driver: str, all_users: bool = False) -> str:
    with pytest.raises(errors.RasError) as info:
        decide(policy, caller, driver=driver, all_users=all_users)
    assert info.value.code == errors.ERROR_ACCESS_DENIED
    return info.value.detail or ""


def test_builtin_lets_everyone_dial_loopback_and_all_users_entries_but_not_own_tunnels():
    p = parse(BUILTIN, "built-in policy")
    assert decide(p, ALICE, driver="loopback", all_users=False).full_tunnel is False
    assert decide(p, ALICE, driver="openvpn", all_users=True).full_tunnel is True
    detail = _refusal(p, ALICE, "openvpn")
    assert "built-in policy:3: devices = loopback ssh" in detail
    g = decide(p, NETDEV, driver="wireguard", all_users=False)
    assert g.full_tunnel is True and g.full_tunnel_rule == "built-in policy:8: full-tunnel = yes"


def test_root_is_never_restricted_even_by_a_broken_file():
    broken = Policy((), "/etc/openras/policy.conf", broken="x:1: nonsense")
    assert decide(broken, ROOT, driver="openvpn", all_users=False).full_tunnel
    assert "x:1: nonsense" in _refusal(broken, ALICE, "loopback")


def test_user_sections_override_groups_which_override_default():
    text = """
[default]
entries = none
[group:netdev]
entries = all-users own   ; the group may
devices = *
[user:bob]
full-tunnel = no
"""
    p = parse(text, "p.conf")
    assert "p.conf:3: entries = none" in _refusal(p, ALICE, "loopback", all_users=True)
    g = decide(p, NETDEV, driver="openvpn", all_users=False)
    assert g.full_tunnel is False and g.full_tunnel_rule == "p.conf:8: full-tunnel = no"


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("entries = own\n", 1, "before the first [section]"),
        ("[default]\nentries own\n", 2, "expected 'key = value'"),
        ("[default]\nrun = /bin/sh\n", 2, "unknown key 'run'"),
        ("[default]\nfull-tunnel = maybe\n", 2, "full-tunnel must be yes or no"),
        ("[default]\nentries = everything\n", 2, "entries: all-users, own or none"),
        ("[nobody]\n", 1, "not a section header"),
    ],
)
def test_malformed_lines_are_named(text: str, line: int, what: str):
    with pytest.raises(PolicyError) as info:
        parse(text, "p.conf")
    assert info.value.where == f"p.conf:{line}" and what in str(info.value)


def test_a_broken_file_refuses_every_non_root_dial(tmp_path: Path):
    path = tmp_path / "policy.conf"
    path.write_text("[default]\nentries = al-users\n")
    p = load(path)
    assert p.broken.startswith(f"{path}:2:")
    assert "only root may dial" in _refusal(p, ALICE, "loopback", all_users=True)


def test_missing_file_is_the_builtin(tmp_path: Path):
    assert load(tmp_path / "absent.conf") == parse(BUILTIN, "built-in policy")


def test_source_rereads_a_changed_file(tmp_path: Path):
    path = tmp_path / "policy.conf"
    path.write_text("[default]\nentries = none\n")
    src = Source(path)
    _refusal(src.current(), ALICE, "loopback", all_users=True)
    path.write_text("[default]\nentries = all-users own\ndevices = loopback\n")
    later = time.time() + 5  # a different mtime even on a coarse clock
    os.utime(path, (later, later))
    assert decide(src.current(), ALICE, driver="loopback", all_users=False).full_tunnel is False


def test_the_shipped_example_is_the_builtin_policy():
    shipped = Path(__file__).resolve().parents[2] / "packaging" / "policy.conf"
    a, b = parse(shipped.read_text(), "x"), parse(BUILTIN, "x")
    assert [(s.kind, s.name, {k: v.value for k, v in s.keys.items()}) for s in a.sections] == [
        (s.kind, s.name, {k: v.value for k, v in s.keys.items()}) for s in b.sections
    ]


def test_quota_keys_per_user_and_group():
    from openras.policy import quota_overrides

    p = parse(
        "[default]\nmax-connections = 4\n[group:netdev]\ndial-burst = 20\n"
        "[user:bob]\ndial-rate = 0.5\n",
        "p.conf",
    )
    assert quota_overrides(p, ALICE) == {"max-connections": 4.0}
    assert quota_overrides(p, NETDEV) == {
        "max-connections": 4.0,
        "dial-burst": 20.0,
        "dial-rate": 0.5,
    }
    for bad in ("max-connections = 0", "dial-burst = many", "dial-rate = -1"):
        with pytest.raises(PolicyError, match="above 0"):
            parse(f"[default]\n{bad}\n", "p.conf")
