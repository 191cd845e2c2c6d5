"""The pure recovery rules of persist.py: the handle floor and the instance ids."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from openras.links.base import DialParams
from openras.manager.persist import (
    HANDLE_BLOCK,
    ParamStore,
    StateStore,
    atomic_write,
    handle_floor,
    instances_in,
    parse_slot,
    slot_bytes,
)


def test_handle_floor_takes_the_highest_source() -> None:
    assert handle_floor(ids={}, corrupt=b"", run_dirs=[]) == 1
    assert handle_floor(ids={"next_handle": 9}, corrupt=b"", run_dirs=[]) == 9
    assert handle_floor(ids={"next_handle": 9}, corrupt=b"", run_dirs=["link-41", "x"]) == 42
    torn = b'{"instance":"ab12","table":{"next_handle":77,"rows":[{"handle":76,"own'
    assert handle_floor(ids={"next_handle": 3}, corrupt=torn, run_dirs=["link-5"]) == 77
    assert handle_floor(ids={}, corrupt=b'"handle": 120', run_dirs=[]) == 121


def test_instances_in_prefers_the_ids_file_and_dedups() -> None:
    torn = b'{"boot_id":"b","instance":"ab12","instance":"cd34'
    assert instances_in(ids={"instance": "ab12"}, corrupt=torn) == ["ab12"]
    assert instances_in(ids={}, corrupt=b'"instance": "ff00",') == ["ff00"]
    assert instances_in(ids={}, corrupt=b"") == []


def test_ids_file_reserves_a_block_of_handles_ahead_of_the_table(tmp_path: Path) -> None:
    store = StateStore(tmp_path)

    def save(next_handle: int, instance: str = "ab12") -> None:
        table = {"next_handle": next_handle, "rows": [], "history": []}
        store.save({"instance": instance, "table": table})

    save(5)
    assert store.load_ids() == {"instance": "ab12", "next_handle": 5 + HANDLE_BLOCK}
    first = store.ids_path.stat().st_mtime_ns
    save(5 + HANDLE_BLOCK)  # within the reserved block: no durable write
    assert store.ids_path.stat().st_mtime_ns == first
    assert store.load_ids()["next_handle"] >= 5 + HANDLE_BLOCK
    save(6 + HANDLE_BLOCK)  # past it: the next block, before the table says so
    assert store.load_ids()["next_handle"] == 6 + 2 * HANDLE_BLOCK
    save(6 + HANDLE_BLOCK, instance="cd34")  # a new instance is written at once
    assert store.load_ids()["instance"] == "cd34"
    assert stat.S_IMODE(store.ids_path.stat().st_mode) == 0o600
    # A later daemon starts past every handle the ids file may have let out.
    floor = handle_floor(ids=store.load_ids(), corrupt=b"", run_dirs=[])
    assert floor > 6 + HANDLE_BLOCK


def _record(n: int, pad: int = 0) -> dict[str, object]:
    return {"instance": "ab12", "table": {"next_handle": n, "rows": [], "pad": "x" * pad}}


def test_table_slots_take_turns_and_load_the_newest(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    for n in range(1, 6):
        store.save(_record(n, pad=5000 - 900 * n))  # shrinking: each write truncates its slot
    store.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "connections.0",
        "connections.1",
        "ids.json",
    ]
    again = StateStore(tmp_path)
    assert again.load() == _record(5, pad=500)
    assert again.path == again.slots[1]  # seq 5 is in slot 1
    for slot in again.slots:
        assert stat.S_IMODE(slot.stat().st_mode) == 0o600
    # the next write goes to the other slot and wins from then on
    again.save(_record(6))
    again.close()
    assert StateStore(tmp_path).load() == _record(6)


@pytest.mark.parametrize("damage", ["torn", "bit-flip", "garbage", "empty"])
def test_a_damaged_newest_slot_falls_back_to_the_one_before(tmp_path: Path, damage: str) -> None:
    """What a SIGKILL in the middle of a write (or a bad disk) leaves: one change is lost,
    never the table."""
    store = StateStore(tmp_path)
    store.save(_record(7, pad=3000))
    store.save(_record(8, pad=3000))
    store.close()
    newest = StateStore(tmp_path)
    newest.load()
    raw = newest.path.read_bytes()
    bad = {
        "torn": raw[: len(raw) // 2],
        "bit-flip": raw[:-10] + bytes([raw[-10] ^ 1]) + raw[-9:],
        "garbage": b"\x00\x17 not a table",
        "empty": b"",
    }[damage]
    newest.path.write_bytes(bad)
    fresh = StateStore(tmp_path)
    assert fresh.load() == _record(7, pad=3000)
    assert fresh.corrupt == b""
    assert parse_slot(bad) is None


def test_unreadable_slots_are_set_aside_together(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.save(_record(3))
    store.save(_record(4))
    store.close()
    for slot in store.slots:
        slot.write_bytes(b"junk " + slot.name.encode())
    fresh = StateStore(tmp_path)
    assert fresh.load() is None
    assert fresh.corrupt == b"junk connections.0junk connections.1"
    assert (tmp_path / "connections.corrupt").read_bytes() == fresh.corrupt
    assert not any(slot.exists() for slot in fresh.slots)


def test_the_single_file_of_earlier_versions_is_read_then_superseded(tmp_path: Path) -> None:
    legacy = tmp_path / "connections.json"
    legacy.write_bytes(json.dumps(_record(40)).encode())
    store = StateStore(tmp_path)
    assert store.load() == _record(40)  # a daemon upgraded under live links adopts them
    store.save(_record(41))
    store.close()
    assert not legacy.exists()
    assert StateStore(tmp_path).load() == _record(41)
    assert slot_bytes(1, b"{}").startswith(b"openras-table seq=1 len=2 crc=")


def test_atomic_write_replaces_whole_files_durable_or_not(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    for durable in (True, False):
        atomic_write(target, b"x" * 200_000, durable=durable)
        assert target.read_bytes() == b"x" * 200_000
        assert [p.name for p in tmp_path.iterdir()] == ["f.json"]  # no temp file left


def test_param_store_keeps_secrets_private_and_forgets_them(tmp_path: Path) -> None:
    params = ParamStore(tmp_path)
    params.save(1, DialParams(entry_name="e"))  # nothing worth keeping: no file
    assert params.handles() == []
    params.save(2, DialParams(entry_name="e", user="u", password="p"))
    assert params.load(2) == DialParams(entry_name="e", user="u", password="p")
    assert stat.S_IMODE((tmp_path / "params").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "params" / "2.json").stat().st_mode) == 0o600
    (tmp_path / "params" / "3.json").write_text("{broken")
    assert params.load(3) is None and sorted(params.handles()) == [2, 3]
    params.delete(2)
    assert params.load(2) is None
