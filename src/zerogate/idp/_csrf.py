"""Cross-site request forgery defence for every form: signed tokens bound to a browser state.

A token is HMAC(key, purpose, anchor): `purpose` names the form ("login", "mfa", ...) so a token
from one form is useless on another, and `anchor` is what only this browser holds: the session
token's hash when signed in, the pending login's nonce during the second factor, and before that
a random `__Host-zerogate_csrf` cookie (login CSRF, standards OA-A3). An attacker can neither
read the anchor nor compute the MAC without the server's key (ASVS 5.0 3.5.1). As a second
layer, a POST whose `Origin` is present and not ours, or whose `Sec-Fetch-Site` says it came
from another site, is refused before the token is even looked at (ASVS 3.5.3).
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Mapping
from typing import NoReturn

from starlette.requests import Request

from zerogate.errors import ZerogateError
from zerogate.identity import session_id
from zerogate.idp._signing import mac, mac_matches

CSRF_COOKIE_NAME = "__Host-zerogate_csrf"
CSRF_FIELD = "csrf"
_BROWSER_VALUE = re.compile(r"[A-Za-z0-9_-]{43}")
_FOREIGN_FETCH = frozenset({"cross-site", "same-site"})
log = logging.getLogger("zerogate.idp")


class CSRFFailed(ZerogateError):
    """A form post that did not provably come from our own page (HTTP 403)."""

    code = "csrf_failed"
    status = 403
    MESSAGE = "This form has expired or did not come from this site. Go back, reload and try again."

    def __init__(self, reason: str) -> None:
        super().__init__(self.MESSAGE)
        self.reason = reason  # for the log only


class CSRF:
    """Makes and checks form tokens for one origin with one key."""

    def __init__(self, key: bytes, *, origin: str) -> None:
        self._key = key
        self.origin = origin

    def token(self, purpose: str, anchor: str) -> str:
        return mac(self._key, _message(purpose, anchor))

    def check(
        self, request: Request, form: Mapping[str, str], *, purpose: str, anchor: str | None
    ) -> None:
        """Raise CSRFFailed unless the post came from our page for `purpose` in this browser."""
        self.check_origin(request)
        presented = form.get(CSRF_FIELD, "")
        if anchor is None:
            _fail("no_anchor", purpose)
        elif not presented or not mac_matches(self._key, _message(purpose, anchor), presented):
            _fail("token_mismatch", purpose)

    def check_origin(self, request: Request) -> None:
        origin = request.headers.get("origin")
        fetch_site = request.headers.get("sec-fetch-site")
        # Our pages send `Referrer-Policy: no-referrer`, and for such a page browsers send
        # `Origin: null` on form posts, even to their own origin. "null" is therefore accepted
        # only when the browser itself says the post came from this origin (`Sec-Fetch-Site` is
        # a header no page can set); a sandboxed frame elsewhere is "cross-site".
        if origin == "null" and fetch_site == "same-origin":
            origin = self.origin
        if origin is not None and origin != self.origin:
            _fail("foreign_origin", "any")
        if fetch_site in _FOREIGN_FETCH:
            _fail("cross_site_fetch", "any")


def session_anchor(token: str) -> str:
    """Anchor for forms of a signed-in user: the session id (the token's hash, never the token)."""
    return f"session:{session_id(token)}"


def pending_anchor(nonce: str) -> str:
    return f"pending:{nonce}"


def browser_anchor(request: Request) -> str | None:
    """Anchor for the password form: the browser's random CSRF cookie, if it has a sound one."""
    value = browser_value(request)
    return None if value is None else browser_anchor_of(value)


def browser_anchor_of(value: str) -> str:
    return f"browser:{value}"


def browser_value(request: Request) -> str | None:
    value = request.cookies.get(CSRF_COOKIE_NAME)
    return value if value is not None and _BROWSER_VALUE.fullmatch(value) else None


def new_browser_value() -> str:
    return secrets.token_urlsafe(32)


def browser_cookie(value: str) -> str:
    """The `Set-Cookie` value of the browser's CSRF anchor (a session cookie: no Max-Age)."""
    return f"{CSRF_COOKIE_NAME}={value}; Path=/; Secure; HttpOnly; SameSite=Strict"


def _message(purpose: str, anchor: str) -> bytes:
    return f"{purpose}\x00{anchor}".encode()


def _fail(reason: str, purpose: str) -> NoReturn:
    log.info("form post refused", extra={"reason": reason, "form": purpose})
    raise CSRFFailed(reason)


__all__ = [
    "CSRF",
    "CSRF_COOKIE_NAME",
    "CSRF_FIELD",
    "CSRFFailed",
    "browser_anchor",
    "browser_anchor_of",
    "browser_cookie",
    "browser_value",
    "new_browser_value",
    "pending_anchor",
    "session_anchor",
]
