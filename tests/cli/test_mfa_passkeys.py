"""`zerogate mfa passkey-list` / `passkey-remove` against real SQLite and PostgreSQL stores."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from typer.testing import CliRunner

from tests.identity._authenticator import ORIGIN, RP_ID, SoftAuthenticator
from zerogate.cli import app
from zerogate.control import TOPIC_ENTITY_CHANGED
from zerogate.identity import Passkeys
from zerogate.store import events, open_store


def _run(store_url: str, *args: str) -> tuple[int, str, str]:
    env = {"ZEROGATE_STORE__URL": store_url, "COLUMNS": "200", "NO_COLOR": "1"}
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def _json(store_url: str, *args: str) -> tuple[int, Any]:
    code, out, _ = _run(store_url, "--json", *args)
    return code, json.loads(out)


def _register(store_url: str, user: str, *, synced: bool = False) -> str:
    """Register a passkey the way the sign-in UI will; returns its id."""
    now = datetime.now(UTC)
    store = open_store(store_url)
    try:
        passkeys = Passkeys(store, rp_id=RP_ID, rp_name="Zerogate", expected_origins=[ORIGIN])
        device = SoftAuthenticator(backup_eligible=synced)

        async def register() -> str:
            begun = await passkeys.begin_registration(user, require_user_verification=True, now=now)
            added = await passkeys.finish_registration(
                user, begun.ceremony_id, device.create(begun.options_json), name="Laptop", now=now
            )
            return added.id

        return asyncio.run(register())
    finally:
        store.close()


def _changes(store_url: str) -> list[Any]:
    store = open_store(store_url)
    try:
        with store.connect() as conn:
            rows = conn.execute(
                select(events.c.payload).where(events.c.topic == TOPIC_ENTITY_CHANGED)
            )
            return [json.loads(r.payload)["change"] for r in rows]
    finally:
        store.close()


def test_mfa_passkey_list_and_remove(store_url: str) -> None:
    assert (
        _run(store_url, "user", "add", "ada", "--email", "ada@example.com", "--no-password")[0] == 0
    )
    code, out, _ = _run(store_url, "mfa", "passkey-list", "ada")
    assert (code, out.strip()) == (0, "no passkeys")
    device_bound = _register(store_url, "ada")
    synced = _register(store_url, "ada", synced=True)

    code, body = _json(store_url, "mfa", "passkey-list", "ada")
    assert code == 0
    listed = body["passkeys"]
    assert [p["id"] for p in listed] == [device_bound, synced]
    assert [p["device_bound"] for p in listed] == [True, False]
    assert listed[0]["name"] == "Laptop"
    assert listed[0]["last_used_at"] is None
    assert "public_key" not in listed[0]
    code, out, _ = _run(store_url, "mfa", "passkey-list", "ada")
    assert device_bound in out
    assert "device-bound" in out
    assert "syncable" in out

    code, body = _json(store_url, "mfa", "passkey-remove", "ada", device_bound, "--yes")
    assert code == 0
    assert body["removed"]["id"] == device_bound
    code, body = _json(store_url, "mfa", "passkey-remove", "ada", device_bound, "--yes")
    assert code == 1
    assert body["code"] == "passkey_not_found"
    code, out, _ = _run(store_url, "mfa", "passkey-remove", "ada", synced, "--yes")
    assert code == 0
    assert f"removed passkey {synced}" in out
    # Only the removals went through the CLI's recorder, as `entity.changed` events.
    assert _changes(store_url).count("passkey_removed") == 2


def test_mfa_passkey_remove_needs_confirmation_without_a_terminal(store_url: str) -> None:
    assert (
        _run(store_url, "user", "add", "ada", "--email", "ada@example.com", "--no-password")[0] == 0
    )
    code, body = _json(store_url, "mfa", "passkey-remove", "ada", "pk_x")
    assert code == 1
    assert body["code"] == "confirmation_required"


def test_mfa_passkey_list_unknown_user(store_url: str) -> None:
    code, body = _json(store_url, "mfa", "passkey-list", "nobody")
    assert code == 1
    assert body["code"] == "user_not_found"
