"""Recovery codes: format, single use, normalisation, regeneration, concurrency, throttling."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest

from tests.identity._support import CHEAP, T0, CountingHasher, make_directory, run
from zerogate.errors import InvalidInput
from zerogate.identity import (
    MFALimits,
    PasswordHasher,
    RecoveryCodeInvalid,
    RecoveryCodes,
    RecoveryFailureReason,
    VerifiedRecoveryCode,
    normalise_recovery_code,
)
from zerogate.store import Store, recovery_codes


def _codes(store: Store) -> RecoveryCodes:
    return RecoveryCodes(store, hasher=PasswordHasher(CHEAP))


async def _generated(store: Store, *, count: int = 10) -> tuple[RecoveryCodes, list[str]]:
    await make_directory(store).add_user("ada", "ada@example.com", now=T0)
    codes = _codes(store)
    return codes, await codes.generate("ada", count=count, now=T0)


def test_recovery_codes_look_right_and_are_stored_hashed(store: Store) -> None:
    _, codes = run(_generated(store))
    assert len(codes) == len(set(codes)) == 10
    assert all(re.fullmatch(r"[2-9a-hjkmnp-z]{5}-[2-9a-hjkmnp-z]{5}", c) for c in codes)
    with store.connect() as conn:
        stored = [r.code_hash for r in conn.execute(recovery_codes.select())]
    assert all(h.startswith("$argon2id$") for h in stored)
    assert not {c.replace("-", "") for c in codes} & {h for h in stored}


def test_recovery_code_is_single_use(store: Store) -> None:
    async def scenario() -> tuple[VerifiedRecoveryCode, RecoveryFailureReason, int]:
        codes, issued = await _generated(store)
        used = await codes.use("ada", issued[3], now=T0)
        with pytest.raises(RecoveryCodeInvalid) as caught:
            await codes.use("ada", issued[3], now=T0)
        return used, caught.value.reason, await codes.remaining("ada")

    used, reason, remaining = run(scenario())
    assert (used.user.username, used.used_at, used.remaining) == ("ada", T0, 9)
    assert reason is RecoveryFailureReason.WRONG_CODE
    assert remaining == 9


def test_recovery_code_input_is_normalised() -> None:
    assert normalise_recovery_code(" ABCDE-fghjk ") == "abcdefghjk"
    assert normalise_recovery_code("abc de fg-hjk") == "abcdefghjk"
    assert normalise_recovery_code("abcde-fghij") is None  # i is not in the alphabet
    assert normalise_recovery_code("abcde") is None
    assert normalise_recovery_code("a" * 1000) is None


def test_recovery_code_accepts_typed_variants(store: Store) -> None:
    async def scenario() -> int:
        codes, issued = await _generated(store, count=2)
        await codes.use("ada", f"  {issued[0].upper()} ", now=T0)
        await codes.use("ada", issued[1].replace("-", " "), now=T0)
        return await codes.remaining("ada")

    assert run(scenario()) == 0


def test_recovery_code_malformed_and_wrong(store: Store) -> None:
    async def scenario() -> list[RecoveryFailureReason]:
        codes, _ = await _generated(store, count=2)
        await make_directory(store).add_user("bob", "bob@example.com", now=T0)
        reasons = []
        for user, code in (("ada", "nope"), ("ada", "22222-22222"), ("bob", "22222-22222")):
            with pytest.raises(RecoveryCodeInvalid) as caught:
                await codes.use(user, code, now=T0)
            reasons.append(caught.value.reason)
            assert caught.value.code == "recovery_code_invalid"
            assert str(caught.value.reason) not in str(caught.value)
        return reasons

    assert run(scenario()) == [
        RecoveryFailureReason.MALFORMED,
        RecoveryFailureReason.WRONG_CODE,
        RecoveryFailureReason.NO_CODES,
    ]


def test_recovery_codes_regenerate_invalidates_the_old_set(store: Store) -> None:
    async def scenario() -> int:
        codes, old = await _generated(store, count=3)
        await codes.use("ada", old[0], now=T0)
        new = await codes.generate("ada", count=4, now=T0 + timedelta(minutes=1))
        for code in old[1:]:
            with pytest.raises(RecoveryCodeInvalid):
                await codes.use("ada", code, now=T0)
        await codes.use("ada", new[0], now=T0)
        return await codes.remaining("ada")

    assert run(scenario()) == 3


def test_recovery_code_concurrent_use_exactly_once(store: Store) -> None:
    async def scenario() -> list[VerifiedRecoveryCode | BaseException]:
        codes, issued = await _generated(store, count=2)
        return await asyncio.gather(
            *(codes.use("ada", issued[0], now=T0) for _ in range(4)), return_exceptions=True
        )

    results = run(scenario())
    assert sum(isinstance(r, VerifiedRecoveryCode) for r in results) == 1
    assert all(
        isinstance(r, RecoveryCodeInvalid)
        for r in results
        if not isinstance(r, VerifiedRecoveryCode)
    )


def test_recovery_code_attempts_are_throttled(store: Store) -> None:
    async def scenario() -> tuple[list[str], int]:
        await make_directory(store).add_user("ada", "ada@example.com", now=T0)
        hasher = CountingHasher()
        codes = RecoveryCodes(store, hasher=hasher, limits=MFALimits(attempts=2))
        issued = await codes.generate("ada", count=1, now=T0)
        outcomes = []
        for code in ("22222-22222", "33333-33333", issued[0]):
            try:
                await codes.use("ada", code, now=T0)
                outcomes.append("ok")
            except RecoveryCodeInvalid as exc:
                outcomes.append(str(exc.reason))
        checked = hasher.verifications
        await codes.use("ada", issued[0], now=T0 + timedelta(minutes=2))
        return outcomes, checked

    outcomes, checked = run(scenario())
    assert outcomes == ["wrong_code", "wrong_code", "throttled"]
    assert checked == 2  # a throttled attempt is not checked at all


def test_recovery_code_count_is_bounded(store: Store) -> None:
    async def scenario() -> list[str]:
        await make_directory(store).add_user("ada", "ada@example.com", now=T0)
        errors = []
        for count in (0, 21):
            with pytest.raises(InvalidInput) as caught:
                await _codes(store).generate("ada", count=count, now=T0)
            errors.append(caught.value.code)
        return errors

    assert run(scenario()) == ["recovery_code_count_invalid"] * 2
