"""`zerogate session ...` against real SQLite and PostgreSQL stores."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from typer.testing import CliRunner

from zerogate.cli import app
from zerogate.control import TOPIC_ENTITY_CHANGED
from zerogate.identity import Directory, Sessions
from zerogate.store import events, open_store


def _run(store_url: str, *args: str) -> tuple[int, str, str]:
    env = {"ZEROGATE_STORE__URL": store_url, "COLUMNS": "200", "NO_COLOR": "1"}
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def _json(store_url: str, *args: str) -> tuple[int, Any]:
    code, out, _ = _run(store_url, "--json", *args)
    return code, json.loads(out)


def _sign_in(store_url: str, count: int) -> list[str]:
    """Create user ada with `count` sessions (created now, so the CLI's clock sees them live)."""

    async def scenario() -> list[str]:
        store = open_store(store_url)
        try:
            ada = await Directory(store).add_user("ada", "ada@example.com", now=datetime.now(UTC))
            s = Sessions(store)
            made = [
                await s.create(
                    ada,
                    amr=["pwd", "otp"],
                    auth_time=datetime.now(UTC),
                    ip="198.51.100.7",
                    user_agent="test",
                    now=datetime.now(UTC),
                )
                for _ in range(count)
            ]
            return [m.session.id for m in made]
        finally:
            store.close()

    return asyncio.run(scenario())


def _revocation_events(store_url: str) -> list[dict[str, Any]]:
    store = open_store(store_url)
    try:
        with store.connect() as conn:
            rows = conn.execute(select(events).where(events.c.topic == TOPIC_ENTITY_CHANGED))
            payloads = [
                json.loads(r.payload) if isinstance(r.payload, str) else r.payload for r in rows
            ]
    finally:
        store.close()
    return [p for p in payloads if p.get("change") == "sessions_revoked"]


def test_session_list_and_revoke_one(store_url: str) -> None:
    first, second = _sign_in(store_url, 2)
    code, out, err = _run(store_url, "session", "list", "ada")
    assert code == 0, err
    assert first[:12] in out
    assert second[:12] in out
    assert "pwd otp" in out
    assert "198.51.100.7" in out
    code, body = _json(store_url, "session", "list", "ada@example.com")
    assert code == 0
    assert sorted(s["id"] for s in body["sessions"]) == sorted([first, second])
    code, out, err = _run(
        store_url, "session", "revoke", "--id", first[:10], "--reason", "lost laptop"
    )
    assert code == 0, err
    assert "revoked 1 session of ada" in out
    code, body = _json(store_url, "session", "list", "ada")
    assert [s["id"] for s in body["sessions"]] == [second]
    [event] = _revocation_events(store_url)
    assert event == {
        "type": "User",
        "id": "ada",
        "change": "sessions_revoked",
        "user_id": event["user_id"],
        "session_ids": [first],
    }
    code, body = _json(store_url, "session", "revoke", "--id", first[:10])
    assert (code, body["code"]) == (1, "session_not_found")


def test_session_revoke_all(store_url: str) -> None:
    ids = _sign_in(store_url, 3)
    code, body = _json(store_url, "session", "revoke", "--user", "ada", "--all")
    assert code == 0
    assert sorted(body["change"]["session_ids"]) == sorted(ids)
    assert body["change"]["reason"] == "revoked by an administrator"
    code, out, _ = _run(store_url, "session", "list", "ada")
    assert (code, out.strip()) == (0, "no live sessions for ada")


def test_session_revoke_needs_id_or_user_all(store_url: str) -> None:
    for args in ((), ("--user", "ada"), ("--all",), ("--id", "abcdef12", "--user", "ada", "--all")):
        code, body = _json(store_url, "session", "revoke", *args)
        assert (code, body["code"]) == (1, "usage_error"), args
