"""`/` and `/logout`: the signed-in user's account page, and signing out.

The account page shows who is signed in, their live sessions (ASVS 5.0 7.5.2) and second
factors. Signing out is a POST with a CSRF token (a GET only asks for confirmation, so a link or
an image elsewhere cannot sign anyone out); it revokes the session in the store, so the old
cookie stops working everywhere (ASVS 7.4.1), and deletes the cookie.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from zerogate.identity import clear_session_cookie, parse_session_cookie
from zerogate.idp._csrf import session_anchor
from zerogate.idp._pages import see_other
from zerogate.idp._redirects import login_path
from zerogate.idp._site import Site, read_form

LOGOUT_PURPOSE = "logout"
SIGNED_OUT = "/login?notice=signed_out"


class AccountPages:
    """GET / (account), GET /logout (confirm) and POST /logout."""

    def __init__(self, site: Site) -> None:
        self._site = site

    async def home(self, request: Request) -> Response:
        site = self._site
        signed = await site.signed_in(request)
        if signed is None:
            return see_other(login_path())
        user = await site.directory.get_user_by_id(signed.session.user_id)
        now = site.now()
        sessions = await site.sessions.list_for(user.username, now=now)
        authenticators = [c for c in await site.totp.list(user) if c.confirmed]
        return site.pages.render(
            "account.html",
            user=user,
            current=signed.session,
            sessions=sessions,
            authenticators=authenticators,
            recovery_left=await site.recovery.remaining(user),
            logout_csrf=site.csrf.token(LOGOUT_PURPOSE, session_anchor(signed.token)),
        )

    async def confirm_logout(self, request: Request) -> Response:
        site = self._site
        signed = await site.signed_in(request)
        if signed is None:
            return see_other(login_path())
        return site.pages.render(
            "logout.html",
            username=signed.session.username,
            csrf=site.csrf.token(LOGOUT_PURPOSE, session_anchor(signed.token)),
        )

    async def logout(self, request: Request) -> Response:
        site = self._site
        form = await read_form(request)
        token = parse_session_cookie(request.headers.get("cookie"))
        if token is None:  # nothing to end; still make sure no stale cookie stays behind
            site.csrf.check_origin(request)
            return see_other(SIGNED_OUT, cookies=(clear_session_cookie(),))
        site.csrf.check(request, form, purpose=LOGOUT_PURPOSE, anchor=session_anchor(token))
        await site.end_session(token, reason="logout")
        return see_other(SIGNED_OUT, cookies=(clear_session_cookie(),))


__all__ = ["LOGOUT_PURPOSE", "SIGNED_OUT", "AccountPages"]
