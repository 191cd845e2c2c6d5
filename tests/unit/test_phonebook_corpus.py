"""Every corpus file opens, lists, shows its properties, survives edits and saves back as is."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from openras.phonebook import edit, load, parse

CORPUS = Path(__file__).parent / "pbk_corpus"
MANIFEST: dict[str, dict[str, Any]] = json.loads(
    (CORPUS / "manifest.json").read_text(encoding="utf-8")
)
FILES = sorted(MANIFEST)


def test_phonebook_corpus_manifest_covers_every_file() -> None:
    assert sorted(p.name for p in CORPUS.glob("*.pbk")) == FILES


@pytest.mark.parametrize("fname", FILES)
def test_phonebook_corpus_file(fname: str, tmp_path: Path) -> None:
    src = CORPUS / fname
    expect = MANIFEST[fname]
    pb = load(src)
    assert pb.names() == expect["entries"]
    for name, props in expect["props"].items():
        entry = pb.find(name)
        assert entry is not None
        for attr, value in props.items():
            assert getattr(entry, attr) == value, (name, attr)
        # "Shows properties": every block and key is reachable.
        for block in entry.blocks:
            for key, value in block.items:
                assert entry.get(key, block=block.kind) is not None
                assert value in entry.get_all(key, block=None)
    copy = tmp_path / fname
    pb.save(copy)
    assert copy.read_bytes() == src.read_bytes()


@pytest.mark.parametrize("fname", FILES)
def test_phonebook_corpus_edit_preserves_rest(fname: str, tmp_path: Path) -> None:
    copy = tmp_path / fname
    shutil.copyfile(CORPUS / fname, copy)
    original = load(copy)
    first = original.entries[0].name
    snapshot = [(e.name, [(b.kind, b.value, b.items) for b in e.blocks]) for e in original]

    def change(pb: Any) -> None:
        pb.find(first).set("OpenRasTest", "1")

    edit(copy, change)
    after = load(copy)
    assert after.encoding == original.encoding
    assert after.bom == original.bom
    e = after.find(first)
    assert e is not None
    assert e.get("openrastest") == "1"
    assert e.remove("OpenRasTest") == 1
    assert after.dumps() == (CORPUS / fname).read_bytes()
    again = [(x.name, [(b.kind, b.value, b.items) for b in x.blocks]) for x in parse(after.dumps())]
    assert again == snapshot
