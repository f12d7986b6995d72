"""The closed sets every metric label draws from, so no label can grow without bound."""

from __future__ import annotations

import re
import threading

from zerogate.audit import EventKind
from zerogate.gateway.check import Verdict
from zerogate.gateway.envoy import TLS_FAILURES
from zerogate.identity import SessionFailure

OTHER = "other"  # any value outside a label's known set
NO_ROUTE = "none"  # the proxy named no route (the check refuses those)
MAX_ROUTES = 256  # distinct route ids kept as labels per process; later ones count as `other`
MAX_POLICIES = 256  # the same for policy ids

VERDICTS = tuple(v.value for v in Verdict)

# The check's reason codes (docs/check.md "Reason codes"); anything else counts as `other`.
_TOKEN_REASONS = (
    "token_audience_mismatch",
    "token_claims_invalid",
    "token_expired",
    "token_header_forbidden",
    "token_inactive",
    "token_invalid",
    "token_issuer_mismatch",
    "token_key_unknown",
    "token_malformed",
    "token_not_yet_valid",
    "token_session_revoked",
    "token_signature_invalid",
    "token_signing_key_unavailable",
    "token_too_large",
    "token_type_mismatch",
    "token_user_disabled",
)
REASONS = frozenset(
    {
        # allow
        "allowed",
        "allowed_stale",
        "webhook_verified",
        # deny
        "forbidden",
        "no_permit",
        "policy_error",
        "method_not_allowed",
        "route_missing",
        # unauthenticated
        "no_credentials",
        "handoff",
        "user_unknown",
        *(f"session_{f.value}" for f in SessionFailure),
        *_TOKEN_REASONS,
        "webhook_signature_missing",
        "webhook_signature_invalid",
        "webhook_timestamp_invalid",
        "webhook_timestamp_out_of_window",
        "webhook_replayed",
        # step_up
        "mfa_required",
        "reauthentication_required",
        # bad_request
        "request_invalid",
        "uri_too_long",
        "request_header_too_large",
        "request_body_too_large",
        # error
        "authentication_unavailable",
        "decision_unavailable",
        "internal_error",
        "audit_unavailable",
        "webhook_body_unavailable",
        "webhook_replay_check_unavailable",
    }
)

# OAuth grants a token endpoint answers (RFC 6749 §4, RFC 8693); others count as `other`.
GRANTS = frozenset(
    {
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:token-exchange",
    }
)

# OAuth error codes a token endpoint answers a client with (RFC 6749 §5.2); others: `other`.
TOKEN_ERRORS = frozenset(
    {
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
    }
)

# Why a PDP kept its previous bundle (the error codes of docs/reference); others: `other`.
ROLLOUT_REASONS = frozenset(
    {
        "policy_invalid",  # the bundle does not compile or validate against the schema
        "bundle_not_found",  # the activation names a bundle the store does not have
        "store_unavailable",
        "event_malformed",  # the change-feed event itself is unusable
    }
)

TLS_REASONS = tuple(sorted(set(TLS_FAILURES.values())))
REVOCATION_WHERE = ("check", "envoy")  # the check's caches; Envoy's deny list
AUDIT_KINDS = tuple(k.value for k in EventKind)
REVISION_CHARS = 12  # a bundle hash's prefix, as `zerogate up` prints it

# Route ids are Cedar entity ids from the configuration; a proxy could still send anything
# (forward-auth headers are set by people's proxy configs), hence the shape check and the cap.
_ROUTE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


def reason_label(reason: str) -> str:
    return reason if reason in REASONS else OTHER


def grant_label(grant: str) -> str:
    return grant if grant in GRANTS else OTHER


def token_error_label(error: str) -> str:
    return error if error in TOKEN_ERRORS else OTHER


def rollout_label(reason: str) -> str:
    return reason if reason in ROLLOUT_REASONS else OTHER


def kind_label(kind: str) -> str:
    return kind if kind in AUDIT_KINDS else OTHER


class BoundedLabels:
    """Maps ids (routes, policies) to label values: the first `limit` well-formed ids as they
    are, then `other`, so an operator's naming can never grow a metric without bound."""

    def __init__(self, limit: int = MAX_ROUTES) -> None:
        self._limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()  # checks may run on several threads (the gRPC face)

    def __call__(self, route: str | None) -> str:
        if route is None:
            return NO_ROUTE
        if route in self._seen:
            return route
        if _ROUTE_ID.fullmatch(route) is None:
            return OTHER
        with self._lock:
            if len(self._seen) >= self._limit:
                return OTHER
            self._seen.add(route)
        return route
