"""What every page handler shares: the identity objects, the clock, signing, and session helpers."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from zerogate.clock import Clock
from zerogate.errors import InvalidInput, NotFound
from zerogate.identity import (
    TOTP,
    ActiveSession,
    Directory,
    NewSession,
    RecoveryCodes,
    SessionInvalid,
    Sessions,
    User,
    parse_session_cookie,
    session_cookie,
)
from zerogate.identity.federation import Upstreams
from zerogate.idp._config import LoginConfig
from zerogate.idp._csrf import CSRF
from zerogate.idp._pages import Pages, see_other
from zerogate.idp._passkeys import WebPasskeys
from zerogate.idp._pending import PENDING_COOKIE_NAME, PendingLogins
from zerogate.idp._redirects import login_path, mfa_path
from zerogate.idp._security import SecurityEventKind, SecurityEvents, event_for

log = logging.getLogger("zerogate.idp")
# Peers without an IP address (a unix socket, a test transport) share one throttle bucket.
_UNKNOWN_PEER = "0.0.0.0"  # noqa: S104 - a throttle key, not a listening address
_FORM_MAX_FIELDS = 16


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The request's live session and the token that named it (the token is never logged)."""

    token: str = field(repr=False)
    session: ActiveSession


@dataclass(frozen=True, slots=True)
class Factors:
    """The second factors a user can use here: confirmed TOTP apps and passkeys."""

    totp: bool
    passkeys: bool

    @property
    def any(self) -> bool:
        return self.totp or self.passkeys


@dataclass(frozen=True, slots=True)
class Site:
    """The login UI's dependencies, shared by the page handlers."""

    directory: Directory
    sessions: Sessions
    totp: TOTP
    recovery: RecoveryCodes
    clock: Clock
    config: LoginConfig
    pages: Pages
    csrf: CSRF
    pending: PendingLogins
    # Told the ids of sessions that signed out (the OpenID provider's back-channel logout).
    signed_out: Callable[[list[str]], Awaitable[None]] | None = None
    # Passkeys, when the app was given them (`create_app(passkeys=...)`).
    passkeys: WebPasskeys | None = None
    # Upstream identity providers to offer and to route email domains to (federation).
    upstreams: Upstreams | None = None
    # Told of every sign-in and second-factor attempt (the audit log), and awaited.
    security_events: SecurityEvents | None = None

    def now(self) -> datetime:
        return self.clock.now()

    async def record(
        self,
        request: Request,
        kind: SecurityEventKind,
        *,
        ok: bool,
        methods: tuple[str, ...],
        user: User | None = None,
        user_id: str | None = None,
        reason: str = "",
        step_up: bool = False,
    ) -> None:
        """Tell `security_events` of an attempt; raises if it cannot be recorded."""
        if self.security_events is None:
            return
        event = event_for(
            kind,
            ok=ok,
            methods=methods,
            ip=client_ip(request),
            user=user,
            user_id=user_id,
            reason=reason,
            step_up=step_up,
        )
        await self.security_events(event)

    async def signed_in(self, request: Request) -> SignedIn | None:
        """The request's session if it is live (checked against the store), else None."""
        token = parse_session_cookie(request.headers.get("cookie"))
        if token is None:
            return None
        try:
            active = await self.sessions.resolve(token, now=self.now())
        except SessionInvalid as exc:
            log.info(
                "session refused",
                extra={"reason": str(exc.reason), "session_id": exc.session_id},
            )
            return None
        return SignedIn(token, active)

    async def factors(self, user: User) -> Factors:
        totp = any(c.confirmed for c in await self.totp.list(user))
        passkeys = self.passkeys is not None and bool(await self.passkeys.list_for(user))
        return Factors(totp=totp, passkeys=passkeys)

    async def has_second_factor(self, user: User) -> bool:
        """True if the user must (and can) pass a second factor after the password: a confirmed
        TOTP credential, or a passkey when the pages offer passkeys."""
        return (await self.factors(user)).any

    async def reauthentication_path(self, signed: SignedIn, user: User, back: str) -> str | None:
        """Where to go before changing sign-in settings, or None if the sign-in is recent enough.

        ASVS 5.0 7.5.1: within `recent_auth_s` of the sign-in, or, once the user has a second
        factor, of the last second factor; otherwise sign in again (or step up) and come `back`.
        (The TOTP enrolment page applies the same rule.)
        """
        now = self.now()
        window = timedelta(seconds=self.config.recent_auth_s)
        if await self.has_second_factor(user):
            mfa_at = signed.session.mfa_at
            if mfa_at is None or now - mfa_at > window:
                return mfa_path(back)
        elif now - signed.session.auth_time > window:
            return login_path(back, prompt_login=True)
        return None

    async def start_session(
        self,
        request: Request,
        user: User,
        *,
        amr: tuple[str, ...],
        mfa_at: datetime | None,
        next_path: str,
    ) -> Response:
        """Create a session (a fresh token, ASVS 5.0 7.2.4), end the one the browser had, and
        redirect to `next_path` with the new cookie (and without any pending login)."""
        now = self.now()
        new = await self.sessions.create(
            user,
            amr=amr,
            auth_time=now,
            mfa_at=mfa_at,
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent"),
            now=now,
        )
        old = parse_session_cookie(request.headers.get("cookie"))
        if old is not None:
            await self.end_session(old, reason="replaced")
        log.info("signed in", extra={"user_id": user.id, "amr": list(amr)})
        await self.record(request, SecurityEventKind.LOGIN, ok=True, methods=amr, user=user)
        cookies = [self.cookie_for(new)]
        if PENDING_COOKIE_NAME in request.cookies:  # a half-finished sign-in is over now
            cookies.append(self.pending.clear())
        return see_other(next_path, cookies=tuple(cookies))

    async def end_session(self, token: str, *, reason: str) -> None:
        """Revoke a session if it is still there (logout, or replaced by a new sign-in)."""
        with contextlib.suppress(NotFound):  # already revoked or expired: nothing to end
            ended = await self.sessions.revoke(token, reason=reason, now=self.now())
            if self.signed_out is not None:
                await self.signed_out(list(ended.session_ids))

    def cookie_for(self, new: NewSession) -> str:
        """The session cookie, living exactly as long as the session can (its absolute expiry)."""
        remaining = new.session.absolute_expires_at - self.now()
        return session_cookie(new.token, max_age=max(1, int(remaining.total_seconds())))


async def read_form(request: Request) -> dict[str, str]:
    """An url-encoded form as a dict: one value per field, a bounded number of fields.

    The body size is bounded by the app; a repeated field is refused rather than guessed at.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not content_type:
        return {}  # nothing posted: the CSRF check that follows refuses it
    if content_type != "application/x-www-form-urlencoded":
        raise InvalidInput("expected a form post", code="form_invalid")
    try:
        form = await request.form(max_files=0, max_fields=_FORM_MAX_FIELDS)
    except HTTPException as exc:
        if exc.status_code != 400:  # 413 from the body limit stays what it is
            raise
        raise InvalidInput("malformed form", code="form_invalid") from None
    fields: dict[str, str] = {}
    for name, value in form.multi_items():
        if name in fields or not isinstance(value, str):
            raise InvalidInput("malformed form", code="form_invalid")
        fields[name] = value
    return fields


def client_ip(request: Request) -> str:
    """The peer's IP address (as the ASGI server reports it) for throttling and the session."""
    host = request.client.host if request.client else ""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return _UNKNOWN_PEER


__all__ = ["Factors", "SignedIn", "Site", "client_ip", "read_form"]
