"""Purpose-bound HMAC keys derived from the one configured secret, and the MACs made with them.

Each use (pending logins, CSRF tokens) gets its own key, so a value signed for one purpose never
verifies as another. HMAC-SHA-256 is the whole construction: nothing here is encrypted, only
made unforgeable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac


def derive_key(secret: bytes, purpose: str) -> bytes:
    """A 256-bit key for one purpose (HMAC as a PRF over a fixed label, as HKDF-Expand does)."""
    return hmac.new(secret, f"zerogate.idp/{purpose}/v1".encode(), hashlib.sha256).digest()


def mac(key: bytes, message: bytes) -> str:
    """The unpadded base64url HMAC-SHA-256 of `message`."""
    return b64encode(hmac.new(key, message, hashlib.sha256).digest())


def mac_matches(key: bytes, message: bytes, presented: str) -> bool:
    """True if `presented` is the MAC of `message`; compared in constant time."""
    return hmac.compare_digest(mac(key, message).encode(), presented.encode("utf-8", "replace"))


def b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64decode(text: str) -> bytes | None:
    """Unpadded base64url to bytes, or None if it is not base64url."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


__all__ = ["b64decode", "b64encode", "derive_key", "mac", "mac_matches"]
