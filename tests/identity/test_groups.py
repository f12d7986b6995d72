"""Groups and memberships on real SQLite and PostgreSQL, and the changes they announce."""

from __future__ import annotations

import pytest

from zerogate.errors import Conflict, InvalidInput, NotFound
from zerogate.identity import ChangeKind, IdentityChange
from zerogate.store import Store

from ._support import T0, Recorder, later, make_directory, run


def test_add_list_get_groups(store: Store) -> None:
    async def scenario() -> None:
        d = make_directory(store)
        staff = await d.add_group("Staff", description=" Everyone ", now=T0)
        await d.add_group("admins", now=T0)
        assert (staff.name, staff.description, staff.created_at) == ("staff", "Everyone", T0)
        assert staff.id.startswith("grp_")
        assert [g.name for g in await d.list_groups()] == ["admins", "staff"]
        assert await d.get_group("STAFF") == staff
        with pytest.raises(Conflict) as info:
            await d.add_group("staff", now=T0)
        assert info.value.code == "group_exists"
        with pytest.raises(NotFound) as missing:
            await d.get_group("nope")
        assert missing.value.code == "group_not_found"

    run(scenario())


def test_add_group_validates_name_and_description(store: Store) -> None:
    async def scenario() -> None:
        d = make_directory(store)
        with pytest.raises(InvalidInput) as one:
            await d.add_group("no spaces", now=T0)
        assert one.value.code == "group_name_invalid"
        with pytest.raises(InvalidInput) as both:
            await d.add_group("", description="x" * 1001, now=T0)
        assert both.value.code == "group_invalid"
        assert [x.code for x in both.value.details] == ["description_invalid", "group_name_invalid"]
        assert await d.list_groups() == []

    run(scenario())


def test_membership_add_remove_and_queries(store: Store) -> None:
    async def scenario() -> None:
        recorder = Recorder()
        d = make_directory(store, on_change=recorder)
        alice = await d.add_user("alice", "alice@example.com", now=T0)
        await d.add_user("bob", "bob@example.com", now=T0)
        for name in ("staff", "admins"):
            await d.add_group(name, now=T0)
        recorder.changes.clear()
        change = await d.add_member("staff", "alice", now=later(1))
        assert change == IdentityChange(
            ChangeKind.MEMBERSHIP_CHANGED, "User", "alice", alice.id, later(1)
        )
        await d.add_member("admins", "alice@example.com", now=later(1))
        await d.add_member("staff", "bob", now=later(1))
        assert [g.name for g in await d.groups_of("alice")] == ["admins", "staff"]
        assert [u.username for u in await d.members_of("staff")] == ["alice", "bob"]
        with pytest.raises(Conflict) as exists:
            await d.add_member("staff", "alice", now=later(2))
        assert exists.value.code == "member_exists"
        await d.remove_member("staff", "alice", now=later(3))
        assert [g.name for g in await d.groups_of("alice")] == ["admins"]
        with pytest.raises(NotFound) as gone:
            await d.remove_member("staff", "alice", now=later(4))
        assert gone.value.code == "member_not_found"
        assert len(recorder.changes) == 4  # three joins and one leave; failures announce nothing

    run(scenario())


def test_membership_of_unknown_things_is_not_found(store: Store) -> None:
    async def scenario() -> None:
        d = make_directory(store)
        await d.add_user("alice", "alice@example.com", now=T0)
        await d.add_group("staff", now=T0)
        for group, user, code in [
            ("nope", "alice", "group_not_found"),
            ("staff", "ghost", "user_not_found"),
        ]:
            with pytest.raises(NotFound) as info:
                await d.add_member(group, user, now=T0)
            assert info.value.code == code
            with pytest.raises(NotFound) as again:
                await d.remove_member(group, user, now=T0)
            assert again.value.code == code

    run(scenario())


def test_delete_group_announces_the_group_and_each_former_member(store: Store) -> None:
    async def scenario() -> None:
        d = make_directory(store)
        alice = await d.add_user("alice", "alice@example.com", now=T0)
        bob = await d.add_user("bob", "bob@example.com", now=T0)
        await d.add_group("staff", now=T0)
        await d.add_member("staff", "bob", now=T0)
        await d.add_member("staff", "alice", now=T0)
        changes = await d.delete_group("staff", now=later(1))
        assert [(c.kind, c.entity_type, c.entity_id, c.user_id) for c in changes] == [
            (ChangeKind.GROUP_DELETED, "Group", "staff", None),
            (ChangeKind.MEMBERSHIP_CHANGED, "User", "alice", alice.id),
            (ChangeKind.MEMBERSHIP_CHANGED, "User", "bob", bob.id),
        ]
        assert await d.list_groups() == []
        assert await d.groups_of("alice") == []
        assert len(await d.list_users()) == 2  # members stay

    run(scenario())


def test_delete_group_rolls_back_when_the_recorder_fails(store: Store) -> None:
    async def scenario() -> None:
        d = make_directory(store)
        await d.add_user("alice", "alice@example.com", now=T0)
        await d.add_group("staff", now=T0)
        await d.add_member("staff", "alice", now=T0)
        failing = make_directory(store, on_change=Recorder(fail_on=ChangeKind.MEMBERSHIP_CHANGED))
        with pytest.raises(RuntimeError):
            await failing.delete_group("staff", now=later(1))
        assert [u.username for u in await d.members_of("staff")] == ["alice"]

    run(scenario())
