"""Atheris harness for the phonebook parser.

Property: any input either raises PhonebookError (with ``file:line``) or parses into a book
whose ``dumps()`` is the input again, and whose entries can be read and edited.

Run bounded: ``python fuzz/fuzz_pbk.py -runs=20000`` or ``-max_total_time=5``; pass
``tests/unit/pbk_corpus`` as a seed corpus directory.
"""

from __future__ import annotations

import sys

import atheris

from openras.errors import PhonebookError  # imports the openras package, uninstrumented

with atheris.instrument_imports(include=["openras.phonebook"]):
    from openras.phonebook import LexError, parse, tokenize
    from openras.phonebook._codec import decode


def reference_ok(data: bytes) -> bool:
    """Slow reference: every line classifies and no key precedes the first entry."""
    try:
        tokens = tokenize(decode(data).text)
    except (LexError, UnicodeDecodeError):
        return False
    for t in tokens:
        if t.kind.name == "SECTION":
            return True
        if t.kind.name == "KEY":
            return False
    return True


def test_one_input(data: bytes) -> None:
    try:
        pb = parse(data, "fuzz.pbk")
    except PhonebookError as exc:
        if exc.code != 625 or "fuzz.pbk:" not in str(exc) or reference_ok(data):
            raise
        return
    assert reference_ok(data)
    out = pb.dumps()
    if out != data:
        raise AssertionError(f"round trip changed {data!r} into {out!r}")
    for entry in pb.entries[:4]:
        assert pb.find(entry.name) is not None
        for block in entry.blocks:
            for key, _ in block.items:
                entry.get(key, block=block.kind)
        _ = (entry.phone_number, entry.device_type, entry.device_name, entry.vpn_strategy)
        before = pb.dumps()
        entry.alternates = entry.alternates  # setting what is there changes nothing
        assert pb.dumps() == before
        entry.set("OpenRasFuzz", "1")
        assert entry.get("openrasfuzz") == "1"
        again = parse(pb.dumps())
        assert len(again) == len(pb)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
