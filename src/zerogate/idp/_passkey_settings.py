"""`/mfa/passkey/*`: add and remove passkeys from the account page.

The account page's script POSTs `/mfa/passkey/register/options` (CSRF token bound to the
session) to begin a registration for the signed-in user, and posts the browser's answer, with
the name the user typed, to `/mfa/passkey/register`. Removing is a plain form post. Both change
how the user signs in, so both need a recent sign-in, or a recent second factor once the user has
one (ASVS 5.0 7.5.1); otherwise the user is sent to re-authenticate and come back. The user is
always the session's, never anything the client sends; administrators must verify (see
`_passkeys.py`). The first second factor comes with recovery codes, shown once, as for TOTP.
"""

from __future__ import annotations

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from zerogate.errors import Conflict, InvalidInput, NotFound
from zerogate.identity import PasskeyInvalid
from zerogate.idp._account import PASSKEY_REGISTER_PURPOSE, PASSKEY_REMOVE_PURPOSE, AccountPages
from zerogate.idp._csrf import session_anchor
from zerogate.idp._pages import see_other
from zerogate.idp._passkeys import WebPasskeys
from zerogate.idp._redirects import HOME, login_path
from zerogate.idp._site import SignedIn, Site, read_form

REGISTER_PATH = "/mfa/passkey/register"
REGISTER_OPTIONS_PATH = "/mfa/passkey/register/options"
REMOVE_PATH = "/mfa/passkey/remove"


class PasskeySettings:
    """POST handlers behind the account page's passkey forms."""

    def __init__(self, site: Site, account: AccountPages) -> None:
        self._site = site
        self._account = account

    async def register_options(self, request: Request) -> Response:
        """Begin a registration (JSON for the script), or say where to re-authenticate first."""
        site, passkeys = self._site, self._passkeys()
        form = await read_form(request)
        signed = await site.signed_in(request)
        if signed is None:
            site.csrf.check_origin(request)
            return _json({"redirect": login_path()}, status=401)
        anchor = session_anchor(signed.token)
        site.csrf.check(request, form, purpose=PASSKEY_REGISTER_PURPOSE, anchor=anchor)
        user = await site.directory.get_user_by_id(signed.session.user_id)
        detour = await site.reauthentication_path(signed, user, HOME)
        if detour is not None:
            return _json({"redirect": detour}, status=401)
        begun = await passkeys.begin_registration(
            user, purpose=PASSKEY_REGISTER_PURPOSE, anchor=anchor, now=site.now()
        )
        return begun.response()

    async def register(self, request: Request) -> Response:
        """Verify and store the new passkey; the account page again, with the outcome."""
        site, passkeys = self._site, self._passkeys()
        form = await read_form(request)
        signed = await self._signed_in_and_checked(request, form, PASSKEY_REGISTER_PURPOSE)
        if not isinstance(signed, SignedIn):
            return signed
        user = await site.directory.get_user_by_id(signed.session.user_id)
        detour = await site.reauthentication_path(signed, user, HOME)
        if detour is not None:
            return see_other(detour)
        first = not await site.has_second_factor(user)
        try:
            await passkeys.finish_registration(
                user,
                form,
                purpose=PASSKEY_REGISTER_PURPOSE,
                anchor=session_anchor(signed.token),
                now=site.now(),
            )
        except (PasskeyInvalid, InvalidInput, Conflict) as exc:
            # Nothing was stored: the ceremony is spent, and the page offers a new one.
            return await self._account.render(signed, user, error=(exc.message, exc.status))
        if first or await site.recovery.remaining(user) == 0:
            # A passkey is now a second factor after the password: without recovery codes, a
            # lost device would lock the user out.
            codes = await site.recovery.generate(user, now=site.now())
            return site.pages.render("recovery_codes.html", codes=codes, heading="Passkey added")
        return see_other("/?notice=passkey_added")

    async def remove(self, request: Request) -> Response:
        site, passkeys = self._site, self._passkeys()
        form = await read_form(request)
        signed = await self._signed_in_and_checked(request, form, PASSKEY_REMOVE_PURPOSE)
        if not isinstance(signed, SignedIn):
            return signed
        user = await site.directory.get_user_by_id(signed.session.user_id)
        detour = await site.reauthentication_path(signed, user, HOME)
        if detour is not None:
            return see_other(detour)
        try:
            await passkeys.passkeys.remove(user, form.get("passkey", ""), now=site.now())
        except NotFound:
            return see_other(HOME)  # removed already (the form was sent twice), or not theirs
        return see_other("/?notice=passkey_removed")

    async def _signed_in_and_checked(
        self, request: Request, form: dict[str, str], purpose: str
    ) -> SignedIn | Response:
        site = self._site
        signed = await site.signed_in(request)
        if signed is None:
            site.csrf.check_origin(request)
            return see_other(login_path())
        site.csrf.check(request, form, purpose=purpose, anchor=session_anchor(signed.token))
        return signed

    def _passkeys(self) -> WebPasskeys:
        if self._site.passkeys is None:  # the routes exist only with passkeys
            raise HTTPException(404)
        return self._site.passkeys


def _json(body: dict[str, str], *, status: int) -> Response:
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type="application/json",
        headers={"cache-control": "no-store"},
    )


__all__ = ["REGISTER_OPTIONS_PATH", "REGISTER_PATH", "REMOVE_PATH", "PasskeySettings"]
