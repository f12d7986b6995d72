"""Groups and memberships inside one transaction; a membership change is a change to the user."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from zerogate.errors import Conflict, NotFound
from zerogate.identity import _db
from zerogate.identity._model import ChangeKind, ChangeRecorder, Group, IdentityChange, User
from zerogate.identity._names import (
    DESCRIPTION_MAX_CHARS,
    clean_text,
    detail,
    group_name_problem,
    reject,
    text_problem,
)


def validate_group(name: str, description: str | None) -> tuple[str, str | None]:
    """The normalised (name, description); raises InvalidInput listing each problem."""
    reject(
        [
            detail("group_name_invalid", "name", group_name_problem(name)),
            detail(
                "description_invalid",
                "description",
                text_problem(description, max_chars=DESCRIPTION_MAX_CHARS),
            ),
        ],
        what="group",
    )
    return name.lower(), clean_text(description)


def resolve_group(conn: Connection, name: str) -> Group:
    found = _db.find_group(conn, name.lower())
    if found is None:
        raise NotFound("no such group", code="group_not_found")
    return found


def create_group(
    conn: Connection,
    name: str,
    description: str | None,
    *,
    now: datetime,
    record: ChangeRecorder,
) -> Group:
    """Insert a validated group; raises Conflict(group_exists)."""
    group = _db.insert_group(conn, name=name, description=description, now=now)
    record(conn, group_change(ChangeKind.GROUP_CREATED, group, now))
    return group


def delete_group(
    conn: Connection, name: str, *, now: datetime, record: ChangeRecorder
) -> list[IdentityChange]:
    """Delete a group and its memberships: one change for the group and one per former member."""
    group = resolve_group(conn, name)
    members = _db.members_of(conn, group.id)
    _db.delete_group(conn, group.id)
    changes = [group_change(ChangeKind.GROUP_DELETED, group, now)]
    changes += [membership_change(user, now) for user in members]
    for change in changes:
        record(conn, change)
    return changes


def join_group(
    conn: Connection, group: Group, user: User, *, now: datetime, record: ChangeRecorder
) -> IdentityChange:
    """Add `user` to `group`; raises Conflict(member_exists) if it already is a member."""
    if _db.is_member(conn, group.id, user.id):
        raise Conflict(f"{user.username} is already a member of {group.name}", code="member_exists")
    _db.add_member(conn, group.id, user.id)
    change = membership_change(user, now)
    record(conn, change)
    return change


def leave_group(
    conn: Connection, group: Group, user: User, *, now: datetime, record: ChangeRecorder
) -> IdentityChange:
    """Remove `user` from `group`; raises NotFound(member_not_found) if it is not a member."""
    if not _db.is_member(conn, group.id, user.id):
        raise NotFound(f"{user.username} is not a member of {group.name}", code="member_not_found")
    _db.remove_member(conn, group.id, user.id)
    change = membership_change(user, now)
    record(conn, change)
    return change


def membership_change(user: User, now: datetime) -> IdentityChange:
    # The user's Cedar parents changed (`User in [Group]`): decisions about the user are stale.
    return IdentityChange(ChangeKind.MEMBERSHIP_CHANGED, "User", user.username, user.id, now)


def group_change(kind: ChangeKind, group: Group, now: datetime) -> IdentityChange:
    return IdentityChange(kind, "Group", group.name, None, now)


__all__ = [
    "create_group",
    "delete_group",
    "group_change",
    "join_group",
    "leave_group",
    "membership_change",
    "resolve_group",
    "validate_group",
]
