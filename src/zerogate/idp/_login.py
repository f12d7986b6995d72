"""`/login`: the username-or-email and password form, and what follows a correct password.

One message for every failure (unknown user, wrong password, locked, throttled) with HTTP 401,
so the page never says which accounts exist (ASVS 5.0 6.3.8); throttling and lockout come from
`Directory`. A user with a second factor goes on to `/login/mfa` carrying a signed pending-login
cookie; everyone else gets a session at once. `prompt=login` shows the form even to a signed-in
user (OpenID Connect `prompt=login` / `max_age`); the new session then replaces the old one.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from zerogate.identity import AuthenticationFailed
from zerogate.idp._csrf import (
    browser_anchor,
    browser_anchor_of,
    browser_cookie,
    browser_value,
    new_browser_value,
)
from zerogate.idp._pages import see_other
from zerogate.idp._redirects import mfa_path, safe_next
from zerogate.idp._site import Site, client_ip, read_form

PURPOSE = "login"
_NOTICES = {"signed_out": "You have signed out."}


class LoginPage:
    """GET shows the password form; POST checks it."""

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
        try:
            verified = await site.directory.authenticate(
                username, form.get("password", ""), ip=client_ip(request), now=site.now()
            )
        except AuthenticationFailed as exc:
            # The reason is already in the identity log; the page shows the one public message.
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
    ) -> Response:
        value = browser_value(request)
        cookies: tuple[str, ...] = ()
        if value is None:
            value = new_browser_value()
            cookies = (browser_cookie(value),)
        return self._site.pages.render(
            "login.html",
            status=status,
            cookies=cookies,
            csrf=self._site.csrf.token(PURPOSE, browser_anchor_of(value)),
            next=next_path,
            forced=forced,
            username=username[:320],
            error=error,
            notice=notice,
        )


__all__ = ["PURPOSE", "LoginPage"]
