"""`StoreKeyRing` on real SQLite and PostgreSQL: persistence, two nodes agreeing, rotation."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import orjson
import pytest
from sqlalchemy import select

from tests.control.events_support import run
from tests.tokens.forge import AUDIENCE, ISSUER, NOW
from zerogate.clock import FixedClock
from zerogate.store import Store, open_store, signing_keys
from zerogate.tokens import (
    KeyInfo,
    RotationSchedule,
    SigningKeyUnavailable,
    StoreKeyRing,
    TokenError,
    TokenType,
    issue,
    verify,
)

SCHEDULE = RotationSchedule(
    publish_delay=timedelta(minutes=10),
    rotation_interval=timedelta(days=1),
    max_token_lifetime=timedelta(minutes=15),
)


def _token(ring: StoreKeyRing, clock: FixedClock) -> str:
    return issue(
        {"sub": "alice", "client_id": "web-app"},
        keys=ring,
        issuer=ISSUER,
        typ=TokenType.ACCESS,
        audience=AUDIENCE,
        now=clock.now(),
        lifetime=timedelta(minutes=15),
    )


def _check(ring: StoreKeyRing, token: str, clock: FixedClock) -> str:
    try:
        return verify(
            token,
            keys=ring,
            expected_type=TokenType.ACCESS,
            expected_issuer=ISSUER,
            expected_audience=AUDIENCE,
            now=clock.now(),
        ).kid
    except TokenError as error:
        return error.code


def _kids(ring: StoreKeyRing, clock: FixedClock) -> list[str]:
    return [k["kid"] for k in ring.jwks(clock.now())["keys"]]


def test_store_keyring_persists_pkcs8_key_and_public_jwk(store: Store) -> None:
    ring = StoreKeyRing(store, purpose="oidc", schedule=SCHEDULE)
    info = run(ring.ensure_active(NOW))
    with store.connect() as conn:
        row = conn.execute(select(signing_keys)).one()
    assert row.kid == info.kid
    assert row.purpose == "oidc"
    assert row.alg == "ES256"
    assert row.private_key.startswith("-----BEGIN PRIVATE KEY-----")  # PKCS#8 PEM
    public = orjson.loads(row.public_jwk)
    assert public["kid"] == info.kid
    assert "d" not in public
    assert row.activate_at == NOW
    assert row.retire_at is None
    assert "PRIVATE" not in repr(info)


def test_store_keyring_two_nodes_agree_through_rotation(store: Store, store_url: str) -> None:
    other_store = open_store(store_url)
    clock = FixedClock(NOW)
    node_a = StoreKeyRing(store, schedule=SCHEDULE)
    node_b = StoreKeyRing(other_store, schedule=SCHEDULE)
    try:
        first = run(node_a.ensure_active(clock.now()))
        assert run(node_b.ensure_active(clock.now())) == first  # no second key
        token_a = _token(node_a, clock)
        assert _check(node_b, token_a, clock) == first.kid

        new = run(node_b.rotate(clock.now()))
        run(node_a.refresh())
        assert _kids(node_a, clock) == _kids(node_b, clock) == [new.kid, first.kid]
        assert node_a.signing_key(clock.now()).kid == first.kid  # announced, not yet signing

        clock.advance(SCHEDULE.publish_delay.total_seconds())
        token_new = _token(node_a, clock)
        assert _check(node_b, token_new, clock) == new.kid
        last_old = token_a
        clock.advance(SCHEDULE.max_token_lifetime.total_seconds() - 60)
        assert _check(node_a, last_old, clock) == "token_expired"  # its own exp, not the key
        clock.advance(60)  # retire_at + max_token_lifetime: the old key leaves the JWKS
        assert _kids(node_a, clock) == [new.kid]
        run(node_a.maintain(clock.now()))
        run(node_b.refresh())
        assert [k.kid for k in node_b.list_keys()] == [new.kid]
        with store.connect() as conn:
            assert conn.execute(select(signing_keys.c.kid)).scalars().all() == [new.kid]
    finally:
        other_store.close()


def test_store_keyring_concurrent_first_keys_yield_one_key(store: Store, store_url: str) -> None:
    stores = [open_store(store_url) for _ in range(4)]
    try:
        rings = [StoreKeyRing(s, schedule=SCHEDULE) for s in stores]

        async def race() -> list[KeyInfo]:
            return list(await asyncio.gather(*(r.ensure_active(NOW) for r in rings)))

        infos = run(race())
        assert len({i.kid for i in infos}) == 1
        with store.connect() as conn:
            assert len(conn.execute(select(signing_keys.c.kid)).all()) == 1
    finally:
        for opened in stores:
            opened.close()


def test_store_keyring_old_tokens_verify_after_rotation_on_another_node(
    store: Store, store_url: str
) -> None:
    other_store = open_store(store_url)
    clock = FixedClock(NOW)
    signer = StoreKeyRing(store, schedule=SCHEDULE)
    gateway = StoreKeyRing(other_store, schedule=SCHEDULE, signer=False)
    try:
        old = run(signer.ensure_active(clock.now()))
        run(gateway.refresh())
        run(signer.rotate(clock.now()))
        clock.advance(SCHEDULE.publish_delay.total_seconds() - 1)
        last_old = _token(signer, clock)  # the old key's last second
        clock.advance(1)
        run(gateway.refresh())
        clock.advance(SCHEDULE.max_token_lifetime.total_seconds() - 1)
        assert _check(gateway, last_old, clock) == old.kid
    finally:
        other_store.close()


def test_store_keyring_verifier_never_reads_or_creates_private_keys(
    store: Store, store_url: str
) -> None:
    other_store = open_store(store_url)
    signer = StoreKeyRing(store, schedule=SCHEDULE)
    gateway = StoreKeyRing(other_store, schedule=SCHEDULE, signer=False)
    clock = FixedClock(NOW)
    try:
        info = run(signer.ensure_active(clock.now()))
        run(gateway.refresh())
        assert _check(gateway, _token(signer, clock), clock) == info.kid
        with pytest.raises(RuntimeError, match="verification-only"):
            run(gateway.rotate(clock.now()))
        with pytest.raises(SigningKeyUnavailable):  # it never loaded a private key
            _token(gateway, clock)
    finally:
        other_store.close()


def test_store_keyring_revoke_reaches_other_nodes(store: Store, store_url: str) -> None:
    other_store = open_store(store_url)
    clock = FixedClock(NOW)
    node_a = StoreKeyRing(store, schedule=SCHEDULE)
    node_b = StoreKeyRing(other_store, schedule=SCHEDULE)
    try:
        compromised = run(node_a.ensure_active(clock.now()))
        token = _token(node_a, clock)
        run(node_b.refresh())
        run(node_b.revoke(compromised.kid, clock.now()))
        run(node_a.refresh())
        assert _check(node_a, token, clock) == "token_key_unknown"
        assert compromised.kid not in _kids(node_a, clock)
        replacement = node_a.signing_key(clock.now())
        assert replacement.kid != compromised.kid
        assert _check(node_b, _token(node_a, clock), clock) == replacement.kid
    finally:
        other_store.close()


def test_store_keyring_purposes_are_separate_key_sets(store: Store) -> None:
    oidc = StoreKeyRing(store, purpose="oidc", schedule=SCHEDULE)
    assertion = StoreKeyRing(store, purpose="assertion", schedule=SCHEDULE)
    clock = FixedClock(NOW)
    run(oidc.ensure_active(clock.now()))
    run(assertion.ensure_active(clock.now()))
    assert _check(assertion, _token(oidc, clock), clock) == "token_key_unknown"
    assert _kids(oidc, clock) != _kids(assertion, clock)
