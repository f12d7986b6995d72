"""`/login/mfa`: the second factor, to finish a sign-in or to step up a live session.

With a pending-login cookie (a password just passed) a TOTP code, a recovery code or a passkey
completes the sign-in: a new session with amr `pwd` + `otp` (`pwd` + `mfa` for a recovery code,
`pwd` + the passkey's own amr) and `mfa_at` = now. Without one, a signed-in user proves a factor
again and `Sessions.step_up` rotates the session token (ASVS 5.0 7.2.4). TOTP codes are single
use (`TOTP.verify`, ASVS 6.5.1); wrong codes are throttled per user by the identity part. A
passkey ceremony is begun when the page is shown, for this user's passkeys only, and its ticket
is bound to the same anchor as the page's CSRF token.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from zerogate.errors import InvalidInput, NotFound, ZerogateError
from zerogate.identity import PasskeyInvalid, RecoveryCodeInvalid, TOTPInvalid, User
from zerogate.idp._csrf import pending_anchor, session_anchor
from zerogate.idp._pages import see_other
from zerogate.idp._passkeys import Begun
from zerogate.idp._pending import PENDING_COOKIE_NAME, PendingLogin
from zerogate.idp._redirects import login_path, safe_next
from zerogate.idp._security import SecurityEventKind
from zerogate.idp._site import Factors, SignedIn, Site, read_form

PURPOSE = "mfa"
# RFC 8176 has no value for a look-up secret; "mfa" says a second factor was used without
# claiming it was an OTP device (policies asking for "otp" still see the difference).
TOTP_AMR = "otp"
RECOVERY_AMR = "mfa"
# What a failed attempt of each method was trying to prove (the audit's `methods`).
_TRIED = {"totp": (TOTP_AMR,), "recovery": ("recovery",), "passkey": ("passkey",)}
_METHODS = ("totp", "recovery", "passkey")
log = logging.getLogger("zerogate.idp")


@dataclass(frozen=True, slots=True)
class _Step:
    """Who is proving a factor here, and what the page's forms are bound to."""

    user: User | None  # None: deleted since the password step (the post will say so)
    anchor: str
    next_path: str | None  # None during a sign-in; where to return to after a step-up
    # A passkey must verify the user: an administrator, or a session with no password in it
    # (its passkey was the only factor, so a touch alone would prove nothing new).
    require_uv: bool


class MFAPage:
    """GET shows the second-factor forms (passkey, TOTP or a recovery code); POST checks one."""

    def __init__(self, site: Site) -> None:
        self._site = site

    async def show(self, request: Request) -> Response:
        method = _method(request.query_params.get("method"))
        pending = self._pending(request)
        if pending is not None:
            return await self._form(method, await self._sign_in_step(pending))
        signed = await self._site.signed_in(request)
        next_path = safe_next(request.query_params.get("next"))
        if signed is None:
            return see_other(login_path(next_path))
        user, step = await self._step_up_step(signed, next_path)
        if not await self._site.has_second_factor(user) and method != "recovery":
            offer_passkeys = self._site.passkeys is not None
            return self._site.pages.render(
                "mfa_missing.html", next=next_path, offer_passkeys=offer_passkeys
            )
        return await self._form(method, step)

    async def submit(self, request: Request) -> Response:
        site = self._site
        form = await read_form(request)
        method = _method(form.get("method"))
        pending = self._pending(request)
        if pending is not None:
            step = await self._sign_in_step(pending)
            site.csrf.check(request, form, purpose=PURPOSE, anchor=step.anchor)
            return await self._finish(request, pending, step, method, form)
        signed = await site.signed_in(request)
        if signed is None:
            site.csrf.check_origin(request)
            return see_other(login_path(safe_next(form.get("next"))))
        site.csrf.check(request, form, purpose=PURPOSE, anchor=session_anchor(signed.token))
        user, step = await self._step_up_step(signed, safe_next(form.get("next")))
        return await self._step_up(request, signed, user, step, method, form)

    async def _finish(
        self,
        request: Request,
        pending: PendingLogin,
        step: _Step,
        method: str,
        form: dict[str, str],
    ) -> Response:
        site = self._site
        user = step.user
        if user is None or user.disabled or user.locked(now=site.now()):
            # Deleted, disabled or locked since the password step: that sign-in is over.
            return see_other(login_path(pending.next), cookies=(site.pending.clear(),))
        verified = await self._verify(request, step, user, method, form)
        if not isinstance(verified, tuple):
            return verified
        return await site.start_session(
            request,
            user,
            amr=("pwd", *verified),
            mfa_at=site.now(),
            next_path=pending.next,
        )

    async def _step_up(
        self,
        request: Request,
        signed: SignedIn,
        user: User,
        step: _Step,
        method: str,
        form: dict[str, str],
    ) -> Response:
        site = self._site
        verified = await self._verify(request, step, user, method, form, step_up=True)
        if not isinstance(verified, tuple):
            return verified
        new = await site.sessions.step_up(signed.token, amr=verified, now=site.now())
        return see_other(step.next_path or "/", cookies=(site.cookie_for(new),))

    async def _verify(
        self,
        request: Request,
        step: _Step,
        user: User,
        method: str,
        form: dict[str, str],
        *,
        step_up: bool = False,
    ) -> tuple[str, ...] | Response:
        """The amr values the factor proves (recorded as a security event), or the page again
        with the public error (the failure recorded too)."""
        site = self._site
        try:
            proved = await self._prove(step, user, method, form)
        except (TOTPInvalid, RecoveryCodeInvalid, PasskeyInvalid, InvalidInput) as exc:
            tried = _TRIED.get(method, (method,))
            reason = str(getattr(exc, "reason", exc.code))
            await site.record(
                request,
                SecurityEventKind.MFA,
                ok=False,
                methods=tried,
                user=user,
                reason=reason,
                step_up=step_up,
            )
            shown = "totp" if method == "passkey" else method
            return await self._form(
                shown, step, error=(exc.message, exc.status), passkey_error=method == "passkey"
            )
        await site.record(
            request, SecurityEventKind.MFA, ok=True, methods=proved, user=user, step_up=step_up
        )
        return proved

    async def _prove(
        self, step: _Step, user: User, method: str, form: dict[str, str]
    ) -> tuple[str, ...]:
        """The amr values the factor proves; raises its error when it does not."""
        site = self._site
        now = site.now()
        if method == "passkey" and site.passkeys is not None:
            passkey = await site.passkeys.finish_sign_in(
                form,
                purpose=PURPOSE,
                anchor=step.anchor,
                expected_user=user.id,
                require_uv=step.require_uv,
                now=now,
            )
            return passkey.amr
        if method == "passkey":  # passkeys are off here: nothing can be verified
            raise InvalidInput("passkeys are not offered here", code="form_invalid")
        code = form.get("code", "")
        if method == "totp":
            await site.totp.verify(user, code, now=now)
            return (TOTP_AMR,)
        await site.recovery.use(user, code, now=now)
        return (RECOVERY_AMR,)

    async def _sign_in_step(self, pending: PendingLogin) -> _Step:
        site = self._site
        try:
            user: User | None = await site.directory.get_user_by_id(pending.user_id)
        except NotFound:
            user = None
        require_uv = False
        if user is not None and site.passkeys is not None:
            require_uv = await site.passkeys.needs_user_verification(user)
        return _Step(user, pending_anchor(pending.nonce), None, require_uv)

    async def _step_up_step(self, signed: SignedIn, next_path: str) -> tuple[User, _Step]:
        site = self._site
        user = await site.directory.get_user_by_id(signed.session.user_id)
        require_uv = False
        if site.passkeys is not None:
            require_uv = "pwd" not in signed.session.amr or (
                await site.passkeys.needs_user_verification(user)
            )
        return user, _Step(user, session_anchor(signed.token), next_path, require_uv)

    def _pending(self, request: Request) -> PendingLogin | None:
        value = request.cookies.get(PENDING_COOKIE_NAME)
        return self._site.pending.read(value, now=self._site.now())

    async def _form(
        self,
        method: str,
        step: _Step,
        *,
        error: tuple[str, int] | None = None,
        passkey_error: bool = False,
    ) -> Response:
        site = self._site
        message, status = error if error is not None else (None, 200)
        factors = Factors(totp=True, passkeys=False)  # a deleted user: the post will say so
        if step.user is not None:
            factors = await site.factors(step.user)
        passkey: Begun | None = None
        if site.passkeys is not None and step.user is not None and factors.passkeys:
            try:
                passkey = await site.passkeys.begin_sign_in(
                    step.user,
                    require_uv=step.require_uv,
                    purpose=PURPOSE,
                    anchor=step.anchor,
                    now=site.now(),
                )
            except ZerogateError as exc:
                if exc.code != "passkey_busy":
                    raise
                # Too many ceremonies in progress (someone is flooding the username-less
                # sign-in): the codes still work, so offer them rather than fail the page.
                log.warning("passkey offer skipped", extra={"reason": exc.code})
        code_method = "recovery" if method == "recovery" else "totp"
        response = site.pages.render(
            "mfa.html",
            status=status,
            method=code_method,
            show_code=code_method == "recovery" or factors.totp,
            totp_link=code_method == "recovery" and factors.totp,
            passkey=passkey,
            step_up=step.next_path is not None,
            next=step.next_path or "/",
            csrf=site.csrf.token(PURPOSE, step.anchor),
            error=message,
            passkey_error=passkey_error,
        )
        if passkey is not None and site.passkeys is not None:
            site.passkeys.allow_script(response)
        return response


def _method(value: str | None) -> str:
    return value if value in _METHODS else "totp"


__all__ = ["PURPOSE", "RECOVERY_AMR", "TOTP_AMR", "MFAPage"]
