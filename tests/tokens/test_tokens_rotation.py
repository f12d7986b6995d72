"""Key rotation with an injected clock (OIDC-09, standards §4.6), on the in-memory `KeyRing`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc.jwk import Key

from tests.tokens.forge import (
    AUDIENCE,
    ISSUER,
    NOW,
    access_claims,
    compact,
    es256_raw,
    recording_factory,
)
from zerogate.clock import FixedClock
from zerogate.tokens import (
    KeyRing,
    RotationSchedule,
    TokenError,
    TokenType,
    issue,
    verify,
)

SCHEDULE = RotationSchedule(
    publish_delay=timedelta(hours=1),
    rotation_interval=timedelta(days=7),
    max_token_lifetime=timedelta(minutes=30),
)
LIFETIME = timedelta(minutes=30)


def _kids(ring: KeyRing, clock: FixedClock) -> list[str]:
    return [k["kid"] for k in ring.jwks(clock.now())["keys"]]


def _token(ring: KeyRing, clock: FixedClock, lifetime: timedelta = LIFETIME) -> str:
    return issue(
        {"sub": "alice", "client_id": "web-app"},
        keys=ring,
        issuer=ISSUER,
        typ=TokenType.ACCESS,
        audience=AUDIENCE,
        now=clock.now(),
        lifetime=lifetime,
    )


def _check(ring: KeyRing, token: str, clock: FixedClock) -> str:
    """The kid that verified `token` now, or the error code."""
    try:
        verified = verify(
            token,
            keys=ring,
            expected_type=TokenType.ACCESS,
            expected_issuer=ISSUER,
            expected_audience=AUDIENCE,
            now=clock.now(),
        )
    except TokenError as error:
        return error.code
    return verified.kid


def test_rotation_first_key_signs_at_once() -> None:
    clock = FixedClock(NOW)
    ring = KeyRing(schedule=SCHEDULE)
    first = ring.ensure_active(clock.now())
    assert first.activate_at == first.created_at == NOW
    assert ring.ensure_active(clock.now()) == first  # idempotent
    assert _kids(ring, clock) == [first.kid]
    assert _check(ring, _token(ring, clock), clock) == first.kid


def test_rotation_new_key_is_published_before_it_signs() -> None:
    clock = FixedClock(NOW)
    ring = KeyRing(schedule=SCHEDULE)
    old = ring.ensure_active(clock.now())
    new = ring.rotate(clock.now())
    assert new.activate_at == NOW + SCHEDULE.publish_delay
    assert _kids(ring, clock) == [new.kid, old.kid]  # announced at once (OIDC-09)
    assert ring.signing_key(clock.now()).kid == old.kid
    clock.advance(SCHEDULE.publish_delay.total_seconds() - 1)
    assert ring.signing_key(clock.now()).kid == old.kid
    clock.advance(1)
    assert ring.signing_key(clock.now()).kid == new.kid
    assert _check(ring, _token(ring, clock), clock) == new.kid


def test_rotation_old_key_tokens_verify_until_they_expire_then_key_leaves_jwks() -> None:
    clock = FixedClock(NOW)
    ring = KeyRing(schedule=SCHEDULE)
    old = ring.ensure_active(clock.now())
    new = ring.rotate(clock.now())
    clock.advance(SCHEDULE.publish_delay.total_seconds() - 1)
    last_old_token = _token(ring, clock)  # signed by the old key one second before it retires
    clock.advance(1)
    retired = next(k for k in ring.list_keys() if k.kid == old.kid)
    assert retired.retire_at == new.activate_at
    assert retired.expire_at == new.activate_at + SCHEDULE.max_token_lifetime
    # Still verifiable for its whole lifetime, and still in the JWKS.
    clock.advance(LIFETIME.total_seconds() - 2)
    assert _check(ring, last_old_token, clock) == old.kid
    assert old.kid in _kids(ring, clock)
    clock.advance(1)
    assert old.kid in _kids(ring, clock)
    clock.advance(1)  # retire_at + max_token_lifetime
    assert _kids(ring, clock) == [new.kid]
    assert _check(ring, last_old_token, clock) == "token_key_unknown"
    ring.maintain(clock.now())  # pruning deletes the key (and its private part)
    assert [k.kid for k in ring.list_keys()] == [new.kid]


def test_rotation_retired_key_cannot_sign_new_tokens() -> None:
    made: list[Key] = []
    clock = FixedClock(NOW)
    ring = KeyRing(schedule=SCHEDULE, key_factory=recording_factory(made))
    old = ring.ensure_active(clock.now())
    ring.rotate(clock.now())
    clock.advance(SCHEDULE.publish_delay.total_seconds() + 60)
    # A leaked retired key forging a fresh token: iat after the key's retire_at.
    leaked = made[0].private_key
    assert isinstance(leaked, ec.EllipticCurvePrivateKey)
    now_s = int(clock.now().timestamp())
    forged = compact(
        {"alg": "ES256", "kid": old.kid, "typ": "at+jwt"},
        access_claims(iat=now_s, nbf=now_s, exp=now_s + 60),
        es256_raw(leaked),
    )
    assert _check(ring, forged, clock) == "token_key_unknown"


def test_rotation_maintain_rotates_when_interval_passed() -> None:
    clock = FixedClock(NOW)
    ring = KeyRing(schedule=SCHEDULE)
    ring.maintain(clock.now())
    assert len(ring.list_keys()) == 1
    clock.advance(SCHEDULE.rotation_interval.total_seconds() - 1)
    ring.maintain(clock.now())
    assert len(ring.list_keys()) == 1
    clock.advance(1)
    ring.maintain(clock.now())
    assert len(ring.list_keys()) == 2
    clock.advance((SCHEDULE.publish_delay + SCHEDULE.max_token_lifetime).total_seconds())
    ring.maintain(clock.now())
    assert len(ring.list_keys()) == 1  # the first key retired and expired


def test_rotation_revoke_drops_key_and_activates_a_replacement() -> None:
    clock = FixedClock(NOW)
    ring = KeyRing(schedule=SCHEDULE)
    old = ring.ensure_active(clock.now())
    token = _token(ring, clock)
    ring.revoke(old.kid, clock.now())
    assert old.kid not in _kids(ring, clock)
    assert _check(ring, token, clock) == "token_key_unknown"
    replacement = ring.signing_key(clock.now())
    assert replacement.kid != old.kid
    assert _check(ring, _token(ring, clock), clock) == replacement.kid


def test_rotation_revoking_pending_key_keeps_current_signer() -> None:
    clock = FixedClock(NOW)
    ring = KeyRing(schedule=SCHEDULE)
    current = ring.ensure_active(clock.now())
    pending = ring.rotate(clock.now())
    ring.revoke(pending.kid, clock.now())
    (only,) = ring.list_keys()
    assert only.kid == current.kid
    assert only.retire_at is None  # its window reopened: nothing replaces it
    clock.advance(SCHEDULE.rotation_interval.total_seconds())
    assert ring.signing_key(clock.now()).kid == current.kid


def test_rotation_revoking_current_key_never_revives_a_retired_one() -> None:
    clock = FixedClock(NOW)
    ring = KeyRing(schedule=SCHEDULE)
    first = ring.ensure_active(clock.now())
    second = ring.rotate(clock.now())
    clock.advance(SCHEDULE.publish_delay.total_seconds() + 60)  # second signs, first retired
    pending = ring.rotate(clock.now())
    ring.revoke(second.kid, clock.now())  # the signer is compromised while a key is pending
    replacement = ring.signing_key(clock.now()).kid
    assert replacement not in (first.kid, second.kid, pending.kid)
    retired = next(k for k in ring.list_keys() if k.kid == first.kid)
    assert retired.retire_at == second.activate_at  # its window stays closed
    clock.advance(SCHEDULE.publish_delay.total_seconds())
    assert ring.signing_key(clock.now()).kid == pending.kid


def test_rotation_jwks_never_holds_private_members() -> None:
    clock = FixedClock(NOW)
    ring = KeyRing(schedule=SCHEDULE)
    ring.ensure_active(clock.now())
    ring.rotate(clock.now())
    for key in ring.jwks(clock.now())["keys"]:
        # DISC-03: public members only, each with kid, alg and use.
        assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(key)
        assert key["use"] == "sig"
        assert key["alg"] == "ES256"
        assert key["kty"] == "EC"
        assert key["crv"] == "P-256"


@pytest.mark.parametrize(
    "options",
    [
        {"publish_delay": timedelta(seconds=-1)},
        {"rotation_interval": timedelta(hours=1)},
        {"max_token_lifetime": timedelta(0)},
        {"max_token_lifetime": timedelta(days=2)},
    ],
)
def test_rotation_schedule_refuses_unsafe_settings(options: dict[str, timedelta]) -> None:
    with pytest.raises(ValueError):
        RotationSchedule(**options)


def test_rotation_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="naive"):
        KeyRing().ensure_active(NOW.replace(tzinfo=None))


OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["rotate", "maintain", "revoke", "issue", "wait"]),
        st.integers(min_value=0, max_value=int(timedelta(days=8).total_seconds())),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(operations=OPERATIONS)
def test_rotation_any_schedule_keeps_unexpired_tokens_verifiable(
    operations: list[tuple[str, int]],
) -> None:
    """Invariants (OIDC-09) under any sequence of operations and clock jumps: a token verifies
    until its exp unless its key was revoked; there is always a published signer; a pending key
    is already published."""
    clock = FixedClock(NOW)
    ring = KeyRing(schedule=SCHEDULE)
    ring.maintain(clock.now())
    live: list[tuple[str, str, int]] = []  # (token, kid, exp)
    revoked: set[str] = set()
    for operation, seconds in operations:
        now_s = int(clock.now().timestamp())
        if operation == "rotate":
            ring.rotate(clock.now())
        elif operation == "maintain":
            ring.maintain(clock.now())
        elif operation == "revoke":
            kid = ring.signing_key(clock.now()).kid
            ring.revoke(kid, clock.now())
            revoked.add(kid)
        elif operation == "issue":
            token = _token(ring, clock, timedelta(seconds=max(1, seconds % 1800)))
            kid = ring.signing_key(clock.now()).kid
            live.append((token, kid, now_s + max(1, seconds % 1800)))
        else:
            clock.advance(seconds)
            ring.maintain(clock.now())
        now_s = int(clock.now().timestamp())
        signer = ring.signing_key(clock.now()).kid  # never without a signer
        assert signer in _kids(ring, clock)
        pending = [k for k in ring.list_keys() if k.activate_at > clock.now()]
        assert all(k.kid in _kids(ring, clock) for k in pending)  # announced before use
        for token, kid, exp in live:
            expected = "token_key_unknown" if kid in revoked else kid
            if now_s < exp:
                assert _check(ring, token, clock) == expected
