"""The sans-IO codec: varlink-shaped JSON messages, each followed by one NUL byte.

A call is ``{"method": "org.openras.Manager.Dial", "parameters": {...}, "more": true}``;
a reply is ``{"parameters": {...}, "continues": true}`` or ``{"error": NAME, "parameters":
{...}}``. The decoder owns no socket: bytes go in, whole messages come out, so the same class
serves the daemon, the blocking client and the asyncio client, and can be fuzzed alone.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from openras.errors import ProtocolError

#: Largest frame accepted (a frame holds one request or reply; the biggest is an
#: enumeration of thousands of connections).
MAX_FRAME: Final = 8 * 1024 * 1024

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(dict[str, Any])


def encode(message: dict[str, Any]) -> bytes:
    """One frame: the JSON text of ``message`` and the terminating NUL."""
    return _encoder.encode(message) + b"\0"


class FrameDecoder:
    """Splits a byte stream into messages; raises :class:`ProtocolError` on a bad stream.

    After an error the decoder is spent: the caller must drop the connection (a client's bad
    frame ends that client's session only).
    """

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self._buf = bytearray()
        self._max = max_frame
        self._broken = False

    @property
    def pending(self) -> int:
        """Bytes of an unfinished frame held back (non-zero at EOF means truncation)."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        if self._broken:
            raise ProtocolError(detail="decoder used after a protocol error")
        self._buf += data
        out: list[dict[str, Any]] = []
        start = 0
        while True:
            end = self._buf.find(b"\0", start)
            if end < 0:
                break
            frame = bytes(self._buf[start:end])
            start = end + 1
            if len(frame) > self._max:
                self._broken = True
                raise ProtocolError(detail=f"frame of {len(frame)} bytes exceeds {self._max}")
            try:
                out.append(_decoder.decode(frame))
            except (msgspec.DecodeError, UnicodeDecodeError) as exc:
                self._broken = True
                raise ProtocolError(detail=f"malformed frame: {exc}") from None
        del self._buf[:start]
        if len(self._buf) > self._max:
            self._broken = True
            raise ProtocolError(detail=f"unterminated frame exceeds {self._max} bytes")
        return out
