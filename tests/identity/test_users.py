"""Users on real SQLite and PostgreSQL: create, read, disable, enable, delete, passwords, atomicity."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from zerogate.errors import Conflict, InvalidInput, NotFound
from zerogate.identity import ChangeKind, IdentityChange
from zerogate.store import Store, group_members, users

from ._support import GOOD_PASSWORD, T0, Recorder, later, make_directory, run


def _count(store: Store, table: object) -> int:
    with store.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_add_user_normalises_and_reads_back(store: Store) -> None:
    async def scenario() -> None:
        d = make_directory(store)
        user = await d.add_user(
            "Alice.Liddell", "Alice@Example.COM", display_name="  Alice L  ", now=T0
        )
        assert (user.username, user.email, user.display_name) == (
            "alice.liddell",
            "alice@example.com",
            "Alice L",
        )
        assert user.id.startswith("usr_")
        assert not user.disabled
        assert not user.has_password
        assert (user.failed_logins, user.locked_until) == (0, None)
        assert user.created_at == user.updated_at == T0
        assert await d.get_user("ALICE.LIDDELL") == user
        assert await d.get_user("alice@EXAMPLE.com") == user
        assert await d.get_user_by_id(user.id) == user

    run(scenario())


def test_user_repr_and_rows_never_hold_a_plain_password(store: Store) -> None:
    async def scenario() -> None:
        d = make_directory(store)
        user = await d.add_user("alice", "alice@example.com", password=GOOD_PASSWORD, now=T0)
        assert user.has_password
        assert "argon2" not in repr(user)
        assert GOOD_PASSWORD not in repr(user)
        with store.connect() as conn:
            stored = conn.execute(select(users.c.password_hash)).scalar_one()
        assert stored.startswith("$argon2id$")
        assert GOOD_PASSWORD not in stored

    run(scenario())


def test_list_users_is_ordered_by_username(store: Store) -> None:
    async def scenario() -> None:
        d = make_directory(store)
        for name in ("carol", "alice", "bob"):
            await d.add_user(name, f"{name}@example.com", now=T0)
        assert [u.username for u in await d.list_users()] == ["alice", "bob", "carol"]

    run(scenario())


def test_add_user_rejects_taken_username_or_email(store: Store) -> None:
    async def scenario() -> None:
        d = make_directory(store)
        await d.add_user("alice", "alice@example.com", now=T0)
        for username, email, field in [
            ("alice", "other@example.com", "username"),
            ("ALICE", "other@example.com", "username"),
            ("other", "alice@example.com", "email"),
            ("other", "ALICE@example.COM", "email"),
        ]:
            with pytest.raises(Conflict) as info:
                await d.add_user(username, email, now=T0)
            assert info.value.code == "user_exists"
            assert field in info.value.message
        assert len(await d.list_users()) == 1

    run(scenario())


def test_add_user_reports_every_invalid_field_at_once(store: Store) -> None:
    async def scenario() -> None:
        d = make_directory(store)
        with pytest.raises(InvalidInput) as info:
            await d.add_user("-bad-", "not-an-email", display_name="a\nb", password="short", now=T0)
        assert info.value.code == "user_invalid"
        codes = sorted(detail.code for detail in info.value.details)
        assert codes == [
            "display_name_invalid",
            "email_invalid",
            "password_too_short",
            "username_invalid",
        ]
        with pytest.raises(InvalidInput) as one:
            await d.add_user("ok", "ok@example.com", password="password", now=T0)
        assert one.value.code == "password_too_weak"
        assert [d.code for d in one.value.details] == ["password_common"]
        assert await d.list_users() == []

    run(scenario())


def test_add_user_with_unknown_group_leaves_nothing_behind(store: Store) -> None:
    async def scenario() -> None:
        recorder = Recorder()
        d = make_directory(store, on_change=recorder)
        await d.add_group("staff", now=T0)
        recorder.changes.clear()
        with pytest.raises(NotFound) as info:
            await d.add_user("alice", "alice@example.com", groups=["staff", "nope"], now=T0)
        assert info.value.code == "group_not_found"
        assert await d.list_users() == []
        assert _count(store, group_members) == 0
        # The recorder saw the changes inside the transaction, which then rolled back.
        assert [c.kind for c in recorder.changes] == [
            ChangeKind.USER_CREATED,
            ChangeKind.MEMBERSHIP_CHANGED,
        ]

    run(scenario())


def test_a_failing_change_recorder_rolls_the_change_back(store: Store) -> None:
    async def scenario() -> None:
        d = make_directory(store, on_change=Recorder(fail_on=ChangeKind.USER_DISABLED))
        await d.add_user("alice", "alice@example.com", now=T0)
        with pytest.raises(RuntimeError):
            await d.disable_user("alice", now=later(1))
        assert not (await d.get_user("alice")).disabled
        failing_create = make_directory(store, on_change=Recorder(fail_on=ChangeKind.USER_CREATED))
        with pytest.raises(RuntimeError):
            await failing_create.add_user("bob", "bob@example.com", now=T0)
        assert [u.username for u in await d.list_users()] == ["alice"]

    run(scenario())


def test_disable_enable_delete_return_changes_callers_can_act_on(store: Store) -> None:
    async def scenario() -> None:
        recorder = Recorder()
        d = make_directory(store, on_change=recorder)
        alice = await d.add_user("alice", "alice@example.com", now=T0)
        disabled = await d.disable_user("alice@example.com", now=later(1))
        assert disabled == IdentityChange(
            ChangeKind.USER_DISABLED, "User", "alice", alice.id, later(1)
        )
        assert disabled.revokes_sessions
        assert (await d.get_user("alice")).disabled
        again = await d.disable_user("alice", now=later(2))  # idempotent, announced again
        assert again.kind == ChangeKind.USER_DISABLED
        enabled = await d.enable_user("alice", now=later(3))
        assert not enabled.revokes_sessions
        user = await d.get_user("alice")
        assert not user.disabled
        assert user.updated_at == later(3)
        deleted = await d.delete_user("alice", now=later(4))
        assert deleted.kind == ChangeKind.USER_DELETED
        assert deleted.revokes_sessions
        assert deleted.user_id == alice.id
        assert [c.kind for c in recorder.changes] == [
            ChangeKind.USER_CREATED,
            ChangeKind.USER_DISABLED,
            ChangeKind.USER_DISABLED,
            ChangeKind.USER_ENABLED,
            ChangeKind.USER_DELETED,
        ]
        with pytest.raises(NotFound) as info:
            await d.get_user("alice")
        assert info.value.code == "user_not_found"
        with pytest.raises(NotFound):
            await d.get_user_by_id(alice.id)

    run(scenario())


def test_unknown_users_are_not_found(store: Store) -> None:
    async def scenario() -> None:
        d = make_directory(store)
        calls = [
            d.disable_user("ghost", now=T0),
            d.enable_user("ghost", now=T0),
            d.delete_user("ghost", now=T0),
            d.set_password("ghost", GOOD_PASSWORD, now=T0),
            d.groups_of("ghost@example.com"),
        ]
        for call in calls:
            with pytest.raises(NotFound) as info:
                await call
            assert info.value.code == "user_not_found"

    run(scenario())


def test_set_password_checks_policy_and_stores_a_new_hash(store: Store) -> None:
    async def scenario() -> None:
        recorder = Recorder()
        d = make_directory(store, on_change=recorder)
        await d.add_user("alice", "alice@example.com", now=T0)
        for weak, code in [("alice", "password_too_weak"), ("x" * 257, "password_too_long")]:
            with pytest.raises(InvalidInput) as info:
                await d.set_password("alice", weak, now=later(1))
            assert info.value.code == code
        with pytest.raises(InvalidInput) as contextual:
            await d.set_password("alice", "Alice@Example.com", now=later(1))
        assert [x.code for x in contextual.value.details] == ["password_contextual"]
        assert not (await d.get_user("alice")).has_password
        change = await d.set_password("alice", GOOD_PASSWORD, now=later(2))
        assert change.kind == ChangeKind.PASSWORD_CHANGED
        assert not change.revokes_sessions
        user = await d.get_user("alice")
        assert user.has_password
        assert user.updated_at == later(2)

    run(scenario())


def test_deleting_a_user_removes_its_memberships(store: Store) -> None:
    async def scenario() -> None:
        d = make_directory(store)
        await d.add_group("staff", now=T0)
        await d.add_user("alice", "alice@example.com", groups=["staff", "staff"], now=T0)
        assert [u.username for u in await d.members_of("staff")] == ["alice"]
        await d.delete_user("alice", now=later(1))
        assert await d.members_of("staff") == []
        assert _count(store, group_members) == 0

    run(scenario())
