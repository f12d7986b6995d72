"""User accounts inside one transaction: validation, creation, enable/disable, deletion, passwords."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from zerogate._types import UserID
from zerogate.errors import NotFound
from zerogate.identity import _db
from zerogate.identity._groups import join_group, resolve_group
from zerogate.identity._model import ChangeKind, ChangeRecorder, IdentityChange, User
from zerogate.identity._names import (
    DISPLAY_NAME_MAX_CHARS,
    clean_text,
    detail,
    email_problem,
    reject,
    text_problem,
    username_problem,
)
from zerogate.identity._passwords import PasswordPolicy


@dataclass(frozen=True, slots=True)
class NewUser:
    """A validated, normalised user to create."""

    username: str
    email: str
    display_name: str | None


def validate_new_user(
    username: str,
    email: str,
    display_name: str | None,
    password: str | None,
    *,
    policy: PasswordPolicy,
) -> NewUser:
    """Check every field and the password at once; raises InvalidInput listing each problem.

    One problem keeps its own code (`email_invalid`, `password_too_weak`); problems in several
    fields are reported together as `user_invalid` (STYLE §10).
    """
    new = NewUser(username.lower(), email.lower(), clean_text(display_name))
    context = password_context(new.username, new.email)
    weak = [] if password is None else policy.problems(password, context=context)
    fields = [
        detail("username_invalid", "username", username_problem(username)),
        detail("email_invalid", "email", email_problem(email)),
        detail(
            "display_name_invalid",
            "display_name",
            text_problem(display_name, max_chars=DISPLAY_NAME_MAX_CHARS),
        ),
    ]
    if any(fields):
        reject([*fields, *weak], what="user")
    if password is not None:
        policy.check(password, context=context)
    return new


def password_context(username: str, email: str) -> tuple[str, ...]:
    """Words a user's password must not be (NIST SP 800-63B-4 §3.1.1.2 context-specific words)."""
    return (username, email, email.partition("@")[0], "zerogate")


def resolve_user(conn: Connection, ref: str) -> User:
    """The user a reference names: an email address if it has an `@`, else a username."""
    key = ref.lower()
    found = _db.find_user(conn, email=key) if "@" in key else _db.find_user(conn, username=key)
    if found is None:
        raise user_not_found()
    return found


def user_not_found() -> NotFound:
    return NotFound("no such user", code="user_not_found")


def user_change(kind: ChangeKind, user: User, now: datetime) -> IdentityChange:
    return IdentityChange(kind, "User", user.username, user.id, now)


def create_user(
    conn: Connection,
    new: NewUser,
    *,
    password_hash: str | None,
    groups: Sequence[str],
    now: datetime,
    record: ChangeRecorder,
) -> User:
    """Insert a user and its memberships; any error leaves nothing behind (one transaction)."""
    user_id = _db.insert_user(
        conn,
        username=new.username,
        email=new.email,
        display_name=new.display_name,
        password_hash=password_hash,
        now=now,
    )
    user = _load(conn, user_id)
    record(conn, user_change(ChangeKind.USER_CREATED, user, now))
    for name in dict.fromkeys(groups):  # de-duplicated, in order
        join_group(conn, resolve_group(conn, name), user, now=now, record=record)
    return user


def set_disabled(
    conn: Connection, ref: str, *, disabled: bool, now: datetime, record: ChangeRecorder
) -> IdentityChange:
    """Disable (or enable, which also lifts a lockout); idempotent, and always announced."""
    user = resolve_user(conn, ref)
    _db.set_disabled(conn, user.id, disabled=disabled, now=now)
    kind = ChangeKind.USER_DISABLED if disabled else ChangeKind.USER_ENABLED
    change = user_change(kind, user, now)
    record(conn, change)
    return change


def delete_user(
    conn: Connection, ref: str, *, now: datetime, record: ChangeRecorder
) -> IdentityChange:
    user = resolve_user(conn, ref)
    _db.delete_user(conn, user.id)
    change = user_change(ChangeKind.USER_DELETED, user, now)
    record(conn, change)
    return change


def set_password_hash(
    conn: Connection, user_id: UserID, password_hash: str, *, now: datetime, record: ChangeRecorder
) -> IdentityChange:
    """Store a new hash (also clears failed logins and any lockout)."""
    user = _load(conn, user_id)
    _db.set_password_hash(conn, user.id, password_hash, now=now)
    change = user_change(ChangeKind.PASSWORD_CHANGED, user, now)
    record(conn, change)
    return change


def _load(conn: Connection, user_id: UserID) -> User:
    user = _db.find_user(conn, user_id=user_id)
    if user is None:  # deleted between the read and this write
        raise user_not_found()
    return user


__all__ = [
    "NewUser",
    "create_user",
    "delete_user",
    "password_context",
    "resolve_user",
    "set_disabled",
    "set_password_hash",
    "user_change",
    "user_not_found",
    "validate_new_user",
]
