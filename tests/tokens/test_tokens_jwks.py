"""The JWKS we publish, and `JWKSKeys` reading another issuer's JWKS strictly (DISC-03)."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa as crypto_rsa
from joserfc.jwk import ECKey, OctKey, RSAKey

from tests.tokens.forge import AUDIENCE, ISSUER, NOW, b64, make_victim
from zerogate.errors import InvalidInput
from zerogate.tokens import (
    Algorithm,
    JWKSKeys,
    KeyRing,
    TokenError,
    TokenType,
    issue,
    verify,
)

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def _assertion(ring: KeyRing) -> str:
    return issue(
        {"sub": "alice"},
        keys=ring,
        issuer=ISSUER,
        typ=TokenType.ASSERTION,
        audience=AUDIENCE,
        now=NOW,
    )


def _verify(keys: JWKSKeys, token: str) -> str:
    return verify(
        token,
        keys=keys,
        expected_type=TokenType.ASSERTION,
        expected_issuer=ISSUER,
        expected_audience=AUDIENCE,
        now=NOW,
    ).kid


@pytest.mark.parametrize("alg", list(Algorithm))
def test_jwks_publishes_public_members_only(alg: Algorithm) -> None:
    ring = KeyRing(alg=alg)
    ring.ensure_active(NOW)
    ring.rotate(NOW)
    document = ring.jwks(NOW)
    assert len(document["keys"]) == 2
    assert len({k["kid"] for k in document["keys"]}) == 2
    for key in document["keys"]:
        assert not PRIVATE_MEMBERS & set(key)
        assert key["alg"] == alg.value
        assert key["use"] == "sig"


def test_jwks_keys_verify_tokens_of_the_publishing_ring() -> None:
    victim = make_victim()
    keys = JWKSKeys.from_jwks(victim.ring.jwks(NOW))
    assert keys.kids() == [victim.kid]
    assert _verify(keys, _assertion(victim.ring)) == victim.kid


def test_jwks_keys_of_one_issuer_refuse_another_issuers_tokens() -> None:
    ours, theirs = make_victim(), make_victim()
    keys = JWKSKeys.from_jwks(ours.ring.jwks(NOW))
    with pytest.raises(TokenError) as caught:
        _verify(keys, _assertion(theirs.ring))  # JWT-A14: key sets are per issuer
    assert caught.value.code == "token_key_unknown"


def _ec_public(**extra: str) -> dict[str, Any]:
    key = ECKey.generate_key("P-256", private=True)
    return {**key.as_dict(private=False), "kid": key.thumbprint(), **extra}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        pytest.param({"keys": "x"}, "list", id="keys-not-a-list"),
        pytest.param([], "list", id="not-an-object"),
        pytest.param({"keys": [{"kty": "EC", "kid": 3}]}, "string members", id="kid-not-a-string"),
        pytest.param(
            {
                "keys": [
                    ECKey.generate_key("P-256", private=True).as_dict(private=True) | {"kid": "k"}
                ]
            },
            "private",
            id="private-ec-key",
        ),
        pytest.param(
            {"keys": [OctKey.generate_key(256).as_dict(private=True) | {"kid": "k"}]},
            "private",
            id="symmetric-key",
        ),
        pytest.param({"keys": [_ec_public(kid="")]}, "kid", id="empty-kid"),
        pytest.param({"keys": [_ec_public(kid="../x")]}, "kid", id="path-kid"),
        pytest.param(
            {"keys": [_ec_public(kid="a"), _ec_public(kid="a")]}, "duplicate", id="duplicate-kid"
        ),
        pytest.param({"keys": [_ec_public(x="AAAA")]}, "valid", id="bad-point"),
        pytest.param({"keys": [_ec_public()] * 101}, "at most", id="too-many-keys"),
    ],
)
def test_jwks_keys_refuse_dangerous_documents(document: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as caught:
        JWKSKeys.from_jwks(document)
    assert caught.value.code == "jwks_invalid"


def test_jwks_keys_skip_keys_they_cannot_use() -> None:
    usable = _ec_public()
    rsa = RSAKey.generate_key(2048, private=True)
    document = {
        "keys": [
            usable,
            _ec_public(use="enc"),
            _ec_public(alg="ES384"),
            {**rsa.as_dict(private=False), "kid": "rsa"},  # RS256 not allowed by default
            {
                "kty": "OKP",
                "crv": "Ed25519",
                "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
                "kid": "ed",
            },
        ]
    }
    assert JWKSKeys.from_jwks(document).kids() == [usable["kid"]]
    both = JWKSKeys.from_jwks(document, algorithms=[Algorithm.ES256, Algorithm.RS256])
    assert both.kids() == sorted([usable["kid"], "rsa"])


def test_jwks_keys_refuse_weak_rsa_key() -> None:
    numbers = crypto_rsa.generate_private_key(65537, 1024).public_key().public_numbers()
    weak = {
        "kty": "RSA",
        "kid": "weak",
        "alg": "RS256",
        "n": b64(numbers.n.to_bytes(128, "big")),
        "e": b64(numbers.e.to_bytes(3, "big")),
    }
    with pytest.raises(InvalidInput, match="2048"):
        JWKSKeys.from_jwks({"keys": [weak]}, algorithms=[Algorithm.RS256])
