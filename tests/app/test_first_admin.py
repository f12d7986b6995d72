"""The first administrator `zerogate up` creates on an empty directory, shown once."""

from __future__ import annotations

from tests.identity._support import T0, run
from zerogate.app._first_admin import ADMIN_GROUP, ensure_first_admin
from zerogate.app.admin import directory
from zerogate.clock import FixedClock
from zerogate.config import load_settings
from zerogate.store import Store


def test_an_empty_directory_gets_one_admin_whose_password_works_once_shown(store: Store) -> None:
    settings = load_settings(environ={}, path=None)
    clock = FixedClock(at=T0)

    async def scenario() -> None:
        first = await ensure_first_admin(store, settings, clock=clock)
        assert first is not None
        assert first.password not in repr(first)  # never in a log line
        people = directory(store, settings)
        verified = await people.authenticate("admin", first.password, ip="127.0.0.1", now=T0)
        assert verified.user.username == "admin"
        assert [g.name for g in await people.groups_of("admin")] == [ADMIN_GROUP]
        # Never again: a directory with anyone in it is left alone.
        assert await ensure_first_admin(store, settings, clock=clock) is None
        assert [u.username for u in await people.list_users()] == ["admin"]

    run(scenario())


def test_a_directory_with_people_gets_no_admin(store: Store) -> None:
    settings = load_settings(environ={}, path=None)

    async def scenario() -> None:
        people = directory(store, settings)
        await people.add_user("ada", "ada@example.test", now=T0)
        assert await ensure_first_admin(store, settings, clock=FixedClock(at=T0)) is None
        assert [u.username for u in await people.list_users()] == ["ada"]

    run(scenario())
