"""The identity vocabulary: users, groups, changes that callers publish, and authentication results."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal, Protocol

from sqlalchemy import Connection

from zerogate._types import UserID
from zerogate.errors import ZerogateError


@dataclass(frozen=True, slots=True)
class User:
    """A human identity as stored; the password hash never leaves the store (`has_password`)."""

    id: UserID
    username: str
    email: str
    display_name: str | None
    disabled: bool
    has_password: bool
    failed_logins: int
    locked_until: datetime | None
    created_at: datetime
    updated_at: datetime

    def locked(self, *, now: datetime) -> bool:
        """True while a lockout (too many failed logins) is in force."""
        return self.locked_until is not None and self.locked_until > now


@dataclass(frozen=True, slots=True)
class Group:
    """A named set of users; its name is its Cedar id (`Group::"engineering"`)."""

    id: str
    name: str
    description: str | None
    created_at: datetime


class ChangeKind(StrEnum):
    """What happened to a user or group; callers decide what each change invalidates."""

    USER_CREATED = "user_created"
    USER_DISABLED = "user_disabled"
    USER_ENABLED = "user_enabled"
    USER_DELETED = "user_deleted"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - a change kind, not a password
    MEMBERSHIP_CHANGED = "membership_changed"
    GROUP_CREATED = "group_created"
    GROUP_DELETED = "group_deleted"
    # Credential changes (a CAEP credential-change for whoever listens; standards §2.13).
    TOTP_ENROLLED = "totp_enrolled"
    TOTP_REMOVED = "totp_removed"
    RECOVERY_CODES_GENERATED = "recovery_codes_generated"
    RECOVERY_CODE_USED = "recovery_code_used"
    PASSKEY_REGISTERED = "passkey_registered"
    PASSKEY_REMOVED = "passkey_removed"


# Changes after which the user's sessions and tokens must stop working (ASVS 5.0 7.4.2).
_REVOKING = frozenset({ChangeKind.USER_DISABLED, ChangeKind.USER_DELETED})


@dataclass(frozen=True, slots=True)
class IdentityChange:
    """One committed change to an entity the PDP knows: `User::"<username>"` or `Group::"<name>"`.

    `entity_id` is the Cedar id (username or group name); `user_id` is the stable id that sessions
    and tokens are keyed on (None for group-level changes).
    """

    kind: ChangeKind
    entity_type: Literal["User", "Group"]
    entity_id: str
    user_id: UserID | None
    at: datetime

    @property
    def revokes_sessions(self) -> bool:
        """True if every session and token of `user_id` must be revoked (disabled or deleted)."""
        return self.kind in _REVOKING


class ChangeRecorder(Protocol):
    """Called inside the writing transaction, so a change and its event commit together (or neither).

    The composition root passes one that appends an `entity.changed` event (zerogate.app); raising
    rolls the change back.
    """

    def __call__(self, conn: Connection, change: IdentityChange, /) -> None: ...


class FailureReason(StrEnum):
    """Why a password authentication failed: for the audit log only, never for the caller."""

    UNKNOWN_USER = "unknown_user"
    BAD_PASSWORD = "bad_password"  # noqa: S105 - a reason code, not a password
    NO_PASSWORD = "no_password"  # noqa: S105 - the account has no password set
    DISABLED = "disabled"
    LOCKED = "locked"
    THROTTLED = "throttled"


class AuthenticationFailed(ZerogateError):
    """The one opaque answer to every failed sign-in (ASVS 5.0 6.3.8: no user enumeration).

    `reason` and `user_id` are for the audit log; they never appear in `message`, `str()` or
    `as_dict()`, so an edge that renders the error cannot leak them.
    """

    code = "authentication_failed"
    status = 401
    MESSAGE = "authentication failed: unknown user, wrong password, or the account cannot sign in"

    def __init__(self, reason: FailureReason, *, user_id: UserID | None = None) -> None:
        super().__init__(self.MESSAGE)
        self.reason = reason
        self.user_id = user_id


@dataclass(frozen=True, slots=True)
class VerifiedPassword:
    """A successful password check: who, when, and whether the stored hash was upgraded."""

    user: User
    authenticated_at: datetime
    rehashed: bool
    amr: tuple[str, ...] = ("pwd",)  # RFC 8176 authentication method reference


__all__ = [
    "AuthenticationFailed",
    "ChangeKind",
    "ChangeRecorder",
    "FailureReason",
    "Group",
    "IdentityChange",
    "User",
    "VerifiedPassword",
]
