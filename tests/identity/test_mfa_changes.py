"""Credential changes reach the change recorder inside the transaction that made them."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest

from tests.identity._support import T0, CountingHasher, Recorder, make_directory, run
from zerogate.identity import TOTP, ChangeKind, RecoveryCodes
from zerogate.store import Store


def test_mfa_changes_are_recorded_in_order(store: Store) -> None:
    async def scenario() -> list[ChangeKind]:
        recorder = Recorder()
        await make_directory(store).add_user("ada", "ada@example.com", now=T0)
        totp = TOTP(store, on_change=recorder)
        codes = RecoveryCodes(store, hasher=CountingHasher(), on_change=recorder)
        enrolment = await totp.begin_enrolment("ada", label="Phone", now=T0)
        code = pyotp.TOTP(enrolment.secret).at(T0)
        await totp.confirm_enrolment("ada", enrolment.credential.id, code, now=T0)
        fresh = await codes.generate("ada", count=2, now=T0)
        await codes.use("ada", fresh[0], now=T0 + timedelta(seconds=1))
        await totp.remove("ada", enrolment.credential.id, now=T0 + timedelta(seconds=2))
        assert {c.entity_id for c in recorder.changes} == {"ada"}
        return [c.kind for c in recorder.changes]

    assert run(scenario()) == [
        ChangeKind.TOTP_ENROLLED,
        ChangeKind.RECOVERY_CODES_GENERATED,
        ChangeKind.RECOVERY_CODE_USED,
        ChangeKind.TOTP_REMOVED,
    ]


def test_mfa_change_is_undone_when_its_recorder_fails(store: Store) -> None:
    """The recorder runs in the transaction: if it fails, the enrolment does not happen."""

    async def scenario() -> bool:
        await make_directory(store).add_user("ada", "ada@example.com", now=T0)
        totp = TOTP(store, on_change=Recorder(fail_on=ChangeKind.TOTP_ENROLLED))
        enrolment = await totp.begin_enrolment("ada", label="Phone", now=T0)
        code = pyotp.TOTP(enrolment.secret).at(T0)
        with pytest.raises(RuntimeError):
            await totp.confirm_enrolment("ada", enrolment.credential.id, code, now=T0)
        return (await totp.list("ada"))[0].confirmed

    assert run(scenario()) is False
