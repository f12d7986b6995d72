"""Tokens and keys: the one JWT issuer and verifier, signing keys with rotation, and the JWKS.

`issue()` signs short-lived JWTs of a `TokenType` with a key ring's active key; `verify()` checks
one against our own keys only and raises a `TokenError` whose `code` names the failed check.
`KeyRing` keeps keys in memory; `StoreKeyRing` shares them through the store between nodes;
`JWKSKeys` verifies against another issuer's published JWKS.
"""

from zerogate.tokens._decision import (
    DECISION_AUDIENCE_PREFIX,
    DECISION_COOKIE_PREFIX,
    decision_audience,
    decision_cookie,
)
from zerogate.tokens._errors import (
    SigningKeyUnavailable,
    TokenAudienceMismatch,
    TokenError,
    TokenExpired,
    TokenHeaderForbidden,
    TokenIssuerMismatch,
    TokenKeyUnknown,
    TokenMalformed,
    TokenNotYetValid,
    TokenSignatureInvalid,
    TokenTooLarge,
    TokenTypeMismatch,
)
from zerogate.tokens._issue import issue
from zerogate.tokens._jwks import JWKSKeys
from zerogate.tokens._keys import (
    KeyFactory,
    KeyInfo,
    SigningKey,
    SigningKeys,
    VerificationKey,
    VerificationKeys,
    generate_key,
)
from zerogate.tokens._mac import MAX_MAC_TOKEN_CHARS, open_mac, seal_mac
from zerogate.tokens._ring import KeyRing
from zerogate.tokens._schedule import RotationSchedule
from zerogate.tokens._store_ring import StoreKeyRing
from zerogate.tokens._types import BACKCHANNEL_LOGOUT_EVENT, Algorithm, TokenType
from zerogate.tokens._verify import (
    DEFAULT_LEEWAY,
    MAX_LEEWAY,
    MAX_TOKEN_BYTES,
    VerifiedToken,
    verify,
)

__all__ = [
    "BACKCHANNEL_LOGOUT_EVENT",
    "DECISION_AUDIENCE_PREFIX",
    "DECISION_COOKIE_PREFIX",
    "DEFAULT_LEEWAY",
    "MAX_LEEWAY",
    "MAX_MAC_TOKEN_CHARS",
    "MAX_TOKEN_BYTES",
    "Algorithm",
    "JWKSKeys",
    "KeyFactory",
    "KeyInfo",
    "KeyRing",
    "RotationSchedule",
    "SigningKey",
    "SigningKeyUnavailable",
    "SigningKeys",
    "StoreKeyRing",
    "TokenAudienceMismatch",
    "TokenError",
    "TokenExpired",
    "TokenHeaderForbidden",
    "TokenIssuerMismatch",
    "TokenKeyUnknown",
    "TokenMalformed",
    "TokenNotYetValid",
    "TokenSignatureInvalid",
    "TokenTooLarge",
    "TokenType",
    "TokenTypeMismatch",
    "VerificationKey",
    "VerificationKeys",
    "VerifiedToken",
    "decision_audience",
    "decision_cookie",
    "generate_key",
    "issue",
    "open_mac",
    "seal_mac",
    "verify",
]
