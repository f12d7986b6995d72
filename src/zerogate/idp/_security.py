"""Security events of the sign-in pages, for the audit log (docs/audit.md).

The pages tell `SecurityEvents` (an async callable given to `create_app`) of every sign-in
and second-factor attempt, success or failure, and wait for it: an attempt that cannot be
recorded is answered with an error instead of a session. Events carry who (when known), how
(`method`: pwd, otp, recovery, passkey) and from where; never what was typed: not the
password, not the code, not the username of a failed attempt (it is sometimes a password).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from zerogate.identity import User


class SecurityEventKind(StrEnum):
    LOGIN = "login"  # a session was started, or a first-factor attempt failed
    MFA = "mfa"  # a second factor, at sign-in or to step up


@dataclass(frozen=True, slots=True)
class SecurityEvent:
    kind: SecurityEventKind
    ok: bool
    methods: tuple[str, ...]  # RFC 8176 amr values the attempt proved, or tried
    ip: str
    user_id: str | None = None
    username: str | None = None  # only of a user the store named, never as typed
    reason: str = ""  # why it failed (the identity layer's reason code)
    step_up: bool = False  # a second factor for a signed-in session


SecurityEvents = Callable[[SecurityEvent], Awaitable[None]]


def event_for(
    kind: SecurityEventKind,
    *,
    ok: bool,
    methods: tuple[str, ...],
    ip: str,
    user: User | None = None,
    user_id: str | None = None,
    reason: str = "",
    step_up: bool = False,
) -> SecurityEvent:
    return SecurityEvent(
        kind,
        ok,
        methods,
        ip,
        user_id=user.id if user is not None else user_id,
        username=user.username if user is not None else None,
        reason=reason,
        step_up=step_up,
    )
