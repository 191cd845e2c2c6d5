"""The pure recovery rules of persist.py: the handle floor and the instance ids."""

from __future__ import annotations

import stat
from pathlib import Path

from openras.links.base import DialParams
from openras.manager.persist import ParamStore, StateStore, handle_floor, instances_in


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


def test_ids_file_is_written_before_the_table_and_only_on_change(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    record = {"instance": "ab12", "table": {"next_handle": 5, "rows": [], "history": []}}
    store.save(record)
    assert store.load_ids() == {"instance": "ab12", "next_handle": 5}
    first = store.ids_path.stat().st_mtime_ns
    store.save(record)
    assert store.ids_path.stat().st_mtime_ns == first  # unchanged counter: no extra write
    assert stat.S_IMODE(store.ids_path.stat().st_mode) == 0o600


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
