"""Why a token was refused: one `TokenError` per reason, each with a stable audit code.

Outsiders (HTTP callers) must see a single opaque authentication failure; the code and message
are for the audit log (STYLE 9). Messages name the failed check, never a key or the token.
"""

from __future__ import annotations

from zerogate.errors import ZerogateError


class TokenError(ZerogateError):
    """A token was refused; `code` says which check failed."""

    code = "token_invalid"
    status = 401


class TokenMalformed(TokenError):
    """Not a compact JWS with strict JSON, or a required claim is missing or of the wrong type."""

    code = "token_malformed"


class TokenTooLarge(TokenError):
    """Over `MAX_TOKEN_BYTES`, or a segment over its own bound; refused before any parsing."""

    code = "token_too_large"


class TokenHeaderForbidden(TokenError):
    """A header field outside the allowlist, `crit`, or an `alg` the signing key does not use."""

    code = "token_header_forbidden"


class TokenKeyUnknown(TokenError):
    """No `kid`, a `kid` not in our key set, or a key outside its validity window."""

    code = "token_key_unknown"


class TokenSignatureInvalid(TokenError):
    """The signature segment does not decode, has the wrong size, or does not verify."""

    code = "token_signature_invalid"


class TokenTypeMismatch(TokenError):
    """The `typ` header is not the expected type, or claims of another token type are present."""

    code = "token_type_mismatch"


class TokenExpired(TokenError):
    """`exp` is in the past, beyond the allowed clock skew."""

    code = "token_expired"


class TokenNotYetValid(TokenError):
    """`nbf` or `iat` is in the future, beyond the allowed clock skew."""

    code = "token_not_yet_valid"


class TokenAudienceMismatch(TokenError):
    """`aud` is missing, lacks the expected audience, or names an audience we do not trust."""

    code = "token_audience_mismatch"


class TokenIssuerMismatch(TokenError):
    """`iss` is missing or is not the expected issuer."""

    code = "token_issuer_mismatch"


class SigningKeyUnavailable(ZerogateError):
    """`issue` found no active signing key: call `ensure_active` (or `maintain`) first."""

    code = "token_signing_key_unavailable"
    status = 503


TOKEN_ERRORS: tuple[type[TokenError], ...] = (
    TokenAudienceMismatch,
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
