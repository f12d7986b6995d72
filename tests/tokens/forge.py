"""Building tokens by hand for the attack tests: raw base64url, raw JSON text, raw signatures.

joserfc refuses to make most malicious tokens (alg none, duplicate keys, DER signatures), so these
helpers use `cryptography` and `hmac` directly. Nothing here is used by `zerogate.tokens`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from joserfc.jwk import ECKey, Key

from zerogate.tokens import BACKCHANNEL_LOGOUT_EVENT, Algorithm, KeyRing, TokenType

NOW = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
NOW_S = int(NOW.timestamp())
ISSUER = "https://idp.zerogate.test"
AUDIENCE = "https://api.zerogate.test"
# P-256 group order n (SEC 2 §2.4.2): r or s equal to n must never verify (JWT-A9).
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

Signer = Callable[[bytes], bytes]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64json(value: Any) -> str:
    """base64url of compact JSON, or of the given text/bytes verbatim (for malformed JSON)."""
    if isinstance(value, bytes):
        return b64(value)
    if isinstance(value, str):
        return b64(value.encode("utf-8"))
    return b64(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def compact(header: Any, payload: Any, sign: Signer | None) -> str:
    """`header.payload.signature`; `sign` gets the signing input (None: empty signature)."""
    signing_input = f"{b64json(header)}.{b64json(payload)}"
    signature = b"" if sign is None else sign(signing_input.encode("ascii"))
    return f"{signing_input}.{b64(signature)}"


def es256_raw(private: ec.EllipticCurvePrivateKey) -> Signer:
    """ES256 as JWS wants it: raw R||S, 32 bytes each (RFC 7518 §3.4)."""

    def sign(data: bytes) -> bytes:
        r, s = decode_dss_signature(private.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    return sign


def es256_der(private: ec.EllipticCurvePrivateKey) -> Signer:
    """ES256 left DER-encoded, as OpenSSL returns it (JWT-A10)."""
    return lambda data: private.sign(data, ec.ECDSA(hashes.SHA256()))


def es256_fixed(r: int, s: int) -> Signer:
    """A raw signature with chosen r and s, whatever is signed (JWT-A9)."""
    return lambda _data: r.to_bytes(32, "big") + s.to_bytes(32, "big")


def es256_with(
    private: ec.EllipticCurvePrivateKey, *, r: int | None = None, s: int | None = None
) -> Signer:
    """A real signature with r or s replaced."""

    def sign(data: bytes) -> bytes:
        real_r, real_s = decode_dss_signature(private.sign(data, ec.ECDSA(hashes.SHA256())))
        return (r if r is not None else real_r).to_bytes(32, "big") + (
            s if s is not None else real_s
        ).to_bytes(32, "big")

    return sign


def der_of(raw: bytes) -> bytes:
    return encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))


def hs256(secret: bytes) -> Signer:
    return lambda data: hmac.new(secret, data, hashlib.sha256).digest()


@dataclass(frozen=True)
class Victim:
    """Our in-memory key ring and the private key behind its one key (to forge valid tokens)."""

    ring: KeyRing
    kid: str
    private: ec.EllipticCurvePrivateKey
    jwk: ECKey

    def header(self, **changes: Any) -> dict[str, Any]:
        header: dict[str, Any] = {"alg": "ES256", "kid": self.kid, "typ": TokenType.ACCESS.value}
        header.update(changes)
        return {k: v for k, v in header.items() if v is not None}

    def sign(self) -> Signer:
        return es256_raw(self.private)


def access_claims(**changes: Any) -> dict[str, Any]:
    """A valid RFC 9068 claim set at NOW (JAT-01); None in `changes` removes a claim."""
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "client_id": "web-app",
        "scope": "read",
        "iat": NOW_S,
        "nbf": NOW_S,
        "exp": NOW_S + 300,
        "jti": "jti-1",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


TYPE_CLAIMS: dict[TokenType, dict[str, Any]] = {
    TokenType.ACCESS: {"sub": "alice", "client_id": "web-app", "scope": "read"},
    TokenType.ID: {"sub": "alice", "nonce": "n-0S6_WzA2Mj"},
    TokenType.LOGOUT: {"sub": "alice", "events": {BACKCHANNEL_LOGOUT_EVENT: {}}},
    TokenType.ASSERTION: {"sub": "alice", "groups": ["eng"]},
    TokenType.DECISION: {"sub": "alice", "decision": "allow"},
}


def recording_factory(made: list[Key]) -> Callable[[Algorithm], Key]:
    """A KeyFactory that remembers every private key it made (STYLE 12: injected randomness)."""
    from zerogate.tokens import generate_key

    def make(alg: Algorithm) -> Key:
        key = generate_key(alg)
        made.append(key)
        return key

    return make


def make_victim() -> Victim:
    made: list[Key] = []
    ring = KeyRing(key_factory=recording_factory(made))
    info = ring.ensure_active(NOW)
    key = made[0]
    assert isinstance(key, ECKey)
    private = key.private_key
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    return Victim(ring=ring, kid=info.kid, private=private, jwk=key)
