"""`create_app`: the login UI as a Starlette app over the identity API, with its error pages."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from zerogate.clock import Clock
from zerogate.errors import ZerogateError
from zerogate.identity import TOTP, Directory, Passkeys, RecoveryCodes, Sessions
from zerogate.identity.federation import Upstreams
from zerogate.identity.oidc import OIDCProvider
from zerogate.idp._account import AccountPages
from zerogate.idp._config import LoginConfig, check_secret, public_origin
from zerogate.idp._continue import CONTINUE_PATH, ContinuePage
from zerogate.idp._csrf import CSRF
from zerogate.idp._enrol import PATH as ENROL_PATH
from zerogate.idp._enrol import TOTPEnrolPage
from zerogate.idp._federation_routes import federation_routes
from zerogate.idp._handoff import HANDOFF_PAGE, HandoffPage
from zerogate.idp._headers import Hardening
from zerogate.idp._login import LoginPage
from zerogate.idp._mfa import MFAPage
from zerogate.idp._oidc_pages import CONSENT_PATH, OIDCPages
from zerogate.idp._oidc_routes import OIDCRoutes, TokenRequests
from zerogate.idp._pages import STATIC_FILES, Pages
from zerogate.idp._passkey_settings import (
    REGISTER_OPTIONS_PATH,
    REGISTER_PATH,
    REMOVE_PATH,
    PasskeySettings,
)
from zerogate.idp._passkeys import WebPasskeys
from zerogate.idp._pending import PendingLogins
from zerogate.idp._return_origins import ReturnOrigins
from zerogate.idp._security import SecurityEvents
from zerogate.idp._signing import derive_key
from zerogate.idp._site import Site

log = logging.getLogger("zerogate.idp")
# Stable codes for what the router and the body limit raise (docs/login.md lists them).
_HTTP_ERRORS = {
    400: ("bad_request", "The request could not be understood."),
    404: ("not_found", "There is no page at this address."),
    405: ("method_not_allowed", "This page does not accept that kind of request."),
    413: ("request_too_large", "The request is too large."),
}
_INTERNAL = "Something went wrong on our side. Try again in a moment."


def create_app(
    *,
    directory: Directory,
    sessions: Sessions,
    totp: TOTP,
    recovery_codes: RecoveryCodes,
    clock: Clock,
    public_url: str,
    secret: bytes,
    config: LoginConfig | None = None,
    oidc: OIDCProvider | None = None,
    passkeys: Passkeys | None = None,
    upstreams: Upstreams | None = None,
    return_origins: Sequence[str] | ReturnOrigins = (),
    handoff_key: bytes | None = None,
    extra_routes: Sequence[BaseRoute] = (),
    security_events: SecurityEvents | None = None,
    on_token: TokenRequests | None = None,
) -> Starlette:
    """The sign-in pages at `public_url` (an origin: https, or http on localhost).

    `secret` (at least 32 random bytes) signs pending logins and CSRF tokens; every replica
    behind one URL needs the same one. `extra_routes` (say, OpenID Connect endpoints) are
    served after the UI's own paths, which they cannot shadow; they get the same security
    headers and size limits but none of the form handling. With `oidc`, the OpenID Connect
    endpoints are served too (issuer = `public_url`), with their consent and logout pages.
    `return_origins` are the origins (the gateway's) that `/continue?to=URL` may send a signed-in
    browser back to (a `ReturnOrigins` the caller keeps may change them while the app runs); with `handoff_key` (shared with the gateway's check service),
    `/handoff?to=URL` signs the browser in to those origins' own hosts too. With `upstreams`, the sign-in page offers each upstream identity provider and sends email
    addresses of their domains there (docs/federation.md). With `passkeys` (RP ID = the host of `public_url`, expected origin = `public_url`), the pages
    offer passkey sign-in, passkeys as a second factor, and passkey registration and removal
    on the account page. `security_events` is told of every sign-in and second-factor attempt
    and every token request, and awaited (the audit log): if it raises, the attempt gets an
    error, not a session or tokens.
    `on_token` is told of every token endpoint request and how it ended (the metrics).
    """
    conf = config or LoginConfig()
    origins = (
        return_origins
        if isinstance(return_origins, ReturnOrigins)
        else ReturnOrigins(return_origins)
    )
    origin = public_origin(public_url)
    key = check_secret(secret)
    pages = Pages(product=conf.issuer)

    async def error_page(request: Request, code: str, message: str, status: int) -> Response:
        return pages.error(code, message, status)

    oidc_routes = None
    if oidc is not None:
        oidc_routes = OIDCRoutes(
            oidc,
            sessions,
            clock=clock,
            public_url=origin,
            error_page=error_page,
            on_token=on_token,
            security_events=security_events,
        )
    web_passkeys = None
    if passkeys is not None:
        web_passkeys = WebPasskeys(
            passkeys,
            directory,
            ticket_key=derive_key(key, "passkey-ceremony"),
            admin_group=conf.admin_group,
            origin=origin,
        )
    site = Site(
        directory=directory,
        sessions=sessions,
        totp=totp,
        recovery=recovery_codes,
        clock=clock,
        config=conf,
        pages=pages,
        csrf=CSRF(derive_key(key, "csrf"), origin=origin),
        pending=PendingLogins(derive_key(key, "pending-login"), ttl_s=conf.pending_ttl_s),
        signed_out=None if oidc_routes is None else oidc_routes.signed_out,
        passkeys=web_passkeys,
        upstreams=upstreams,
        security_events=security_events,
    )
    login, mfa = LoginPage(site), MFAPage(site)
    account, enrol = AccountPages(site), TOTPEnrolPage(site)

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC_FILES:
            raise HTTPException(404)
        return Response(
            pages.static[name],
            media_type=STATIC_FILES[name],
            headers={"cache-control": "public, max-age=3600"},
        )

    routes: list[BaseRoute] = [
        Route("/", account.home, methods=["GET"]),
        Route("/login", _form_page(login.show, login.submit), methods=["GET", "POST"]),
        Route("/login/mfa", _form_page(mfa.show, mfa.submit), methods=["GET", "POST"]),
        Route(ENROL_PATH, _form_page(enrol.show, enrol.submit), methods=["GET", "POST"]),
        Route(
            "/logout", _form_page(account.confirm_logout, account.logout), methods=["GET", "POST"]
        ),
        Route("/static/{name}", static, methods=["GET"]),
        Route(CONTINUE_PATH, ContinuePage(site, origins).follow, methods=["GET"]),
    ]
    if handoff_key is not None:
        handoff = HandoffPage(site, origins, handoff_key)
        routes.append(Route(HANDOFF_PAGE, handoff.give, methods=["GET"]))
    if passkeys is not None:
        settings = PasskeySettings(site, account)
        routes += [
            Route("/login/passkey/options", login.passkey_options, methods=["POST"]),
            Route("/login/passkey", login.passkey_submit, methods=["POST"]),
            Route(REGISTER_OPTIONS_PATH, settings.register_options, methods=["POST"]),
            Route(REGISTER_PATH, settings.register, methods=["POST"]),
            Route(REMOVE_PATH, settings.remove, methods=["POST"]),
        ]
    if oidc_routes is not None:
        oidc_pages = OIDCPages(site)
        oidc_pages.routes = oidc_routes
        oidc_routes.consent_page = oidc_pages.consent
        oidc_routes.confirm_logout = oidc_pages.confirm_logout
        routes.append(Route(CONSENT_PATH, oidc_pages.submit_consent, methods=["POST"]))
        routes.extend(oidc_routes.routes())
    if upstreams is not None:
        routes += federation_routes(
            upstreams,
            sessions,
            clock=clock,
            public_url=public_url,
            secret=secret,
            error_page=pages.error,
            signed_out=site.signed_out,
        )
    routes.extend(extra_routes)
    hardening = Middleware(
        Hardening,
        https=origin.startswith("https://"),
        max_cookie_bytes=conf.max_cookie_bytes,
        max_body_bytes=conf.max_body_bytes,
        render_error=pages.error,
    )

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        code, message = _HTTP_ERRORS.get(status, ("http_error", "The request failed."))
        response = pages.error(code, message, status)
        if isinstance(exc, HTTPException) and exc.headers:
            response.headers.update(exc.headers)  # `Allow` on a 405
        return response

    async def zerogate_error(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, ZerogateError) or exc.status >= 500:
            return await unexpected(request, exc)
        return pages.error(exc.code, exc.message, exc.status)

    async def unexpected(request: Request, exc: Exception) -> Response:
        reference = secrets.token_hex(6)
        log.error("login page failed", exc_info=exc, extra={"reference": reference})
        code = exc.code if isinstance(exc, ZerogateError) else "internal_error"
        status = exc.status if isinstance(exc, ZerogateError) else 500
        return pages.error(code, _INTERNAL, status, reference=reference)

    return Starlette(
        routes=routes,
        middleware=[hardening],
        exception_handlers={
            HTTPException: http_error,
            ZerogateError: zerogate_error,
            Exception: unexpected,
        },
    )


Endpoint = Callable[[Request], Awaitable[Response]]


def _form_page(show: Endpoint, submit: Endpoint) -> Endpoint:
    """One endpoint per path: GET (and HEAD) shows the page, POST submits its form."""

    async def page(request: Request) -> Response:
        return await (submit if request.method == "POST" else show)(request)

    return page


__all__ = ["create_app"]
