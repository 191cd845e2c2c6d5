"""The kernel ESP path's pure parts: the choice of data path, the XFRM interface request,
the SA/policy dump filters, and charon's configuration for that path."""

from __future__ import annotations

import struct
from pathlib import Path

from openras.links.ikev2 import config
from openras.links.rtnl import (
    IFLA_IFNAME,
    IFLA_INFO_DATA,
    IFLA_INFO_KIND,
    IFLA_LINKINFO,
    IFLA_XFRM_IF_ID,
    RTM_NEWLINK,
    NewXfrmInterface,
    _attrs,
)
from openras.links.xfrm import (
    XFRMA_IF_ID,
    XFRMA_MARK,
    XFRMA_TMPL,
    kernel_esp_available,
    policy_ids,
    sa_ids,
)

DEP = (
    "kernel/net/ipv4/esp4.ko: kernel/net/xfrm/xfrm_algo.ko\n"
    "kernel/net/xfrm/xfrm_user.ko: kernel/net/xfrm/xfrm_algo.ko\n"
    "kernel/net/xfrm/xfrm_interface.ko:\n"
)


def _attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def test_kernel_esp_needs_xfrm_esp_and_xfrm_interfaces_in_any_form() -> None:
    assert kernel_esp_available(xfrm=True, loaded=(), modules_dep=DEP, modules_builtin="")
    # loaded, or built in, counts as much as loadable
    assert kernel_esp_available(
        xfrm=True, loaded=("esp4", "xfrm_user"), modules_dep="", modules_builtin=
        "kernel/net/xfrm/xfrm_interface.ko\n",
    )  # fmt: skip
    # this machine's kind of kernel: XFRM, nothing under /lib/modules
    assert not kernel_esp_available(xfrm=True, loaded=(), modules_dep="", modules_builtin="")
    assert not kernel_esp_available(
        xfrm=True, loaded=(), modules_dep=DEP.replace("xfrm_interface", "xfrm_ipcomp"),
        modules_builtin="",
    )  # fmt: skip
    assert not kernel_esp_available(xfrm=False, loaded=(), modules_dep=DEP, modules_builtin="")
    # a name that merely ends like one does not count
    assert not kernel_esp_available(
        xfrm=True, loaded=(), modules_dep=DEP.replace("/esp4.ko", "/myesp4.ko"),
        modules_builtin="",
    )  # fmt: skip


def test_xfrm_interface_request_names_kind_and_if_id() -> None:
    op = NewXfrmInterface("orik7", 0x6F720007)
    assert op.ifname == ""  # nothing to look up: it does not exist yet
    assert op.ip_args() == ("link", "add", "orik7", "type", "xfrm", "if_id", str(0x6F720007))
    kind, _flags, body = op.encode(0)
    assert kind == RTM_NEWLINK
    attrs = _attrs(body, 16)
    assert attrs[IFLA_IFNAME] == b"orik7\0"
    info = _attrs(attrs[IFLA_LINKINFO], 0)  # (the parse drops NLA_F_NESTED)
    assert info[IFLA_INFO_KIND] == b"xfrm\0"
    assert _attrs(info[IFLA_INFO_DATA], 0)[IFLA_XFRM_IF_ID] == struct.pack("=I", 0x6F720007)


def _sa(daddr: bytes, spi: int, if_id: int | None, mark: bytes | None = None) -> bytes:
    info = bytearray(224)
    struct.pack_into("=16sIB", info, 56, daddr, spi, 50)
    struct.pack_into("=H", info, 212, 2)
    tail = _attr(XFRMA_IF_ID, struct.pack("=I", if_id)) if if_id is not None else b""
    if mark is not None:
        tail += _attr(XFRMA_MARK, mark)
    return bytes(info) + tail


def test_sa_filter_keeps_only_the_if_id_and_builds_the_delete() -> None:
    a = b"\xc0\x00\x02\x01" + b"\0" * 12
    mark = struct.pack("=II", 5, 0xFFFFFFFF)
    bodies = sa_ids([_sa(a, 0x1234, 7, mark), _sa(a, 0x99, 8), _sa(a, 0x55, None), b"short"], 7)
    assert len(bodies) == 1
    daddr, spi, family, proto = struct.unpack_from("=16sIHB", bodies[0])
    assert (daddr, spi, family, proto) == (a, 0x1234, 2, 50)
    assert _attrs(bodies[0], 24)[XFRMA_MARK] == mark


def test_policy_filter_deletes_by_index_direction_and_if_id() -> None:
    def policy(index: int, direction: int, if_id: int | None) -> bytes:
        info = bytearray(168)
        struct.pack_into("=IB", info, 156, index, direction)
        tail = _attr(XFRMA_IF_ID, struct.pack("=I", if_id)) if if_id is not None else b""
        return bytes(info) + tail

    bodies = policy_ids([policy(8, 1, 7), policy(9, 0, 6), policy(10, 2, None)], 7)
    assert len(bodies) == 1
    index, direction = struct.unpack_from("=IB", bodies[0], 56)
    assert (index, direction) == (8, 1)
    assert _attrs(bodies[0], 64)[XFRMA_IF_ID] == struct.pack("=I", 7)


def test_a_transport_mode_links_sas_and_policies_are_found_by_reqid() -> None:
    """L2TP/IPsec's SAs and policies have no if_id: its reqid (the SA's field, the policy's
    template) finds them, and nobody else's."""
    a = b"\xc0\x00\x02\x01" + b"\0" * 12

    def sa(spi: int, reqid: int) -> bytes:
        raw = bytearray(_sa(a, spi, None))
        struct.pack_into("=I", raw, 208, reqid)
        return bytes(raw)

    def policy(index: int, *reqids: int) -> bytes:
        info = bytearray(168)
        struct.pack_into("=IB", info, 156, index, 1)
        tmpls = bytearray(64 * len(reqids))
        for n, reqid in enumerate(reqids):
            struct.pack_into("=I", tmpls, 64 * n + 44, reqid)
        return bytes(info) + _attr(XFRMA_TMPL, bytes(tmpls))

    bodies = sa_ids([sa(0x11, 0x4F520003), sa(0x22, 1), sa(0x33, 0x4F520003)], reqid=0x4F520003)
    assert [struct.unpack_from("=16sI", b)[1] for b in bodies] == [0x11, 0x33]
    found = policy_ids([policy(8, 0x4F520003), policy(9, 1), policy(10, 2, 0x4F520003)],
                       reqid=0x4F520003)  # fmt: skip
    assert [struct.unpack_from("=I", b, 56)[0] for b in found] == [8, 10]
    assert all(XFRMA_IF_ID not in _attrs(b, 64) for b in found)  # none to name


def test_charon_on_the_kernel_path_routes_nothing_and_marks_its_packets() -> None:
    esp = config.KernelEsp("orik3", 0x6F720003, 0x6F720003)
    conf = config.strongswan_conf(
        run_dir=Path("/r"), vici_socket=Path("/r/v"), log_file=Path("/r/l"), table=0x6F720003,
        priority=24007, resolv_file=Path("/r/resolv.conf"), kernel_esp=esp,
    )  # fmt: skip
    assert "kernel-libipsec" not in conf and "kernel-netlink" in conf
    assert "routing_table = 0\n" in conf and "install_routes = no" in conf
    assert "install_virtual_ip_on = orik3" in conf
    assert f"fwmark = {0x6F720003}" in conf
    userspace = config.strongswan_conf(
        run_dir=Path("/r"), vici_socket=Path("/r/v"), log_file=Path("/r/l"), table=0x6F720003,
        priority=24007, resolv_file=Path("/r/resolv.conf"),
    )  # fmt: skip
    assert "kernel-libipsec" in userspace and "fwmark" not in userspace
    assert f"routing_table = {0x6F720003}" in userspace
