"""WebAuthn passkeys against real SQLite and PostgreSQL stores, driven by a software authenticator.

Test names and docstrings cite the WebAuthn checklist in /work/shared/reference/standards.md §2.12
(WA-R* registration, WA-A* authentication).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.identity._authenticator import (
    ORIGIN,
    RP_ID,
    SoftAuthenticator,
    b64url,
    omit_user_handle,
    unb64url,
)
from tests.identity._support import GOOD_PASSWORD, T0, Recorder, later, make_directory, run
from zerogate.errors import Conflict, InvalidInput, NotFound, ZerogateError
from zerogate.identity import (
    PASSKEY_CREDENTIAL_JSON_MAX_BYTES,
    ChangeKind,
    PasskeyCredential,
    PasskeyFailureReason,
    PasskeyInvalid,
    PasskeyLimits,
    Passkeys,
    VerifiedPasskey,
)
from zerogate.identity._webauthn_model import passkey_amr
from zerogate.identity._webauthn_verify import sign_count_regressed
from zerogate.store import Store, webauthn_challenges, webauthn_credentials

Reason = PasskeyFailureReason


def _passkeys(store: Store, **options: object) -> Passkeys:
    options.setdefault("rp_id", RP_ID)
    options.setdefault("rp_name", "Zerogate")
    options.setdefault("expected_origins", [ORIGIN, "https://example.com"])
    return Passkeys(store, **options)  # type: ignore[arg-type]


async def _users(store: Store) -> None:
    directory = make_directory(store)
    await directory.add_user("ada", "ada@example.com", password=GOOD_PASSWORD, now=T0)
    await directory.add_user("bob", "bob@example.com", now=T0)


async def _registered(
    passkeys: Passkeys,
    user: str = "ada",
    *,
    authenticator: SoftAuthenticator | None = None,
    now: datetime = T0,
) -> tuple[SoftAuthenticator, PasskeyCredential]:
    device = authenticator or SoftAuthenticator()
    begun = await passkeys.begin_registration(user, require_user_verification=True, now=now)
    added = await passkeys.finish_registration(
        user, begun.ceremony_id, device.create(begun.options_json), name="Laptop", now=now
    )
    return device, added


def _counts(store: Store) -> tuple[int, int]:
    """(passkeys, pending ceremonies) in the store."""
    with store.connect() as conn:
        keys = conn.execute(select(func.count()).select_from(webauthn_credentials)).scalar_one()
        pending = conn.execute(select(func.count()).select_from(webauthn_challenges)).scalar_one()
    return int(keys), int(pending)


async def _reason(coro: object) -> PasskeyFailureReason:
    with pytest.raises(PasskeyInvalid) as caught:
        await coro  # type: ignore[misc]
    return caught.value.reason


# Rules without a store


@pytest.mark.parametrize(
    ("backup_eligible", "user_verified", "amr"),
    [
        (False, True, ("hwk", "user", "mfa")),
        (False, False, ("hwk", "user")),
        (True, True, ("swk", "user", "mfa")),
        (True, False, ("swk", "user")),
    ],
)
def test_passkey_amr_follows_rfc8176(
    backup_eligible: bool, user_verified: bool, amr: tuple[str, ...]
) -> None:
    """RFC 8176 §2: hwk/swk by backup eligibility, `user` for presence, `mfa` for UV."""
    assert passkey_amr(backup_eligible=backup_eligible, user_verified=user_verified) == amr


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_passkey_sign_count_rule(stored: int, received: int) -> None:
    """WA-A4: accepted iff the counter grows, or both sides are 0."""
    accepted = received > stored or stored == received == 0
    assert sign_count_regressed(stored, received) is not accepted


# Registration


def test_passkey_registration_options_ask_for_a_discoverable_credential_es256_first(
    store: Store,
) -> None:
    """WA-R6: ES256, EdDSA, RS256 offered in that order; residentKey required; attestation none."""

    async def scenario() -> tuple[dict[str, object], dict[str, object]]:
        await _users(store)
        passkeys = _passkeys(store)
        device, _ = await _registered(passkeys)
        first = await passkeys.begin_registration("ada", require_user_verification=True, now=T0)
        second = await passkeys.begin_registration("bob", require_user_verification=False, now=T0)
        assert first.user_verification is True
        assert first.expires_at == T0 + timedelta(minutes=5)
        options = json.loads(first.options_json)
        assert [c["id"] for c in options["excludeCredentials"]] == [b64url(device.credential_id)]
        return options, json.loads(second.options_json)

    ada, bob = run(scenario())
    assert [p["alg"] for p in ada["pubKeyCredParams"]] == [-7, -8, -257]  # type: ignore[index]
    assert ada["authenticatorSelection"] == {
        "residentKey": "required",
        "requireResidentKey": True,
        "userVerification": "required",
    }
    assert ada["attestation"] == "none"
    assert ada["rp"] == {"id": RP_ID, "name": "Zerogate"}
    assert ada["timeout"] == 300_000
    assert len(unb64url(ada["challenge"])) == 32  # type: ignore[arg-type]  # WA-R1: >= 16 bytes
    user = ada["user"]
    assert user["name"] == "ada"  # type: ignore[index]
    # No personal data: the user handle is the opaque, random user id (a substring check for
    # "ada" failed whenever the random hex happened to spell it).
    handle = unb64url(user["id"]).decode()  # type: ignore[index]
    assert re.fullmatch(r"usr_[0-9a-f]{32}", handle)
    assert bob["authenticatorSelection"]["userVerification"] == "preferred"  # type: ignore[index]
    assert bob["excludeCredentials"] == []


def test_passkey_register_and_sign_in_round_trip(store: Store) -> None:
    """WA-R1…R4, WA-A2, WA-A3: a registered passkey signs its user in; counter and time are saved."""

    async def scenario() -> tuple[PasskeyCredential, VerifiedPasskey, list[PasskeyCredential]]:
        await _users(store)
        passkeys = _passkeys(store)
        device, added = await _registered(passkeys)
        begun = await passkeys.begin_authentication("ada", require_user_verification=True, now=T0)
        allowed = json.loads(begun.options_json)["allowCredentials"]
        assert [c["id"] for c in allowed] == [b64url(device.credential_id)]
        assert allowed[0]["transports"] == ["internal", "hybrid"]
        verified = await passkeys.finish_authentication(
            begun.ceremony_id, device.get(begun.options_json), now=later(5)
        )
        return added, verified, await passkeys.list("ada")

    added, verified, listed = run(scenario())
    assert (added.name, added.user_verified, added.backup_eligible) == ("Laptop", True, False)
    assert added.device_bound
    assert added.aaguid == "00000000-0000-0000-0000-000000000000"
    assert verified.user.username == "ada"
    assert verified.passkey_id == added.id
    assert verified.user_verified is True
    assert verified.authenticated_at == later(5)
    assert verified.amr == ("hwk", "user", "mfa")  # RFC 8176
    [stored] = listed
    assert (stored.sign_count, stored.last_used_at) == (1, later(5))
    assert _counts(store) == (1, 0)  # every ceremony was spent


def test_passkey_username_less_sign_in_finds_the_user_by_its_passkey(store: Store) -> None:
    """WA-A1: with no user named, allowCredentials is empty and userHandle names the owner."""

    async def scenario() -> tuple[list[object], VerifiedPasskey]:
        await _users(store)
        passkeys = _passkeys(store)
        await _registered(passkeys, "ada")
        device, _ = await _registered(passkeys, "bob")
        begun = await passkeys.begin_authentication(None, require_user_verification=True, now=T0)
        allowed = json.loads(begun.options_json)["allowCredentials"]
        verified = await passkeys.finish_authentication(
            begun.ceremony_id, device.get(begun.options_json), now=T0
        )
        return allowed, verified

    allowed, verified = run(scenario())
    assert allowed == []
    assert verified.user.username == "bob"


def test_passkey_username_less_sign_in_needs_the_owners_user_handle(store: Store) -> None:
    """WA-A1: userHandle is required without a named user, and must be the passkey owner's."""

    async def scenario() -> list[Reason]:
        await _users(store)
        passkeys = _passkeys(store)
        device, _ = await _registered(passkeys, "ada")
        reasons = []
        for handle in (omit_user_handle(), b"usr_someone_else"):
            begun = await passkeys.begin_authentication(
                None, require_user_verification=True, now=T0
            )
            reply = device.get(begun.options_json, user_handle=handle)
            reasons.append(
                await _reason(passkeys.finish_authentication(begun.ceremony_id, reply, now=T0))
            )
        # Named-user flow: the handle may be left out, as security keys without storage do.
        begun = await passkeys.begin_authentication("ada", require_user_verification=True, now=T0)
        reply = device.get(begun.options_json, user_handle=omit_user_handle())
        await passkeys.finish_authentication(begun.ceremony_id, reply, now=T0)
        return reasons

    assert run(scenario()) == [Reason.USER_HANDLE_MISMATCH] * 2


def test_passkey_user_verification_required_by_begin_is_enforced_by_finish(store: Store) -> None:
    """WA-R4, WA-A5 (UV=0 when required): the requirement is stored with the challenge."""

    async def scenario() -> tuple[list[Reason], VerifiedPasskey]:
        await _users(store)
        passkeys = _passkeys(store)
        device = SoftAuthenticator()
        reasons = []
        begun = await passkeys.begin_registration("ada", require_user_verification=True, now=T0)
        reply = device.create(begun.options_json, uv=False)
        reasons.append(
            await _reason(
                passkeys.finish_registration("ada", begun.ceremony_id, reply, name=None, now=T0)
            )
        )
        await _registered(passkeys, authenticator=device)
        begun = await passkeys.begin_authentication("ada", require_user_verification=True, now=T0)
        reply = device.get(begun.options_json, uv=False)
        reasons.append(
            await _reason(passkeys.finish_authentication(begun.ceremony_id, reply, now=T0))
        )
        # Not required: a presence-only assertion is accepted, and says so.
        begun = await passkeys.begin_authentication("ada", require_user_verification=False, now=T0)
        verified = await passkeys.finish_authentication(
            begun.ceremony_id, device.get(begun.options_json, uv=False), now=T0
        )
        return reasons, verified

    reasons, verified = run(scenario())
    assert reasons == [Reason.USER_VERIFICATION_MISSING] * 2
    assert verified.user_verified is False
    assert verified.amr == ("hwk", "user")


def test_passkey_user_presence_is_always_required(store: Store) -> None:
    """WA-R4, WA-A2: UP=0 is refused in both ceremonies."""

    async def scenario() -> list[Reason]:
        await _users(store)
        passkeys = _passkeys(store)
        device = SoftAuthenticator()
        begun = await passkeys.begin_registration("ada", require_user_verification=False, now=T0)
        reply = device.create(begun.options_json, up=False, uv=False)
        first = await _reason(
            passkeys.finish_registration("ada", begun.ceremony_id, reply, name=None, now=T0)
        )
        await _registered(passkeys, authenticator=device)
        begun = await passkeys.begin_authentication("ada", require_user_verification=False, now=T0)
        reply = device.get(begun.options_json, up=False, uv=False)
        return [
            first,
            await _reason(passkeys.finish_authentication(begun.ceremony_id, reply, now=T0)),
        ]

    assert run(scenario()) == [Reason.USER_PRESENCE_MISSING] * 2


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"origin": "https://login.example.com.evil.test"}, Reason.ORIGIN_MISMATCH),  # WA-R2
        ({"origin": "http://login.example.com"}, Reason.ORIGIN_MISMATCH),
        ({"cross_origin": True}, Reason.ORIGIN_MISMATCH),  # WA-R2: iframes are not expected
        ({"rp_id": "evil.test"}, Reason.RP_ID_MISMATCH),  # WA-R3
        ({"challenge": b"\x00" * 32}, Reason.CHALLENGE_MISMATCH),  # WA-R1
        ({"client_data_type": "webauthn.get"}, Reason.MALFORMED),  # WA-R1: type confusion
        ({"alg": -36}, Reason.ATTESTATION_INVALID),  # WA-R6: a key algorithm we did not offer
    ],
)
def test_passkey_registration_refuses_a_response_for_another_site_or_ceremony(
    store: Store, change: dict[str, object], reason: Reason
) -> None:
    """WA-R1, WA-R2, WA-R3, WA-R6: each check refuses, and nothing is stored."""

    async def scenario() -> Reason:
        await _users(store)
        passkeys = _passkeys(store)
        begun = await passkeys.begin_registration("ada", require_user_verification=True, now=T0)
        reply = SoftAuthenticator().create(begun.options_json, **change)  # type: ignore[arg-type]
        return await _reason(
            passkeys.finish_registration("ada", begun.ceremony_id, reply, name=None, now=T0)
        )

    assert run(scenario()) == reason
    assert _counts(store) == (0, 0)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"origin": "https://phish.example.net"}, Reason.ORIGIN_MISMATCH),  # WA-A5: phishing
        ({"cross_origin": True}, Reason.ORIGIN_MISMATCH),
        ({"rp_id": "phish.example.net"}, Reason.RP_ID_MISMATCH),  # WA-A5
        ({"forge": True}, Reason.SIGNATURE_INVALID),  # WA-A3
        ({"client_data_json": b'{"type":"webauthn.get","chall'}, Reason.MALFORMED),  # WA-A5
        ({"backed_up": True, "backup_eligible": False}, Reason.BACKUP_STATE_INVALID),  # WA-R5
        ({"backup_eligible": True}, Reason.BACKUP_STATE_INVALID),  # WA-A2: BE changed
    ],
)
def test_passkey_sign_in_refuses_a_tampered_or_misdirected_assertion(
    store: Store, change: dict[str, object], reason: Reason
) -> None:
    """WA-A2, WA-A3, WA-A5: wrong origin or RP ID, forged signature, truncated clientDataJSON."""

    async def scenario() -> tuple[Reason, list[PasskeyCredential]]:
        await _users(store)
        passkeys = _passkeys(store)
        device, _ = await _registered(passkeys)
        begun = await passkeys.begin_authentication("ada", require_user_verification=True, now=T0)
        reply = device.get(begun.options_json, **change)  # type: ignore[arg-type]
        found = await _reason(passkeys.finish_authentication(begun.ceremony_id, reply, now=T0))
        return found, await passkeys.list("ada")

    found, [stored] = run(scenario())
    assert found == reason
    assert (stored.sign_count, stored.last_used_at) == (0, None)  # nothing half-written
    assert _counts(store) == (1, 0)


def test_passkey_backed_up_without_backup_eligibility_is_refused_at_registration(
    store: Store,
) -> None:
    """WA-R5 (WebAuthn L3): BS=1 with BE=0 is impossible for a real authenticator."""

    async def scenario() -> Reason:
        await _users(store)
        passkeys = _passkeys(store)
        begun = await passkeys.begin_registration("ada", require_user_verification=True, now=T0)
        reply = SoftAuthenticator(backed_up=True).create(begun.options_json)
        return await _reason(
            passkeys.finish_registration("ada", begun.ceremony_id, reply, name=None, now=T0)
        )

    assert run(scenario()) == Reason.BACKUP_STATE_INVALID


def test_passkey_synced_passkey_is_swk_and_records_its_backup_state(store: Store) -> None:
    """WA-R5: BE and BS are recorded; RFC 8176 `swk` for a backup-eligible (syncable) key."""

    async def scenario() -> tuple[PasskeyCredential, VerifiedPasskey, PasskeyCredential]:
        await _users(store)
        passkeys = _passkeys(store)
        device = SoftAuthenticator(backup_eligible=True, counting=False)
        _, added = await _registered(passkeys, authenticator=device)
        device.backed_up = True  # synced to the provider after registration
        begun = await passkeys.begin_authentication(None, require_user_verification=True, now=T0)
        verified = await passkeys.finish_authentication(
            begun.ceremony_id, device.get(begun.options_json), now=T0
        )
        [after] = await passkeys.list("ada")
        return added, verified, after

    added, verified, after = run(scenario())
    assert (added.backup_eligible, added.backed_up, added.device_bound) == (True, False, False)
    assert verified.amr == ("swk", "user", "mfa")
    assert verified.backed_up is True
    assert after.backed_up is True


# Ceremonies: single use, expiry, binding


def test_passkey_challenge_is_single_use_even_after_a_failure(store: Store) -> None:
    """WA-R1, WA-A5 (replayed assertion): a ceremony is spent by its first finish, pass or fail."""

    async def scenario() -> list[Reason]:
        await _users(store)
        passkeys = _passkeys(store)
        device, _ = await _registered(passkeys)
        reasons = []
        begun = await passkeys.begin_authentication("ada", require_user_verification=True, now=T0)
        reply = device.get(begun.options_json)
        await passkeys.finish_authentication(begun.ceremony_id, reply, now=T0)
        # The same assertion again: its ceremony is gone.
        reasons.append(
            await _reason(passkeys.finish_authentication(begun.ceremony_id, reply, now=T0))
        )
        # The same assertion against a fresh ceremony: it signed the old challenge.
        fresh = await passkeys.begin_authentication("ada", require_user_verification=True, now=T0)
        reasons.append(
            await _reason(passkeys.finish_authentication(fresh.ceremony_id, reply, now=T0))
        )
        # A failure spends the ceremony too: a good answer afterwards is too late.
        begun = await passkeys.begin_authentication("ada", require_user_verification=True, now=T0)
        bad = device.get(begun.options_json, origin="https://phish.example.net")
        reasons.append(
            await _reason(passkeys.finish_authentication(begun.ceremony_id, bad, now=T0))
        )
        good = device.get(begun.options_json)
        reasons.append(
            await _reason(passkeys.finish_authentication(begun.ceremony_id, good, now=T0))
        )
        return reasons

    assert run(scenario()) == [
        Reason.CHALLENGE_UNKNOWN,
        Reason.CHALLENGE_MISMATCH,
        Reason.ORIGIN_MISMATCH,
        Reason.CHALLENGE_UNKNOWN,
    ]
    assert _counts(store) == (1, 0)


def test_passkey_registration_challenge_is_spent_when_verification_fails(store: Store) -> None:
    """WA-R1: a failed registration leaves no passkey and no reusable ceremony."""

    async def scenario() -> list[Reason]:
        await _users(store)
        passkeys = _passkeys(store)
        device = SoftAuthenticator()
        begun = await passkeys.begin_registration("ada", require_user_verification=True, now=T0)
        bad = device.create(begun.options_json, rp_id="evil.test")
        good = device.create(begun.options_json)
        return [
            await _reason(
                passkeys.finish_registration("ada", begun.ceremony_id, bad, name=None, now=T0)
            ),
            await _reason(
                passkeys.finish_registration("ada", begun.ceremony_id, good, name=None, now=T0)
            ),
        ]

    assert run(scenario()) == [Reason.RP_ID_MISMATCH, Reason.CHALLENGE_UNKNOWN]
    assert _counts(store) == (0, 0)


def test_passkey_expired_challenge_is_refused_and_purged(store: Store) -> None:
    """WA-R1: a ceremony lives `ceremony_ttl`; expired ones are refused and cleaned up."""

    async def scenario() -> tuple[list[Reason], tuple[int, int]]:
        await _users(store)
        passkeys = _passkeys(store, ceremony_ttl=timedelta(minutes=2))
        device, _ = await _registered(passkeys)
        begun = await passkeys.begin_authentication("ada", require_user_verification=True, now=T0)
        reply = device.get(begun.options_json)
        expired = await _reason(
            passkeys.finish_authentication(begun.ceremony_id, reply, now=later(120))
        )
        stale = await passkeys.begin_registration("ada", require_user_verification=True, now=T0)
        await passkeys.begin_authentication(None, require_user_verification=True, now=later(121))
        pending = _counts(store)  # the stale registration was purged by the later begin
        gone = await _reason(
            passkeys.finish_registration(
                "ada",
                stale.ceremony_id,
                SoftAuthenticator().create(stale.options_json),
                name=None,
                now=later(1),
            )
        )
        return [expired, gone], pending

    reasons, pending = run(scenario())
    assert reasons == [Reason.CHALLENGE_EXPIRED, Reason.CHALLENGE_UNKNOWN]
    assert pending == (1, 1)


def test_passkey_ceremonies_are_bound_to_their_purpose_and_user(store: Store) -> None:
    """WA-R1: a registration ceremony cannot finish a sign-in, nor another user's registration."""

    async def scenario() -> list[Reason]:
        await _users(store)
        passkeys = _passkeys(store)
        device, _ = await _registered(passkeys)
        reasons = []
        begun = await passkeys.begin_registration("ada", require_user_verification=True, now=T0)
        reply = SoftAuthenticator().create(begun.options_json)
        reasons.append(
            await _reason(
                passkeys.finish_registration("bob", begun.ceremony_id, reply, name=None, now=T0)
            )
        )
        begun = await passkeys.begin_registration("ada", require_user_verification=True, now=T0)
        reasons.append(
            await _reason(
                passkeys.finish_authentication(
                    begun.ceremony_id, device.get(begun.options_json, rp_id=RP_ID), now=T0
                )
            )
        )
        begun = await passkeys.begin_authentication("ada", require_user_verification=True, now=T0)
        reasons.append(
            await _reason(
                passkeys.finish_registration("ada", begun.ceremony_id, reply, name=None, now=T0)
            )
        )
        reasons.append(
            await _reason(passkeys.finish_authentication("wac_" + "0" * 32, reply, now=T0))
        )
        with pytest.raises(PasskeyInvalid) as junk:
            await passkeys.finish_authentication("wac_1\n[forged log line]", reply, now=T0)
        assert junk.value.ceremony_id is None  # client input is never echoed into the audit log
        reasons.append(junk.value.reason)
        return reasons

    assert run(scenario()) == [Reason.CHALLENGE_UNKNOWN] * 5


def test_passkey_concurrent_finishes_of_one_ceremony_let_exactly_one_win(store: Store) -> None:
    """WA-R1, WA-A5: two simultaneous uses of one challenge: one signs in, the other is refused."""

    async def scenario() -> list[object]:
        await _users(store)
        passkeys = _passkeys(store)
        device = SoftAuthenticator(counting=False)
        await _registered(passkeys, authenticator=device)
        begun = await passkeys.begin_authentication("ada", require_user_verification=True, now=T0)
        reply = device.get(begun.options_json)
        results = await asyncio.gather(
            *(passkeys.finish_authentication(begun.ceremony_id, reply, now=T0) for _ in range(4)),
            return_exceptions=True,
        )
        return list(results)

    results = run(scenario())
    assert sum(isinstance(r, VerifiedPasskey) for r in results) == 1
    refused = [r for r in results if isinstance(r, PasskeyInvalid)]
    assert [r.reason for r in refused] == [Reason.CHALLENGE_UNKNOWN] * 3


# Credentials: ownership, counters, duplicates


def test_passkey_unknown_credential_is_refused(store: Store) -> None:
    """WA-A1: an assertion from a credential we never registered."""

    async def scenario() -> Reason:
        await _users(store)
        passkeys = _passkeys(store)
        await _registered(passkeys)
        begun = await passkeys.begin_authentication(None, require_user_verification=True, now=T0)
        stranger = SoftAuthenticator(user_handle=b"usr_x")
        return await _reason(
            passkeys.finish_authentication(
                begun.ceremony_id, stranger.get(begun.options_json), now=T0
            )
        )

    assert run(scenario()) == Reason.CREDENTIAL_UNKNOWN


def test_passkey_of_another_user_cannot_finish_a_ceremony_begun_for_this_one(store: Store) -> None:
    """WA-A1, WA-A5 (swapped credential id between users): bob's passkey in ada's ceremony."""

    async def scenario() -> PasskeyInvalid:
        await _users(store)
        passkeys = _passkeys(store)
        await _registered(passkeys, "ada")
        bobs, _ = await _registered(passkeys, "bob")
        begun = await passkeys.begin_authentication("ada", require_user_verification=True, now=T0)
        with pytest.raises(PasskeyInvalid) as caught:
            await passkeys.finish_authentication(
                begun.ceremony_id, bobs.get(begun.options_json), now=T0
            )
        return caught.value

    refused = run(scenario())
    assert refused.reason == Reason.CREDENTIAL_MISMATCH_USER
    assert refused.passkey_id is not None


def test_passkey_sign_count_that_does_not_grow_is_refused_as_a_possible_clone(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """WA-A4: stored 3, received 3 or 2 -> refused and left at 3; received 4 -> accepted."""

    async def scenario() -> tuple[list[Reason], int]:
        await _users(store)
        passkeys = _passkeys(store)
        device, _ = await _registered(passkeys)
        reasons = []
        for count in (3, 3, 2, 4):
            begun = await passkeys.begin_authentication(
                "ada", require_user_verification=True, now=T0
            )
            reply = device.get(begun.options_json, sign_count=count)
            try:
                await passkeys.finish_authentication(begun.ceremony_id, reply, now=T0)
            except PasskeyInvalid as exc:
                reasons.append(exc.reason)
        [stored] = await passkeys.list("ada")
        return reasons, stored.sign_count

    with caplog.at_level(logging.INFO, logger="zerogate.identity"):
        reasons, count = run(scenario())
    assert reasons == [Reason.SIGN_COUNT_REGRESSED] * 2
    assert count == 4
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "passkey" in r.msg]
    assert [getattr(r, "reason", None) for r in warnings] == ["sign_count_regressed"] * 2


def test_passkey_sign_count_zero_on_both_sides_is_accepted(store: Store) -> None:
    """WA-A4 (WebAuthn L3 §6.1.1): an authenticator that never counts is not a clone."""

    async def scenario() -> list[int]:
        await _users(store)
        passkeys = _passkeys(store)
        device, _ = await _registered(passkeys, authenticator=SoftAuthenticator(counting=False))
        counts = []
        for _ in range(3):
            begun = await passkeys.begin_authentication(
                None, require_user_verification=True, now=T0
            )
            verified = await passkeys.finish_authentication(
                begun.ceremony_id, device.get(begun.options_json), now=T0
            )
            counts.append(verified.sign_count)
        # Once a counter has been seen, going back to 0 is a regression.
        begun = await passkeys.begin_authentication(None, require_user_verification=True, now=T0)
        await passkeys.finish_authentication(
            begun.ceremony_id, device.get(begun.options_json, sign_count=7), now=T0
        )
        begun = await passkeys.begin_authentication(None, require_user_verification=True, now=T0)
        with pytest.raises(PasskeyInvalid) as caught:
            await passkeys.finish_authentication(
                begun.ceremony_id, device.get(begun.options_json, sign_count=0), now=T0
            )
        assert caught.value.reason == Reason.SIGN_COUNT_REGRESSED
        return counts

    assert run(scenario()) == [0, 0, 0]


def test_passkey_registered_twice_is_refused_for_any_user(store: Store) -> None:
    """WA-R8: a credential id is registered at most once, across all users."""

    async def scenario() -> list[Reason]:
        await _users(store)
        passkeys = _passkeys(store)
        device, _ = await _registered(passkeys, "ada")
        reasons = []
        for user in ("ada", "bob"):
            begun = await passkeys.begin_registration(user, require_user_verification=True, now=T0)
            reply = device.create(begun.options_json)
            reasons.append(
                await _reason(
                    passkeys.finish_registration(user, begun.ceremony_id, reply, name=None, now=T0)
                )
            )
        return reasons

    assert run(scenario()) == [Reason.DUPLICATE_CREDENTIAL] * 2
    assert _counts(store) == (1, 0)


def test_passkey_overlong_credential_id_is_refused(store: Store) -> None:
    """WA-R8: credential ids are at most 1023 bytes."""

    async def scenario() -> Reason:
        await _users(store)
        passkeys = _passkeys(store)
        begun = await passkeys.begin_registration("ada", require_user_verification=True, now=T0)
        reply = SoftAuthenticator(credential_id=b"\x01" * 1024).create(begun.options_json)
        return await _reason(
            passkeys.finish_registration("ada", begun.ceremony_id, reply, name=None, now=T0)
        )

    assert run(scenario()) == Reason.MALFORMED
    assert _counts(store) == (0, 0)


# Users that cannot sign in


def test_passkey_disabled_or_locked_user_can_neither_register_nor_sign_in(store: Store) -> None:
    """ASVS 5.0 7.4.2: a disabled user's passkeys stop working at once; a lockout also applies."""

    async def scenario() -> list[Reason]:
        await _users(store)
        directory = make_directory(store)
        passkeys = _passkeys(store)
        device, _ = await _registered(passkeys)
        begun_reg = await passkeys.begin_registration("ada", require_user_verification=True, now=T0)
        begun_auth = await passkeys.begin_authentication(
            None, require_user_verification=True, now=T0
        )
        await directory.disable_user("ada", now=T0)
        reasons = [
            await _reason(
                passkeys.begin_registration("ada", require_user_verification=True, now=T0)
            ),
            await _reason(
                passkeys.finish_registration(
                    "ada",
                    begun_reg.ceremony_id,
                    SoftAuthenticator().create(begun_reg.options_json),
                    name=None,
                    now=T0,
                )
            ),
            await _reason(
                passkeys.finish_authentication(
                    begun_auth.ceremony_id, device.get(begun_auth.options_json), now=T0
                )
            ),
        ]
        await directory.enable_user("ada", now=T0)
        for _ in range(5):  # the password lockout (5 failures) locks passkey sign-in as well
            with pytest.raises(ZerogateError):
                await directory.authenticate("ada", "wrong password!", ip="198.51.100.7", now=T0)
        begun_auth = await passkeys.begin_authentication(
            "ada", require_user_verification=True, now=T0
        )
        reasons.append(
            await _reason(
                passkeys.finish_authentication(
                    begun_auth.ceremony_id, device.get(begun_auth.options_json), now=T0
                )
            )
        )
        return reasons

    assert run(scenario()) == [
        Reason.USER_DISABLED,
        Reason.USER_DISABLED,
        Reason.USER_DISABLED,
        Reason.USER_LOCKED,
    ]
    assert _counts(store) == (1, 0)


# Malformed input


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "not json",
        "[]",
        "null",
        '{"id": "x"}',
        '{"id": "AA", "rawId": "AA", "type": "public-key", "response": {}}',
        '{"id": "!!", "rawId": "!!", "type": "public-key", "response": {"clientDataJSON": "!!", "authenticatorData": "!!", "signature": "!!"}}',
        "[" * 30_000 + "]" * 30_000,  # under the size cap, deep enough to break a recursive parser
        json.dumps({"padding": "x" * PASSKEY_CREDENTIAL_JSON_MAX_BYTES}),
    ],
    ids=["empty", "text", "array", "null", "partial", "no-response", "bad-base64", "deep", "huge"],
)
def test_passkey_malformed_or_oversized_response_is_refused_cleanly(
    store: Store, reply: str
) -> None:
    """WA-A5: garbage is `malformed`, spends the ceremony, and writes nothing else."""

    async def scenario() -> list[Reason]:
        await _users(store)
        passkeys = _passkeys(store)
        await _registered(passkeys)
        begun_reg = await passkeys.begin_registration("ada", require_user_verification=True, now=T0)
        begun_auth = await passkeys.begin_authentication(
            None, require_user_verification=True, now=T0
        )
        return [
            await _reason(
                passkeys.finish_registration("ada", begun_reg.ceremony_id, reply, name=None, now=T0)
            ),
            await _reason(passkeys.finish_authentication(begun_auth.ceremony_id, reply, now=T0)),
        ]

    assert run(scenario()) == [Reason.MALFORMED] * 2
    assert _counts(store) == (1, 0)


def test_passkey_failures_are_opaque_to_the_caller() -> None:
    """STYLE §9: one code and message; the reason stays out of the rendered error."""
    error = PasskeyInvalid(Reason.SIGN_COUNT_REGRESSED, user_id=None, passkey_id="pk_1")
    assert error.as_dict() == {"code": "passkey_invalid", "message": PasskeyInvalid.MESSAGE}
    assert "sign_count" not in str(error)
    assert error.status == 401


# Listing, naming, removal and change records


def test_passkey_list_rename_remove_and_changes_are_recorded(store: Store) -> None:
    """CAEP credential-change: registration and removal reach the recorder, in their transaction."""

    async def scenario() -> tuple[list[ChangeKind], list[str | None]]:
        await _users(store)
        recorder = Recorder()
        passkeys = _passkeys(store, on_change=recorder)
        _, first = await _registered(passkeys)
        _, second = await _registered(passkeys, now=later(1))
        renamed = await passkeys.rename("ada", second.id, "  Phone  ")
        assert renamed.name == "Phone"
        names = [p.name for p in await passkeys.list("ada")]
        removed = await passkeys.remove("ada", first.id, now=later(1))
        assert removed.id == first.id
        with pytest.raises(NotFound) as caught:
            await passkeys.remove("ada", first.id, now=later(2))
        assert caught.value.code == "passkey_not_found"
        with pytest.raises(NotFound):
            await passkeys.remove("bob", second.id, now=later(2))  # not bob's
        with pytest.raises(NotFound):
            await passkeys.rename("bob", second.id, "mine")
        assert {c.entity_id for c in recorder.changes} == {"ada"}
        return [c.kind for c in recorder.changes], names

    kinds, names = run(scenario())
    assert kinds == [
        ChangeKind.PASSKEY_REGISTERED,
        ChangeKind.PASSKEY_REGISTERED,
        ChangeKind.PASSKEY_REMOVED,
    ]
    assert names == ["Laptop", "Phone"]
    assert _counts(store) == (1, 0)


def test_passkey_registration_is_undone_when_its_recorder_fails(store: Store) -> None:
    """The recorder runs in the registering transaction: if it fails, no passkey is stored."""

    async def scenario() -> None:
        await _users(store)
        passkeys = _passkeys(store, on_change=Recorder(fail_on=ChangeKind.PASSKEY_REGISTERED))
        with pytest.raises(RuntimeError):
            await _registered(passkeys)
        assert await passkeys.list("ada") == []

    run(scenario())


def test_passkey_name_is_checked_before_the_ceremony_is_touched(store: Store) -> None:
    async def scenario() -> str:
        await _users(store)
        passkeys = _passkeys(store)
        begun = await passkeys.begin_registration("ada", require_user_verification=True, now=T0)
        reply = SoftAuthenticator().create(begun.options_json)
        with pytest.raises(InvalidInput) as caught:
            await passkeys.finish_registration("ada", begun.ceremony_id, reply, name="a\nb", now=T0)
        await passkeys.finish_registration("ada", begun.ceremony_id, reply, name=None, now=T0)
        return caught.value.code

    assert run(scenario()) == "passkey_name_invalid"


def test_passkey_deleting_a_user_deletes_its_passkeys_and_ceremonies(store: Store) -> None:
    async def scenario() -> None:
        await _users(store)
        passkeys = _passkeys(store)
        await _registered(passkeys)
        await passkeys.begin_registration("ada", require_user_verification=True, now=T0)
        await make_directory(store).delete_user("ada", now=T0)

    run(scenario())
    assert _counts(store) == (0, 0)


# Limits and configuration


def test_passkey_limits_per_user_and_pending_ceremonies(store: Store) -> None:
    async def scenario() -> tuple[str, str, int]:
        await _users(store)
        passkeys = _passkeys(store, limits=PasskeyLimits(max_per_user=1, max_pending=2))
        await _registered(passkeys)
        with pytest.raises(Conflict) as full:
            await passkeys.begin_registration("ada", require_user_verification=True, now=T0)
        await passkeys.begin_authentication(None, require_user_verification=True, now=T0)
        await passkeys.begin_authentication(None, require_user_verification=True, now=T0)
        with pytest.raises(ZerogateError) as busy:
            await passkeys.begin_authentication(None, require_user_verification=True, now=T0)
        # Once they expire, room is made again.
        await passkeys.begin_authentication(None, require_user_verification=True, now=later(301))
        return full.value.code, busy.value.code, _counts(store)[1]

    assert run(scenario()) == ("passkey_limit_reached", "passkey_busy", 1)


def test_passkey_settings_errors_are_reported_at_once(store: Store) -> None:
    """STYLE §10/§11: origins are an exact allowlist of https origins under the RP ID."""
    with pytest.raises(InvalidInput) as caught:
        Passkeys(
            store,
            rp_id="https://example.com",
            rp_name="",
            expected_origins=[
                "http://example.com",
                "https://example.com/",
                "https://example.com:443",
                "https://EXAMPLE.com",
                "https://example.org",
            ],
            ceremony_ttl=timedelta(hours=1),
        )
    error = caught.value
    assert error.code == "passkey_config_invalid"
    assert [d.loc for d in error.details] == [
        "ceremony_ttl",
        "expected_origins.0",
        "expected_origins.1",
        "expected_origins.2",
        "expected_origins.3",
        "expected_origins.4",
        "rp_id",
        "rp_name",
    ]
    with pytest.raises(InvalidInput) as caught:
        Passkeys(store, rp_id="example.com", rp_name="Zerogate", expected_origins=[])
    assert caught.value.code == "passkey_origin_invalid"
    # Subdomains and localhost for development are fine.
    Passkeys(
        store,
        rp_id="localhost",
        rp_name="Zerogate",
        expected_origins=["http://localhost:8181", "https://localhost"],
    )
    Passkeys(store, rp_id=RP_ID, rp_name="Z", expected_origins=["https://a.b.example.com:8443"])
