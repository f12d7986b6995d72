"""`Directory`: the async face of users, groups and password sign-in over a `zerogate.store.Store`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Connection

from zerogate._types import UserID
from zerogate.identity import _db, _groups, _tx, _users
from zerogate.identity._login import PasswordLogin
from zerogate.identity._model import (
    ChangeRecorder,
    Group,
    IdentityChange,
    User,
    VerifiedPassword,
)
from zerogate.identity._passwords import PasswordHasher, PasswordPolicy
from zerogate.identity._throttle import LoginLimits
from zerogate.store import Store

T = TypeVar("T")


def _ignore(conn: Connection, change: IdentityChange, /) -> None:
    """The default recorder: changes are only returned to the caller."""


class Directory:
    """Users and groups in the store, and password sign-in with throttling and lockout.

    Every write is one transaction: on any error nothing of it is stored. Each change is passed
    to `on_change` inside that transaction (so an event appended there commits with it) and the
    methods that change a user return it as an `IdentityChange`, whose `revokes_sessions` tells
    the caller when the user's sessions and tokens must go. A user is named by username or email
    address (`"alice"`, `"alice@example.com"`); a group by its name.

    Passwords are hashed and verified in worker threads, outside any transaction.
    """

    def __init__(
        self,
        store: Store,
        *,
        hasher: PasswordHasher | None = None,
        password_policy: PasswordPolicy | None = None,
        limits: LoginLimits | None = None,
        on_change: ChangeRecorder | None = None,
    ) -> None:
        self._store = store
        self.hasher = hasher or PasswordHasher()
        self.password_policy = password_policy or PasswordPolicy()
        self.limits = limits or LoginLimits()
        self._record: ChangeRecorder = on_change or _ignore
        self._login = PasswordLogin(
            store, hasher=self.hasher, policy=self.password_policy, limits=self.limits
        )

    # Users

    async def add_user(
        self,
        username: str,
        email: str,
        *,
        display_name: str | None = None,
        password: str | None = None,
        groups: Sequence[str] = (),
        now: datetime,
    ) -> User:
        """Create a user (optionally with a password and memberships).

        Raises InvalidInput (`username_invalid`, `email_invalid`, `display_name_invalid`,
        `password_too_weak`, `password_too_long`, or `user_invalid` for several),
        Conflict(`user_exists`), NotFound(`group_not_found`).
        """
        new = _users.validate_new_user(
            username, email, display_name, password, policy=self.password_policy
        )
        hashed = None if password is None else await asyncio.to_thread(self.hasher.hash, password)
        return await self._write(
            lambda conn: _users.create_user(
                conn, new, password_hash=hashed, groups=groups, now=now, record=self._record
            )
        )

    async def get_user(self, username_or_email: str) -> User:
        """Raises NotFound(`user_not_found`)."""
        return await self._read(lambda conn: _users.resolve_user(conn, username_or_email))

    async def get_user_by_id(self, user_id: UserID) -> User:
        def read(conn: Connection) -> User:
            found = _db.find_user(conn, user_id=user_id)
            if found is None:
                raise _users.user_not_found()
            return found

        return await self._read(read)

    async def list_users(self) -> list[User]:
        """Every user, by username."""
        return await self._read(_db.list_users)

    async def disable_user(self, user: str, *, now: datetime) -> IdentityChange:
        """Stop the user signing in; `revokes_sessions` is True. Idempotent."""
        return await self._write(
            lambda conn: _users.set_disabled(
                conn, user, disabled=True, now=now, record=self._record
            )
        )

    async def enable_user(self, user: str, *, now: datetime) -> IdentityChange:
        """Let the user sign in again; also lifts a lockout and resets failed logins."""
        return await self._write(
            lambda conn: _users.set_disabled(
                conn, user, disabled=False, now=now, record=self._record
            )
        )

    async def delete_user(self, user: str, *, now: datetime) -> IdentityChange:
        """Delete the user and its memberships; `revokes_sessions` is True."""
        return await self._write(
            lambda conn: _users.delete_user(conn, user, now=now, record=self._record)
        )

    async def set_password(self, user: str, password: str, *, now: datetime) -> IdentityChange:
        """Check `password` against the policy, then store its hash (clears any lockout).

        Raises InvalidInput(`password_too_weak` / `password_too_long`), NotFound(`user_not_found`).
        """
        target = await self.get_user(user)
        self.password_policy.check(
            password, context=_users.password_context(target.username, target.email)
        )
        hashed = await asyncio.to_thread(self.hasher.hash, password)
        return await self._write(
            lambda conn: _users.set_password_hash(
                conn, target.id, hashed, now=now, record=self._record
            )
        )

    # Groups

    async def add_group(self, name: str, *, description: str | None = None, now: datetime) -> Group:
        """Raises InvalidInput(`group_name_invalid`, `description_invalid`), Conflict(`group_exists`)."""
        clean_name, clean_description = _groups.validate_group(name, description)
        return await self._write(
            lambda conn: _groups.create_group(
                conn, clean_name, clean_description, now=now, record=self._record
            )
        )

    async def get_group(self, name: str) -> Group:
        """Raises NotFound(`group_not_found`)."""
        return await self._read(lambda conn: _groups.resolve_group(conn, name))

    async def delete_group(self, name: str, *, now: datetime) -> list[IdentityChange]:
        """Delete a group: one change for the group, one for each former member."""
        return await self._write(
            lambda conn: _groups.delete_group(conn, name, now=now, record=self._record)
        )

    async def list_groups(self) -> list[Group]:
        """Every group, by name."""
        return await self._read(_db.list_groups)

    async def add_member(self, group: str, user: str, *, now: datetime) -> IdentityChange:
        """Raises NotFound(`group_not_found`, `user_not_found`), Conflict(`member_exists`)."""
        return await self._write(
            lambda conn: _groups.join_group(
                conn,
                _groups.resolve_group(conn, group),
                _users.resolve_user(conn, user),
                now=now,
                record=self._record,
            )
        )

    async def remove_member(self, group: str, user: str, *, now: datetime) -> IdentityChange:
        """Raises NotFound(`group_not_found`, `user_not_found`, `member_not_found`)."""
        return await self._write(
            lambda conn: _groups.leave_group(
                conn,
                _groups.resolve_group(conn, group),
                _users.resolve_user(conn, user),
                now=now,
                record=self._record,
            )
        )

    async def groups_of(self, user: str) -> list[Group]:
        """The groups `user` is a direct member of, by name."""
        return await self._read(
            lambda conn: _db.groups_of(conn, _users.resolve_user(conn, user).id)
        )

    async def members_of(self, group: str) -> list[User]:
        """The direct members of `group`, by username."""
        return await self._read(
            lambda conn: _db.members_of(conn, _groups.resolve_group(conn, group).id)
        )

    # Sign-in

    async def authenticate(
        self, username_or_email: str, password: str, *, ip: str, now: datetime
    ) -> VerifiedPassword:
        """Check a password; raises AuthenticationFailed (one opaque error, reason for audit).

        Throttled per identifier and per client address, and locks the account after
        `limits.max_failures` consecutive wrong passwords (see `LoginLimits`). A stored hash made
        with older parameters is upgraded on success. Raises InvalidInput(`ip_invalid`) if `ip`
        is not an IP address.
        """
        return await self._login.authenticate(username_or_email, password, ip=ip, now=now)

    # Plumbing

    async def _read(self, query: Callable[[Connection], T]) -> T:
        return await _tx.read(self._store, query)

    async def _write(self, change: Callable[[Connection], T]) -> T:
        return await _tx.write(self._store, change)


__all__ = ["Directory"]
