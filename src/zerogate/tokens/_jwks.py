"""`JWKSKeys`: verification keys read from a published JWKS document (RFC 7517), e.g. by an SDK.

Strict on what could widen trust (a private member, a duplicate `kid`, a key without `kid`),
lenient where RFC 7517 §5 says to be: keys for encryption or of a type we do not use are skipped.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import timedelta
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key, RSAKey

from zerogate.errors import InvalidInput
from zerogate.tokens._keys import (
    KID_CHARS,
    KID_MAX,
    MODELS,
    PRIVATE_MEMBERS,
    VerificationKey,
    check_key,
    signature_bytes,
)
from zerogate.tokens._types import Algorithm

_MAX_KEYS = 100
_RSA_MIN_N_CHARS = 342  # base64url length of a 2048-bit modulus (256 bytes)
# RFC 7517 §4.3 and §4.7 define these two members as arrays of strings; every other member we
# read is a string. `x5c` is never used: keys come from the JWK's own members only (JWT-A7).
_ARRAY_MEMBERS = frozenset({"key_ops", "x5c"})
_IGNORED_MEMBERS = frozenset({"kid", "alg", "use", "key_ops", "x5c"})


class JWKSKeys:
    """Public keys of one issuer, looked up by `kid`; each key verifies with one algorithm.

    Use one instance per issuer (JWT-A14): never merge issuers' key sets. Keys carry no
    schedule, so `verify` applies only the token's own times and `max_token_lifetime`.
    """

    __slots__ = ("_keys", "max_token_lifetime")

    def __init__(self, keys: Collection[VerificationKey], *, max_token_lifetime: timedelta) -> None:
        self._keys = {k.kid: k for k in keys}
        self.max_token_lifetime = max_token_lifetime

    @classmethod
    def from_jwks(
        cls,
        document: Mapping[str, Any],
        *,
        algorithms: Collection[Algorithm] = (Algorithm.ES256,),
        max_token_lifetime: timedelta = timedelta(hours=1),
    ) -> JWKSKeys:
        """Read `{"keys": [...]}`; raises InvalidInput (`jwks_invalid`) on a dangerous document."""
        entries = document.get("keys") if isinstance(document, Mapping) else None
        if not isinstance(entries, list) or len(entries) > _MAX_KEYS:
            raise _invalid(f"a JWKS is an object with a list of at most {_MAX_KEYS} keys")
        keys: dict[str, VerificationKey] = {}
        for index, entry in enumerate(entries):
            key = _read_key(entry, index, frozenset(Algorithm(a) for a in algorithms))
            if key is None:
                continue
            if key.kid in keys:
                raise _invalid(f"keys[{index}]: duplicate kid")  # DISC-03: kids are unique
            keys[key.kid] = key
        return cls(list(keys.values()), max_token_lifetime=max_token_lifetime)

    def verification_key(self, kid: str) -> VerificationKey | None:
        return self._keys.get(kid)

    def kids(self) -> list[str]:
        return sorted(self._keys)


def _read_key(entry: Any, index: int, algorithms: frozenset[Algorithm]) -> VerificationKey | None:
    if not isinstance(entry, dict) or not all(
        _member_ok(name, value) for name, value in entry.items()
    ):
        raise _invalid(f"keys[{index}] is not an object of string members")
    if PRIVATE_MEMBERS.intersection(entry):
        # DISC-03: a JWKS that leaks private members is refused outright.
        raise _invalid(f"keys[{index}] has private key members")
    kid = entry.get("kid")
    if not kid or len(kid) > KID_MAX or not KID_CHARS.issuperset(kid):
        raise _invalid(f"keys[{index}] has no usable kid")
    if entry.get("use", "sig") != "sig" or "verify" not in entry.get("key_ops", ["verify"]):
        return None
    alg = _algorithm(entry)
    if alg is None or alg not in algorithms:
        return None  # RFC 7517 §5: ignore keys we cannot use
    public = {k: v for k, v in entry.items() if k not in _IGNORED_MEMBERS}
    if alg is Algorithm.RS256 and len(public.get("n", "")) < _RSA_MIN_N_CHARS:
        # Refused before joserfc parses it (it would only warn): RFC 7518 §3.3, 2048 bits.
        raise _invalid(f"keys[{index}] is not a valid RS256 public key (under 2048 bits)")
    try:
        key: Key = (ECKey if alg is Algorithm.ES256 else RSAKey).import_key(public)
        check_key(key, alg, private=False)
    except (JoseError, ValueError):
        raise _invalid(f"keys[{index}] is not a valid {alg.value} public key") from None
    return VerificationKey(kid, alg, key, MODELS[alg], signature_bytes(key))


def _member_ok(name: str, value: Any) -> bool:
    if name in _ARRAY_MEMBERS:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return isinstance(value, str)


def _algorithm(entry: Mapping[str, Any]) -> Algorithm | None:
    alg = entry.get("alg")
    if alg is not None:
        return Algorithm(alg) if alg in Algorithm.__members__ else None
    if entry.get("kty") == "EC" and entry.get("crv") == "P-256":
        return Algorithm.ES256
    return Algorithm.RS256 if entry.get("kty") == "RSA" else None


def _invalid(message: str) -> InvalidInput:
    return InvalidInput(message, code="jwks_invalid")
