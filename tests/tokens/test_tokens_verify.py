"""`verify` on good tokens: what it returns, the clock-skew bound, audiences, RS256 and limits."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

import pytest

from tests.tokens.forge import (
    AUDIENCE,
    ISSUER,
    NOW,
    NOW_S,
    TYPE_CLAIMS,
    access_claims,
    compact,
    make_victim,
)
from zerogate.tokens import (
    DEFAULT_LEEWAY,
    MAX_LEEWAY,
    MAX_TOKEN_BYTES,
    Algorithm,
    KeyRing,
    TokenError,
    TokenType,
    VerifiedToken,
    issue,
    verify,
)


def _access(ring: KeyRing, **extra: object) -> str:
    claims: dict[str, object] = {"sub": "alice", "client_id": "web-app", "scope": "read"}
    claims.update(extra)
    return issue(claims, keys=ring, issuer=ISSUER, typ=TokenType.ACCESS, audience=AUDIENCE, now=NOW)


def _verify_access(
    ring: KeyRing,
    token: str,
    *,
    expected_type: TokenType = TokenType.ACCESS,
    now: datetime = NOW,
    leeway: timedelta = DEFAULT_LEEWAY,
    trusted_audiences: Collection[str] = (),
) -> VerifiedToken:
    return verify(
        token,
        keys=ring,
        expected_type=expected_type,
        expected_issuer=ISSUER,
        expected_audience=AUDIENCE,
        now=now,
        leeway=leeway,
        trusted_audiences=trusted_audiences,
    )


def test_verify_returns_frozen_result_with_claims_header_and_kid() -> None:
    victim = make_victim()
    verified = verify(
        _access(victim.ring),
        keys=victim.ring,
        expected_type=TokenType.ACCESS,
        expected_issuer=ISSUER,
        expected_audience=AUDIENCE,
        now=NOW,
    )
    assert verified.type is TokenType.ACCESS
    assert verified.kid == victim.kid
    assert dict(verified.header) == {"alg": "ES256", "kid": victim.kid, "typ": "at+jwt"}
    assert verified.subject == "alice"
    assert verified.claims["client_id"] == "web-app"
    assert verified.expires_at == NOW_S + 300
    assert len(verified.jti or "") >= 22
    with pytest.raises(TypeError):
        verified.claims["sub"] = "admin"  # type: ignore[index]


def test_verify_accepts_expiry_within_leeway_and_refuses_beyond() -> None:
    ring = make_victim().ring
    token = _access(ring)
    late = NOW + timedelta(seconds=300) + DEFAULT_LEEWAY - timedelta(seconds=1)
    _verify_access(ring, token, now=late)
    with pytest.raises(TokenError) as caught:
        _verify_access(ring, token, now=late + timedelta(seconds=1))
    assert caught.value.code == "token_expired"
    _verify_access(ring, token, now=late + timedelta(seconds=1), leeway=MAX_LEEWAY)


def test_verify_accepts_iat_within_leeway_of_a_slow_clock() -> None:
    ring = make_victim().ring
    token = _access(ring)
    _verify_access(ring, token, now=NOW - DEFAULT_LEEWAY)
    with pytest.raises(TokenError) as caught:
        _verify_access(ring, token, now=NOW - DEFAULT_LEEWAY - timedelta(seconds=1))
    assert caught.value.code == "token_not_yet_valid"


@pytest.mark.parametrize("leeway", [timedelta(seconds=61), timedelta(seconds=-1)])
def test_verify_refuses_leeway_outside_bound(leeway: timedelta) -> None:
    ring = make_victim().ring
    with pytest.raises(ValueError, match="leeway"):
        _verify_access(ring, _access(ring), leeway=leeway)


def test_verify_refuses_naive_now() -> None:
    ring = make_victim().ring
    with pytest.raises(ValueError, match="naive"):
        _verify_access(ring, _access(ring), now=NOW.replace(tzinfo=None))


def test_verify_accepts_trusted_extra_audience_only_when_listed() -> None:
    victim = make_victim()
    token = compact(
        victim.header(),
        access_claims(aud=[AUDIENCE, "https://audit.zerogate.test"]),
        victim.sign(),
    )
    _verify_access(victim.ring, token, trusted_audiences={"https://audit.zerogate.test"})
    with pytest.raises(TokenError) as caught:
        _verify_access(victim.ring, token)
    assert caught.value.code == "token_audience_mismatch"


def test_verify_accepts_media_type_spelling_of_at_jwt() -> None:
    victim = make_victim()  # JAT-02: `application/at+jwt` is the same type
    token = compact(victim.header(typ="application/at+jwt"), access_claims(), victim.sign())
    _verify_access(victim.ring, token)


def test_verify_refuses_token_over_size_limit_before_parsing() -> None:
    victim = make_victim()
    token = compact(victim.header(), access_claims(pad="x" * MAX_TOKEN_BYTES), victim.sign())
    with pytest.raises(TokenError) as caught:
        _verify_access(victim.ring, token)
    assert caught.value.code == "token_too_large"


@pytest.mark.parametrize("value", [b"token", None, 42])
def test_verify_refuses_non_string_token(value: object) -> None:
    ring = make_victim().ring
    with pytest.raises(TokenError) as caught:
        _verify_access(ring, value)  # type: ignore[arg-type]
    assert caught.value.code == "token_malformed"


def test_verify_refuses_non_ascii_token() -> None:
    ring = make_victim().ring
    with pytest.raises(TokenError) as caught:
        _verify_access(ring, _access(ring) + "é")
    assert caught.value.code == "token_malformed"


def test_verify_rs256_ring_round_trip_and_cross_algorithm() -> None:
    rsa_ring = KeyRing(alg=Algorithm.RS256)
    rsa_ring.ensure_active(NOW)
    token = _access(rsa_ring)
    verified = _verify_access(rsa_ring, token)
    assert verified.header["alg"] == "RS256"
    # An ES256 token presented with the RSA key's kid: the key allows RS256 only.
    es_victim = make_victim()
    forged = compact(
        es_victim.header(kid=rsa_ring.list_keys()[0].kid), access_claims(), es_victim.sign()
    )
    with pytest.raises(TokenError) as caught:
        _verify_access(rsa_ring, forged)
    assert caught.value.code == "token_header_forbidden"


@pytest.mark.parametrize("token_type", list(TokenType))
def test_verify_each_type_accepts_its_own_tokens(token_type: TokenType) -> None:
    ring = make_victim().ring
    token = issue(
        TYPE_CLAIMS[token_type],
        keys=ring,
        issuer=ISSUER,
        typ=token_type,
        audience=AUDIENCE,
        now=NOW,
    )
    verified = verify(
        token,
        keys=ring,
        expected_type=token_type,
        expected_issuer=ISSUER,
        expected_audience=AUDIENCE,
        now=NOW,
    )
    assert verified.type is token_type
    assert verified.header["typ"] == token_type.value


def test_verify_logout_token_needs_event_and_sub_or_sid() -> None:
    victim = make_victim()
    header = victim.header(typ="logout+jwt")
    base = access_claims(client_id=None, scope=None)
    event: dict[str, object] = {"http://schemas.openid.net/event/backchannel-logout": {}}
    for claims, code in (
        ({**base, "events": {}}, "token_malformed"),
        ({**base, "events": event, "sub": None}, "token_malformed"),
    ):
        claims = {k: v for k, v in claims.items() if v is not None}
        with pytest.raises(TokenError) as caught:
            _verify_access(
                victim.ring,
                compact(header, claims, victim.sign()),
                expected_type=TokenType.LOGOUT,
            )
        assert caught.value.code == code
    sid_only = {k: v for k, v in base.items() if k != "sub"} | {"events": event, "sid": "s1"}
    _verify_access(
        victim.ring, compact(header, sid_only, victim.sign()), expected_type=TokenType.LOGOUT
    )
