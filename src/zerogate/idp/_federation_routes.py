"""`/login/upstream/{name}`: sign in through an upstream OpenID provider (federation).

The first route starts the authorization code flow and keeps its `FederationState` (state, nonce,
PKCE verifier) and the `next` path in `__Host-zerogate_federation`: HMAC-signed with a key kept
for this purpose only, valid while the state is (5 minutes), host-only and HttpOnly, so only this browser can
finish the login it started (login CSRF, standards OA-A3). The callback checks everything through
`Upstreams.finish`, starts a Zerogate session and clears the cookie whatever the outcome, so a
state is used once. SameSite is Lax, not Strict: the callback is a cross-site redirect from the
upstream, and a Strict cookie would not come with it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from zerogate.clock import Clock
from zerogate.errors import NotFound
from zerogate.identity import (
    SessionInvalid,
    Sessions,
    parse_session_cookie,
    session_cookie,
)
from zerogate.identity.federation import (
    FederationFailed,
    FederationFailure,
    FederationState,
    Upstreams,
)
from zerogate.idp._config import check_secret, public_origin
from zerogate.idp._headers import ErrorRenderer
from zerogate.idp._pages import Pages, see_other
from zerogate.idp._pending import PENDING_COOKIE_NAME, PendingLogins
from zerogate.idp._redirects import HOME, safe_next
from zerogate.idp._signing import b64decode, b64encode, derive_key, mac, mac_matches
from zerogate.idp._site import client_ip

FEDERATION_COOKIE_NAME = "__Host-zerogate_federation"
UPSTREAM_LOGIN_PREFIX = "/login/upstream"
_PURPOSE = "federation"
_VERSION = "v1"
_MAX_COOKIE_CHARS = 4096
_MAX_HINT_CHARS = 254
log = logging.getLogger("zerogate.idp")
SignedOut = Callable[[list[str]], Awaitable[None]]


def upstream_login_path(name: str, next_path: str = HOME, *, login_hint: str | None = None) -> str:
    """Where a "Sign in with …" button (or home-realm discovery) sends the browser."""
    query: dict[str, str] = {}
    if safe_next(next_path) != HOME:
        query["next"] = next_path
    if login_hint:
        query["login_hint"] = login_hint[:_MAX_HINT_CHARS]
    path = f"{UPSTREAM_LOGIN_PREFIX}/{quote(name, safe='')}"
    return path + (f"?{urlencode(query)}" if query else "")


class FederationCookie:
    """Writes and reads the signed cookie that carries one login's state across the upstream."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def issue(self, state: FederationState, *, next_path: str) -> str:
        """The `Set-Cookie` value for a login that just began."""
        payload = {
            "p": _PURPOSE,
            "u": state.upstream,
            "s": state.state,
            "n": state.nonce,
            "v": state.code_verifier,
            "r": safe_next(next_path),
            "c": int(state.created_at.timestamp()),
            "x": int(state.expires_at.timestamp()),
        }
        body = f"{_VERSION}.{b64encode(orjson.dumps(payload))}"
        lifetime = int((state.expires_at - state.created_at).total_seconds())
        return _cookie(f"{body}.{mac(self._key, body.encode())}", max(1, lifetime))

    def read(
        self, value: str | None, *, redirect_uri: str, now: datetime
    ) -> tuple[FederationState, str] | None:
        """The state and `next` path in a cookie, or None if absent, forged, stale or malformed."""
        if not value or len(value) > _MAX_COOKIE_CHARS:
            return None
        body, _, signature = value.rpartition(".")
        if not body.startswith(f"{_VERSION}.") or not mac_matches(
            self._key, body.encode(), signature
        ):
            return None
        try:
            data = orjson.loads(b64decode(body.removeprefix(f"{_VERSION}.")) or b"")
            if data["p"] != _PURPOSE:
                return None
            state = FederationState(
                upstream=str(data["u"]),
                state=str(data["s"]),
                nonce=str(data["n"]),
                code_verifier=str(data["v"]),
                redirect_uri=redirect_uri,
                created_at=datetime.fromtimestamp(int(data["c"]), UTC),
                expires_at=datetime.fromtimestamp(int(data["x"]), UTC),
            )
            next_path = safe_next(str(data["r"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, OverflowError):
            return None
        if not state.created_at <= now < state.expires_at:
            return None
        return state, next_path

    @staticmethod
    def clear() -> str:
        return _cookie("", 0)


class FederationPages:
    """The two route handlers, over the registry, the sessions and the signed cookie."""

    def __init__(
        self,
        upstreams: Upstreams,
        sessions: Sessions,
        *,
        clock: Clock,
        origin: str,
        cookie: FederationCookie,
        error_page: ErrorRenderer,
        signed_out: SignedOut | None = None,
    ) -> None:
        self._upstreams = upstreams
        self._signed_out = signed_out
        self._sessions = sessions
        self._clock = clock
        self._origin = origin
        self._cookie = cookie
        self._error_page = error_page

    def callback_url(self, name: str) -> str:
        """Our redirect URI at upstream `name` (register exactly this with the upstream)."""
        return f"{self._origin}{UPSTREAM_LOGIN_PREFIX}/{quote(name, safe='')}/callback"

    async def start(self, request: Request) -> Response:
        name = request.path_params["name"]
        next_path = safe_next(request.query_params.get("next"))
        hint = request.query_params.get("login_hint")
        try:
            url, state = await self._upstreams.begin(
                name,
                redirect_uri=self.callback_url(name),
                now=self._clock.now(),
                login_hint=hint[:_MAX_HINT_CHARS] if hint else None,
            )
        except FederationFailed as exc:
            return self._refuse(exc)
        return see_other(url, cookies=(self._cookie.issue(state, next_path=next_path),))

    async def callback(self, request: Request) -> Response:
        name = request.path_params["name"]
        now = self._clock.now()
        found = self._cookie.read(
            request.cookies.get(FEDERATION_COOKIE_NAME),
            redirect_uri=self.callback_url(name),
            now=now,
        )
        try:
            params = _single_values(request.query_params.multi_items(), upstream=name)
            if found is None:
                raise FederationFailed(
                    FederationFailure.STATE_MISSING, upstream=name, detail="no sound cookie"
                )
            state, next_path = found
            login = await self._upstreams.finish(
                name, state, params, redirect_uri=self.callback_url(name), now=now
            )
        except FederationFailed as exc:
            return self._refuse(exc)
        try:
            new = await self._sessions.create(
                login.user,
                amr=login.amr,
                auth_time=login.auth_time,
                mfa_at=login.mfa_at,
                ip=client_ip(request),
                user_agent=request.headers.get("user-agent"),
                now=now,
            )
        except SessionInvalid as exc:  # disabled or locked between the check and now
            reason = FederationFailure.USER_DISABLED
            return self._refuse(FederationFailed(reason, upstream=name, detail=str(exc.reason)))
        old = parse_session_cookie(request.headers.get("cookie"))
        if old is not None:
            await self._end_replaced(old, now=now)
        log.info(
            "signed in",
            extra={"user_id": login.user.id, "amr": list(login.amr), "upstream": name},
        )
        remaining = new.session.absolute_expires_at - now
        cookies = [
            self._cookie.clear(),
            session_cookie(new.token, max_age=max(1, int(remaining.total_seconds()))),
        ]
        if PENDING_COOKIE_NAME in request.cookies:  # a half-finished password sign-in is over
            cookies.append(PendingLogins.clear())
        return see_other(next_path, cookies=tuple(cookies))

    async def _end_replaced(self, token: str, *, now: datetime) -> None:
        """The browser's previous session ends, as after any sign-in (and its RPs are told)."""
        with contextlib.suppress(NotFound):  # already gone: nothing to end
            ended = await self._sessions.revoke(token, reason="replaced", now=now)
            if self._signed_out is not None:
                await self._signed_out(list(ended.session_ids))

    def _refuse(self, exc: FederationFailed) -> Response:
        log.info(
            "federated sign-in refused",
            extra={
                "code": exc.code,
                "reason": str(exc.reason),
                "upstream": exc.upstream,
                "detail": exc.detail,
            },
        )
        response = self._error_page(exc.code, exc.message, exc.status)
        response.headers.append("set-cookie", self._cookie.clear())
        return response


def federation_routes(
    upstreams: Upstreams,
    sessions: Sessions,
    *,
    clock: Clock,
    public_url: str,
    secret: bytes,
    error_page: ErrorRenderer | None = None,
    signed_out: SignedOut | None = None,
) -> list[Route]:
    """The federation routes, for `create_app(..., extra_routes=...)`.

    `public_url` and `secret` are the ones given to `create_app` (the cookie key is derived from
    `secret` for this purpose only). `error_page(code, message, status)` renders refusals; by
    default the login UI's own error page. `signed_out(session_ids)` is told when a sign-in
    replaces the browser's previous session (the OpenID provider's back-channel logout).
    """
    key = derive_key(check_secret(secret), "federation-login")
    pages = FederationPages(
        upstreams,
        sessions,
        clock=clock,
        origin=public_origin(public_url),
        cookie=FederationCookie(key),
        error_page=error_page or Pages(product="Zerogate").error,
        signed_out=signed_out,
    )
    return [
        Route(f"{UPSTREAM_LOGIN_PREFIX}/{{name}}", pages.start, methods=["GET"]),
        Route(f"{UPSTREAM_LOGIN_PREFIX}/{{name}}/callback", pages.callback, methods=["GET"]),
    ]


def _single_values(pairs: Iterable[tuple[str, str]], *, upstream: str) -> dict[str, str]:
    # RFC 6749 §3.1: a parameter must not appear twice; guessing which one counts would let a
    # second `state` or `code` slip past the check of the first.
    values: dict[str, str] = {}
    for name, value in pairs:
        if name in values:
            raise FederationFailed(
                FederationFailure.RESPONSE_MALFORMED,
                upstream=upstream,
                detail=f"parameter {name[:40]!r} repeated",
            )
        values[name] = value
    return values


def _cookie(value: str, max_age: int) -> str:
    return (
        f"{FEDERATION_COOKIE_NAME}={value}; Path=/; Max-Age={max_age}; Secure; HttpOnly; "
        "SameSite=Lax"
    )


__all__ = [
    "FEDERATION_COOKIE_NAME",
    "UPSTREAM_LOGIN_PREFIX",
    "FederationCookie",
    "FederationPages",
    "SignedOut",
    "federation_routes",
    "upstream_login_path",
]
