"""Security events of the sign-in pages, for the audit log (docs/audit.md).

The pages tell `SecurityEvents` (an async callable given to `create_app`) of every sign-in
and second-factor attempt, success or failure, and wait for it: an attempt that cannot be
recorded is answered with an error instead of a session. Events carry who (when known), how
(`method`: pwd, otp, recovery, passkey) and from where; never what was typed: not the
password, not the code, not the username of a failed attempt (it is sometimes a password).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from zerogate.identity import User


class SecurityEventKind(StrEnum):
    LOGIN = "login"  # a session was started, or a first-factor attempt failed
    MFA = "mfa"  # a second factor, at sign-in or to step up
    TOKEN = "token"  # noqa: S105 - a request to the OpenID Connect token endpoint


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
    client_id: str = ""  # TOKEN: the OpenID Connect client that asked


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


def token_event(grant: str, status: int, body: bytes, *, client_id: str, ip: str) -> SecurityEvent:
    """A token endpoint answer as an event: who got tokens, for which client, by which grant —
    read from the claims of the access token just issued (never the token itself); or the
    OAuth error code of a refusal."""
    methods = (grant,) if grant else ()
    if status != 200:
        error = _json(body).get("error") if status < 500 else "server_error"
        reason = error if isinstance(error, str) else "invalid_request"
        return SecurityEvent(
            SecurityEventKind.TOKEN, False, methods, ip, reason=reason[:64], client_id=client_id
        )
    claims = _payload(_json(body).get("access_token"))
    sub, name, client = claims.get("sub"), claims.get("preferred_username"), claims.get("client_id")
    return SecurityEvent(
        SecurityEventKind.TOKEN,
        True,
        methods,
        ip,
        user_id=sub if isinstance(sub, str) else None,
        username=name if isinstance(name, str) else None,
        client_id=client if isinstance(client, str) else client_id,
    )


def _json(body: bytes) -> dict[str, Any]:
    try:
        doc = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _payload(token: object) -> dict[str, Any]:
    """The claims of a JWT we issued a moment ago (read, not verified: it never left us)."""
    if not isinstance(token, str) or token.count(".") != 2:
        return {}
    part = token.split(".")[1]
    try:
        doc = orjson.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (binascii.Error, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}
