"""Strict decoding of JWS segments: canonical base64url and I-JSON objects (JWT-A17).

Python's `json` keeps the last of duplicate keys and `base64` skips characters it does not know;
either would let two parsers read one token differently (RFC 8725 §3.7), so both are wrapped.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_BOM = b"\xef\xbb\xbf"
# Wider than any NumericDate we accept; refuses 4,000-digit integers before int() parses them.
_MAX_INT_DIGITS = 20


class StrictJSONError(ValueError):
    """The bytes are not one canonical, duplicate-free JSON object."""


def b64url_decode(segment: str) -> bytes:
    """Decode unpadded base64url, refusing any other alphabet, padding, or non-canonical form.

    Canonical form matters for the signature segment: otherwise flipping unused low bits of the
    last character gives a different token string with the same signature (JWT-A10).
    """
    if len(segment) % 4 == 1 or not _B64URL.fullmatch(segment):
        raise StrictJSONError("not base64url")
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise StrictJSONError("not base64url") from None
    if b64url_encode(raw) != segment:
        raise StrictJSONError("non-canonical base64url")
    return raw


def b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def loads_object(raw: bytes) -> dict[str, Any]:
    """Parse UTF-8 JSON that must be an object; duplicate keys, BOM, NaN, huge ints are refused."""
    if raw.startswith(_BOM):
        raise StrictJSONError("byte order mark")  # RFC 8259 §8.1: must not add one
    try:
        text = raw.decode("utf-8")  # strict: invalid UTF-8 and encoded surrogates fail
        value = json.loads(
            text,
            object_pairs_hook=_unique_object,
            parse_constant=_no_constant,
            parse_int=_bounded_int,
            parse_float=_finite_float,
        )
        if "\\u" in text:
            # Escapes may spell lone surrogates, which no UTF-8 consumer can re-encode.
            json.dumps(value, ensure_ascii=False).encode("utf-8")
    except StrictJSONError:
        raise
    except (UnicodeError, ValueError, RecursionError):
        raise StrictJSONError("not JSON") from None
    if not isinstance(value, dict):
        raise StrictJSONError("not a JSON object")
    return value


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        # RFC 7515 §5.2 allows "reject or last wins"; we reject (JWT-A17).
        raise StrictJSONError("duplicate member name")
    return obj


def _no_constant(name: str) -> Any:
    raise StrictJSONError(f"{name} is not JSON")


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > _MAX_INT_DIGITS:
        raise StrictJSONError("integer too large")
    return int(digits)


def _finite_float(digits: str) -> float:
    value = float(digits)
    if value in (float("inf"), float("-inf")):
        raise StrictJSONError("number out of range")
    return value
