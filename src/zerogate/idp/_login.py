"""`/login`: the username-or-email and password form, and what follows a correct password.

One message for every failure (unknown user, wrong password, locked, throttled) with HTTP 401,
so the page never says which accounts exist (ASVS 5.0 6.3.8); throttling and lockout come from
`Directory`. A user with a second factor goes on to `/login/mfa` carrying a signed pending-login
cookie; everyone else gets a session at once. `prompt=login` shows the form even to a signed-in
user (OpenID Connect `prompt=login` / `max_age`); the new session then replaces the old one.

With passkeys, the page also offers a username-less sign-in: its script POSTs
`/login/passkey/options` to begin a ceremony that names no user, then posts the assertion to
`/login/passkey`. That ceremony always requires user verification: the passkey replaces the
password *and* the second factor, so the authenticator must check the person (PIN or biometric),
which makes it a multi-factor authenticator by itself (NIST SP 800-63B §5.1.9). The session gets
the passkey's amr and `mfa_at` = now.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from zerogate.identity import AuthenticationFailed, PasskeyInvalid
from zerogate.idp._csrf import (
    browser_anchor,
    browser_anchor_of,
    browser_cookie,
    browser_value,
    new_browser_value,
)
from zerogate.idp._federation_routes import upstream_login_path
from zerogate.idp._pages import see_other
from zerogate.idp._passkeys import WebPasskeys
from zerogate.idp._redirects import mfa_path, safe_next
from zerogate.idp._security import SecurityEventKind
from zerogate.idp._site import Site, client_ip, read_form

PURPOSE = "login"
PASSKEY_PURPOSE = "passkey-login"
_NOTICES = {"signed_out": "You have signed out."}


class LoginPage:
    """GET shows the password form; POST checks it. Passkey sign-in has its own two POSTs."""

    def __init__(self, site: Site) -> None:
        self._site = site

    async def show(self, request: Request) -> Response:
        next_path = safe_next(request.query_params.get("next"))
        forced = request.query_params.get("prompt") == "login"
        if not forced and await self._site.signed_in(request) is not None:
            return see_other(next_path)
        notice = _NOTICES.get(request.query_params.get("notice", ""))
        return self._form(request, next_path=next_path, forced=forced, notice=notice)

    async def submit(self, request: Request) -> Response:
        site = self._site
        form = await read_form(request)
        site.csrf.check(request, form, purpose=PURPOSE, anchor=browser_anchor(request))
        next_path = safe_next(form.get("next"))
        forced = form.get("prompt") == "login"
        username = form.get("username", "")
        upstream = None if site.upstreams is None else site.upstreams.home_realm(username)
        if upstream is not None:
            # Home-realm discovery: this domain signs in at its own identity provider.
            return see_other(upstream_login_path(upstream, next_path, login_hint=username))
        try:
            verified = await site.directory.authenticate(
                username, form.get("password", ""), ip=client_ip(request), now=site.now()
            )
        except AuthenticationFailed as exc:
            # The reason is already in the identity log; the page shows the one public message.
            await site.record(
                request,
                SecurityEventKind.LOGIN,
                ok=False,
                methods=("pwd",),
                user_id=exc.user_id,
                reason=str(exc.reason),
            )
            return self._form(
                request,
                next_path=next_path,
                forced=forced,
                username=username,
                error=exc.message,
                status=exc.status,
            )
        user = verified.user
        if await site.has_second_factor(user):
            _, cookie = site.pending.issue(user.id, next_path=next_path, now=site.now())
            return see_other(mfa_path(), cookies=(cookie,))
        return await site.start_session(
            request, user, amr=verified.amr, mfa_at=None, next_path=next_path
        )

    async def passkey_options(self, request: Request) -> Response:
        """Begin a username-less passkey sign-in for this browser (JSON for the page's script)."""
        site, passkeys = self._site, self._passkeys()
        form = await read_form(request)
        anchor = self._passkey_anchor(request, form)
        begun = await passkeys.begin_sign_in(
            None, require_uv=True, purpose=PASSKEY_PURPOSE, anchor=anchor, now=site.now()
        )
        return begun.response()

    async def passkey_submit(self, request: Request) -> Response:
        """Finish a username-less passkey sign-in: the passkey says who, the store says whether."""
        site, passkeys = self._site, self._passkeys()
        form = await read_form(request)
        anchor = self._passkey_anchor(request, form)
        next_path = safe_next(form.get("next"))
        now = site.now()
        try:
            verified = await passkeys.finish_sign_in(
                form,
                purpose=PASSKEY_PURPOSE,
                anchor=anchor,
                expected_user=None,
                require_uv=True,
                now=now,
            )
        except PasskeyInvalid as exc:  # the reason is in the log; the page says one thing
            await site.record(
                request,
                SecurityEventKind.LOGIN,
                ok=False,
                methods=("passkey",),
                reason=str(exc.reason),
            )
            return self._form(
                request,
                next_path=next_path,
                forced=False,
                error=exc.message,
                status=exc.status,
                passkey_error=True,
            )
        return await site.start_session(
            request,
            verified.user,
            amr=verified.amr,
            mfa_at=now if verified.user_verified else None,
            next_path=next_path,
        )

    def _passkey_anchor(self, request: Request, form: dict[str, str]) -> str:
        """The browser's CSRF anchor, after checking the form's token against it."""
        anchor = browser_anchor(request)
        self._site.csrf.check(request, form, purpose=PASSKEY_PURPOSE, anchor=anchor)
        return anchor or ""  # never empty here: check() refuses a browser without one

    def _passkeys(self) -> WebPasskeys:
        if self._site.passkeys is None:  # the routes exist only with passkeys
            raise HTTPException(404)
        return self._site.passkeys

    def _form(
        self,
        request: Request,
        *,
        next_path: str,
        forced: bool,
        username: str = "",
        error: str | None = None,
        notice: str | None = None,
        status: int = 200,
        passkey_error: bool = False,
    ) -> Response:
        site = self._site
        value = browser_value(request)
        cookies: tuple[str, ...] = ()
        if value is None:
            value = new_browser_value()
            cookies = (browser_cookie(value),)
        anchor = browser_anchor_of(value)
        passkey_csrf = None  # no passkey form unless the pages offer passkeys
        if site.passkeys is not None:
            passkey_csrf = site.csrf.token(PASSKEY_PURPOSE, anchor)
        response = site.pages.render(
            "login.html",
            status=status,
            cookies=cookies,
            csrf=site.csrf.token(PURPOSE, anchor),
            next=next_path,
            forced=forced,
            username=username[:320],
            error=error,
            passkey_error=passkey_error,
            notice=notice,
            passkey_csrf=passkey_csrf,
            upstreams=[
                (c.display_name, upstream_login_path(c.name, next_path))
                for c in (site.upstreams.choices() if site.upstreams is not None else [])
            ],
        )
        return response if site.passkeys is None else site.passkeys.allow_script(response)


__all__ = ["PASSKEY_PURPOSE", "PURPOSE", "LoginPage"]
