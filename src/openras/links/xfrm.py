"""The kernel's IPsec (XFRM): whether it can carry ESP, and removing one link's SAs and policies.

A link on the kernel's ESP path (IKEv2 where the kernel has ESP) tags every SA and policy
its charon installs with an XFRM interface id of its own (``if_id``). charon removes them
when it stops cleanly; a SIGKILLed charon leaves them behind, so the link's teardown journal
has a step that purges whatever still carries that id (:func:`purge_if_id`), by netlink
(``NETLINK_XFRM``) as the daemon's other kernel requests go. Dump parsing is pure
(:func:`sa_ids`, :func:`policy_ids`), the requests are :class:`openras.links.rtnl.Rtnl`'s.
"""

from __future__ import annotations

import errno
import os
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from openras.links.rtnl import NLM_F_ACK, NLM_F_REQUEST, NetlinkError, Rtnl, _attr, _attrs, _u32

NETLINK_XFRM: Final = 6
XFRM_MSG_NEWSA: Final = 0x10
XFRM_MSG_DELSA: Final = 0x11
XFRM_MSG_GETSA: Final = 0x12
XFRM_MSG_NEWPOLICY: Final = 0x13
XFRM_MSG_DELPOLICY: Final = 0x14
XFRM_MSG_GETPOLICY: Final = 0x15
XFRMA_TMPL: Final = 5
XFRMA_MARK: Final = 21
XFRMA_IF_ID: Final = 31
#: ``struct xfrm_usersa_info`` (224 bytes) and ``struct xfrm_userpolicy_info`` (168): where
#: the fields this module reads are, and where the attributes start.
_SA_INFO: Final = 224
_SA_ID_OFFSET: Final = 56  # after the selector: xfrm_id {daddr[16], spi, proto}
_SA_REQID_OFFSET: Final = 208
_SA_FAMILY_OFFSET: Final = 212
#: ``struct xfrm_user_tmpl`` (64 bytes; a policy's XFRMA_TMPL is an array of them): reqid.
_TMPL_SIZE: Final = 64
_TMPL_REQID_OFFSET: Final = 44
_POLICY_INFO: Final = 168
_POLICY_INDEX_OFFSET: Final = 156  # priority, then index, then dir
#: What a dump request carries (the kernel ignores it for a dump): a zeroed
#: ``xfrm_usersa_id`` / ``xfrm_userpolicy_id``.
_SA_ID_SIZE: Final = 24
_POLICY_ID_SIZE: Final = 64

#: The kernel modules the ESP path needs: ESP, XFRM over netlink, XFRM interfaces.
ESP_MODULES: Final = ("esp4", "xfrm_user", "xfrm_interface")


def _module_known(name: str, loaded: Iterable[str], listed: str) -> bool:
    return name in loaded or f"/{name}.ko" in listed


def kernel_esp_available(
    *, xfrm: bool, loaded: Iterable[str], modules_dep: str, modules_builtin: str
) -> bool:
    """Whether this kernel can carry ESP on XFRM interfaces: XFRM present, and ESP and XFRM
    interfaces loaded, built in, or loadable (the kernel loads them on first use). Pure."""
    loaded = frozenset(loaded)
    listed = modules_dep + "\n" + modules_builtin
    return xfrm and all(_module_known(m, loaded, listed) for m in ESP_MODULES)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def kernel_esp() -> bool:
    """:func:`kernel_esp_available` for the running kernel."""
    modules = Path("/lib/modules") / os.uname().release
    try:
        loaded = os.listdir("/sys/module")
    except OSError:
        loaded = []
    xfrm = Path("/proc/sys/net/core/xfrm_acq_expires").exists()  # CONFIG_XFRM
    if xfrm and set(ESP_MODULES) <= set(loaded):
        return True  # (all loaded: the module lists, 0.6 ms of reading a dial, are not needed)
    return kernel_esp_available(
        xfrm=xfrm,
        loaded=loaded,
        modules_dep=_read(modules / "modules.dep"),
        modules_builtin=_read(modules / "modules.builtin"),
    )


def _if_id(attrs: dict[int, bytes]) -> int | None:
    raw = attrs.get(XFRMA_IF_ID)
    return struct.unpack_from("=I", raw)[0] if raw is not None and len(raw) >= 4 else None


def _tmpl_reqids(raw: bytes) -> set[int]:
    return {
        struct.unpack_from("=I", raw, off + _TMPL_REQID_OFFSET)[0]
        for off in range(0, len(raw) - _TMPL_SIZE + 1, _TMPL_SIZE)
    }


def sa_ids(payloads: Iterable[bytes], if_id: int | None = None, *,
           reqid: int | None = None) -> list[bytes]:  # fmt: skip
    """The ``XFRM_MSG_DELSA`` bodies of the dumped SAs that carry ``if_id`` (or, for a
    transport-mode link, which has no interface, its ``reqid``). Pure."""
    out = []
    for p in payloads:
        if len(p) < _SA_INFO:
            continue
        attrs = _attrs(p, _SA_INFO)
        if if_id is not None and _if_id(attrs) != if_id:
            continue
        if reqid is not None and struct.unpack_from("=I", p, _SA_REQID_OFFSET)[0] != reqid:
            continue
        daddr, spi, proto = struct.unpack_from("=16sIB", p, _SA_ID_OFFSET)
        (family,) = struct.unpack_from("=H", p, _SA_FAMILY_OFFSET)
        body = struct.pack("=16sIHBx", daddr, spi, family, proto)
        if XFRMA_MARK in attrs:
            body += _attr(XFRMA_MARK, attrs[XFRMA_MARK])
        out.append(body)
    return out


def policy_ids(payloads: Iterable[bytes], if_id: int | None = None, *,
               reqid: int | None = None) -> list[bytes]:  # fmt: skip
    """The ``XFRM_MSG_DELPOLICY`` bodies (by index and direction) of the dumped policies
    that carry ``if_id`` (or whose template names ``reqid``). Pure."""
    out = []
    for p in payloads:
        if len(p) < _POLICY_INFO:
            continue
        attrs = _attrs(p, _POLICY_INFO)
        found_if_id = _if_id(attrs)
        if if_id is not None and found_if_id != if_id:
            continue
        if reqid is not None and reqid not in _tmpl_reqids(attrs.get(XFRMA_TMPL, b"")):
            continue
        index, direction = struct.unpack_from("=IB", p, _POLICY_INDEX_OFFSET)
        body = struct.pack("=56sIB3x", b"", index, direction)
        if found_if_id is not None:
            body += _u32(XFRMA_IF_ID, found_if_id)
        if XFRMA_MARK in attrs:
            body += _attr(XFRMA_MARK, attrs[XFRMA_MARK])
        out.append(body)
    return out


class Xfrm(Rtnl):
    """One ``NETLINK_XFRM`` socket (the calling thread's network namespace)."""

    def __init__(self) -> None:
        super().__init__(NETLINK_XFRM)

    def purge_if_id(self, if_id: int) -> int:
        """Delete every SA and policy that carries ``if_id``; how many. One gone meanwhile
        is no error (a teardown step runs again after a crash)."""
        return self._purge(f"if_id {if_id}", if_id=if_id)

    def purge_reqid(self, reqid: int) -> int:
        """Delete every SA and policy of ``reqid`` (a transport-mode link's); how many."""
        return self._purge(f"reqid {reqid}", reqid=reqid)

    def _purge(self, what: str, *, if_id: int | None = None, reqid: int | None = None) -> int:
        done = 0
        sas = self._dump(XFRM_MSG_GETSA, b"\0" * _SA_ID_SIZE, XFRM_MSG_NEWSA)
        policies = self._dump(XFRM_MSG_GETPOLICY, b"\0" * _POLICY_ID_SIZE, XFRM_MSG_NEWPOLICY)
        for kind, bodies in (
            (XFRM_MSG_DELSA, sa_ids(sas, if_id, reqid=reqid)),
            (XFRM_MSG_DELPOLICY, policy_ids(policies, if_id, reqid=reqid)),
        ):
            for body in bodies:
                code = self._request(kind, NLM_F_REQUEST | NLM_F_ACK, body)
                if code and code not in (errno.ENOENT, errno.ESRCH):
                    raise NetlinkError(code, f"xfrm purge of {what}: {os.strerror(code)}")
                done += not code
        return done


def purge_if_id(if_id: int) -> int:
    """:meth:`Xfrm.purge_if_id` on a socket of its own."""
    with Xfrm() as xfrm:
        return xfrm.purge_if_id(if_id)


def purge_reqid(reqid: int) -> int:
    """:meth:`Xfrm.purge_reqid` on a socket of its own."""
    with Xfrm() as xfrm:
        return xfrm.purge_reqid(reqid)


__all__ = [
    "kernel_esp",
    "kernel_esp_available",
    "policy_ids",
    "purge_if_id",
    "purge_reqid",
    "sa_ids",
]
