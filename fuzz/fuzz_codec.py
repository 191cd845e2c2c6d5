"""Atheris harness for the wire codec (:mod:`openras.wire.codec`).

Properties, for any bytes cut into any pieces:

* the decoder returns JSON objects or raises ProtocolError, nothing else (no other exception,
  no hang, no unbounded buffer: ``pending`` never exceeds the frame limit);
* fed whole or in pieces it decides the same: same messages, or an error either way;
* every message it returns encodes and decodes back to itself, as one frame.

Run bounded: ``python fuzz/fuzz_codec.py -runs=100000`` or ``-max_total_time=5``.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from openras.errors import ProtocolError
    from openras.wire.codec import FrameDecoder, encode

LIMITS = (1, 2, 16, 64, 256, 4096)


def decode(data: bytes, cuts: list[int], max_frame: int) -> tuple[list[dict[str, object]], bool]:
    dec = FrameDecoder(max_frame)
    out: list[dict[str, object]] = []
    last = 0
    try:
        for cut in [*cuts, len(data)]:
            out += dec.feed(data[last:cut])
            last = cut
            if dec.pending > max_frame:
                raise AssertionError(f"decoder holds {dec.pending} bytes over a {max_frame} limit")
    except ProtocolError as exc:
        if exc.code != 87:
            raise
        return out, True
    return out, False


def test_one_input(raw: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(raw)
    max_frame = LIMITS[fdp.ConsumeIntInRange(0, len(LIMITS) - 1)]
    ncuts = fdp.ConsumeIntInRange(0, 8)
    cut_seeds = [fdp.ConsumeIntInRange(0, 1 << 16) for _ in range(ncuts)]
    data = fdp.ConsumeBytes(fdp.remaining_bytes())
    cuts = sorted(c % (len(data) + 1) for c in cut_seeds)

    whole, whole_err = decode(data, [], max_frame)
    pieces, pieces_err = decode(data, cuts, max_frame)
    if whole_err != pieces_err:
        raise AssertionError(f"whole error={whole_err} but pieces error={pieces_err} (cuts {cuts})")
    if not whole_err and whole != pieces:
        raise AssertionError(f"{whole!r} != {pieces!r} (cuts {cuts})")
    for msg in pieces:
        if not isinstance(msg, dict):
            raise AssertionError(f"not an object: {msg!r}")
        frame = encode(msg)
        if frame.count(b"\0") != 1:
            raise AssertionError(f"encoded frame holds a raw NUL: {frame!r}")
        again = FrameDecoder(len(frame)).feed(frame)
        if again != [msg]:
            raise AssertionError(f"round trip changed {msg!r} into {again!r}")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
