"""`/` and `/logout`: the signed-in user's account page, and signing out.

The account page shows who is signed in, their live sessions (ASVS 5.0 7.5.2) and second
factors, and (with passkeys) lists the user's passkeys with forms to add and remove them
(`_passkey_settings.py` handles those posts). Signing out is a POST with a CSRF token (a GET only asks for confirmation, so a link or
an image elsewhere cannot sign anyone out); it revokes the session in the store, so the old
cookie stops working everywhere (ASVS 7.4.1), and deletes the cookie.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from zerogate.identity import User, clear_session_cookie, parse_session_cookie
from zerogate.idp._csrf import session_anchor
from zerogate.idp._pages import see_other
from zerogate.idp._redirects import login_path
from zerogate.idp._site import SignedIn, Site, read_form

LOGOUT_PURPOSE = "logout"
PASSKEY_REGISTER_PURPOSE = "passkey-register"
PASSKEY_REMOVE_PURPOSE = "passkey-remove"
SIGNED_OUT = "/login?notice=signed_out"
_NOTICES = {"passkey_added": "Passkey added.", "passkey_removed": "Passkey removed."}


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
        notice = _NOTICES.get(request.query_params.get("notice", ""))
        return await self.render(signed, user, notice=notice)

    async def render(
        self,
        signed: SignedIn,
        user: User,
        *,
        notice: str | None = None,
        error: tuple[str, int] | None = None,
    ) -> Response:
        """The account page; `error` (message, status) is shown by the passkey forms."""
        site = self._site
        now = site.now()
        anchor = session_anchor(signed.token)
        sessions = await site.sessions.list_for(user.username, now=now)
        authenticators = [c for c in await site.totp.list(user) if c.confirmed]
        passkeys = [] if site.passkeys is None else await site.passkeys.list_for(user)
        message, status = error if error is not None else (None, 200)
        response = site.pages.render(
            "account.html",
            status=status,
            user=user,
            current=signed.session,
            sessions=sessions,
            authenticators=authenticators,
            recovery_left=await site.recovery.remaining(user),
            logout_csrf=site.csrf.token(LOGOUT_PURPOSE, anchor),
            offer_passkeys=site.passkeys is not None,
            passkeys=passkeys,
            register_csrf=site.csrf.token(PASSKEY_REGISTER_PURPOSE, anchor),
            remove_csrf=site.csrf.token(PASSKEY_REMOVE_PURPOSE, anchor),
            notice=notice,
            error=message,
        )
        return response if site.passkeys is None else site.passkeys.allow_script(response)

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


__all__ = [
    "LOGOUT_PURPOSE",
    "PASSKEY_REGISTER_PURPOSE",
    "PASSKEY_REMOVE_PURPOSE",
    "SIGNED_OUT",
    "AccountPages",
]
