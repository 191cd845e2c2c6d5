"""wg-quick config parsing (pure): what is kept, what is split off, what is refused."""

from __future__ import annotations

import base64
import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openras.errors import RasError
from openras.links.policy_slots import POLICY_SLOTS, POLICY_TABLE_BASE, PolicySlot
from openras.links.rtnl import AddRule, DelRule, parse_del_rule, routes_too_much
from openras.links.wireguard.config import (
    WgConfig,
    check_endpoint,
    check_key,
    check_policy,
    endpoint_literal,
    key_hex,
    parse_config,
    require_dialable,
    split_endpoint,
)
from openras.links.wireguard.netplan import (
    batches,
    plan_network,
)
from openras.policy import Grant

PRIV = base64.b64encode(bytes(range(32))).decode()
PUB = base64.b64encode(bytes(range(1, 33))).decode()
PUB2 = base64.b64encode(bytes(range(2, 34))).decode()
PSK = base64.b64encode(bytes(range(3, 35))).decode()

GOOD = f"""\
# a typical client
[Interface]
PrivateKey = {PRIV}
Address = 10.0.0.2/24, fd00::2/64
Address = 10.0.1.2/32
DNS = 10.0.0.53, corp.example
MTU = 1380
Table = auto
SaveConfig = false
ListenPort = 51000

[Peer]   # the server
PublicKey = {PUB}
PresharedKey = {PSK}
Endpoint = vpn.example.org:51820
AllowedIPs = 10.0.0.0/24, 192.168.7.5/24
AllowedIPs = 10.0.0.0/24
PersistentKeepalive = 25
"""


def parse(text: str) -> WgConfig:
    return parse_config(text, "/etc/test.conf")


def error_of(text: str) -> RasError:
    with pytest.raises(RasError) as info:
        parse(text)
    assert info.value.code == 872
    return info.value


def test_good_config_is_split_into_wg_and_wg_quick_parts() -> None:
    cfg = parse(GOOD)
    assert cfg.interface.private_key == PRIV
    assert cfg.interface.listen_port == 51000
    q = cfg.quick
    assert [str(a) for a in q.addresses] == ["10.0.0.2/24", "fd00::2/64", "10.0.1.2/32"]
    assert q.dns == ("10.0.0.53",)
    assert q.dns_search == ("corp.example",)
    assert (q.mtu, q.table, q.save_config) == (1380, "auto", False)
    (peer,) = cfg.peers
    assert peer.public_key == PUB
    assert peer.preshared_key == PSK
    assert peer.endpoint == "vpn.example.org:51820"
    # non-strict networks are normalised and repeats merged, in order
    assert [str(n) for n in peer.allowed_ips] == ["10.0.0.0/24", "192.168.7.0/24"]
    assert peer.persistent_keepalive == 25
    assert peer.line == 12


def test_setconf_has_only_wg_keys() -> None:
    text = parse(GOOD).to_setconf()
    assert f"PrivateKey = {PRIV}" in text
    for key in ("Address", "DNS", "MTU", "Table", "SaveConfig"):
        assert f"{key} =" not in text
    again = parse(text)
    assert again.peers == parse(GOOD).peers
    assert again.interface == parse(GOOD).interface


def test_setconf_overrides() -> None:
    cfg = parse(GOOD.replace("PersistentKeepalive = 25\n", ""))
    text = cfg.to_setconf(fwmark=51820, keepalive_override=1)
    assert "FwMark = 51820" in text
    assert "PersistentKeepalive = 1" in text


def test_uapi_request_carries_what_setconf_would_in_hex() -> None:
    cfg = parse(GOOD.replace("PersistentKeepalive = 25\n", ""))
    text = cfg.to_uapi(
        endpoints={"vpn.example.org:51820": "192.0.2.7:51820"}, fwmark=51820, keepalive_override=1
    )
    assert text == (
        "set=1\n"
        f"private_key={bytes(range(32)).hex()}\n"
        "listen_port=51000\n"
        "fwmark=51820\n"
        "replace_peers=true\n"
        f"public_key={bytes(range(1, 33)).hex()}\n"
        f"preshared_key={bytes(range(3, 35)).hex()}\n"
        "endpoint=192.0.2.7:51820\n"
        "persistent_keepalive_interval=1\n"
        "replace_allowed_ips=true\n"
        "allowed_ip=10.0.0.0/24\n"
        "allowed_ip=192.168.7.0/24\n"
        "\n"
    )
    # without overrides: the config's own keepalive, no fwmark, no endpoint-less keepalive
    plain = parse(GOOD).to_uapi(endpoints={"vpn.example.org:51820": "[2001:db8::1]:51820"})
    assert "fwmark=" not in plain
    assert "persistent_keepalive_interval=25\n" in plain
    assert "endpoint=[2001:db8::1]:51820\n" in plain
    assert key_hex(PUB) == bytes(range(1, 33)).hex()


def test_endpoint_literals_for_uapi() -> None:
    assert split_endpoint("vpn.example.org:51820") == ("vpn.example.org", 51820)
    assert split_endpoint("[fd00::1]:443") == ("fd00::1", 443)
    assert endpoint_literal("10.0.0.1:51820") == "10.0.0.1:51820"
    assert endpoint_literal("[fd00:0::1]:443") == "[fd00::1]:443"
    assert endpoint_literal("vpn.example.org:51820") is None  # a name: resolved at dial time


def test_secrets_stay_out_of_repr_and_errors() -> None:
    cfg = parse(GOOD)
    assert PRIV not in repr(cfg)
    assert PSK not in repr(cfg)
    bad = error_of(GOOD.replace(f"PrivateKey = {PRIV}", f"PrivateKey = {PRIV[:-2]}"))
    assert PRIV[:-2] not in str(bad)


@pytest.mark.parametrize("key", ["PreUp", "PostUp", "PreDown", "POSTDOWN", "postup"])
def test_hooks_are_refused_with_file_and_line(key: str) -> None:
    err = error_of(f"[Interface]\nPrivateKey = {PRIV}\n\n{key} = iptables -F\n")
    assert err.detail == (
        f"/etc/test.conf:4: {key} is refused: openras never runs commands from a WireGuard config"
    )


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (base64.b64encode(bytes(31)).decode(), "decodes to 31 bytes; a WireGuard key is 32 bytes"),
        (base64.b64encode(bytes(33)).decode(), "decodes to 33 bytes"),
        ("not-base64!", "is not valid base64"),
        (PUB[:-2] + "B=", "is not canonical base64"),
    ],
)
def test_public_key_must_be_32_bytes_of_base64(bad: str, message: str) -> None:
    err = error_of(f"[Interface]\nPrivateKey = {PRIV}\n[Peer]\nPublicKey = {bad}\n")
    assert err.detail is not None
    assert err.detail.startswith("/etc/test.conf:4: PublicKey ")
    assert message in err.detail


@pytest.mark.parametrize(
    ("text", "where", "fragment"),
    [
        ("PrivateKey = x\n", ":1:", "outside any section"),
        ("[Interface]\nPrivateKey\n", ":2:", "expected 'Key = Value'"),
        ("[Interfaces]\n", ":1:", "unknown section"),
        (f"[Interface]\nPrivateKey = {PRIV}\nFoo = 1\n", ":3:", "unknown key 'Foo'"),
        (f"[Interface]\nPrivateKey = {PRIV}\nEndpoint = a:1\n", ":3:", "in [Interface]"),
        (f"[Interface]\nPrivateKey = {PRIV}\nMTU = 1\nMTU = 2\n", ":4:", "twice"),
        (f"[Interface]\nPrivateKey = {PRIV}\n[Interface]\n", ":3:", "second [Interface]"),
        ("[Interface]\nListenPort = 1\n", ":1:", "no PrivateKey"),
        (f"[Interface]\nPrivateKey = {PRIV}\n[Peer]\nEndpoint = a:1\n", ":3:", "no PublicKey"),
        (f"[Interface]\nPrivateKey = {PRIV}\nAddress = 10.0.0.300\n", ":3:", "not an IP"),
        (f"[Interface]\nPrivateKey = {PRIV}\nMTU = 9\n", ":3:", "576..65535"),
        (f"[Interface]\nPrivateKey = {PRIV}\nTable = 254\n", ":3:", "Table" if False else "254"),
        (f"[Interface]\nPrivateKey = {PRIV}\nDNS = -bad-\n", ":3:", "search domain"),
        (f"[Interface]\nPrivateKey = {PRIV}\nListenPort = 70000\n", ":3:", "not a port"),
        (
            f"[Interface]\nPrivateKey = {PRIV}\n[Peer]\nPublicKey = {PUB}\nAllowedIPs = x/1\n",
            ":5:",
            "not an IP network",
        ),
        (
            f"[Interface]\nPrivateKey = {PRIV}\n[Peer]\nPublicKey = {PUB}\n"
            f"[Peer]\nPublicKey = {PUB}\n",
            ":6:",
            "twice (also on line 4)",
        ),
        (
            f"[Interface]\nPrivateKey = {PRIV}\n[Peer]\nPublicKey = {PUB}\n"
            "PersistentKeepalive = often\n",
            ":5:",
            "seconds",
        ),
        ("", "", "no [Interface]"),
    ],
)
def test_errors_name_file_and_line(text: str, where: str, fragment: str) -> None:
    err = error_of(text)
    assert err.detail is not None
    assert err.detail.startswith(f"/etc/test.conf{where}"), err.detail
    assert fragment in err.detail


def test_comments_whitespace_case_and_crlf() -> None:
    text = f"[interface]\r\n  privatekey=  {PRIV}  # mine\r\n[ Peer ]\r\npublickey={PUB}\r\n"
    cfg = parse(text)
    assert cfg.peers[0].public_key == PUB


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("1.2.3.4:51820", "1.2.3.4:51820"),
        ("[fd00::1]:1", "[fd00::1]:1"),
        ("host.example:9", "host.example:9"),
    ],
)
def test_endpoints(raw: str, norm: str) -> None:
    assert check_endpoint(raw) == norm


@pytest.mark.parametrize("raw", ["fd00::1:51820", "host", "host:0", "[zz]:1", "-x:1", "h:port"])
def test_bad_endpoints(raw: str) -> None:
    with pytest.raises(ValueError):
        check_endpoint(raw)


def test_key_check() -> None:
    assert check_key(PUB) == PUB
    with pytest.raises(ValueError):
        check_key("")


def test_require_dialable() -> None:
    no_peer = parse(f"[Interface]\nPrivateKey = {PRIV}\n")
    with pytest.raises(RasError, match="no \\[Peer\\]"):
        require_dialable(no_peer)
    no_endpoint = parse(f"[Interface]\nPrivateKey = {PRIV}\n[Peer]\nPublicKey = {PUB}\n")
    with pytest.raises(RasError, match="no \\[Peer\\] has an Endpoint"):
        require_dialable(no_endpoint)
    require_dialable(parse(GOOD))


# -- the ip plan -----------------------------------------------------------------------------


def conf(allowed: str, extra: str = "") -> WgConfig:
    return parse(
        f"[Interface]\nPrivateKey = {PRIV}\nAddress = 10.9.0.2/24\n{extra}"
        f"[Peer]\nPublicKey = {PUB}\nEndpoint = 1.2.3.4:5\nAllowedIPs = {allowed}\n"
    )


def test_plan_addresses_mtu_and_routes_skip_connected() -> None:
    plan = plan_network(conf("10.9.0.0/24, 10.9.0.7/32, 10.50.0.0/16, 10.50.1.0/24"), "wg0")
    assert plan.setup == (
        ("address", "add", "10.9.0.2/24", "dev", "wg0"),
        ("link", "set", "dev", "wg0", "addrgenmode", "none"),
        ("link", "set", "dev", "wg0", "mtu", "1420", "up"),
        ("route", "add", "10.50.0.0/16", "dev", "wg0"),
    )
    assert plan.teardown == ()
    assert plan.fwmark is None
    assert plan.routes == ("10.50.0.0/16 table main",)


def test_plan_default_route_uses_policy_rules_of_the_daemons_slot() -> None:
    slot = PolicySlot(1)
    plan = plan_network(conf("0.0.0.0/0, ::/0"), "wg0", slot=slot)
    sup, pri = slot.priorities
    assert (sup, pri) == (24002, 24003)
    mark = str(POLICY_TABLE_BASE + 1)
    assert slot.table == slot.fwmark == POLICY_TABLE_BASE + 1
    assert ("route", "add", "0.0.0.0/0", "dev", "wg0", "table", mark) in plan.setup
    assert (
        "-4", "rule", "add", "not", "fwmark", mark, "table", mark, "priority", "24003"
    ) in plan.setup  # fmt: skip
    # The suppress rule carries the link's mark too: it is this link's rule, exactly.
    assert (
        "-6", "rule", "add", "not", "fwmark", mark, "table", "main",
        "suppress_prefixlength", "0", "priority", "24002",
    ) in plan.setup  # fmt: skip
    # The teardown removes those exact rules, never "whatever has priority N".
    assert plan.teardown == (
        ("-4", "rule", "del", "not", "fwmark", mark, "table", mark, "priority", "24003"),
        ("-4", "rule", "del", "not", "fwmark", mark, "table", "main",
         "suppress_prefixlength", "0", "priority", "24002"),
        ("-6", "rule", "del", "not", "fwmark", mark, "table", mark, "priority", "24003"),
        ("-6", "rule", "del", "not", "fwmark", mark, "table", "main",
         "suppress_prefixlength", "0", "priority", "24002"),
    )  # fmt: skip
    for args in plan.teardown:
        assert "priority" in args and "fwmark" in args and "table" in args
    assert plan.fwmark == POLICY_TABLE_BASE + 1
    assert plan.slot == slot
    assert plan.src_valid_mark


def test_plan_default_route_ignores_the_configs_fwmark() -> None:
    """Root's FwMark never chooses the policy table, mark or priorities: the slot does."""
    plan = plan_network(conf("0.0.0.0/0", "FwMark = 51820\n"), "wg0", slot=PolicySlot(7))
    assert plan.fwmark == POLICY_TABLE_BASE + 7
    assert not any("51820" in a for args in plan.setup for a in args)
    # Without a default route root's FwMark marks the socket, as in wg-quick.
    assert plan_network(conf("10.50.0.0/16", "FwMark = 0x10\n"), "wg0").fwmark == 16


def test_plan_default_route_needs_a_slot() -> None:
    with pytest.raises(ValueError, match="slot"):
        plan_network(conf("0.0.0.0/0"), "wg0")


def test_slots_are_unique_per_handle_within_the_range() -> None:
    seen: dict[tuple[int, int, int, int], int] = {}
    for handle in range(1, POLICY_SLOTS + 1):
        slot = PolicySlot.first_for(handle)
        key = (slot.table, slot.fwmark, *slot.priorities)
        assert key not in seen, f"handles {seen.get(key)} and {handle} share a slot"
        seen[key] = handle
        sup, pri = slot.priorities
        assert 0 < sup < pri < 32766  # before main
        assert slot.table not in (0, 253, 254, 255)
    assert PolicySlot(POLICY_SLOTS - 1).next() == PolicySlot(0)
    with pytest.raises(ValueError):
        PolicySlot(POLICY_SLOTS)


def test_teardown_lines_parse_back_only_when_exact() -> None:
    plan = plan_network(conf("0.0.0.0/0, ::/0"), "wg0", slot=PolicySlot(3))
    for args in plan.teardown:
        removal = parse_del_rule(args)
        assert removal is not None and removal.ip_args() == args
    # The removals of older records (and anything hand-made) are not exact: refused.
    for bad in (
        ("-4", "rule", "del", "priority", "31999"),
        ("-4", "rule", "del", "table", "51820", "priority", "31999"),
        ("-4", "rule", "del", "not", "fwmark", "0", "table", "5", "priority", "1"),
        ("-4", "rule", "del", "not", "fwmark", "5", "table", "5"),
        ("-4", "rule", "del", "not", "fwmark", "5", "table", "5", "priority", "1", "x"),
        ("rule", "del", "not", "fwmark", "5", "table", "5", "priority", "1"),
        ("-4", "rule", "add", "not", "fwmark", "5", "table", "5", "priority", "1"),
        ("-4", "rule", "del", "not", "fwmark", "x", "table", "5", "priority", "1"),
    ):
        assert parse_del_rule(bad) is None, bad
    with pytest.raises(ValueError, match="fwmark"):
        DelRule(AddRule(4, 24000, 254, suppress_prefixlength=0))


@pytest.mark.parametrize(("table", "expect"), [("off", 0), ("main", 1), ("123", 1)])
def test_plan_tables(table: str, expect: int) -> None:
    plan = plan_network(conf("0.0.0.0/0", f"Table = {table}\n"), "wg0")
    routes = [c for c in plan.setup if c[0] == "route"]
    assert len(routes) == expect
    assert plan.teardown == ()
    if table == "123":
        assert routes[0][-2:] == ("table", "123")


# -- what the daemon lets a config do (error 5 naming the line) ------------------------------

USER = 1000
SPLIT = Grant(full_tunnel=False, full_tunnel_rule="policy.conf:3: full-tunnel = no")


@pytest.mark.parametrize(
    ("extra", "allowed", "line", "words"),
    [
        ("ListenPort = 123\n", "10.9.0.0/24", 4, "ListenPort = 123 is a privileged port"),
        ("ListenPort = 1023\n", "10.9.0.0/24", 4, "privileged"),
        ("FwMark = 0x5\n", "10.9.0.0/24", 4, "FwMark is refused"),
        ("FwMark = 51820\n", "0.0.0.0/0", 4, "FwMark is refused"),
        ("Table = 51820\n", "0.0.0.0/0", 4, "Table = 51820 is refused"),
        ("Table = 1234\n", "10.9.0.0/24", 4, "Table = 1234 is refused"),
    ],
)
def test_a_users_config_may_not_take_ports_marks_or_tables(
    extra: str, allowed: str, line: int, words: str
) -> None:
    config = conf(allowed, extra)
    with pytest.raises(RasError) as info:
        check_policy(config, owner_uid=USER, grant=Grant())
    assert info.value.code == 5
    assert info.value.detail.startswith(f"/etc/test.conf:{line}: ")
    assert words in info.value.detail
    check_policy(config, owner_uid=0, grant=Grant())  # root's config may


@pytest.mark.parametrize(
    "extra", ["ListenPort = 0\n", "ListenPort = 1024\n", "ListenPort = 51000\n",
              "FwMark = off\n", "Table = auto\n", "Table = main\n", "Table = off\n", ""]
)  # fmt: skip
def test_a_users_config_keeps_what_is_harmless(extra: str) -> None:
    check_policy(conf("10.9.0.0/24", extra), owner_uid=USER, grant=SPLIT)


@pytest.mark.parametrize(
    ("allowed", "extra"),
    [
        ("0.0.0.0/0", ""),
        ("::/0", ""),
        ("10.9.0.0/24, ::/0", ""),
        ("0.0.0.0/1, 128.0.0.0/1", ""),
        ("0.0.0.0/2, 64.0.0.0/2, 128.0.0.0/2, 192.0.0.0/2", ""),
        ("::/1, 8000::/1", ""),
        ("0.0.0.0/0", "Table = off\n"),  # routes are the daemon's: Table changes nothing
        ("0.0.0.0/0", "Table = main\n"),
        ("0.0.0.0/3", ""),  # more than a /4 of IPv4 is more than a split tunnel
    ],
)
def test_without_full_tunnel_allowed_ips_that_route_everything_are_refused(
    allowed: str, extra: str
) -> None:
    config = conf(allowed, extra)
    with pytest.raises(RasError) as info:
        check_policy(config, owner_uid=USER, grant=SPLIT)
    assert info.value.code == 5
    detail = info.value.detail
    assert detail.startswith("/etc/test.conf:")
    assert "AllowedIPs" in detail
    assert "policy.conf:3: full-tunnel = no" in detail
    # The line named is the AllowedIPs line (the config's 7th).
    assert detail.split(":")[1] == str(len(extra.splitlines()) + 7)
    check_policy(config, owner_uid=USER, grant=Grant())  # allowed a full tunnel: fine
    check_policy(config, owner_uid=0, grant=Grant())


def test_without_full_tunnel_the_peers_add_up() -> None:
    text = (
        f"[Interface]\nPrivateKey = {PRIV}\n"
        f"[Peer]\nPublicKey = {PUB}\nEndpoint = 1.2.3.4:5\nAllowedIPs = 0.0.0.0/5, 64.0.0.0/5\n"
        f"[Peer]\nPublicKey = {PUB2}\nAllowedIPs = 128.0.0.0/5\n"
    )
    with pytest.raises(RasError) as info:
        check_policy(parse(text), owner_uid=USER, grant=SPLIT)
    assert info.value.detail.startswith("/etc/test.conf:9: AllowedIPs 128.0.0.0/5")
    check_policy(parse(text.replace("128.0.0.0/5", "1.0.0.0/8")), owner_uid=USER, grant=SPLIT)


def test_split_tunnel_limits() -> None:
    net = ipaddress.ip_network
    assert not routes_too_much([net("10.0.0.0/8"), net("172.16.0.0/12"), net("fc00::/7")])
    assert not routes_too_much([net("0.0.0.0/4")])
    assert not routes_too_much([net("0.0.0.0/4"), net("10.0.0.0/8")])  # inside: counted once
    assert routes_too_much([net("0.0.0.0/4"), net("16.0.0.0/8")])
    assert routes_too_much([net("::/0")])


def test_batches_group_by_family() -> None:
    cmds = [("link", "x"), ("route", "y"), ("-4", "rule", "a"), ("-4", "rule", "b"), ("-6", "c")]
    assert batches(cmds) == [
        (None, ["link x", "route y"]),
        ("-4", ["rule a", "rule b"]),
        ("-6", ["c"]),
    ]


# -- properties ------------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=400))
def test_any_text_parses_or_raises_872(text: str) -> None:
    try:
        parse(text)
    except RasError as exc:
        assert exc.code == 872
        assert exc.detail is not None
        assert exc.detail.startswith("/etc/test.conf")


_KEYS = st.binary(min_size=32, max_size=32).map(lambda b: base64.b64encode(b).decode())
_NETS = st.lists(
    st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 32)).map(
        lambda t: ipaddress.ip_network((t[0], t[1]), strict=False)
    ),
    max_size=4,
)
_LINES = st.sampled_from(["", "# note", "   "])


@settings(max_examples=200, deadline=None)
@given(
    priv=_KEYS,
    peers=st.lists(
        st.tuples(_KEYS, st.none() | _KEYS, _NETS, st.none() | st.integers(1, 65535)),
        max_size=3,
        unique_by=lambda p: p[0],
    ),
    noise=_LINES,
)
def test_setconf_round_trips(
    priv: str,
    peers: list[tuple[str, str | None, list[ipaddress.IPv4Network], int | None]],
    noise: str,
) -> None:
    lines = ["[Interface]", f"PrivateKey = {priv}", noise]
    for pub, psk, nets, keepalive in peers:
        lines += ["[Peer]", f"PublicKey = {pub}", noise]
        if psk:
            lines.append(f"PresharedKey = {psk}")
        if nets:
            lines.append("AllowedIPs = " + ",".join(str(n) for n in nets))
        if keepalive:
            lines.append(f"PersistentKeepalive = {keepalive}")
    cfg = parse("\n".join(lines))
    again = parse(cfg.to_setconf())
    assert [
        (p.public_key, p.preshared_key, p.allowed_ips, p.persistent_keepalive) for p in again.peers
    ] == [(p.public_key, p.preshared_key, p.allowed_ips, p.persistent_keepalive) for p in cfg.peers]
    assert again.interface.private_key == priv


@pytest.mark.parametrize("handle", [1, 42, 10**9, 10**11 - 1, 2**62])
def test_interface_names_fit_ifnamsiz(handle: int) -> None:
    from openras.links.wireguard.driver import interface_names

    names = interface_names(handle)
    assert len(set(names)) == len(names) == 10
    assert all(len(n) <= 15 and n.startswith("orwg") for n in names)
    if handle < 10**11:
        assert names[0] == f"orwg{handle}"


@pytest.mark.parametrize(
    ("addresses", "allowed", "expected"),
    [
        # a host route inside our network: that is the peer's tunnel address
        (["10.8.0.2/24"], ["10.8.0.1/32", "10.9.0.0/16"], {4: "10.8.0.1"}),
        # only a wider route: WireGuard has no remote address to report
        (["10.8.0.2/24"], ["10.8.0.0/24"], {}),
        # a host route outside our network is some server behind the peer, not the peer
        (["10.8.0.2/24"], ["192.0.2.7/32"], {}),
        # our own address is never the peer's
        (["10.8.0.2/24"], ["10.8.0.2/32"], {}),
        (
            ["10.8.0.2/24", "fd00::2/64"],
            ["0.0.0.0/0", "fd00::1/128", "10.8.0.9/32"],
            {4: "10.8.0.9", 6: "fd00::1"},
        ),
    ],
)
def test_peer_tunnel_address_from_allowed_ips(
    addresses: list[str], allowed: list[str], expected: dict[int, str]
) -> None:
    from openras.links.wireguard.driver import peer_tunnel_addresses

    got = peer_tunnel_addresses(
        [ipaddress.ip_interface(a) for a in addresses],
        [ipaddress.ip_network(n) for n in allowed],
    )
    assert got == expected
