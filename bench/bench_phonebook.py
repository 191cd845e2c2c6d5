"""Phonebook parse/write/lookup timings. Targets: parse and write of 10,000 entries < 1 s each
(typical and full Windows exports, ~28 MB), a lookup (find + read a key) after load < 1 ms.

Run: ``python bench/bench_phonebook.py [entries]``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from openras.phonebook import MAX_PHONEBOOK_BYTES, Phonebook, load, parse

ROOT = Path(__file__).resolve().parents[1]

# A typical IKEv2 entry trimmed to the keys Windows always writes near the top (25 lines).
SMALL = (
    "[{name}]\r\nEncoding=1\r\nPBVersion=4\r\nType=2\r\nGuid={guid:032X}\r\nVpnStrategy=7\r\n"
    "RedialAttempts=3\r\nRedialSeconds=60\r\nIdleDisconnectSeconds=0\r\nRedialOnLinkFailure=1\r\n"
    "PreferredPort=VPN2-0\r\nPreferredDevice=WAN Miniport (IKEv2)\r\nIpPrioritizeRemote=1\r\n"
    "CacheCredentials=1\r\nOpenRasDevice=strongswan\r\n\r\nNETCOMPONENTS=\r\nms_msclient=1\r\n"
    "ms_server=1\r\n\r\nMEDIA=rastapi\r\nPort=VPN2-0\r\nDevice=WAN Miniport (IKEv2)\r\n\r\n"
    "DEVICE=vpn\r\nPhoneNumber=vpn{i}.example.com\r\nTryNextAlternateOnFail=1\r\n\r\n"
)


def best(fn: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def run(label: str, data: bytes, count: int) -> None:
    pb = parse(data)
    assert len(pb) == count
    t_parse = best(lambda: parse(data))
    t_dumps = best(pb.dumps)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "rasphone.pbk"
        path.write_bytes(data)
        t_load = best(lambda: load(path))
        t_save = best(lambda: pb.save(path))
        fresh = load(path)
    names = [f"Entry {i}" for i in range(0, count, max(1, count // 1000))]
    t0 = time.perf_counter()
    fresh.find("entry 0")  # the first lookup builds the name index
    t_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for n in names:
        e = fresh.find(n.upper())
        assert e is not None
        assert e.phone_number is not None
    t_lookup = (time.perf_counter() - t0) / len(names)
    mb = len(data) / 1e6
    print(f"{label}: {count} entries, {mb:.1f} MB")
    print(f"  parse bytes      {t_parse * 1e3:8.1f} ms")
    print(f"  load from disk   {t_load * 1e3:8.1f} ms")
    print(f"  dumps            {t_dumps * 1e3:8.1f} ms")
    print(f"  atomic save      {t_save * 1e3:8.1f} ms")
    print(f"  first find       {t_first * 1e3:8.3f} ms  (builds the name index)")
    print(f"  find + get       {t_lookup * 1e6:8.1f} us per lookup (cold entry index)")
    ok = t_load < 1 and t_save < 1 and t_lookup < 1e-3 and t_first < 1
    print(f"  targets (<1 s load/save, <1 ms lookup): {'met' if ok else 'MISSED'}")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    small = "".join(
        SMALL.format(name=f"Entry {i}", guid=i * 7919 + 1, i=i) for i in range(count)
    ).encode()
    run("typical entries (26 lines)", small, count)
    full_tpl = (ROOT / "tests/unit/pbk_corpus/ikev2.pbk").read_bytes().decode().split("\r\n", 1)[1]
    full = "".join(f"[Entry {i}]\r\n{full_tpl}" for i in range(count)).encode()
    assert len(full) < MAX_PHONEBOOK_BYTES, "the load limit must hold 10,000 full exports"
    run("full Windows 10 exports (150 lines, ~2.8 KB each)", full, count)
    t_add = best(lambda: bulk_add(count), repeat=1)
    print(f"add_entry x {count}: {t_add * 1e3:8.1f} ms (the name index is kept, not rebuilt)")


def bulk_add(count: int) -> None:
    pb = Phonebook()
    for i in range(count):
        pb.add_entry(f"Entry {i}", [("Type", "2"), ("MEDIA", "rastapi"), ("DEVICE", "vpn")])
    assert len(pb) == count


if __name__ == "__main__":
    main()
