"""The edit-time check of ``OpenRas*`` keys knows every key the code reads."""

from __future__ import annotations

import re
from pathlib import Path

from openras.links.registry import KNOWN_KEYS, unknown_device, unknown_keys

SRC = Path(__file__).resolve().parents[2] / "src" / "openras"


def test_every_key_the_code_reads_is_known():
    read = set()
    for path in SRC.rglob("*.py"):
        read |= set(re.findall(r"\"(OpenRas[A-Za-z0-9]+)\"", path.read_text()))
    assert read - KNOWN_KEYS == set()


def test_typos_are_named_with_the_nearest_key():
    assert unknown_keys(["OpenRasOpenVpnProfle", "OpenRasConfig", "IpPrioritizeRemote"]) == [
        "unknown key OpenRasOpenVpnProfle (did you mean OpenRasOpenVpnProfile?)",
        "unknown key OpenRasConfig (did you mean OpenRasWireGuardConfig?)",
    ]
    assert unknown_keys(["openrassshmode", "PhoneNumber"]) == []
    assert unknown_device("OpenVPN") is None
    assert "use one of ikev2, l2tp, loopback" in (unknown_device("openvnp") or "")
