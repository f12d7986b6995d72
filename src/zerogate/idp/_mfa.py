"""`/login/mfa`: the second factor, to finish a sign-in or to step up a live session.

With a pending-login cookie (a password just passed) a TOTP code or a recovery code completes
the sign-in: a new session with amr `pwd` + `otp` (or `pwd` + `mfa` for a recovery code) and
`mfa_at` = now. Without one, a signed-in user proves the factor again and `Sessions.step_up`
rotates the session token (ASVS 5.0 7.2.4). TOTP codes are single use (`TOTP.verify`, ASVS
6.5.1); wrong codes are throttled per user by the identity part.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from zerogate.errors import InvalidInput, NotFound
from zerogate.identity import RecoveryCodeInvalid, TOTPInvalid, User
from zerogate.idp._csrf import pending_anchor, session_anchor
from zerogate.idp._pages import see_other
from zerogate.idp._pending import PENDING_COOKIE_NAME, PendingLogin
from zerogate.idp._redirects import login_path, safe_next
from zerogate.idp._site import SignedIn, Site, read_form

PURPOSE = "mfa"
# RFC 8176 has no value for a look-up secret; "mfa" says a second factor was used without
# claiming it was an OTP device (policies asking for "otp" still see the difference).
TOTP_AMR = "otp"
RECOVERY_AMR = "mfa"
_METHODS = ("totp", "recovery")


class MFAPage:
    """GET shows the code form (TOTP, or a recovery code); POST checks it."""

    def __init__(self, site: Site) -> None:
        self._site = site

    async def show(self, request: Request) -> Response:
        method = _method(request.query_params.get("method"))
        pending = self._pending(request)
        if pending is not None:
            return self._form(method, anchor=pending_anchor(pending.nonce), next_path=None)
        signed = await self._site.signed_in(request)
        next_path = safe_next(request.query_params.get("next"))
        if signed is None:
            return see_other(login_path(next_path))
        user = await self._site.directory.get_user_by_id(signed.session.user_id)
        if not await self._site.has_second_factor(user) and method == "totp":
            return self._site.pages.render("mfa_missing.html", next=next_path)
        return self._form(method, anchor=session_anchor(signed.token), next_path=next_path)

    async def submit(self, request: Request) -> Response:
        site = self._site
        form = await read_form(request)
        method = _method(form.get("method"))
        pending = self._pending(request)
        if pending is not None:
            anchor = pending_anchor(pending.nonce)
            site.csrf.check(request, form, purpose=PURPOSE, anchor=anchor)
            return await self._finish(request, pending, method, form.get("code", ""), anchor)
        signed = await site.signed_in(request)
        if signed is None:
            site.csrf.check_origin(request)
            return see_other(login_path(safe_next(form.get("next"))))
        anchor = session_anchor(signed.token)
        site.csrf.check(request, form, purpose=PURPOSE, anchor=anchor)
        return await self._step_up(signed, method, form, anchor)

    async def _finish(
        self, request: Request, pending: PendingLogin, method: str, code: str, anchor: str
    ) -> Response:
        site = self._site
        try:
            user: User | None = await site.directory.get_user_by_id(pending.user_id)
        except NotFound:
            user = None
        if user is None or user.disabled or user.locked(now=site.now()):
            # Deleted, disabled or locked since the password step: that sign-in is over.
            return see_other(login_path(pending.next), cookies=(site.pending.clear(),))
        error = await self._verify(user, method, code)
        if error is not None:
            return self._form(method, anchor=anchor, next_path=None, error=error)
        amr = ("pwd", TOTP_AMR if method == "totp" else RECOVERY_AMR)
        return await site.start_session(
            request,
            user,
            amr=amr,
            mfa_at=site.now(),
            next_path=pending.next,
        )

    async def _step_up(
        self, signed: SignedIn, method: str, form: dict[str, str], anchor: str
    ) -> Response:
        site = self._site
        next_path = safe_next(form.get("next"))
        user = await site.directory.get_user_by_id(signed.session.user_id)
        error = await self._verify(user, method, form.get("code", ""))
        if error is not None:
            return self._form(method, anchor=anchor, next_path=next_path, error=error)
        amr = TOTP_AMR if method == "totp" else RECOVERY_AMR
        new = await site.sessions.step_up(signed.token, amr=[amr], now=site.now())
        return see_other(next_path, cookies=(site.cookie_for(new),))

    async def _verify(self, user: User, method: str, code: str) -> tuple[str, int] | None:
        """None if the code is good, else the public message and status to show."""
        now = self._site.now()
        try:
            if method == "totp":
                await self._site.totp.verify(user, code, now=now)
            else:
                await self._site.recovery.use(user, code, now=now)
        except (TOTPInvalid, RecoveryCodeInvalid, InvalidInput) as exc:
            return exc.message, exc.status
        return None

    def _pending(self, request: Request) -> PendingLogin | None:
        value = request.cookies.get(PENDING_COOKIE_NAME)
        return self._site.pending.read(value, now=self._site.now())

    def _form(
        self,
        method: str,
        *,
        anchor: str,
        next_path: str | None,
        error: tuple[str, int] | None = None,
    ) -> Response:
        message, status = error if error is not None else (None, 200)
        return self._site.pages.render(
            "mfa.html",
            status=status,
            method=method,
            other="recovery" if method == "totp" else "totp",
            step_up=next_path is not None,
            next=next_path or "/",
            csrf=self._site.csrf.token(PURPOSE, anchor),
            error=message,
        )


def _method(value: str | None) -> str:
    return value if value in _METHODS else "totp"


__all__ = ["PURPOSE", "RECOVERY_AMR", "TOTP_AMR", "MFAPage"]
