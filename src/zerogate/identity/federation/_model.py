"""The federation vocabulary: the in-flight login state, verified upstream identities, the result
of a federated sign-in, and the one error with its stable codes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from zerogate.errors import ZerogateError
from zerogate.identity import User


class FederationFailure(StrEnum):
    """Why a federated sign-in failed: for the audit log only, never shown to the user."""

    UPSTREAM_UNKNOWN = "upstream_unknown"
    UNREACHABLE = "unreachable"  # network error, timeout, 5xx, oversized or non-JSON answer
    DISCOVERY_INVALID = "discovery_invalid"
    DISCOVERY_ISSUER_MISMATCH = "discovery_issuer_mismatch"  # OA-A6 at configuration time
    JWKS_INVALID = "jwks_invalid"
    STATE_MISSING = "state_missing"  # no (sound) federation cookie, or no `state` parameter
    STATE_MISMATCH = "state_mismatch"
    STATE_EXPIRED = "state_expired"
    WRONG_UPSTREAM = "wrong_upstream"  # the cookie was for another upstream's login
    RESPONSE_MALFORMED = "response_malformed"  # duplicate or oversized callback parameters
    ISS_MISMATCH = "iss_mismatch"  # RFC 9207 `iss` names another issuer (OA-A6)
    ISS_MISSING = "iss_missing"  # the upstream promises `iss` but sent none
    UPSTREAM_ERROR = "upstream_error"  # the callback carried `error=` (e.g. access_denied)
    CODE_MISSING = "code_missing"
    CODE_REJECTED = "code_rejected"  # the token endpoint answered with an OAuth error
    TOKEN_RESPONSE_INVALID = "token_response_invalid"  # noqa: S105 - a reason, not a secret
    ID_TOKEN_INVALID = "id_token_invalid"  # noqa: S105 - zerogate.tokens.verify refused it
    NONCE_MISMATCH = "nonce_mismatch"
    AZP_MISMATCH = "azp_mismatch"
    AT_HASH_MISMATCH = "at_hash_mismatch"
    USERINFO_INVALID = "userinfo_invalid"
    USERINFO_SUBJECT_MISMATCH = "userinfo_subject_mismatch"  # OIDC-21
    EMAIL_MISSING = "email_missing"
    EMAIL_UNVERIFIED = "email_unverified"
    EMAIL_INVALID = "email_invalid"
    EMAIL_TAKEN = "email_taken"  # an unlinked local user has the address: link by hand
    USER_DISABLED = "user_disabled"
    USER_LOCKED = "user_locked"


# code -> (HTTP status, the one message a user sees). Codes are stable (docs/federation.md).
_PUBLIC: dict[str, tuple[int, str]] = {
    "federation_upstream_unknown": (404, "There is no such sign-in option."),
    "federation_upstream_unavailable": (
        502,
        "The identity provider cannot be reached right now. Try again in a moment.",
    ),
    "federation_state_mismatch": (
        400,
        "This sign-in has expired or was not started in this browser. Start again.",
    ),
    "federation_response_invalid": (400, "The sign-in response was malformed. Start again."),
    "federation_issuer_mismatch": (
        400,
        "The sign-in response did not come from the expected identity provider. Start again.",
    ),
    "federation_denied": (401, "The identity provider did not sign you in."),
    "federation_token_invalid": (
        401,
        "The identity provider's answer could not be verified. Start again.",
    ),
    "federation_claims_invalid": (
        401,
        "The identity provider did not share a verified email address for this account.",
    ),
    "federation_account_conflict": (
        409,
        "This sign-in cannot be linked to an account automatically. Contact your administrator.",
    ),
    "federation_user_disabled": (
        403,
        "This account cannot sign in. Contact your administrator.",
    ),
}
FEDERATION_ERROR_CODES = frozenset(_PUBLIC)

_CODE_OF: dict[FederationFailure, str] = {
    FederationFailure.UPSTREAM_UNKNOWN: "federation_upstream_unknown",
    FederationFailure.UNREACHABLE: "federation_upstream_unavailable",
    FederationFailure.DISCOVERY_INVALID: "federation_upstream_unavailable",
    FederationFailure.DISCOVERY_ISSUER_MISMATCH: "federation_issuer_mismatch",
    FederationFailure.JWKS_INVALID: "federation_upstream_unavailable",
    FederationFailure.STATE_MISSING: "federation_state_mismatch",
    FederationFailure.STATE_MISMATCH: "federation_state_mismatch",
    FederationFailure.STATE_EXPIRED: "federation_state_mismatch",
    FederationFailure.WRONG_UPSTREAM: "federation_state_mismatch",
    FederationFailure.RESPONSE_MALFORMED: "federation_response_invalid",
    FederationFailure.ISS_MISMATCH: "federation_issuer_mismatch",
    FederationFailure.ISS_MISSING: "federation_issuer_mismatch",
    FederationFailure.UPSTREAM_ERROR: "federation_denied",
    FederationFailure.CODE_MISSING: "federation_response_invalid",
    FederationFailure.CODE_REJECTED: "federation_token_invalid",
    FederationFailure.TOKEN_RESPONSE_INVALID: "federation_token_invalid",
    FederationFailure.ID_TOKEN_INVALID: "federation_token_invalid",
    FederationFailure.NONCE_MISMATCH: "federation_token_invalid",
    FederationFailure.AZP_MISMATCH: "federation_token_invalid",
    FederationFailure.AT_HASH_MISMATCH: "federation_token_invalid",
    FederationFailure.USERINFO_INVALID: "federation_token_invalid",
    FederationFailure.USERINFO_SUBJECT_MISMATCH: "federation_token_invalid",
    FederationFailure.EMAIL_MISSING: "federation_claims_invalid",
    FederationFailure.EMAIL_UNVERIFIED: "federation_claims_invalid",
    FederationFailure.EMAIL_INVALID: "federation_claims_invalid",
    FederationFailure.EMAIL_TAKEN: "federation_account_conflict",
    FederationFailure.USER_DISABLED: "federation_user_disabled",
    FederationFailure.USER_LOCKED: "federation_user_disabled",
}


class FederationFailed(ZerogateError):
    """A federated sign-in failed. `code` and `message` are public and stable; `reason`,
    `upstream` and `detail` are for the log only and never appear in `message` or `as_dict()`.

    A 502 (`federation_upstream_unavailable`) is the upstream's fault or a network problem, not
    a bug here: edges render it like any other client-facing error.
    """

    def __init__(
        self, reason: FederationFailure, *, upstream: str | None = None, detail: str = ""
    ) -> None:
        code = _CODE_OF[reason]
        status, message = _PUBLIC[code]
        if reason is FederationFailure.DISCOVERY_ISSUER_MISMATCH:
            status = 502  # the upstream's configuration, not this response, is wrong
        super().__init__(message, code=code, status=status)
        self.reason = reason
        self.upstream = upstream
        self.detail = detail[:500]


@dataclass(frozen=True, slots=True)
class FederationState:
    """What `begin` made and `finish` checks against: keep it in this browser only, for minutes.

    `state` ties the callback to this browser (login CSRF, OA-A3), `nonce` ties the ID token to
    this login (replay, OA-A4), `code_verifier` ties the code to this client (PKCE, OA-A5).
    """

    upstream: str
    state: str = field(repr=False)
    nonce: str = field(repr=False)
    code_verifier: str = field(repr=False)
    redirect_uri: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class UpstreamChoice:
    """A sign-in button: the upstream's name (for the URL) and what to show."""

    name: str
    display_name: str


@dataclass(frozen=True, slots=True)
class UpstreamIdentity:
    """Who the upstream says signed in, after every check passed. Holds claims, never tokens.

    `claims` are the ID token's claims, with UserInfo's added when fetched (never overriding the
    ID token's `sub`, `iss`, `aud`, times or `nonce`); group rules read them.
    """

    upstream: str
    issuer: str
    subject: str
    email: str | None
    email_verified: bool
    preferred_username: str | None
    name: str | None
    amr: tuple[str, ...]  # the upstream's own `amr`, as sent
    auth_time: datetime
    claims: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True, slots=True)
class FederatedLogin:
    """A completed federated sign-in: the local user and what to put in the session.

    `amr` is `("fed",)` plus, when the upstream is trusted for MFA, its multi-factor values
    (RFC 8176); `mfa_at` is the upstream's `auth_time` when it asserted `mfa`, else None.
    """

    user: User
    upstream: str
    subject: str
    amr: tuple[str, ...]
    auth_time: datetime
    mfa_at: datetime | None
    created: bool  # the user was provisioned by this sign-in
    groups_added: tuple[str, ...]
    groups_removed: tuple[str, ...]


__all__ = [
    "FEDERATION_ERROR_CODES",
    "FederatedLogin",
    "FederationFailed",
    "FederationFailure",
    "FederationState",
    "UpstreamChoice",
    "UpstreamIdentity",
]
