"""Asking whether an interface exists loads no kernel module (Debian's kernel has modules;
the host's here has none, so only the VM shows it).

As root, ``if_nametoindex`` of a name the kernel does not know makes it run
``modprobe netdev-<name>`` first and wait for it (``dev_load``). The daemon asks about names
that do not exist yet on every PPP, L2TP, SSTP and PPTP dial (and hang-up, and ssh's free
tun unit): under TCG each such modprobe took 350 ms of the dial, and an entry's
``OpenRasPppoeInterface`` put a user's text in the module name root's modprobe was asked
for. ``links._common.link_exists`` (``rtnl.if_index``) asks rtnetlink instead.

The kernel's modprobe path is pointed, for this test only, at a script that records how it
was called; ``if_nametoindex`` of a missing name must call it (or the test proves nothing),
``link_exists`` must not.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from openras.links._common import link_exists
from openras.links.rtnl import if_index

pytestmark = pytest.mark.vm

MODPROBE = Path("/proc/sys/kernel/modprobe")


def test_a_missing_interface_is_looked_up_without_modprobe(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    script = tmp_path / "modprobe"
    script.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexit 1\n')
    script.chmod(0o755)
    original = MODPROBE.read_text().strip()
    MODPROBE.write_text(str(script))
    try:
        with pytest.raises(OSError):
            socket.if_nametoindex("orlookup1")
        assert "netdev-orlookup1" in calls.read_text(), "the kernel ran no modprobe: no proof"
        before = calls.read_text()
        assert not link_exists("orlookup2")
        assert if_index("orlookup3") is None
        assert link_exists("lo") and if_index("lo") == 1
        assert calls.read_text() == before, calls.read_text()
    finally:
        MODPROBE.write_text(original)
