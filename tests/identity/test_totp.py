"""TOTP (RFC 6238): Appendix B vectors, enrolment, drift window, replay, concurrency, throttling."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from tests.identity._support import T0, make_directory, run
from zerogate.errors import Conflict, InvalidInput, NotFound
from zerogate.identity import (
    TOTP,
    MFALimits,
    TOTPEnrolment,
    TOTPFailureReason,
    TOTPInvalid,
    VerifiedTOTP,
)
from zerogate.identity._totp import UNCONFIRMED_TTL, code_at, time_step
from zerogate.store import Store

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "rfc6238.json"
STEP = timedelta(seconds=30)


def _code(secret: str, at: datetime) -> str:
    """What an authenticator app shows at `at` (pyotp, independent of our step arithmetic)."""
    return pyotp.TOTP(secret).at(at)


async def _enrolled(store: Store, *, confirm: bool = True) -> tuple[TOTP, TOTPEnrolment]:
    await make_directory(store).add_user("ada", "ada@example.com", now=T0)
    totp = TOTP(store)
    enrolment = await totp.begin_enrolment("ada", label="Phone", now=T0)
    if confirm:
        await totp.confirm_enrolment(
            "ada", enrolment.credential.id, _code(enrolment.secret, T0), now=T0
        )
    return totp, enrolment


def test_totp_matches_rfc6238_appendix_b_vectors() -> None:
    data = json.loads(VECTORS.read_text())
    secret = base64.b32encode(data["seed_ascii"].encode()).decode()
    for vector in data["vectors"]:
        at = datetime.fromtimestamp(vector["unix_time"], UTC)
        assert time_step(at) == vector["step"]
        assert code_at(secret, vector["step"], digits=data["digits"]) == vector["totp"]


def test_totp_enrolment_gives_a_uri_and_an_inline_svg(store: Store) -> None:
    _, enrolment = run(_enrolled(store, confirm=False))
    assert re.fullmatch(r"[A-Z2-7]{32}", enrolment.secret)  # 160 bits of base32
    parts = urlsplit(enrolment.provisioning_uri)
    assert (parts.scheme, parts.netloc, parts.path) == ("otpauth", "totp", "/Zerogate:ada")
    query = parse_qs(parts.query)
    assert query["secret"] == [enrolment.secret]
    assert query["issuer"] == ["Zerogate"]
    assert query["digits"] == ["6"]
    assert query["period"] == ["30"]
    assert query["algorithm"] == ["SHA1"]
    assert enrolment.qr_svg.startswith("<svg")
    assert enrolment.qr_svg.rstrip().endswith("</svg>")
    assert "http" not in enrolment.qr_svg.replace("http://www.w3.org", "")  # nothing external
    assert enrolment.credential.confirmed is False
    assert enrolment.credential.label == "Phone"


def test_totp_enrol_confirm_verify(store: Store) -> None:
    async def scenario() -> tuple[VerifiedTOTP, list[bool]]:
        totp, enrolment = await _enrolled(store)
        at = T0 + 2 * STEP
        verified = await totp.verify("ada", _code(enrolment.secret, at), now=at)
        return verified, [c.confirmed for c in await totp.list("ada")]

    verified, confirmed = run(scenario())
    assert verified.amr == ("otp",)
    assert verified.user.username == "ada"
    assert verified.time_step == time_step(T0 + 2 * STEP)
    assert confirmed == [True]


def test_totp_accepts_one_step_of_drift_and_refuses_two(store: Store) -> None:
    async def scenario() -> list[str]:
        totp, enrolment = await _enrolled(store)
        outcomes = []
        # (code's time, server's time): one step behind, one ahead, two behind, two ahead.
        for code_at_s, now_s in ((300, 330), (630, 600), (840, 900), (1260, 1200)):
            code = _code(enrolment.secret, T0 + timedelta(seconds=code_at_s))
            try:
                await totp.verify("ada", code, now=T0 + timedelta(seconds=now_s))
                outcomes.append("ok")
            except TOTPInvalid as exc:
                outcomes.append(str(exc.reason))
        return outcomes

    assert run(scenario()) == ["ok", "ok", "wrong_code", "wrong_code"]


def test_totp_refuses_a_replayed_code_and_older_steps(store: Store) -> None:
    async def scenario() -> list[TOTPFailureReason]:
        totp, enrolment = await _enrolled(store)
        at = T0 + 10 * STEP
        await totp.verify("ada", _code(enrolment.secret, at), now=at)
        reasons = []
        for code_time, now in ((at, at), (at, at + STEP), (at - STEP, at)):
            with pytest.raises(TOTPInvalid) as caught:
                await totp.verify("ada", _code(enrolment.secret, code_time), now=now)
            reasons.append(caught.value.reason)
        return reasons

    assert run(scenario()) == [TOTPFailureReason.REPLAYED] * 3


def test_totp_code_used_to_confirm_cannot_sign_in(store: Store) -> None:
    async def scenario() -> TOTPFailureReason:
        totp, enrolment = await _enrolled(store)
        with pytest.raises(TOTPInvalid) as caught:
            await totp.verify("ada", _code(enrolment.secret, T0), now=T0)
        return caught.value.reason

    assert run(scenario()) is TOTPFailureReason.REPLAYED


def test_totp_concurrent_verifies_of_one_code_exactly_one_wins(store: Store) -> None:
    async def scenario() -> list[VerifiedTOTP | BaseException]:
        totp, enrolment = await _enrolled(store)
        at = T0 + 5 * STEP
        code = _code(enrolment.secret, at)
        return await asyncio.gather(
            *(totp.verify("ada", code, now=at) for _ in range(4)), return_exceptions=True
        )

    results = run(scenario())
    assert sum(isinstance(r, VerifiedTOTP) for r in results) == 1
    losers = [r for r in results if not isinstance(r, VerifiedTOTP)]
    assert all(isinstance(r, TOTPInvalid) and r.reason == "replayed" for r in losers)


def test_totp_unconfirmed_credential_cannot_sign_in(store: Store) -> None:
    async def scenario() -> list[TOTPFailureReason]:
        totp, enrolment = await _enrolled(store, confirm=False)
        await make_directory(store).add_user("bob", "bob@example.com", now=T0)
        reasons = []
        for user in ("ada", "bob"):
            with pytest.raises(TOTPInvalid) as caught:
                await totp.verify(user, _code(enrolment.secret, T0), now=T0)
            reasons.append(caught.value.reason)
        return reasons

    assert run(scenario()) == [TOTPFailureReason.NOT_CONFIRMED, TOTPFailureReason.NO_CREDENTIAL]


def test_totp_confirm_errors(store: Store) -> None:
    async def scenario() -> None:
        totp, enrolment = await _enrolled(store, confirm=False)
        credential_id = enrolment.credential.id
        with pytest.raises(TOTPInvalid) as wrong:
            await totp.confirm_enrolment("ada", credential_id, "000000", now=T0)
        assert wrong.value.reason is TOTPFailureReason.WRONG_CODE
        with pytest.raises(NotFound) as missing:
            await totp.confirm_enrolment("ada", "totp_nope", "000000", now=T0)
        assert missing.value.code == "totp_not_found"
        await totp.confirm_enrolment("ada", credential_id, _code(enrolment.secret, T0), now=T0)
        at = T0 + STEP
        with pytest.raises(Conflict) as again:
            await totp.confirm_enrolment("ada", credential_id, _code(enrolment.secret, at), now=at)
        assert again.value.code == "totp_already_confirmed"

    run(scenario())


def test_totp_malformed_codes_are_invalid_input(store: Store) -> None:
    async def scenario() -> list[str]:
        totp, enrolment = await _enrolled(store)
        codes = []
        for code in (
            "12345",
            "1234567",
            "12a456",
            "\uff11\uff12\uff13\uff14\uff15\uff16",
            "1" * 100,
            "",
        ):
            with pytest.raises(InvalidInput) as caught:
                await totp.verify("ada", code, now=T0)
            codes.append(caught.value.code)
        at = T0 + STEP
        spaced = _code(enrolment.secret, at)
        await totp.verify("ada", f"{spaced[:3]} {spaced[3:]}", now=at)  # as apps display it
        return codes

    assert set(run(scenario())) == {"totp_code_malformed"}


def test_totp_throttles_failures_per_user(store: Store) -> None:
    async def scenario() -> list[str]:
        await make_directory(store).add_user("ada", "ada@example.com", now=T0)
        totp = TOTP(store, limits=MFALimits(attempts=3))
        enrolment = await totp.begin_enrolment("ada", label=None, now=T0)
        secret = enrolment.secret
        await totp.confirm_enrolment("ada", enrolment.credential.id, _code(secret, T0), now=T0)
        outcomes = []
        for i in range(5):
            at = T0 + timedelta(seconds=31 + i)
            good = i == 4  # the right code once the budget is gone is still refused
            code = _code(secret, at) if good else "000000"
            try:
                await totp.verify("ada", code, now=at)
                outcomes.append("ok")
            except TOTPInvalid as exc:
                outcomes.append(str(exc.reason))
        later = T0 + timedelta(minutes=3)
        await totp.verify("ada", _code(secret, later), now=later)
        return outcomes

    assert run(scenario()) == ["wrong_code", "wrong_code", "wrong_code", "throttled", "throttled"]


def test_totp_remove_and_list(store: Store) -> None:
    async def scenario() -> None:
        totp, enrolment = await _enrolled(store)
        second = await totp.begin_enrolment("ada", label="Spare", now=T0 + STEP)
        listed = await totp.list("ada")
        assert [(c.label, c.confirmed) for c in listed] == [("Phone", True), ("Spare", False)]
        removed = await totp.remove("ada", enrolment.credential.id, now=T0)
        assert removed.id == enrolment.credential.id
        assert [c.id for c in await totp.list("ada")] == [second.credential.id]
        with pytest.raises(NotFound) as caught:
            await totp.remove("ada", enrolment.credential.id, now=T0)
        assert caught.value.code == "totp_not_found"
        at = T0 + 4 * STEP
        with pytest.raises(TOTPInvalid):
            await totp.verify("ada", _code(enrolment.secret, at), now=at)

    run(scenario())


def test_totp_secrets_stay_out_of_repr_and_errors(store: Store) -> None:
    totp, enrolment = run(_enrolled(store, confirm=False))
    shown = repr(enrolment) + repr(totp) + repr(enrolment.credential)
    assert enrolment.secret not in shown
    assert "otpauth" not in shown
    assert "svg" not in shown
    error = TOTPInvalid(TOTPFailureReason.REPLAYED)
    assert "replayed" not in str(error) + repr(error.as_dict())
    assert error.as_dict() == {"code": "totp_invalid", "message": TOTPInvalid.MESSAGE}


def test_totp_label_is_checked(store: Store) -> None:
    async def scenario() -> str:
        await make_directory(store).add_user("ada", "ada@example.com", now=T0)
        with pytest.raises(InvalidInput) as caught:
            await TOTP(store).begin_enrolment("ada", label="x" * 201, now=T0)
        return caught.value.code

    assert run(scenario()) == "totp_label_invalid"


def test_totp_a_new_enrolment_discards_unconfirmed_ones_and_old_ones_expire(store: Store) -> None:
    """Showing the enrolment page again leaves no stray seeds behind; a QR code shown long ago
    cannot be confirmed any more."""

    async def scenario() -> None:
        totp, first = await _enrolled(store, confirm=False)
        second = await totp.begin_enrolment("ada", label="again", now=T0)
        assert [c.id for c in await totp.list("ada")] == [second.credential.id]
        with pytest.raises(NotFound):
            await totp.confirm_enrolment(
                "ada", first.credential.id, _code(first.secret, T0), now=T0
            )
        late = T0 + UNCONFIRMED_TTL + STEP
        with pytest.raises(NotFound):
            await totp.confirm_enrolment(
                "ada", second.credential.id, _code(second.secret, late), now=late
            )

    run(scenario())
