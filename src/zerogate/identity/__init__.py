"""The identity provider's directory: users, groups, argon2id passwords, throttling and lockout.

`Directory` is the async API over the store. Identity never imports `zerogate.control`: changes
are returned as `IdentityChange`s and handed to an optional `on_change` recorder inside the
writing transaction; the composition root (`zerogate.app.identity_admin`) turns them into
`entity.changed` events.
"""

from zerogate.identity._directory import Directory
from zerogate.identity._model import (
    AuthenticationFailed,
    ChangeKind,
    ChangeRecorder,
    FailureReason,
    Group,
    IdentityChange,
    User,
    VerifiedPassword,
)
from zerogate.identity._names import (
    EMAIL_MAX_CHARS,
    USERNAME_MAX_CHARS,
    normalise_email,
    normalise_group_name,
    normalise_username,
)
from zerogate.identity._passwords import Argon2Parameters, PasswordHasher, PasswordPolicy
from zerogate.identity._throttle import LoginLimits

__all__ = [
    "EMAIL_MAX_CHARS",
    "USERNAME_MAX_CHARS",
    "Argon2Parameters",
    "AuthenticationFailed",
    "ChangeKind",
    "ChangeRecorder",
    "Directory",
    "FailureReason",
    "Group",
    "IdentityChange",
    "LoginLimits",
    "PasswordHasher",
    "PasswordPolicy",
    "User",
    "VerifiedPassword",
    "normalise_email",
    "normalise_group_name",
    "normalise_username",
]
