"""Bytes <-> text for phonebooks, chosen so that decode followed by encode gives the input back.

Windows writes UTF-8 (optionally with a BOM) on current systems and the ANSI code page on old
ones; UTF-16 with a BOM is accepted as well. Text that is not valid UTF-8 is read as cp1252
with ``surrogateescape`` so even its five undefined bytes survive a round trip.
"""

from __future__ import annotations

import codecs
from typing import Final, NamedTuple

__all__ = ["Decoded", "decode", "encode"]

_BOMS: Final = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
LEGACY: Final = "cp1252"


class Decoded(NamedTuple):
    text: str
    encoding: str
    bom: bytes


def decode(data: bytes) -> Decoded:
    """Text, encoding and BOM of ``data``; raises UnicodeDecodeError only for a bad BOM file."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            n = len(bom)
            try:
                return Decoded(data[n:].decode(enc), enc, bom)
            except UnicodeDecodeError as exc:  # report offsets in the whole file
                raise UnicodeDecodeError(
                    enc, data, exc.start + n, exc.end + n, exc.reason
                ) from None
    try:
        return Decoded(data.decode("utf-8"), "utf-8", b"")
    except UnicodeDecodeError:
        return Decoded(data.decode(LEGACY, "surrogateescape"), LEGACY, b"")


def encode(text: str, encoding: str, bom: bytes) -> tuple[bytes, str]:
    """``(bytes, encoding used)``; a legacy file that gains characters cp1252 lacks becomes UTF-8.

    Windows reads UTF-8 phonebooks, so switching is safer than refusing an edit or writing
    ``?`` for the user's text.
    """
    errors = "surrogateescape" if encoding == LEGACY else "strict"
    try:
        return bom + text.encode(encoding, errors), encoding
    except UnicodeEncodeError:
        if encoding != LEGACY:
            raise
        return text.encode("utf-8", "surrogateescape"), "utf-8"
