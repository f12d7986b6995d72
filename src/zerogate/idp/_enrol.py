"""`/mfa/totp/enrol`: add an authenticator app, then show one-time recovery codes.

GET starts an enrolment (a new unconfirmed credential) and shows its QR code, rendered on the
server so the seed never reaches a third party, and the secret for manual entry. POST confirms it
with a first code; the first authenticator also gets a fresh set of recovery codes, shown once.
Adding a factor needs a recent sign-in, and a recent second factor once one exists (ASVS 5.0
7.5.1): otherwise the user is sent to sign in or step up first.
"""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response

from zerogate.errors import Conflict, InvalidInput, NotFound
from zerogate.identity import TOTPInvalid, User
from zerogate.idp._csrf import session_anchor
from zerogate.idp._pages import see_other, trusted_svg
from zerogate.idp._redirects import HOME, login_path, mfa_path
from zerogate.idp._site import SignedIn, Site, read_form

PATH = "/mfa/totp/enrol"
PURPOSE = "totp-enrol"


class TOTPEnrolPage:
    """GET shows a new QR code and secret; POST confirms with a code."""

    def __init__(self, site: Site) -> None:
        self._site = site

    async def show(self, request: Request) -> Response:
        site = self._site
        signed = await site.signed_in(request)
        if signed is None:
            return see_other(login_path(PATH))
        user = await site.directory.get_user_by_id(signed.session.user_id)
        detour = await self._needs_fresh_auth(signed, user)
        if detour is not None:
            return detour
        enrolment = await site.totp.begin_enrolment(
            user, label=None, issuer=site.config.issuer, now=site.now()
        )
        return site.pages.render(
            "totp_enrol.html",
            qr=trusted_svg(enrolment.qr_svg),
            secret=" ".join(
                enrolment.secret[i : i + 4] for i in range(0, len(enrolment.secret), 4)
            ),
            credential=enrolment.credential.id,
            csrf=site.csrf.token(PURPOSE, session_anchor(signed.token)),
            error=None,
        )

    async def submit(self, request: Request) -> Response:
        site = self._site
        form = await read_form(request)
        signed = await site.signed_in(request)
        if signed is None:
            site.csrf.check_origin(request)
            return see_other(login_path(PATH))
        site.csrf.check(request, form, purpose=PURPOSE, anchor=session_anchor(signed.token))
        user = await site.directory.get_user_by_id(signed.session.user_id)
        detour = await self._needs_fresh_auth(signed, user)
        if detour is not None:
            return detour
        first = not await site.has_second_factor(user)
        credential = form.get("credential", "")
        try:
            await site.totp.confirm_enrolment(
                user, credential, form.get("code", ""), now=site.now()
            )
        except (TOTPInvalid, InvalidInput) as exc:
            # The QR code is not shown again (the seed is not kept anywhere but the store):
            # the user retypes a code from the app they already set up, or starts again.
            return site.pages.render(
                "totp_enrol.html",
                status=exc.status,
                qr=None,
                secret=None,
                credential=credential,
                csrf=site.csrf.token(PURPOSE, session_anchor(signed.token)),
                error=exc.message,
            )
        except NotFound:
            return see_other(PATH)  # a stale form: start a new enrolment
        except Conflict:
            return see_other(HOME)  # confirmed already (the form was sent twice)
        codes: list[str] = []
        if first or await site.recovery.remaining(user) == 0:
            codes = await site.recovery.generate(user, now=site.now())
        return site.pages.render("recovery_codes.html", codes=codes)

    async def _needs_fresh_auth(self, signed: SignedIn, user: User) -> Response | None:
        site = self._site
        now = site.now()
        window = timedelta(seconds=site.config.recent_auth_s)
        if await site.has_second_factor(user):
            mfa_at = signed.session.mfa_at
            if mfa_at is None or now - mfa_at > window:
                return see_other(mfa_path(PATH))
        elif now - signed.session.auth_time > window:
            return see_other(login_path(PATH, prompt_login=True))
        return None


__all__ = ["PATH", "PURPOSE", "TOTPEnrolPage"]
