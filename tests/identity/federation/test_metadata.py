"""Discovery documents and JWKS of upstreams: the mix-up defence and what we require (OA-A6)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.tokens.forge import NOW
from zerogate.identity.federation import FederationFailed
from zerogate.identity.federation._metadata import discovery_url, parse_discovery, parse_jwks
from zerogate.tokens import Algorithm, KeyRing

ISSUER = "https://idp.example.com"


def _document(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "issuer": ISSUER,
        "authorization_endpoint": f"{ISSUER}/authorize",
        "token_endpoint": f"{ISSUER}/token",
        "jwks_uri": f"{ISSUER}/jwks",
        "userinfo_endpoint": f"{ISSUER}/userinfo",
        "response_types_supported": ["code", "id_token"],
        "id_token_signing_alg_values_supported": ["RS256", "PS256"],
        "authorization_response_iss_parameter_supported": True,
    }
    document.update(changes)
    return {k: v for k, v in document.items() if v is not None}


def _refused(document: dict[str, Any] | None, *, issuer: str = ISSUER) -> FederationFailed:
    with pytest.raises(FederationFailed) as caught:
        parse_discovery(document, expected_issuer=issuer, upstream="corp")
    return caught.value


def test_discovery_url_follows_the_spec() -> None:
    assert (
        discovery_url("https://a.example/") == "https://a.example/.well-known/openid-configuration"
    )
    assert (
        discovery_url("https://login.example.com/tenant/v2.0")
        == "https://login.example.com/tenant/v2.0/.well-known/openid-configuration"
    )


def test_parse_discovery_keeps_what_we_use() -> None:
    metadata = parse_discovery(_document(), expected_issuer=ISSUER, upstream="corp")
    assert metadata.token_endpoint == f"{ISSUER}/token"
    assert metadata.algorithms == (Algorithm.RS256,)  # PS256 is never accepted
    assert metadata.iss_parameter_supported is True


@pytest.mark.parametrize(
    "issuer", [ISSUER + "/", "https://IDP.example.com", "https://evil.example"]
)
def test_parse_discovery_issuer_must_match_exactly(issuer: str) -> None:
    """A document naming another issuer is a mix-up or a misconfiguration (OA-A6)."""
    refused = _refused(_document(issuer=issuer))
    assert (refused.code, str(refused.reason), refused.status) == (
        "federation_issuer_mismatch",
        "discovery_issuer_mismatch",
        502,
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"token_endpoint": None},
        {"jwks_uri": "http://idp.example.com/jwks"},  # https only for a non-loopback issuer
        {"authorization_endpoint": "javascript:alert(1)"},
        {"userinfo_endpoint": 7},
        {"response_types_supported": ["id_token"]},
        {"token_endpoint_auth_methods_supported": ["private_key_jwt"]},
        {"id_token_signing_alg_values_supported": ["HS256", "none"]},
    ],
)
def test_parse_discovery_refusals(changes: dict[str, Any]) -> None:
    refused = _refused(_document(**changes))
    assert (refused.code, str(refused.reason)) == (
        "federation_upstream_unavailable",
        "discovery_invalid",
    )


def test_parse_discovery_without_a_document() -> None:
    assert str(_refused(None).reason) == "discovery_invalid"


def test_parse_discovery_defaults_of_omitted_members() -> None:
    """Discovery §3 defaults: RS256 ID tokens, client_secret_basic; no RFC 9207 promise."""
    document = _document(
        id_token_signing_alg_values_supported=None,
        authorization_response_iss_parameter_supported=None,
        userinfo_endpoint=None,
    )
    metadata = parse_discovery(document, expected_issuer=ISSUER, upstream="corp")
    assert metadata.algorithms == (Algorithm.RS256,)
    assert metadata.iss_parameter_supported is False
    assert metadata.userinfo_endpoint is None


def test_parse_jwks_reads_keys_of_the_offered_algorithms() -> None:
    metadata = parse_discovery(_document(), expected_issuer=ISSUER, upstream="corp")
    rs, es = KeyRing(alg=Algorithm.RS256), KeyRing()
    rs.ensure_active(NOW)
    es.ensure_active(NOW)
    document = {"keys": rs.jwks(NOW)["keys"] + es.jwks(NOW)["keys"]}
    keys = parse_jwks(document, metadata=metadata, upstream="corp")
    assert keys.kids() == [rs.jwks(NOW)["keys"][0]["kid"]]  # ES256 was not offered
    only_es = {"keys": es.jwks(NOW)["keys"]}
    with pytest.raises(FederationFailed) as caught:
        parse_jwks(only_es, metadata=metadata, upstream="corp")
    assert str(caught.value.reason) == "jwks_invalid"
    with pytest.raises(FederationFailed):
        parse_jwks(
            {"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "x"}]},
            metadata=metadata,
            upstream="corp",
        )
