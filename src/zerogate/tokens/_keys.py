"""Signing keys: generation, their stored form, and the parsed handles `issue`/`verify` use."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from joserfc.jwa import JWSAlgModel
from joserfc.jwk import ECKey, Key, RSAKey
from joserfc.jws import JWSRegistry

from zerogate.tokens._types import Algorithm

KeyFactory = Callable[[Algorithm], Key]
"""Makes a fresh private key for an algorithm; injected so tests can hold the key they forge with."""

_RSA_BITS = 2048  # RFC 7518 §3.3: at least 2048
# A kid is only ever a dict key, never a path, query or URL (JWT-A8); signing_keys.kid is 100.
KID_MAX = 100
KID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
# JWK members that only a private or symmetric key has (DISC-03: never in a JWKS).
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
# One registry per algorithm: joserfc then refuses any other `alg` for the key (RFC 8725 §3.1).
REGISTRIES: dict[Algorithm, JWSRegistry] = {
    alg: JWSRegistry(algorithms=[alg.value]) for alg in Algorithm
}
# joserfc's implementation of each algorithm, looked up once rather than per token.
MODELS: dict[Algorithm, JWSAlgModel] = {
    alg: REGISTRIES[alg].get_alg(alg.value) for alg in Algorithm
}


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A key's public facts and schedule (OIDC-09): never its private part.

    Published in the JWKS from `created_at`; signs from `activate_at` until `retire_at`; leaves
    the JWKS at `expire_at`, when every token it signed has expired. Times are whole seconds.
    """

    kid: str
    purpose: str
    alg: Algorithm
    public_jwk: Mapping[str, str] = field(repr=False)
    created_at: datetime
    activate_at: datetime
    retire_at: datetime | None = None
    expire_at: datetime | None = None

    def published(self, now: datetime) -> bool:
        return self.created_at <= now and (self.expire_at is None or now < self.expire_at)

    def signing(self, now: datetime) -> bool:
        return self.activate_at <= now and (self.retire_at is None or now < self.retire_at)


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A stored key: its facts and, on nodes that sign, the PKCS#8 PEM (never logged)."""

    info: KeyInfo
    private_pem: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A parsed private key ready for joserfc, with the one algorithm it signs with."""

    kid: str
    alg: Algorithm
    jwk: Key = field(repr=False)
    registry: JWSRegistry = field(repr=False)


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """A parsed public key, the one algorithm it verifies, and its window in epoch seconds.

    A token is only accepted if its `iat` falls inside [activate_s, retire_s): our signers pick
    the key from the same clock they stamp `iat` with, so a retired key's new token is a forgery.
    """

    kid: str
    alg: Algorithm
    jwk: Key = field(repr=False)
    model: JWSAlgModel = field(repr=False)
    signature_bytes: int
    activate_s: int | None = None
    retire_s: int | None = None
    expire_s: int | None = None


class VerificationKeys(Protocol):
    """What `verify` needs: our keys by `kid`, and the longest lifetime a token may have."""

    @property
    def max_token_lifetime(self) -> timedelta: ...

    def verification_key(self, kid: str) -> VerificationKey | None: ...


class SigningKeys(VerificationKeys, Protocol):
    """What `issue` needs besides: the key that signs at `now`."""

    def signing_key(self, now: datetime) -> SigningKey: ...


def generate_key(alg: Algorithm) -> Key:
    """A fresh private key for `alg` (the default `KeyFactory`)."""
    if alg is Algorithm.ES256:
        return ECKey.generate_key("P-256", private=True)
    return RSAKey.generate_key(_RSA_BITS, private=True)


def new_record(
    key: Key, *, alg: Algorithm, purpose: str, created_at: datetime, activate_at: datetime
) -> KeyRecord:
    """Wrap a freshly generated key; its `kid` is the RFC 7638 thumbprint (unique, stable)."""
    check_key(key, alg, private=True)
    kid = key.thumbprint()
    public = {k: str(v) for k, v in key.as_dict(private=False).items()}
    public.update(kid=kid, alg=alg.value, use="sig")
    info = KeyInfo(
        kid=kid,
        purpose=purpose,
        alg=alg,
        public_jwk=public,
        created_at=created_at,
        activate_at=activate_at,
    )
    assert isinstance(key, ECKey | RSAKey)  # check_key() refused every other family
    return KeyRecord(info, key.as_pem(private=True).decode("ascii"))


def check_key(key: Key, alg: Algorithm, *, private: bool) -> None:
    """Refuse a key of the wrong family, curve or size for `alg`, or of the wrong privacy."""
    if key.is_private != private:
        raise ValueError(f"expected a {'private' if private else 'public'} key")
    if alg is Algorithm.ES256:
        if not isinstance(key, ECKey) or key.curve_name != "P-256":
            raise ValueError("ES256 needs an EC P-256 key")
    elif not isinstance(key, RSAKey) or key.public_key.key_size < _RSA_BITS:
        raise ValueError(f"RS256 needs an RSA key of at least {_RSA_BITS} bits")


def signature_bytes(key: Key) -> int:
    """The exact JWS signature size: raw R||S for ECDSA (RFC 7518 §3.4), the modulus for RSA."""
    MODELS[Algorithm.ES256 if isinstance(key, ECKey) else Algorithm.RS256].check_key(key)
    if isinstance(key, ECKey):
        return 2 * ((key.curve_key_size + 7) // 8)
    assert isinstance(key, RSAKey)
    return (key.public_key.key_size + 7) // 8


def parse_signing_key(record: KeyRecord) -> SigningKey:
    """Import a stored private key, refusing one that does not match its published `kid`."""
    info = record.info
    if record.private_pem is None:
        raise ValueError(f"key {info.kid} was loaded without its private part")
    cls = ECKey if info.alg is Algorithm.ES256 else RSAKey
    key = cls.import_key(record.private_pem)
    check_key(key, info.alg, private=True)
    if key.thumbprint() != info.kid:
        raise ValueError(f"stored private key does not match kid {info.kid}")
    return SigningKey(info.kid, info.alg, key, REGISTRIES[info.alg])


def parse_verification_key(info: KeyInfo) -> VerificationKey:
    """Import the published JWK (what relying parties verify with), never the private part."""
    jwk: dict[str, str | list[str]] = {
        k: v for k, v in info.public_jwk.items() if k not in ("kid", "alg", "use")
    }
    cls = ECKey if info.alg is Algorithm.ES256 else RSAKey
    key = cls.import_key(jwk)
    check_key(key, info.alg, private=False)
    return VerificationKey(
        kid=info.kid,
        alg=info.alg,
        jwk=key,
        model=MODELS[info.alg],
        signature_bytes=signature_bytes(key),
        activate_s=int(info.activate_at.timestamp()),
        retire_s=None if info.retire_at is None else int(info.retire_at.timestamp()),
        expire_s=None if info.expire_at is None else int(info.expire_at.timestamp()),
    )
