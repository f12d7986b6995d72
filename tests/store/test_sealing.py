"""Secrets at rest (ASVS 5.0 V11/V14): TOTP seeds and private signing keys sealed under a master
key; a sealed value is bound to where it lives; the wrong key fails closed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pyotp
import pytest
from sqlalchemy import select, update

from zerogate.errors import ConfigError, StoreError
from zerogate.identity import TOTP, Directory
from zerogate.store import (
    Sealer,
    new_master_key,
    open_store,
    parse_master_keys,
    signing_keys,
    totp_credentials,
)
from zerogate.tokens import StoreKeyRing

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_round_trip_and_binding_to_the_place() -> None:
    sealer = parse_master_keys(new_master_key())
    sealed = sealer.seal("JBSWY3DPEHPK3PXP", context="totp:1")
    assert sealed.startswith("zgs1.k1.")
    assert "JBSWY3DP" not in sealed
    assert sealer.unseal(sealed, context="totp:1") == "JBSWY3DPEHPK3PXP"
    with pytest.raises(StoreError) as moved:
        sealer.unseal(sealed, context="totp:2")
    assert moved.value.code == "store_secret_unreadable"
    tampered = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(StoreError):
        sealer.unseal(tampered, context="totp:1")


def test_old_keys_still_open_new_values_use_the_current_one() -> None:
    old = new_master_key("k1")
    sealed = parse_master_keys(old).seal("s", context="c")
    rotated = parse_master_keys(f"{new_master_key('k2')},{old}")
    assert rotated.unseal(sealed, context="c") == "s"
    assert rotated.seal("s", context="c").startswith("zgs1.k2.")
    with pytest.raises(StoreError, match="not configured"):
        parse_master_keys(new_master_key("k3")).unseal(sealed, context="c")


@pytest.mark.parametrize("value", ["", "nocolon", "k1:###", "K1:" + "A" * 43, "k1:AAAA"])
def test_bad_master_keys_are_config_errors(value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_master_keys(value)
    assert raised.value.code == "store_secret_key_invalid"


def test_repr_never_shows_a_key() -> None:
    value = new_master_key()
    assert value.split(":")[1] not in repr(parse_master_keys(value))
    assert "clear" in repr(Sealer.passthrough())


def test_plaintext_rows_from_before_sealing_stay_readable() -> None:
    assert (
        parse_master_keys(new_master_key()).unseal("JBSWY3DPEHPK3PXP", context="x")
        == "JBSWY3DPEHPK3PXP"
    )


def test_totp_seeds_are_sealed_in_the_store(store_url: str) -> None:
    sealer = parse_master_keys(new_master_key())
    store = open_store(store_url, sealer=sealer)
    try:
        store.migrate()

        async def scenario() -> None:
            await Directory(store).add_user("ada", "ada@example.test", now=NOW)
            totp = TOTP(store)
            enrolment = await totp.begin_enrolment("ada", label="phone", now=NOW)
            code = pyotp.TOTP(enrolment.secret).at(NOW)
            await totp.confirm_enrolment("ada", enrolment.credential.id, code, now=NOW)
            with store.connect() as conn:
                stored = conn.execute(select(totp_credentials.c.secret)).scalar_one()
            assert stored.startswith("zgs1.")
            assert enrolment.secret not in stored
            later = datetime.fromtimestamp(NOW.timestamp() + 60, tz=UTC)
            verified = await totp.verify("ada", pyotp.TOTP(enrolment.secret).at(later), now=later)
            assert verified.credential_id == enrolment.credential.id
            # A second credential whose row receives the first one's sealed seed does not open.
            other = await totp.begin_enrolment("ada", label="tablet", now=NOW)
            with store.begin() as conn:
                conn.execute(
                    update(totp_credentials)
                    .where(totp_credentials.c.id == other.credential.id)
                    .values(secret=stored)
                )
            with pytest.raises(StoreError):
                await totp.confirm_enrolment("ada", other.credential.id, "123456", now=later)

        asyncio.run(scenario())
    finally:
        store.close()


def test_private_keys_are_sealed_and_the_wrong_master_key_fails_closed(store_url: str) -> None:
    key = new_master_key()
    store = open_store(store_url, sealer=parse_master_keys(key))
    try:
        store.migrate()
        ring = StoreKeyRing(store)
        asyncio.run(ring.ensure_active(NOW))
        with store.connect() as conn:
            stored = conn.execute(select(signing_keys.c.private_key)).scalar_one()
        assert stored.startswith("zgs1.")
        assert "PRIVATE KEY" not in stored
        # Another node with the same master key signs with the same key.
        same = open_store(store_url, sealer=parse_master_keys(key))
        try:
            other = StoreKeyRing(same)
            asyncio.run(other.refresh())
            assert other.signing_key(NOW).kid == ring.signing_key(NOW).kid
        finally:
            same.close()
        wrong = open_store(store_url, sealer=parse_master_keys(new_master_key()))
        try:
            with pytest.raises(StoreError) as raised:
                asyncio.run(StoreKeyRing(wrong).refresh())
            assert raised.value.code == "store_secret_unreadable"
        finally:
            wrong.close()
    finally:
        store.close()
