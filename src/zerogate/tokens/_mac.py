"""Short tokens one Zerogate service hands another through a browser, under a shared key.

Not JWTs: nothing outside Zerogate reads them, and an HMAC is about 50 times cheaper to check than ES256
on the gateway's hot path. `purpose` is bound into the MAC, so a token minted for one use (a
sign-in hand-off) is useless for another (a per-host session cookie). Every token carries `exp`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from zerogate.tokens._errors import TokenExpired, TokenMalformed, TokenSignatureInvalid

MAX_MAC_TOKEN_CHARS = 2048


def seal_mac(payload: Mapping[str, Any], *, key: bytes, purpose: str) -> str:
    """`payload` (with an integer `exp`) as `body.mac`; raises ValueError for a bad payload."""
    if not isinstance(payload.get("exp"), int) or len(key) < 32:
        raise ValueError("a MAC token needs an integer exp and a key of at least 32 bytes")
    body = _b64(orjson.dumps(dict(payload)))
    token = f"{body}.{_b64(_mac(key, purpose, body))}"
    if len(token) > MAX_MAC_TOKEN_CHARS:
        raise ValueError("MAC token payload too large")
    return token


def open_mac(token: str, *, key: bytes, purpose: str, now: datetime) -> dict[str, Any]:
    """The payload of a token sealed for `purpose`; raises a `TokenError` (malformed, signature
    invalid, expired)."""
    if not isinstance(token, str) or len(token) > MAX_MAC_TOKEN_CHARS or token.count(".") != 1:
        raise TokenMalformed("not a MAC token")
    body, mac = token.split(".")
    try:
        presented = _unb64(mac)
    except (ValueError, binascii.Error):
        raise TokenMalformed("not a MAC token") from None
    if not hmac.compare_digest(presented, _mac(key, purpose, body)):
        raise TokenSignatureInvalid("MAC does not verify")
    try:
        payload = orjson.loads(_unb64(body))
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        raise TokenMalformed("MAC token body is not JSON") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("exp"), int):
        raise TokenMalformed("MAC token without exp")
    if now.timestamp() >= payload["exp"]:
        raise TokenExpired("MAC token expired")
    return payload


def _mac(key: bytes, purpose: str, body: str) -> bytes:
    return hmac.new(key, f"{purpose}\x00{body}".encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
