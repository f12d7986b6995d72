"""Passkeys as the pages use them: ceremonies begun with a ticket, finished with our own checks.

A WebAuthn ceremony lives in the store: `Passkeys.begin_*` keeps the challenge, the user and
whether user verification (UV) is required, and the page carries only its id. The id travels as
a *ticket*: the id plus an HMAC over it, the form it was begun for and the browser state that
form's CSRF token is anchored to (the browser cookie, the pending login, the session). A ceremony
begun in one browser or for one form cannot be finished in another, and nothing the client sends
decides who signs in or whether UV was needed (docs/login.md, passkeys).

Administrators (members of `LoginConfig.admin_group`) must pass UV whenever they register or use
a passkey (ZTMM-ID1: phishing-resistant MFA for privileged users); the requirement is fixed when
the ceremony begins and checked again when it ends.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn

import orjson
from starlette.responses import Response

from zerogate._types import UserID
from zerogate.identity import (
    Directory,
    PasskeyCredential,
    PasskeyFailureReason,
    PasskeyInvalid,
    Passkeys,
    User,
    VerifiedPasskey,
)
from zerogate.idp._headers import CONTENT_SECURITY_POLICY
from zerogate.idp._signing import mac, mac_matches

PASSKEY_SCRIPT = "/static/passkey.js"
_TICKET_MAX_CHARS = 128
log = logging.getLogger("zerogate.idp")


@dataclass(frozen=True, slots=True)
class Begun:
    """A ceremony begun for a page: the ticket to post back and the options for the browser."""

    ticket: str
    options_json: str

    def response(self) -> Response:
        """The JSON a page's script fetches: `{"ticket": ..., "options": {...}}`, never cached."""
        body = orjson.dumps({"ticket": self.ticket, "options": orjson.loads(self.options_json)})
        return Response(body, media_type="application/json", headers={"cache-control": "no-store"})


class WebPasskeys:
    """`Passkeys` for the login pages: tickets, the administrators' UV rule, the script policy."""

    def __init__(
        self,
        passkeys: Passkeys,
        directory: Directory,
        *,
        ticket_key: bytes,
        admin_group: str,
        origin: str,
    ) -> None:
        self.passkeys = passkeys
        self._directory = directory
        self._key = ticket_key
        self._admin_group = admin_group
        # Pages that run the ceremony may load exactly one script: ours, from this origin.
        self.content_security_policy = _script_policy(f"{origin}{PASSKEY_SCRIPT}")

    def allow_script(self, response: Response) -> Response:
        """Let a page load passkey.js (every other page keeps `script-src 'none'`)."""
        response.headers["content-security-policy"] = self.content_security_policy
        return response

    async def needs_user_verification(self, user: User) -> bool:
        """True for members of the administrators' group: they must verify on the authenticator."""
        groups = await self._directory.groups_of(user.username)
        return any(g.name == self._admin_group for g in groups)

    async def list_for(self, user: User) -> list[PasskeyCredential]:
        """The user's passkeys, oldest first."""
        return await self.passkeys.list(user)

    async def begin_sign_in(
        self, user: User | None, *, require_uv: bool, purpose: str, anchor: str, now: datetime
    ) -> Begun:
        """Start an assertion for `user`'s passkeys, or for any discoverable one (None)."""
        begun = await self.passkeys.begin_authentication(
            user, require_user_verification=require_uv, now=now
        )
        return Begun(self._ticket(begun.ceremony_id, purpose, anchor), begun.options_json)

    async def finish_sign_in(
        self,
        form: dict[str, str],
        *,
        purpose: str,
        anchor: str,
        expected_user: UserID | None,
        require_uv: bool,
        now: datetime,
    ) -> VerifiedPasskey:
        """Check the posted assertion; PasskeyInvalid (one public message) for every failure.

        `expected_user` is who this sign-in is for (the pending login's or the session's user),
        None for a username-less sign-in. UV was required by the ceremony if it had to be; it is
        checked again here in case the user joined the administrators meanwhile.
        """
        ceremony_id = self._ceremony_of(form.get("ticket", ""), purpose, anchor)
        verified = await self.passkeys.finish_authentication(
            ceremony_id, form.get("credential", ""), now=now
        )
        if expected_user is not None and verified.user.id != expected_user:
            _refuse(PasskeyFailureReason.CREDENTIAL_MISMATCH_USER, verified)
        if not verified.user_verified and (
            require_uv or await self.needs_user_verification(verified.user)
        ):
            _refuse(PasskeyFailureReason.USER_VERIFICATION_MISSING, verified)
        return verified

    async def begin_registration(
        self, user: User, *, purpose: str, anchor: str, now: datetime
    ) -> Begun:
        """Start registering a passkey for a signed-in user; administrators must verify."""
        begun = await self.passkeys.begin_registration(
            user, require_user_verification=await self.needs_user_verification(user), now=now
        )
        return Begun(self._ticket(begun.ceremony_id, purpose, anchor), begun.options_json)

    async def finish_registration(
        self, user: User, form: dict[str, str], *, purpose: str, anchor: str, now: datetime
    ) -> PasskeyCredential:
        """Store the posted passkey; PasskeyInvalid, InvalidInput (name), Conflict (limit)."""
        ceremony_id = self._ceremony_of(form.get("ticket", ""), purpose, anchor)
        name = form.get("name", "").strip() or None
        return await self.passkeys.finish_registration(
            user, ceremony_id, form.get("credential", ""), name=name, now=now
        )

    def _ticket(self, ceremony_id: str, purpose: str, anchor: str) -> str:
        return f"{ceremony_id}.{mac(self._key, _ticket_message(ceremony_id, purpose, anchor))}"

    def _ceremony_of(self, ticket: str, purpose: str, anchor: str) -> str:
        """The ceremony id in a ticket made for this form in this browser, else PasskeyInvalid."""
        ceremony_id, _, signature = ticket[:_TICKET_MAX_CHARS].partition(".")
        message = _ticket_message(ceremony_id, purpose, anchor)
        if not ceremony_id or not mac_matches(self._key, message, signature):
            log.info("passkey ticket refused", extra={"form": purpose})
            raise PasskeyInvalid(PasskeyFailureReason.CHALLENGE_UNKNOWN)
        return ceremony_id


def _ticket_message(ceremony_id: str, purpose: str, anchor: str) -> bytes:
    return f"passkey-ceremony\x00{purpose}\x00{anchor}\x00{ceremony_id}".encode()


def _script_policy(script_url: str) -> str:
    policy = CONTENT_SECURITY_POLICY.replace("script-src 'none'", f"script-src {script_url}")
    if policy == CONTENT_SECURITY_POLICY:  # the base policy changed shape: fail loudly, not open
        raise RuntimeError("cannot derive the passkey pages' Content-Security-Policy")
    # Trusted Types: the script writes text only, so no HTML sink may ever take a string.
    return f"{policy}; require-trusted-types-for 'script'"


def _refuse(reason: PasskeyFailureReason, verified: VerifiedPasskey) -> NoReturn:
    log.info(
        "passkey sign-in refused",
        extra={
            "reason": str(reason),
            "user_id": verified.user.id,
            "passkey_id": verified.passkey_id,
        },
    )
    raise PasskeyInvalid(reason, user_id=verified.user.id, passkey_id=verified.passkey_id)


__all__ = ["PASSKEY_SCRIPT", "Begun", "WebPasskeys"]
