"""`zerogate mfa ...` against real SQLite and PostgreSQL stores."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from typing import Any

import pyotp
from typer.testing import CliRunner

from zerogate.cli import app
from zerogate.identity import TOTP
from zerogate.store import open_store


def _run(store_url: str, *args: str) -> tuple[int, str, str]:
    env = {"ZEROGATE_STORE__URL": store_url, "COLUMNS": "200", "NO_COLOR": "1"}
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def _json(store_url: str, *args: str) -> tuple[int, Any]:
    code, out, _ = _run(store_url, "--json", *args)
    return code, json.loads(out)


def _enrol(store_url: str, user: str) -> str:
    """Enrol and confirm a TOTP credential the way the sign-in UI will; returns its id."""
    now = datetime.now(UTC)
    store = open_store(store_url)
    try:
        totp = TOTP(store)

        async def enrol() -> str:
            enrolment = await totp.begin_enrolment(user, label="Phone", now=now)
            code = pyotp.TOTP(enrolment.secret).at(now)
            await totp.confirm_enrolment(user, enrolment.credential.id, code, now=now)
            return enrolment.credential.id

        return asyncio.run(enrol())
    finally:
        store.close()


def test_mfa_list_remove_and_recovery_codes(store_url: str) -> None:
    assert (
        _run(store_url, "user", "add", "ada", "--email", "ada@example.com", "--no-password")[0] == 0
    )
    code, out, _ = _run(store_url, "mfa", "list", "ada")
    assert code == 0
    assert "no TOTP credentials" in out
    credential_id = _enrol(store_url, "ada")
    code, body = _json(store_url, "mfa", "list", "ada")
    assert code == 0
    [credential] = body["totp"]
    assert (credential["id"], credential["label"], credential["confirmed"]) == (
        credential_id,
        "Phone",
        True,
    )
    assert "secret" not in credential
    assert body["recovery_codes_remaining"] == 0

    code, body = _json(store_url, "mfa", "recovery-codes", "ada", "--count", "2")
    assert code == 0
    assert all(re.fullmatch(r"[a-z2-9]{5}-[a-z2-9]{5}", c) for c in body["recovery_codes"])
    assert len(body["recovery_codes"]) == 2
    code, out, _ = _run(store_url, "mfa", "list", "ada")
    assert "recovery codes unused: 2" in out
    assert credential_id in out

    code, body = _json(store_url, "mfa", "totp-remove", "ada", credential_id, "--yes")
    assert code == 0
    assert body["removed"]["id"] == credential_id
    code, body = _json(store_url, "mfa", "totp-remove", "ada", credential_id, "--yes")
    assert code == 1
    assert body["code"] == "totp_not_found"


def test_mfa_remove_needs_confirmation_without_a_terminal(store_url: str) -> None:
    assert (
        _run(store_url, "user", "add", "ada", "--email", "ada@example.com", "--no-password")[0] == 0
    )
    code, body = _json(store_url, "mfa", "totp-remove", "ada", "totp_x")
    assert code == 1
    assert body["code"] == "confirmation_required"


def test_mfa_unknown_user(store_url: str) -> None:
    code, body = _json(store_url, "mfa", "list", "nobody")
    assert code == 1
    assert body["code"] == "user_not_found"
