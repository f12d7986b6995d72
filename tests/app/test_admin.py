"""The composition root's identity wiring: changes become events and revoke sessions together."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.identity._support import T0, later, run
from zerogate.app.admin import directory
from zerogate.config import load_settings
from zerogate.identity import SessionInvalid, Sessions
from zerogate.store import Store, events
from zerogate.store import sessions as sessions_table


def test_disabling_a_user_revokes_their_sessions_for_good(store: Store) -> None:
    """ASVS 7.4.2: disable → sessions revoked in the same transaction, and re-enable keeps them so."""

    async def scenario() -> None:
        settings = load_settings(None, environ={})
        users = directory(store, settings)
        sessions = Sessions(store)
        user = await users.add_user("ada", "ada@example.test", now=T0)
        new = await sessions.create(
            user, amr=("pwd",), auth_time=T0, ip="198.51.100.7", user_agent="test", now=T0
        )
        assert (await sessions.resolve(new.token, now=later(1))).user_id == user.id
        await users.disable_user("ada", now=later(2))
        await users.enable_user("ada", now=later(3))
        with pytest.raises(SessionInvalid):
            await sessions.resolve(new.token, now=later(4))
        with store.connect() as conn:
            reasons = conn.execute(select(sessions_table.c.revoked_reason)).scalars().all()
            changes = conn.execute(select(events.c.payload)).scalars().all()
        assert reasons == ["user_disabled"]
        # One event tells every holder: the user_disabled change (no separate revocation event).
        assert sum('"user_disabled"' in p for p in changes) == 1

    run(scenario())
