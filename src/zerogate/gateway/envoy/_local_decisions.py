"""Local decisions: Envoy lets a GET through on a fresh decision token, without the check call.

After an allowed GET from a signed-in browser, the check service sets a short-lived ES256
*decision token* cookie for that route (`zerogate.gateway.check`). On the next GETs Envoy checks
the token itself with `jwt_authn` (its JWT cache holds verified tokens, which is what makes this
cheaper than the callout: reference/envoy-local-decisions.md) and skips ext_authz. A missing,
expired, forged or other-route token simply falls through to ext_authz, which decides as always.

What a decision token cannot see — a revoked session or user, a newly activated policy — is a
*deny list* in the route table (RDS, swapped in well under a second): an exact-match map on the
headers `jwt_authn` sets from the *verified* token's claims. A listed token gets a 307 back to
the same URL that deletes its cookie, so the browser asks again and ext_authz decides afresh.

Three traps here validate cleanly and fail open; each has a config test (tests/gateway/envoy):
the map must read a request header (never `DynamicMetadataInput`, which never matches a map);
the claim headers must be set by `jwt_authn` (which strips client copies of them: and the early
strip removes every `x-zerogate-*` header anyway); RBAC must come after `jwt_authn`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from zerogate.tokens import decision_audience, decision_cookie

JWT_FILTER = "envoy.filters.http.jwt_authn"
RBAC_FILTER = "envoy.filters.http.rbac"
KEYS_CLUSTER = "zerogate_keys"
PAYLOAD_METADATA = "decision"  # jwt_authn writes the verified payload here; ext_authz looks
FAST_METHOD = "GET"  # a token stands for one action; GET is the one browsers repeat

# Headers jwt_authn sets from a verified token (and removes from every request first).
SID_HEADER = "x-zerogate-dt-sid"
USER_HEADER = "x-zerogate-user"
EPOCH_HEADER = "x-zerogate-dt-epoch"
COOKIE_HEADER = "x-zerogate-dt-cookie"
DENY_KEYS = (SID_HEADER, EPOCH_HEADER, COOKIE_HEADER)  # never sent on to the upstream
CLAIM_HEADERS: tuple[tuple[str, str], ...] = (
    (SID_HEADER, "sid"),
    (EPOCH_HEADER, "pe"),
    (COOKIE_HEADER, "ck"),
    (USER_HEADER, "preferred_username"),
    ("x-zerogate-email", "email"),
    # Not groups: Envoy sends a list claim as base64 JSON. The token itself has them (docs/sdk.md).
    ("x-zerogate-decision-id", "did"),  # the decision the token was minted on
)

MAX_CLOCK_SKEW_S = 30
_JWT = "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication"
_JWT_PER_ROUTE = "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.PerRouteConfig"
_RBAC = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC"
_RBAC_PER_ROUTE = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute"
_RBAC_ACTION = "type.googleapis.com/envoy.config.rbac.v3.Action"
_HEADER_INPUT = "type.googleapis.com/envoy.type.matcher.v3.HttpRequestHeaderMatchInput"


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalDecisions:
    """Turns the fast path on: whose tokens Envoy accepts, and where it gets their keys.

    `jwks_url` is fetched by Envoy (cached `keys_cache_s`, refetched in the background): the
    IdP's `/jwks.json`, which announces keys an hour before they sign. Until the keys arrive,
    or if they cannot be fetched, every token fails and ext_authz decides: slower, never open.
    `clock_skew_s` is Envoy's leeway on `exp` (its default of 60 s would triple a 30 s token).
    `access_log` is the file of what Envoy decided by itself (docs/audit.md "The fast path").
    """

    issuer: str
    jwks_url: str
    cache_size: int = 4096  # verified tokens per worker; a miss costs more than the callout
    clock_skew_s: int = 5
    keys_cache_s: int = 300
    # Where Envoy writes a JSON line for each request it decided on a token (for the audit log;
    # `zerogate.gateway.envoy.FastPathLine`); empty: not written.
    access_log: str = ""
    access_log_allows: bool = False  # also each GET let through (not only deny-list hits)

    def problems(self) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        if not self.issuer:
            found.append(("issuer", "the issuer of decision tokens"))
        if not 1 <= self.cache_size <= 1_000_000:
            found.append(("cache_size", "between 1 and 1000000"))
        if not 0 <= self.clock_skew_s <= MAX_CLOCK_SKEW_S:
            found.append(("clock_skew_s", f"between 0 and {MAX_CLOCK_SKEW_S}"))
        if not 10 <= self.keys_cache_s <= 3600:
            found.append(("keys_cache_s", "between 10 and 3600 seconds"))
        if self.access_log and not self.access_log.startswith("/"):
            found.append(("access_log", "an absolute path (Envoy runs in its own directory)"))
        return found


@dataclass(frozen=True, slots=True)
class Denials:
    """Decision tokens Envoy must not honour: by session id, by username, by policy epoch.

    Entries need to stay only as long as a token minted before the event can live (its TTL plus
    the clock skew); the composition root prunes them.
    """

    sessions: frozenset[str] = field(default_factory=frozenset)
    users: frozenset[str] = field(default_factory=frozenset)
    epochs: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def sample(cls) -> Denials:
        """One entry of each kind: what `envoy --mode validate` checks the matcher shape with."""
        return cls(frozenset({"validate-sid"}), frozenset({"validate-sub"}), frozenset({"e0"}))

    def __len__(self) -> int:
        return len(self.sessions) + len(self.users) + len(self.epochs)


def provider_name(resource_id: str) -> str:
    return "dt_" + hashlib.sha256(resource_id.encode()).hexdigest()[:16]


def build_jwt_authn(
    local: LocalDecisions, resource_ids: list[str], *, keys_uri: str
) -> dict[str, Any]:
    """The jwt_authn filter: one provider per route (its audience and its cookie), no rules.

    Routes pick their requirement by name (`route_jwt_config`). The requirement lets a request
    without a valid token continue: ext_authz, not jwt_authn, answers it.
    """
    providers: dict[str, Any] = {}
    requirements: dict[str, Any] = {}
    for resource_id in sorted(set(resource_ids)):
        name = provider_name(resource_id)
        providers[name] = {
            "issuer": local.issuer,
            "audiences": [decision_audience(resource_id)],
            "remote_jwks": {
                "http_uri": {"uri": keys_uri, "cluster": KEYS_CLUSTER, "timeout": "2s"},
                "cache_duration": f"{local.keys_cache_s}s",
                "async_fetch": {"fast_listener": True, "failed_refetch_duration": "5s"},
            },
            "from_cookies": [decision_cookie(resource_id)],
            "forward": True,  # the upstream's SDK may verify the same token (docs/sdk.md)
            "payload_in_metadata": PAYLOAD_METADATA,
            "clock_skew_seconds": local.clock_skew_s,
            "claim_to_headers": [
                {"header_name": header, "claim_name": claim} for header, claim in CLAIM_HEADERS
            ],
            "jwt_cache_config": {"jwt_cache_size": local.cache_size},
        }
        requirements[name] = {
            "requires_any": {
                "requirements": [{"provider_name": name}, {"allow_missing_or_failed": {}}],
            },
        }
    return {
        "name": JWT_FILTER,
        "typed_config": {"@type": _JWT, "providers": providers, "requirement_map": requirements},
    }


def build_rbac() -> dict[str, Any]:
    """RBAC with no rules of its own: each route brings its deny list (`route_rbac_config`)."""
    return {"name": RBAC_FILTER, "typed_config": {"@type": _RBAC}}


def skip_when_decided() -> dict[str, Any]:
    """ext_authz's `filter_enabled_metadata`: run unless jwt_authn verified a decision token."""
    return {
        "filter": JWT_FILTER,
        "path": [{"key": PAYLOAD_METADATA}],
        "value": {"present_match": True},
        "invert": True,
    }


def route_jwt_config(resource_id: str | None) -> dict[str, Any]:
    """A route's jwt_authn setting: its provider, or off (`None`: a route that is always checked)."""
    if resource_id is None:
        return {"@type": _JWT_PER_ROUTE, "disabled": True}
    return {"@type": _JWT_PER_ROUTE, "requirement_name": provider_name(resource_id)}


def route_rbac_config(denials: Denials) -> dict[str, Any] | None:
    """The deny list as nested exact-match maps: session id, then username, then policy epoch."""
    allow = _action("allow", "ALLOW")
    on_no_match: dict[str, Any] = allow
    levels = (
        (EPOCH_HEADER, denials.epochs),
        (USER_HEADER, denials.users),
        (SID_HEADER, denials.sessions),
    )
    matcher: dict[str, Any] | None = None
    for header, keys in levels:
        if not keys:
            continue
        deny = _action("revoked", "DENY")
        matcher = {
            "matcher_tree": {
                "input": {
                    "name": header,
                    "typed_config": {"@type": _HEADER_INPUT, "header_name": header},
                },
                "exact_match_map": {"map": {key: deny for key in sorted(keys)}},
            },
            "on_no_match": on_no_match,
        }
        on_no_match = {"matcher": matcher}
    if matcher is None:
        return None
    return {"@type": _RBAC_PER_ROUTE, "rbac": {"matcher": matcher}}


def retry_without_token() -> dict[str, Any]:
    """The local-reply mapper for a denied token: 307 to the same URL, deleting its cookie.

    Only RBAC answers a request that carries a verified token's header with 403 (ext_authz never
    ran for it), so this mapper touches nothing else.
    """
    denied = {
        "and_filter": {
            "filters": [
                {
                    "status_code_filter": {
                        "comparison": {
                            "op": "EQ",
                            "value": {"default_value": 403, "runtime_key": "zerogate.dt_denied"},
                        }
                    }
                },
                {"header_filter": {"header": {"name": COOKIE_HEADER, "present_match": True}}},
            ],
        },
    }
    clear = f"%REQ({COOKIE_HEADER})%=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax"
    return {
        "filter": denied,
        "status_code": 307,
        "headers_to_add": [
            {
                "header": {"key": "location", "value": "%REQ(:PATH)%"},
                "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
            },
            {
                "header": {"key": "set-cookie", "value": clear},
                "append_action": "APPEND_IF_EXISTS_OR_ADD",
            },
            {
                "header": {"key": "cache-control", "value": "no-store"},
                "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
            },
        ],
        "body": {"inline_string": ""},
    }


def _action(name: str, action: str) -> dict[str, Any]:
    return {
        "action": {
            "name": name,
            "typed_config": {"@type": _RBAC_ACTION, "name": name, "action": action},
        },
    }
