"""An upstream's OpenID Provider metadata (OpenID Connect Discovery 1.0) and signing keys.

The discovery document is trusted only if its `issuer` is exactly the configured one: otherwise
an attacker-influenced document could point us at another provider's endpoints and keys (the
mix-up attack, standards OA-A6; Discovery §4.3). Endpoints must be https, except when the
issuer itself is a plain-http loopback URL (tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from ipaddress import ip_address
from typing import Any
from urllib.parse import urlsplit

from zerogate.errors import InvalidInput
from zerogate.identity.federation._model import FederationFailed, FederationFailure
from zerogate.tokens import Algorithm, JWKSKeys

DISCOVERY_SUFFIX = "/.well-known/openid-configuration"
# The algorithms Zerogate verifies (zerogate.tokens): the rest of RFC 7518 is never accepted.
SUPPORTED_ALGORITHMS = (Algorithm.ES256, Algorithm.RS256)
# ID tokens outliving this are refused. Upstreams issue 5 min (Keycloak) to ~90 min (Entra ID);
# a day bounds nonsense without breaking any of them. The nonce makes replays useless anyway.
MAX_ID_TOKEN_LIFETIME = timedelta(hours=24)
_MAX_URL_CHARS = 2048


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    """What we use of a discovery document, checked."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    iss_parameter_supported: bool  # RFC 9207 §3: then every response must carry `iss`
    algorithms: tuple[Algorithm, ...]  # ID token algorithms we accept from this upstream


def discovery_url(issuer: str) -> str:
    """Discovery §4.1: the issuer without a trailing slash, then the well-known path."""
    return issuer.rstrip("/") + DISCOVERY_SUFFIX


def parse_discovery(
    document: Mapping[str, Any] | None, *, expected_issuer: str, upstream: str
) -> ProviderMetadata:
    """Check a discovery document; raises FederationFailed (issuer mismatch or invalid)."""

    def invalid(detail: str) -> FederationFailed:
        return FederationFailed(
            FederationFailure.DISCOVERY_INVALID, upstream=upstream, detail=detail
        )

    if document is None:
        raise invalid("discovery document is not a JSON object")
    if document.get("issuer") != expected_issuer:
        # Exact string comparison, no normalisation (OA-A6, Discovery §4.3).
        raise FederationFailed(
            FederationFailure.DISCOVERY_ISSUER_MISMATCH,
            upstream=upstream,
            detail=f"discovery issuer {str(document.get('issuer'))[:200]!r}",
        )
    allow_http = _loopback_http(expected_issuer)
    endpoints: dict[str, str] = {}
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"):
        value = document.get(name)
        if value is None and name == "userinfo_endpoint":
            continue
        if not isinstance(value, str) or not _endpoint_ok(value, allow_http=allow_http):
            raise invalid(f"{name} is missing or not an https URL")
        endpoints[name] = value
    if "code" not in _strings(document.get("response_types_supported"), default=("code",)):
        raise invalid("the upstream does not support the authorization code flow")
    auth_methods = _strings(
        document.get("token_endpoint_auth_methods_supported"), default=("client_secret_basic",)
    )
    if "client_secret_basic" not in auth_methods:
        raise invalid("the token endpoint does not accept client_secret_basic")
    offered = _strings(document.get("id_token_signing_alg_values_supported"), default=("RS256",))
    algorithms = tuple(a for a in SUPPORTED_ALGORITHMS if a.value in offered)
    if not algorithms:
        raise invalid("the upstream signs ID tokens with neither ES256 nor RS256")
    return ProviderMetadata(
        issuer=expected_issuer,
        authorization_endpoint=endpoints["authorization_endpoint"],
        token_endpoint=endpoints["token_endpoint"],
        jwks_uri=endpoints["jwks_uri"],
        userinfo_endpoint=endpoints.get("userinfo_endpoint"),
        iss_parameter_supported=document.get("authorization_response_iss_parameter_supported")
        is True,
        algorithms=algorithms,
    )


def parse_jwks(
    document: Mapping[str, Any] | None, *, metadata: ProviderMetadata, upstream: str
) -> JWKSKeys:
    """The upstream's signing keys for the algorithms it offers; raises FederationFailed."""
    if document is None:
        raise FederationFailed(
            FederationFailure.JWKS_INVALID, upstream=upstream, detail="JWKS is not a JSON object"
        )
    try:
        keys = JWKSKeys.from_jwks(
            document, algorithms=metadata.algorithms, max_token_lifetime=MAX_ID_TOKEN_LIFETIME
        )
    except InvalidInput as exc:
        raise FederationFailed(
            FederationFailure.JWKS_INVALID, upstream=upstream, detail=exc.message
        ) from None
    if not keys.kids():
        raise FederationFailed(
            FederationFailure.JWKS_INVALID, upstream=upstream, detail="JWKS has no usable key"
        )
    return keys


def _endpoint_ok(value: str, *, allow_http: bool) -> bool:
    if not 0 < len(value) <= _MAX_URL_CHARS:
        return False
    parts = urlsplit(value)
    schemes = ("https", "http") if allow_http else ("https",)
    return parts.scheme in schemes and bool(parts.hostname) and not parts.fragment


def _loopback_http(issuer: str) -> bool:
    parts = urlsplit(issuer)
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def _strings(value: Any, *, default: tuple[str, ...]) -> tuple[str, ...]:
    if value is None:
        return default  # Discovery §3: the spec's default when a member is left out
    if not isinstance(value, list):
        return ()
    return tuple(v for v in value if isinstance(v, str))


__all__ = [
    "DISCOVERY_SUFFIX",
    "MAX_ID_TOKEN_LIFETIME",
    "SUPPORTED_ALGORITHMS",
    "ProviderMetadata",
    "discovery_url",
    "parse_discovery",
    "parse_jwks",
]
