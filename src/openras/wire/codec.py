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
import json
from collections.abc import Callable

from openras.errors import LocalProtocolError, RemoteProtocolError

TYPE_CHECKING = False  # typing's constant, without importing typing (see openras._lazy)
if TYPE_CHECKING:
    from typing import Any, Final, NoReturn

    import msgspec

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

# Two JSON engines, one grammar. The daemon encodes with msgspec (its replies carry
# pre-encoded msgspec.Raw rows) and decodes requests with a depth bound msgspec checks in C.
# A client's side (its calls are plain dicts; a reply has no depth bound) uses the standard
# library's json, made as strict as msgspec: no NaN or Infinity, no number out of a
# float's range, no lone surrogate, an object at the top. msgspec's import (its C core loads
# datetime, decimal, uuid and typing_extensions) was a third of a command's start-up.


class _Malformed(ValueError):
    """A frame that is no JSON object (the text says why)."""


class _TooDeep(ValueError):
    """A frame nested deeper than the decoder's bound."""


@functools.cache
def _msgspec_encoder() -> msgspec.json.Encoder:
    import msgspec

    return msgspec.json.Encoder()


@functools.cache
def _bounded_decoder(depth: int) -> msgspec.json.Decoder[dict[str, Any]]:
    """A decoder of JSON objects nested at most ``depth`` levels: the bound is in the type,
    so msgspec refuses the first container too deep, in C, before descending into it (and
    never recurses as far as the interpreter's limit). The type grows as 2**depth to build:
    keep ``depth`` small (8 builds in a few milliseconds, once)."""
    from typing import Union

    import msgspec

    value: Any = Union[str, int, float, bool, None]  # noqa: UP007 (a runtime type for msgspec)
    for _ in range(depth - 1):
        value = Union[str, int, float, bool, None, list[value], dict[str, value]]  # noqa: UP007
    return msgspec.json.Decoder(dict[str, value])


def _bounded_parser(depth: int) -> Callable[[bytes], dict[str, Any]]:
    import msgspec

    decoder = _bounded_decoder(depth)

    def parse(frame: bytes) -> dict[str, Any]:
        try:
            msg: dict[str, Any] = decoder.decode(frame)
        except msgspec.ValidationError as exc:
            text = str(exc)
            if text.startswith("Expected `bool | int | float"):
                raise _TooDeep(text) from None
            raise _Malformed(text) from None
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            raise _Malformed(str(exc)) from None
        return msg

    return parse


def _no_constant(name: str) -> Any:
    raise ValueError(f"JSON is malformed: {name} is no JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError("Number out of range")
    return value


_json_decoder = json.JSONDecoder(parse_float=_finite, parse_constant=_no_constant)
_JSON_TYPES: Final = {list: "array", str: "str", int: "int", float: "float", bool: "bool"}


def _has_lone_surrogate(value: object) -> bool:
    """Whether a string in ``value`` holds half a UTF-16 pair (only ``\\uD8xx`` escapes make
    one: the frame's bytes are valid UTF-8). Iterative: ``value`` may be nested deeply."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _parse_plain(frame: bytes) -> dict[str, Any]:
    try:
        value = _json_decoder.decode(frame.decode("utf-8"))
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, out of range
        raise _Malformed(str(exc)) from None
    if not isinstance(value, dict):
        name = "null" if value is None else _JSON_TYPES.get(type(value), "value")
        raise _Malformed(f"Expected `object`, got `{name}`")
    if (b"\\ud" in frame or b"\\uD" in frame) and _has_lone_surrogate(value):
        raise _Malformed("JSON is malformed: invalid utf-16 surrogate pair")
    return value


def encode(message: dict[str, Any]) -> bytes:
    """One frame: the JSON text of ``message`` and the terminating NUL; LocalProtocolError
    for a message that is no JSON (this side's bug: never sent as half a frame). msgspec's:
    the daemon's replies hold msgspec.Raw rows and Structs."""
    import msgspec  # loaded by _msgspec_encoder's first call

    try:
        return _msgspec_encoder().encode(message) + b"\0"
    except (msgspec.EncodeError, TypeError, ValueError, OverflowError) as exc:
        raise LocalProtocolError(detail=f"cannot encode the message: {exc}") from None


def encode_plain(message: dict[str, Any]) -> bytes:
    """:func:`encode` for a message of plain dicts, lists, strings and numbers (a client's
    call), by the standard library: a client loads no C extension for its calls."""
    try:
        text = json.dumps(message, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return text.encode("utf-8") + b"\0"
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
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
        self._parse = _parse_plain if max_depth is None else _bounded_parser(max_depth)
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
            return self._parse(frame)
        except _TooDeep:
            self._fail(f"frame nested deeper than {self._depth} levels")
        except _Malformed as exc:
            self._fail(f"malformed frame: {str(exc)[:200]}")
        except RecursionError:
            self._fail("frame nested too deeply")

    def _fail(self, detail: str) -> NoReturn:
        self._broken = True
        self._buf = bytearray()
        raise RemoteProtocolError(detail=detail)
