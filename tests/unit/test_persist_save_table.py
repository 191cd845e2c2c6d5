"""The manager's table write from encoded rows (``StateStore.save_table``, vectored) is the
very slot file ``save`` makes of the same record: what a restart reads back."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from openras.manager import persist
from openras.manager.persist import StateStore
from openras.manager.table import Conn


def _rows(n: int) -> list[Conn]:
    return [
        Conn(h, 0, f"k{h}", f"E{h}", "/pb", "", "vpn", "d", "loopback", link={"entry": {"x": h}})
        for h in range(1, n + 1)
    ]


def test_save_table_writes_what_save_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Few buffers per vectored write: the rows span several of them.
    monkeypatch.setattr(persist, "_IOV_MAX", 7)
    rows = _rows(12)
    history = [{"handle": 99, "error": 631}]
    record = {
        "boot_id": "b",
        "instance": "i",
        "table": {"next_handle": 13, "rows": rows, "history": history},
    }
    a, b = StateStore(tmp_path / "a"), StateStore(tmp_path / "b")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a.save(record)
    b.save_table(
        boot_id="b",
        instance="i",
        next_handle=13,
        rows=[conn.encoded() for conn in rows],
        history=history,
    )
    a.close()
    b.close()
    assert a.path.read_bytes() == b.path.read_bytes()
    loaded = StateStore(tmp_path / "b").load()
    assert loaded is not None
    assert loaded["table"]["rows"] == msgspec.json.decode(msgspec.json.encode(rows))
    assert loaded["table"]["next_handle"] == 13


def test_a_shorter_table_is_not_followed_by_the_old_ones_tail(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    for n in (30, 30, 2, 2):  # each slot written long, then short
        rows = _rows(n)
        store.save_table(
            boot_id="b", instance="i", next_handle=n + 1,
            rows=[conn.encoded() for conn in rows], history=[],
        )  # fmt: skip
    store.close()
    for slot in store.slots:
        assert persist.parse_slot(slot.read_bytes()) is not None
        assert len(slot.read_bytes()) < 2000
    loaded = StateStore(tmp_path).load()
    assert loaded is not None and len(loaded["table"]["rows"]) == 2
