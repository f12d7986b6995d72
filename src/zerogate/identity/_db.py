"""Queries on the identity tables (`users`, `groups`, `group_members`); rows become our dataclasses."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, and_, case, delete, exc, insert, or_, select, update

from zerogate._types import UserID
from zerogate.errors import Conflict
from zerogate.identity._model import Group, User
from zerogate.store import group_members, groups, users

# Every column but the hash: reads that build a `User` never load it.
_USER_COLUMNS = [c for c in users.c if c.name != "password_hash"]


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def to_user(row: Row[Any]) -> User:
    return User(
        id=UserID(row.id),
        username=row.username,
        email=row.email,
        display_name=row.display_name,
        disabled=bool(row.disabled),
        has_password=bool(row.has_password),
        failed_logins=row.failed_logins,
        locked_until=row.locked_until,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _user_select() -> Any:
    return select(*_USER_COLUMNS, users.c.password_hash.is_not(None).label("has_password"))


def find_user(
    conn: Connection,
    *,
    username: str | None = None,
    email: str | None = None,
    user_id: str | None = None,
) -> User | None:
    """One user by exactly one of its keys (already normalised)."""
    query = _user_select()
    if username is not None:
        query = query.where(users.c.username == username)
    elif email is not None:
        query = query.where(users.c.email == email)
    else:
        query = query.where(users.c.id == user_id)
    row = conn.execute(query).first()
    return None if row is None else to_user(row)


def list_users(conn: Connection) -> list[User]:
    return [to_user(r) for r in conn.execute(_user_select().order_by(users.c.username))]


def login_row(conn: Connection, key: str) -> tuple[User, str | None] | None:
    """The user a sign-in identifier names (username or email) with its password hash."""
    column = users.c.email if "@" in key else users.c.username
    row = conn.execute(
        _user_select().add_columns(users.c.password_hash).where(column == key)
    ).first()
    return None if row is None else (to_user(row), row.password_hash)


def insert_user(
    conn: Connection,
    *,
    username: str,
    email: str,
    display_name: str | None,
    password_hash: str | None,
    now: datetime,
) -> UserID:
    """Insert a user; raises Conflict(user_exists) if the username or email is taken."""
    taken = conn.execute(
        select(users.c.username, users.c.email).where(
            or_(users.c.username == username, users.c.email == email)
        )
    ).first()
    if taken is not None:
        raise _user_exists("username" if taken.username == username else "email")
    user_id = UserID(new_id("usr"))
    try:
        with conn.begin_nested():  # a lost race must not poison the caller's transaction
            conn.execute(
                insert(users).values(
                    id=user_id,
                    username=username,
                    email=email,
                    display_name=display_name,
                    password_hash=password_hash,
                    disabled=False,
                    failed_logins=0,
                    locked_until=None,
                    created_at=now,
                    updated_at=now,
                )
            )
    except exc.IntegrityError as error:
        raise _user_exists("email" if "email" in str(error.orig) else "username") from None
    return user_id


def _user_exists(field: str) -> Conflict:
    return Conflict(f"a user with this {field} already exists", code="user_exists")


def set_disabled(conn: Connection, user_id: UserID, *, disabled: bool, now: datetime) -> None:
    values: dict[str, Any] = {"disabled": disabled, "updated_at": now}
    if not disabled:  # enabling also lifts a lockout: the admin has looked at the account
        values |= {"failed_logins": 0, "locked_until": None}
    conn.execute(update(users).where(users.c.id == user_id).values(**values))


def set_password_hash(
    conn: Connection, user_id: UserID, password_hash: str, *, now: datetime
) -> None:
    conn.execute(
        update(users)
        .where(users.c.id == user_id)
        .values(password_hash=password_hash, failed_logins=0, locked_until=None, updated_at=now)
    )


def delete_user(conn: Connection, user_id: UserID) -> None:
    # Memberships go explicitly too, not only by ON DELETE CASCADE: no backend setting decides it.
    conn.execute(delete(group_members).where(group_members.c.user_id == user_id))
    conn.execute(delete(users).where(users.c.id == user_id))


def record_failure(
    conn: Connection, user_id: UserID, *, max_failures: int, lockout: timedelta, now: datetime
) -> bool:
    """Count one wrong password atomically; the Nth in a row locks the account. True if it did."""
    reached = users.c.failed_logins + 1 >= max_failures
    row = conn.execute(
        update(users)
        .where(users.c.id == user_id)
        .values(
            failed_logins=case((reached, 0), else_=users.c.failed_logins + 1),
            locked_until=case((reached, now + lockout), else_=users.c.locked_until),
        )
        .returning(users.c.failed_logins)
    ).first()
    return row is not None and row.failed_logins == 0  # only reaching the limit resets to 0


def record_success(
    conn: Connection, user_id: UserID, *, now: datetime, old_hash: str, new_hash: str | None
) -> bool:
    """Reset the failure count if the account may still sign in; False if it was locked meanwhile.

    The conditions are re-checked in the UPDATE so a lock or disable racing with this sign-in
    wins; the hash is upgraded only if nobody changed the password since it was read.
    """
    may_sign_in = and_(
        users.c.id == user_id,
        users.c.disabled.is_(False),
        or_(users.c.locked_until.is_(None), users.c.locked_until <= now),
    )
    done = conn.execute(
        update(users).where(may_sign_in).values(failed_logins=0, locked_until=None)
    ).rowcount
    if done and new_hash is not None:
        conn.execute(
            update(users)
            .where(users.c.id == user_id, users.c.password_hash == old_hash)
            .values(password_hash=new_hash)
        )
    return bool(done)


def to_group(row: Row[Any]) -> Group:
    return Group(id=row.id, name=row.name, description=row.description, created_at=row.created_at)


def find_group(conn: Connection, name: str) -> Group | None:
    row = conn.execute(select(groups).where(groups.c.name == name)).first()
    return None if row is None else to_group(row)


def list_groups(conn: Connection) -> list[Group]:
    return [to_group(r) for r in conn.execute(select(groups).order_by(groups.c.name))]


def insert_group(conn: Connection, *, name: str, description: str | None, now: datetime) -> Group:
    if find_group(conn, name) is not None:
        raise _group_exists()
    group = Group(id=new_id("grp"), name=name, description=description, created_at=now)
    try:
        with conn.begin_nested():
            conn.execute(
                insert(groups).values(
                    id=group.id, name=name, description=description, created_at=now
                )
            )
    except exc.IntegrityError:
        raise _group_exists() from None
    return group


def _group_exists() -> Conflict:
    return Conflict("a group with this name already exists", code="group_exists")


def delete_group(conn: Connection, group_id: str) -> None:
    conn.execute(delete(group_members).where(group_members.c.group_id == group_id))
    conn.execute(delete(groups).where(groups.c.id == group_id))


def is_member(conn: Connection, group_id: str, user_id: UserID) -> bool:
    row = conn.execute(
        select(group_members.c.user_id).where(
            group_members.c.group_id == group_id, group_members.c.user_id == user_id
        )
    ).first()
    return row is not None


def add_member(conn: Connection, group_id: str, user_id: UserID) -> None:
    conn.execute(insert(group_members).values(group_id=group_id, user_id=user_id))


def remove_member(conn: Connection, group_id: str, user_id: UserID) -> None:
    conn.execute(
        delete(group_members).where(
            group_members.c.group_id == group_id, group_members.c.user_id == user_id
        )
    )


def groups_of(conn: Connection, user_id: UserID) -> list[Group]:
    query = (
        select(groups)
        .join(group_members, group_members.c.group_id == groups.c.id)
        .where(group_members.c.user_id == user_id)
        .order_by(groups.c.name)
    )
    return [to_group(r) for r in conn.execute(query)]


def members_of(conn: Connection, group_id: str) -> list[User]:
    query = (
        _user_select()
        .join(group_members, group_members.c.user_id == users.c.id)
        .where(group_members.c.group_id == group_id)
        .order_by(users.c.username)
    )
    return [to_user(r) for r in conn.execute(query)]
