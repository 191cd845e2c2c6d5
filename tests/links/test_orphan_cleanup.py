"""``cleanup_orphan``: what a driver removes of a link that was started but never recorded.

The situation rasman meets on a restart after a crash: the link's program was spawned, the
daemon died before recording it, the restarted daemon SIGKILLed the program. Nothing ran the
driver's normal stop; only the spec (handle, entry, run dir) is known.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from _linkkit import make_spec, pid_alive, rules, run_driver
from netns import NetnsLab, NsPair, wait_until
from ovpn_lab import OvpnServer, client_profile
from test_openvpn import dial_in_crashing_daemon, pki, server
from test_openvpn import make_spec as ovpn_spec
from test_wireguard import (
    DRIVER,
    WG_PORT,
    client_config,
    entry,
    handle,
    keypair,
    start_server,
    wg_pair,
)

from openras.links._common import remove_quietly, unix_socket_answers
from openras.links.base import LinkSpec
from openras.links.openvpn.driver import OpenVpnLink, interface_name
from openras.links.wireguard.driver import WireGuardLink, interface_names, uapi_socket

pytestmark = [pytest.mark.netns, pytest.mark.root]
__all__ = ["pki", "server", "wg_pair"]  # fixtures, used by name


@pytest.fixture
def wg_handle() -> Iterator[int]:
    """A handle whose stale UAPI sockets (shared across namespaces) go even if a test fails."""
    value = handle()
    yield value
    for name in interface_names(value):
        sock = uapi_socket(name)
        if sock.exists() and not unix_socket_answers(sock):
            remove_quietly(sock)


def orphan_wireguard(lab: NetnsLab, pair: NsPair, tmp: Path, h: int) -> tuple[LinkSpec, str]:
    """A connected default-route link whose "daemon" and wireguard-go were both SIGKILLed."""
    cpriv, cpub = keypair()
    server = start_server(lab, pair, tmp, client_pub=cpub)
    conf = client_config(
        tmp, cpriv, server.public_key, f"{pair.addr_a}:{WG_PORT}", allowed="0.0.0.0/0"
    )
    spec = make_spec(tmp, entry(conf), handle=h)
    with run_driver(DRIVER, spec, ns=pair.b) as runner:
        runner.read_until(lambda e: e.get("name") == "Connected" or e["event"] == "failed", 10)
        record = runner.read_until(lambda e: e["event"] == "started", 1)["record"]
        runner.proc.kill()
        runner.proc.wait(5)
    pid = int(record["process"]["pid"])
    os.kill(pid, 9)
    assert wait_until(lambda: not pid_alive(pid), 5), "wireguard-go survived SIGKILL"
    return spec, str(record["ifname"])


async def test_wireguard_orphan_loses_rules_socket_and_files(
    netns_lab: NetnsLab, wg_pair: NsPair, tmp_path: Path, wg_handle: int
) -> None:
    rules_before = {4: rules(wg_pair.b), 6: rules(wg_pair.b, "-6")}
    spec, ifname = orphan_wireguard(netns_lab, wg_pair, tmp_path, wg_handle)
    # What the kill left: the policy rules, the UAPI socket, the teardown journal.
    assert len(rules(wg_pair.b)) == len(rules_before[4]) + 2
    assert uapi_socket(ifname).exists()
    assert (spec.run_dir / "journal").exists()
    with netns_lab.inside(wg_pair.b):
        await WireGuardLink.cleanup_orphan(spec)
    assert rules(wg_pair.b) == rules_before[4]
    assert rules(wg_pair.b, "-6") == rules_before[6]
    assert not uapi_socket(ifname).exists()
    assert ifname not in netns_lab.links(wg_pair.b)
    assert not spec.run_dir.exists() or list(spec.run_dir.iterdir()) == []
    # A second call (nothing left) is harmless.
    with netns_lab.inside(wg_pair.b):
        await WireGuardLink.cleanup_orphan(spec)


async def test_wireguard_orphan_cleanup_removes_only_its_own_rules(
    netns_lab: NetnsLab, wg_pair: NsPair, tmp_path: Path, wg_handle: int
) -> None:
    """Somebody else's rules at the orphan's priorities survive its clean-up (the journal
    names each rule exactly); a journal line of the old kind (``rule del priority N``) is
    not acted on at all."""
    spec, _ifname = orphan_wireguard(netns_lab, wg_pair, tmp_path, wg_handle)
    journal_text = (spec.run_dir / "journal").read_text()
    journal = [json.loads(line) for line in journal_text.splitlines()]
    rule_steps = [step for step in journal if step["type"] == "rule"]
    priorities = sorted({int(step["priority"]) for step in rule_steps})
    assert len(priorities) == 2
    assert all(step["fwmark"] and step["table"] for step in rule_steps)
    for pri in priorities:
        netns_lab.run(wg_pair.b, ["ip", "rule", "add", "table", "100", "priority", str(pri)])
    foreign = [r for r in rules(wg_pair.b) if r.get("table") == "100"]
    assert len(foreign) == 2
    # A journal line that would delete by priority alone is no step: skipped.
    bare = {"type": "rule", "version": 4, "priority": priorities[0]}
    (spec.run_dir / "journal").write_text(journal_text + json.dumps(bare) + "\n")
    with netns_lab.inside(wg_pair.b):
        await WireGuardLink.cleanup_orphan(spec)
    left = rules(wg_pair.b)
    assert [r for r in left if r.get("table") == "100"] == foreign
    assert not [r for r in left if r.get("priority") in priorities and r.get("table") != "100"]


async def test_wireguard_orphan_keeps_a_live_interface_of_its_names(
    netns_lab: NetnsLab, wg_pair: NsPair, tmp_path: Path, wg_handle: int
) -> None:
    """A name whose UAPI socket answers belongs to a running wireguard-go: never removed."""
    ifname = interface_names(wg_handle)[0]
    proc = netns_lab.spawn(wg_pair.b, ["wireguard-go", "-f", ifname], log=tmp_path / "wg.log")
    sock = uapi_socket(ifname)
    assert wait_until(lambda: sock.exists() and unix_socket_answers(sock), 5)
    spec = make_spec(tmp_path, {"OpenRasDevice": "wireguard"}, handle=wg_handle)
    with netns_lab.inside(wg_pair.b):
        await WireGuardLink.cleanup_orphan(spec)
    assert ifname in netns_lab.links(wg_pair.b)
    assert unix_socket_answers(sock)
    assert proc.poll() is None
    proc.terminate()
    proc.wait(5)


async def test_openvpn_orphan_loses_its_tun_and_run_dir(
    netns_lab: NetnsLab, netns_pair: NsPair, server: OvpnServer, pki: Path, tmp_path: Path
) -> None:
    server.start(netns_lab, pki)
    spec = ovpn_spec(tmp_path, client_profile(tmp_path, server, pki))
    record = dial_in_crashing_daemon(netns_lab, netns_pair, spec)
    pid = int(record["pid"])  # type: ignore[call-overload]
    ifname = interface_name(spec.handle)
    assert record["ifname"] == ifname  # derivable from the handle alone
    os.kill(pid, 9)
    assert wait_until(lambda: not pid_alive(pid), 5), "openvpn survived SIGKILL"
    assert (spec.run_dir / "mgmt.sock").exists()
    with netns_lab.inside(netns_pair.b):
        await OpenVpnLink.cleanup_orphan(spec)
    assert ifname not in netns_lab.links(netns_pair.b)
    assert not spec.run_dir.exists()
