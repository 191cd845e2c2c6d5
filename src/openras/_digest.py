"""SHA-256 and SHA-1 by CPython's own implementations, not hashlib's.

hashlib loads OpenSSL's libcrypto (3.4 MB of resident memory) the first time it is imported;
the daemon hashes only short names (credential file names, entry GUIDs, a resolv.conf), for
which CPython's builtin code is as good. Other interpreters fall back to hashlib.
"""

from __future__ import annotations


def sha256_hex(data: bytes) -> str:
    """``hashlib.sha256(data).hexdigest()``."""
    try:
        from _sha2 import sha256  # type: ignore[import-not-found]  # CPython 3.12+
    except ImportError:
        try:
            from _sha256 import sha256  # type: ignore[import-not-found]  # 3.11
        except ImportError:
            from hashlib import sha256
    return str(sha256(data).hexdigest())


def sha1_digest(data: bytes) -> bytes:
    """``hashlib.sha1(data).digest()`` (for UUIDv5, which is made of SHA-1: not a security use)."""
    try:
        from _sha1 import sha1  # type: ignore[import-not-found]
    except ImportError:
        from hashlib import sha1
    return bytes(sha1(data).digest())  # noqa: S324
