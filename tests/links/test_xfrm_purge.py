"""links/xfrm.py's purge against the kernel: only what carries the link's ``if_id`` goes.

This kernel has XFRM but no ESP, so the SAs of the kernel ESP path are proven in the VM tier
(tests/vm/guest/test_ikev2_kernel.py); policies need no ESP module, so here ``ip xfrm``
installs a namespace's policies with two interface ids and none, and the purge of one id
must delete exactly its own, in every direction, and be a no-op the second time (a
teardown step runs again after a crash).
"""

from __future__ import annotations

from netns import NetnsLab, NsPair

from openras.links.xfrm import Xfrm

MINE, OTHER = 0x6F720007, 0x6F720008


def _policy(lab: NetnsLab, ns: str, dst: str, direction: str, if_id: int | None) -> None:
    tail = ["if_id", str(if_id)] if if_id is not None else []
    lab.run(ns, ["ip", "xfrm", "policy", "add", "src", "10.9.0.2/32", "dst", dst,
                 "dir", direction, *tail, "tmpl", "src", "192.0.2.1", "dst", "192.0.2.2",
                 "proto", "esp", "mode", "tunnel"])  # fmt: skip


def _policies(lab: NetnsLab, ns: str) -> str:
    return lab.run(ns, ["ip", "xfrm", "policy", "list"]).stdout


def test_purge_deletes_exactly_the_policies_of_one_if_id(
    netns_lab: NetnsLab, netns_pair: NsPair
) -> None:
    ns = netns_pair.a
    for direction in ("out", "in", "fwd"):
        _policy(netns_lab, ns, "0.0.0.0/0", direction, MINE)
    _policy(netns_lab, ns, "10.50.0.0/16", "out", OTHER)
    _policy(netns_lab, ns, "10.60.0.0/16", "out", None)
    assert _policies(netns_lab, ns).count(f"if_id {MINE:#x}") == 3

    with netns_lab.inside(ns), Xfrm() as xfrm:
        assert xfrm.purge_if_id(MINE) == 3
        assert xfrm.purge_if_id(MINE) == 0

    left = _policies(netns_lab, ns)
    assert f"if_id {MINE:#x}" not in left
    assert f"if_id {OTHER:#x}" in left and "10.50.0.0/16" in left
    assert "10.60.0.0/16" in left
