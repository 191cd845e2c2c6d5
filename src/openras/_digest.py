"""SHA-256 and SHA-1 by CPython's own implementations, not hashlib's.

hashlib loads OpenSSL's libcrypto (3.4 MB of resident memory) the first time it is imported;
the daemon hashes only short names (credential file names, entry GUIDs, a resolv.conf), for
which CPython's builtin code is as good. Other interpreters fall back to hashlib.

Each constructor is looked up once: a failed import is not cached by Python, and trying
3.12's ``_sha2`` on 3.11 searched every path entry on each call (40 us, twice per dial).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing's constant, without importing typing (see openras._lazy)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_SHA256: Callable[[bytes], Any] | None = None
_SHA1: Callable[[bytes], Any] | None = None


def _sha256() -> Callable[[bytes], Any]:
    global _SHA256
    if _SHA256 is None:
        try:
            from _sha2 import sha256  # type: ignore[import-not-found]  # CPython 3.12+
        except ImportError:
            try:
                from _sha256 import sha256  # type: ignore[import-not-found]  # 3.11
            except ImportError:
                from hashlib import sha256
        _SHA256 = sha256
    return _SHA256


def sha256_hex(data: bytes) -> str:
    """``hashlib.sha256(data).hexdigest()``."""
    return str(_sha256()(data).hexdigest())


def sha1_digest(data: bytes) -> bytes:
    """``hashlib.sha1(data).digest()`` (for UUIDv5, which is made of SHA-1: not a security use)."""
    global _SHA1
    if _SHA1 is None:
        try:
            from _sha1 import sha1  # type: ignore[import-not-found]
        except ImportError:
            from hashlib import sha1
        _SHA1 = sha1
    return bytes(_SHA1(data).digest())
