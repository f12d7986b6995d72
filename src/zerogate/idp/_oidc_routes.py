"""The OpenID Connect endpoints over HTTP: translate Starlette requests to `OIDCRequest`s and back.

All protocol decisions live in `zerogate.identity.oidc.OIDCProvider`; this module only moves
bytes, reads the session cookie, and sends the browser to the login pages when asked to.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import unquote_plus, urlencode

import httpx
import orjson
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from zerogate.clock import Clock
from zerogate.identity import (
    ActiveSession,
    SessionInvalid,
    Sessions,
    clear_session_cookie,
    parse_session_cookie,
)
from zerogate.identity.oidc import (
    AUTHORIZE_PATH,
    DISCOVERY_PATH,
    END_SESSION_PATH,
    INTROSPECT_PATH,
    JWKS_PATH,
    REVOKE_PATH,
    TOKEN_PATH,
    USERINFO_PATH,
    ConsentRequired,
    EndSession,
    LoginNeed,
    LoginRequired,
    LogoutNotice,
    OIDCError,
    OIDCProvider,
    OIDCRequest,
    OIDCResponse,
)
from zerogate.idp._security import SecurityEvents, token_event
from zerogate.idp._site import client_ip

MAX_FORM_BYTES = 64 * 1024
JWKS_MAX_AGE_S = 300  # well under the key ring's publish delay (1 h): new keys are seen in time

log = logging.getLogger("zerogate.idp.oidc")

# What to do with a consent request, given the provider's ConsentRequired; the login UI renders it.
ConsentPage = Callable[[Request, ConsentRequired, ActiveSession], Awaitable[Response]]
ErrorPage = Callable[[Request, str, str, int], Awaitable[Response]]
# Asks the user to confirm a logout that came without a usable hint (OA-A13): a page to show,
# or None once confirmed.
LogoutConfirm = Callable[
    [Request, EndSession, tuple[tuple[str, str], ...]], Awaitable[Response | None]
]
# Told of every token request: (grant_type as sent, issued?, the OAuth error code or "").
# `server_error` means the issuer failed, any other code that the client's request was refused.
TokenRequests = Callable[[str, bool, str], None]


class OIDCRoutes:
    """Builds the Starlette routes of the provider for one deployment."""

    def __init__(
        self,
        provider: OIDCProvider,
        sessions: Sessions,
        *,
        clock: Clock,
        public_url: str,
        error_page: ErrorPage,
        consent_page: ConsentPage | None = None,
        confirm_logout: LogoutConfirm | None = None,
        login_path: str = "/login",
        step_up_path: str = "/login/mfa",
        backchannel_timeout_s: float = 5.0,
        on_token: TokenRequests | None = None,
        security_events: SecurityEvents | None = None,
    ) -> None:
        self.provider = provider
        self.sessions = sessions
        self.clock = clock
        self.public_url = public_url.rstrip("/")
        self.error_page = error_page
        self.consent_page = consent_page
        self.confirm_logout = confirm_logout
        self.login_path = login_path
        self.step_up_path = step_up_path
        self.backchannel_timeout_s = backchannel_timeout_s
        self.on_token = on_token
        self.security_events = security_events  # each token request, awaited (the audit log)
        self._tasks: set[asyncio.Task[None]] = set()

    def routes(self) -> list[Route]:
        return [
            Route(DISCOVERY_PATH, self.discovery, methods=["GET"]),
            Route(JWKS_PATH, self.jwks, methods=["GET"]),
            Route(AUTHORIZE_PATH, self.authorize, methods=["GET", "POST"]),
            Route(TOKEN_PATH, self.token, methods=["POST"]),
            Route(USERINFO_PATH, self.userinfo, methods=["GET", "POST"]),
            Route(REVOKE_PATH, self.revoke, methods=["POST"]),
            Route(INTROSPECT_PATH, self.introspect, methods=["POST"]),
            Route(END_SESSION_PATH, self.end_session, methods=["GET", "POST"]),
        ]

    # Documents

    async def discovery(self, request: Request) -> Response:
        return _json(self.provider.discovery(), max_age=300)

    async def jwks(self, request: Request) -> Response:
        return _json(self.provider.jwks(self.clock.now()), max_age=JWKS_MAX_AGE_S)

    # Browser endpoints

    async def authorize(self, request: Request) -> Response:
        req = await self.translate(request)
        if req is None:
            return await self.error_page(
                request, "request_too_large", "The request is too large.", 413
            )
        session = await self.current_session(request)
        try:
            outcome = await self.provider.authorize(req, session, now=self.clock.now())
        except OIDCError as error:
            # Never redirect to an unverified place: tell the user instead (OAUTH redirect rules).
            return await self.error_page(request, error.code, error.message, error.status)
        return await self.answer(request, outcome, session)

    async def answer(
        self,
        request: Request,
        outcome: OIDCResponse | LoginRequired | ConsentRequired,
        session: ActiveSession | None,
    ) -> Response:
        if isinstance(outcome, OIDCResponse):
            return _response(outcome)
        if isinstance(outcome, LoginRequired):
            if outcome.need is LoginNeed.STEP_UP:
                target = f"{self.step_up_path}?{urlencode({'next': outcome.return_to})}"
            elif outcome.need is LoginNeed.REAUTHENTICATE:
                query = {"next": outcome.return_to, "prompt": "login"}
                target = f"{self.login_path}?{urlencode(query)}"
            else:
                target = f"{self.login_path}?{urlencode({'next': outcome.return_to})}"
            return RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})
        if self.consent_page is None or session is None:
            return await self.error_page(
                request, "consent_unavailable", "This client needs consent.", 400
            )
        return await self.consent_page(request, outcome, session)

    async def end_session(self, request: Request) -> Response:
        """RP-initiated logout (OIDC-10, OA-A13): a valid `id_token_hint` for the signed-in user
        ends the session at once; without one the user confirms first; a hint for someone else
        ends nothing. Then back to the registered `post_logout_redirect_uri`, if any."""
        req = await self.translate(request)
        if req is None:
            return await self.error_page(
                request, "request_too_large", "The request is too large.", 413
            )
        now = self.clock.now()
        try:
            ended = await self.provider.end_session(req, now=now)
        except OIDCError as error:
            return await self.error_page(request, error.code, error.message, error.status)
        session = await self.current_session(request)
        if session is not None and ended.subject is None:
            if self.confirm_logout is None:
                message = "Sign out from the account page instead."
                return await self.error_page(request, "logout_confirmation_required", message, 400)
            params = req.query if req.method == "GET" else req.form
            page = await self.confirm_logout(request, ended, params)
            if page is not None:
                return page
        if session is not None and ended.subject in (None, session.user_id):
            await self.sessions.revoke(session.id, reason="logout", now=now)
            await self.signed_out([session.id])
        target = ended.redirect_to or "/login?notice=signed_out"
        response = RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})
        response.headers.append("Set-Cookie", clear_session_cookie())
        return response

    async def signed_out(self, session_ids: list[str]) -> None:
        """Tell the clients that hold grants of these ended sessions (back-channel logout)."""
        self.send_backchannel(await self.provider.logout_notices(session_ids, now=self.clock.now()))

    # Back-channel endpoints

    async def token(self, request: Request) -> Response:
        if self.on_token is None and self.security_events is None:
            return await self._backchannel(request, self.provider.token)
        req = await self.translate(request)
        if req is None:
            if self.on_token is not None:
                self._told(self.on_token, "", 413, b"")
            return _too_large()
        grant = next((v for k, v in req.form if k == "grant_type"), "")
        try:
            outcome = await self.provider.token(req, now=self.clock.now())
        except Exception:
            if self.on_token is not None:
                self._told(self.on_token, grant, 500, b"")
            raise
        if self.on_token is not None:
            self._told(self.on_token, grant, outcome.status, outcome.body)
        if self.security_events is not None:
            # Recorded before the tokens leave: tokens that cannot be audited are not handed out.
            form_client = next((v for k, v in req.form if k == "client_id"), "")
            await self.security_events(
                token_event(
                    grant,
                    outcome.status,
                    outcome.body,
                    client_id=form_client or _basic_client(request),
                    ip=client_ip(request),
                )
            )
        return _response(outcome)

    @staticmethod
    def _told(on_token: TokenRequests, grant: str, status: int, body: bytes) -> None:
        """Tell `on_token`; a failing listener never changes the answer (tokens may be out)."""
        if status == 200:
            error = ""
        elif status >= 500:
            error = "server_error"
        else:
            try:
                found = orjson.loads(body).get("error") if body else None
            except (orjson.JSONDecodeError, AttributeError):
                found = None
            error = found if isinstance(found, str) else "invalid_request"
        try:
            on_token(grant, status == 200, error)
        except Exception:
            log.exception("the token request listener failed")

    async def revoke(self, request: Request) -> Response:
        return await self._backchannel(request, self.provider.revoke)

    async def introspect(self, request: Request) -> Response:
        return await self._backchannel(request, self.provider.introspect)

    async def userinfo(self, request: Request) -> Response:
        return await self._backchannel(request, self.provider.userinfo)

    async def _backchannel(
        self, request: Request, call: Callable[..., Awaitable[OIDCResponse]]
    ) -> Response:
        req = await self.translate(request)
        if req is None:
            return _too_large()
        return _response(await call(req, now=self.clock.now()))

    # Helpers

    async def translate(self, request: Request) -> OIDCRequest | None:
        """The request as the provider sees it; None if the body is over the limit."""
        form: tuple[tuple[str, str], ...] = ()
        if request.method == "POST":
            declared = request.headers.get("content-length")
            if declared is not None and (not declared.isdigit() or int(declared) > MAX_FORM_BYTES):
                return None
            body = await request.body()
            if len(body) > MAX_FORM_BYTES:
                return None
            content_type = request.headers.get("content-type", "").split(";")[0].strip()
            if content_type == "application/x-www-form-urlencoded":
                parsed = await request.form(max_files=0, max_fields=100)
                form = tuple((k, v) for k, v in parsed.multi_items() if isinstance(v, str))
        query = tuple(request.query_params.multi_items())
        url = self.public_url + request.url.path
        if request.url.query:
            url += "?" + request.url.query
        headers = {k.lower(): v for k, v in request.headers.items() if k.lower() != "cookie"}
        return OIDCRequest(request.method, url, headers, query, form)

    async def current_session(self, request: Request) -> ActiveSession | None:
        token = parse_session_cookie(request.headers.get("cookie"))
        if token is None:
            return None
        try:
            return await self.sessions.resolve(token, now=self.clock.now())
        except SessionInvalid:
            return None

    def send_backchannel(self, notices: list[LogoutNotice]) -> None:
        """Deliver logout tokens in the background; a failed delivery is logged, never retried
        forever (the grants are already revoked, so the RP's tokens no longer work anyway)."""
        if not notices:
            return
        task = asyncio.create_task(self._deliver(notices))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, notices: list[LogoutNotice]) -> None:
        async with httpx.AsyncClient(timeout=self.backchannel_timeout_s) as client:
            for notice in notices:
                try:
                    reply = await client.post(
                        notice.uri, data={"logout_token": notice.logout_token}
                    )
                    if reply.status_code >= 300:
                        log.warning(
                            "back-channel logout refused",
                            extra={"client_id": notice.client_id, "status": reply.status_code},
                        )
                except httpx.HTTPError as error:
                    log.warning(
                        "back-channel logout failed",
                        extra={"client_id": notice.client_id, "error": type(error).__name__},
                    )

    async def drain(self) -> None:
        """Wait for back-channel deliveries in flight (tests and shutdown)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _response(outcome: OIDCResponse) -> Response:
    response = Response(outcome.body, status_code=outcome.status)
    for name, value in outcome.headers:
        response.headers.append(name, value)
    return response


def _too_large() -> Response:
    body = {"error": "invalid_request", "error_description": "request body too large"}
    return _json(body, status=413)


def _json(body: object, *, status: int = 200, max_age: int | None = None) -> Response:
    headers = {"Cache-Control": f"public, max-age={max_age}" if max_age else "no-store"}
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


def _basic_client(request: Request) -> str:
    """The client id of HTTP Basic client authentication (RFC 6749 §2.3.1), or ""."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return ""
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""
    return unquote_plus(decoded.partition(":")[0])[:256]
