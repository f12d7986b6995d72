"""The passkey vocabulary: the relying party, limits, ceremony options, results and the one error.

Standards: W3C WebAuthn Level 2 (Recommendation) and Level 3 (Candidate Recommendation) §5.4
(options), §6.1.3 (backup flags), §13.4.3 (challenges); RFC 8176 (amr values).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from zerogate._types import UserID
from zerogate.errors import ErrorDetail, InvalidInput, ZerogateError
from zerogate.identity._model import User
from zerogate.identity._names import detail, text_problem

PASSKEY_CREDENTIAL_JSON_MAX_BYTES = (
    64 * 1024
)  # a real response is 1 to 3 KiB; more is refused unread
PASSKEY_NAME_MAX_CHARS = 200
CREDENTIAL_ID_MAX_BYTES = 1023  # WebAuthn §5.1 credential id length limit (WA-R8)
CHALLENGE_BYTES = 32  # 256 bits: WA-R1 asks >= 16 bytes, ASVS 5.0 6.7.2 >= 64 bits

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*")
_DEFAULT_PORTS = {"https": 443, "http": 80}


class PasskeyFailureReason(StrEnum):
    """Why a passkey ceremony failed: for the audit log only, never for the caller."""

    CHALLENGE_UNKNOWN = "challenge_unknown"  # no such ceremony, already used, or not this one's
    CHALLENGE_EXPIRED = "challenge_expired"
    CHALLENGE_MISMATCH = "challenge_mismatch"  # the client signed another challenge
    ORIGIN_MISMATCH = "origin_mismatch"  # includes a cross-origin (iframe) ceremony
    RP_ID_MISMATCH = "rp_id_mismatch"
    USER_PRESENCE_MISSING = "user_presence_missing"
    USER_VERIFICATION_MISSING = "user_verification_missing"
    BACKUP_STATE_INVALID = "backup_state_invalid"  # BS without BE, or BE changed since registration
    SIGNATURE_INVALID = "signature_invalid"
    ATTESTATION_INVALID = "attestation_invalid"  # includes a key algorithm we did not offer
    CREDENTIAL_UNKNOWN = "credential_unknown"
    CREDENTIAL_MISMATCH_USER = "credential_mismatch_user"
    USER_HANDLE_MISMATCH = "user_handle_mismatch"  # missing in a username-less sign-in, or wrong
    SIGN_COUNT_REGRESSED = "sign_count_regressed"  # possible cloned authenticator
    DUPLICATE_CREDENTIAL = "duplicate_credential"
    USER_DISABLED = "user_disabled"
    USER_LOCKED = "user_locked"
    MALFORMED = "malformed"  # unparsable, oversized or structurally wrong input


class PasskeyInvalid(ZerogateError):
    """The one opaque answer to every failed passkey ceremony; `reason` is for the audit log only."""

    code = "passkey_invalid"
    status = 401
    MESSAGE = "the passkey could not be verified"

    def __init__(
        self,
        reason: PasskeyFailureReason,
        *,
        user_id: UserID | None = None,
        passkey_id: str | None = None,
        ceremony_id: str | None = None,
    ) -> None:
        super().__init__(self.MESSAGE)
        self.reason = reason
        self.user_id = user_id
        self.passkey_id = passkey_id
        self.ceremony_id = ceremony_id


@dataclass(frozen=True, slots=True)
class PasskeyLimits:
    """Bounds on what passkeys may hold in the store.

    `max_per_user` passkeys per user (10); at most `max_pending` unexpired ceremonies in all
    (10,000), since a username-less sign-in lets anyone start one: expired ceremonies are purged
    whenever one begins, and beyond the cap `begin_*` refuses with `passkey_busy` until some
    expire. Rate-limit `begin_*` at the edge as well.
    """

    max_per_user: int = 10
    max_pending: int = 10_000
    credential_json_max_bytes: int = PASSKEY_CREDENTIAL_JSON_MAX_BYTES

    def __post_init__(self) -> None:
        if min(self.max_per_user, self.max_pending, self.credential_json_max_bytes) < 1:
            raise InvalidInput("passkey limits must be positive", code="passkey_limits_invalid")


@dataclass(frozen=True, slots=True)
class RelyingParty:
    """Who we are to authenticators: RP ID (a domain), display name, and the allowed origins."""

    id: str
    name: str
    origins: tuple[str, ...]


def relying_party_problems(
    rp_id: str, rp_name: str, origins: Sequence[str]
) -> list[ErrorDetail | None]:
    """Every problem with a relying party's settings (STYLE §10: all at once)."""
    listed = [] if isinstance(origins, str) else list(origins)
    problems = [
        detail("passkey_rp_id_invalid", "rp_id", _rp_id_problem(rp_id)),
        detail("passkey_rp_name_invalid", "rp_name", _rp_name_problem(rp_name)),
    ]
    if not listed:
        problems.append(detail("passkey_origin_invalid", "expected_origins", "at least one origin"))
    for i, origin in enumerate(listed):
        problem = _origin_problem(origin, rp_id)
        problems.append(detail("passkey_origin_invalid", f"expected_origins.{i}", problem))
    return problems


def _rp_id_problem(rp_id: str) -> str | None:
    if not _DOMAIN.fullmatch(rp_id) or rp_id.rsplit(".", 1)[-1].isdigit():
        return "the RP ID is a lowercase domain name such as 'example.com' (no scheme or port)"
    return None


def _rp_name_problem(rp_name: str) -> str | None:
    if not rp_name.strip():
        return "an RP name is required"
    return text_problem(rp_name, max_chars=PASSKEY_NAME_MAX_CHARS)


def _origin_problem(origin: str, rp_id: str) -> str | None:
    """Origins are compared as exact strings with clientDataJSON.origin, so be strict here."""
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return "not a URL"
    host = parts.hostname or ""
    local = host == "localhost" or host.endswith(".localhost")
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        return "must be https:// (http:// only for localhost)"
    if origin != f"{parts.scheme}://{parts.netloc}" or parts.username or origin != origin.lower():
        return "an origin is lowercase scheme://host[:port] with no path, not even '/'"
    if port == _DEFAULT_PORTS[parts.scheme]:
        return "leave out the default port: browsers do"
    if host != rp_id and not host.endswith(f".{rp_id}"):
        return f"the host must be the RP ID {rp_id!r} or one of its subdomains"
    return None


@dataclass(frozen=True, slots=True)
class PasskeyRegistrationOptions:
    """A registration ceremony begun: pass `options_json` to the browser, keep `ceremony_id`.

    `options_json` is the JSON form of PublicKeyCredentialCreationOptions (WebAuthn L3
    `PublicKeyCredential.parseCreationOptionsFromJSON`). Keep `ceremony_id` on the server side of
    the user's session; `finish_registration` needs it back.
    """

    ceremony_id: str
    options_json: str
    user_verification: bool
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class PasskeyAuthenticationOptions:
    """An authentication ceremony begun; `options_json` is PublicKeyCredentialRequestOptions."""

    ceremony_id: str
    options_json: str
    user_verification: bool
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class VerifiedPasskey:
    """A successful passkey sign-in: who, with which passkey, and how (RFC 8176 `amr`)."""

    user: User
    passkey_id: str
    user_verified: bool
    backed_up: bool
    sign_count: int
    authenticated_at: datetime
    amr: tuple[str, ...]  # RFC 8176: see `passkey_amr`


def passkey_amr(*, backup_eligible: bool, user_verified: bool) -> tuple[str, ...]:
    """RFC 8176 §2 values for a passkey assertion.

    - `hwk` (proof of possession of a hardware-secured key) for a single-device credential
      (BE=0), `swk` (software-secured key) for a backup-eligible one (BE=1), which a sync fabric
      may copy off the device at any time. Both are the authenticator's claim: with attestation
      "none" nothing proves the key is in hardware.
    - `user` (user presence test): every assertion we accept has UP=1.
    - `mfa` when the authenticator verified the user (UV=1, a PIN or biometric): possession plus
      something known or inherent, a multi-factor authenticator (NIST SP 800-63B).
    """
    methods = ["swk" if backup_eligible else "hwk", "user"]
    if user_verified:
        methods.append("mfa")
    return tuple(methods)


def ceremony_ttl_problem(ttl: timedelta) -> str | None:
    # WebAuthn §5.4.1 recommends 300 to 600 s when UV is wanted; shorter than 30 s is unusable.
    if not timedelta(seconds=30) <= ttl <= timedelta(minutes=10):
        return "the challenge lifetime is 30 seconds to 10 minutes"
    return None


__all__ = [
    "CHALLENGE_BYTES",
    "CREDENTIAL_ID_MAX_BYTES",
    "PASSKEY_CREDENTIAL_JSON_MAX_BYTES",
    "PASSKEY_NAME_MAX_CHARS",
    "PasskeyAuthenticationOptions",
    "PasskeyFailureReason",
    "PasskeyInvalid",
    "PasskeyLimits",
    "PasskeyRegistrationOptions",
    "RelyingParty",
    "VerifiedPasskey",
    "ceremony_ttl_problem",
    "passkey_amr",
    "relying_party_problems",
]
