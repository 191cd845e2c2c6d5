"""The sans-IO codec: varlink-shaped JSON messages, each followed by one NUL byte.

A call is ``{"method": "org.openras.Manager.Dial", "parameters": {...}, "more": true}``;
a reply is ``{"parameters": {...}, "continues": true}`` or ``{"error": NAME, "parameters":
{...}}``. The decoder owns no socket: bytes go in, whole messages come out, so the same class
serves the daemon, the blocking client and the asyncio client, and can be fuzzed alone.

Two sets of limits: what a client accepts from the daemon (:data:`MAX_FRAME`, any nesting
up to the interpreter's recursion limit: a reply can enumerate thousands of connections) and
what the daemon accepts from a caller (:data:`MAX_REQUEST`, :data:`MAX_REQUEST_DEPTH`: a
request is a method name and a handful of scalar parameters). Either way a frame over the
limit, unterminated past it, malformed or too deep is a :class:`ProtocolError`, never
another exception, and the decoder never holds more than the limit plus one read.
"""

from __future__ import annotations

import functools
from typing import Any, Final, NoReturn, Union

import msgspec

from openras.errors import LocalProtocolError, RemoteProtocolError

#: Largest frame a client accepts (a frame holds one request or reply; the biggest is an
#: enumeration of thousands of connections).
MAX_FRAME: Final = 8 * 1024 * 1024

#: Largest frame the daemon reads from a caller: a request is a method name and a few
#: parameters of at most 4 KiB each, so 1 MiB is generous and caps what one session makes
#: the daemon buffer.
MAX_REQUEST: Final = 1024 * 1024

#: Deepest nesting of objects and arrays the daemon accepts in a request (the message object
#: itself is level 1; the deepest real request, SetCredentials' ``mask``, is at level 3).
MAX_REQUEST_DEPTH: Final = 8

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(dict[str, Any])

_SCALAR = Union[str, int, float, bool, None]  # noqa: UP007 (a runtime type for msgspec)


@functools.cache
def _bounded_decoder(depth: int) -> msgspec.json.Decoder[dict[str, Any]]:
    """A decoder of JSON objects nested at most ``depth`` levels: the bound is in the type,
    so msgspec refuses the first container too deep, in C, before descending into it (and
    never recurses as far as the interpreter's limit). The type grows as 2**depth to build:
    keep ``depth`` small (8 builds in a few milliseconds, once)."""
    value: Any = _SCALAR
    for _ in range(depth - 1):
        value = Union[str, int, float, bool, None, list[value], dict[str, value]]  # noqa: UP007
    return msgspec.json.Decoder(dict[str, value])


def encode(message: dict[str, Any]) -> bytes:
    """One frame: the JSON text of ``message`` and the terminating NUL; LocalProtocolError
    for a message that is no JSON (this side's bug: never sent as half a frame)."""
    try:
        return _encoder.encode(message) + b"\0"
    except (msgspec.EncodeError, TypeError, ValueError, OverflowError) as exc:
        raise LocalProtocolError(detail=f"cannot encode the message: {exc}") from None


class FrameDecoder:
    """Splits a byte stream into messages; raises :class:`RemoteProtocolError` on a bad stream (the peer's fault).

    ``max_frame`` bounds one frame (and so what the decoder buffers: at most ``max_frame``
    plus the last chunk fed); ``max_depth``, when given, bounds the nesting of objects and
    arrays (the daemon's requests). After an error the decoder is spent: the caller must drop
    the connection (a client's bad frame ends that client's session only).
    """

    def __init__(self, max_frame: int = MAX_FRAME, max_depth: int | None = None) -> None:
        self._buf = bytearray()
        self._max = max_frame
        self._depth = max_depth
        self._decoder = _decoder if max_depth is None else _bounded_decoder(max_depth)
        self._scanned = 0  # bytes of _buf known to hold no NUL
        self._broken = False

    @property
    def pending(self) -> int:
        """Bytes of an unfinished frame held back (non-zero at EOF means truncation)."""
        return len(self._buf)

    @property
    def max_frame(self) -> int:
        return self._max

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        if self._broken:
            raise RemoteProtocolError(detail="decoder used after a protocol error")
        self._buf += data
        out: list[dict[str, Any]] = []
        start = 0
        while True:
            end = self._buf.find(b"\0", max(start, self._scanned))
            if end < 0:
                break
            self._scanned = 0
            if end - start > self._max:
                self._fail(f"frame of {end - start} bytes exceeds {self._max}")
            frame = bytes(self._buf[start:end])
            start = end + 1
            out.append(self._decode(frame))
        del self._buf[:start]
        self._scanned = len(self._buf)
        if len(self._buf) > self._max:
            self._buf = bytearray()
            self._fail(f"unterminated frame exceeds {self._max} bytes")
        return out

    def _decode(self, frame: bytes) -> dict[str, Any]:
        try:
            msg: dict[str, Any] = self._decoder.decode(frame)
        except msgspec.ValidationError as exc:
            text = str(exc)
            if self._depth is not None and text.startswith("Expected `bool | int | float"):
                self._fail(f"frame nested deeper than {self._depth} levels")
            self._fail(f"malformed frame: {text[:200]}")
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            self._fail(f"malformed frame: {str(exc)[:200]}")
        except RecursionError:
            self._fail("frame nested too deeply")
        return msg

    def _fail(self, detail: str) -> NoReturn:
        self._broken = True
        self._buf = bytearray()
        raise RemoteProtocolError(detail=detail)
