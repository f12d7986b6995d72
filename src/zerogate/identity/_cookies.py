"""The session cookie: how a session token travels, and the token's stored id (ASVS 5.0 V7, V3.3)."""

from __future__ import annotations

import hashlib
import re

from zerogate.errors import InvalidInput

SESSION_COOKIE_NAME = "__Host-zerogate_session"
SESSION_COOKIE_MAX_BYTES = 8 * 1024
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32): 43 base64url characters


def session_cookie(token: str, *, max_age: int) -> str:
    """The `Set-Cookie` value carrying `token`: host-only, HTTPS-only, hidden from scripts.

    `__Host-` makes browsers refuse it unless Secure, Path=/ and without Domain, so no sibling
    subdomain can set or read it (cookie tossing); HttpOnly keeps it from XSS; SameSite=Lax stops
    it riding on cross-site POSTs. The cookie holds only the token, never claims.
    """
    check_token(token)
    if max_age <= 0:
        raise InvalidInput("max_age must be positive", code="cookie_max_age_invalid")
    return (
        f"{SESSION_COOKIE_NAME}={token}; Path=/; Max-Age={max_age}; Secure; HttpOnly; SameSite=Lax"
    )


def clear_session_cookie() -> str:
    """The `Set-Cookie` value that deletes the session cookie (logout; ASVS 7.4.1)."""
    return f"{SESSION_COOKIE_NAME}=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax"


def parse_session_cookie(header: str | None) -> str | None:
    """The session token from a `Cookie` request header, or None.

    None for a header over 8 KiB, no session cookie, several session cookies (ambiguous: reject
    rather than guess), or a value that is not exactly a token (strict charset and length).
    """
    if header is None or len(header.encode("utf-8", "surrogatepass")) > SESSION_COOKIE_MAX_BYTES:
        return None
    found: list[str] = []
    for pair in header.split(";"):
        name, sep, value = pair.strip().partition("=")
        if sep and name == SESSION_COOKIE_NAME:
            found.append(value)
    if len(found) != 1 or TOKEN.fullmatch(found[0]) is None:
        return None
    return found[0]


def session_id(token: str) -> str:
    """The stored id of a token: SHA-256 hex (fast hash is enough: the token has 256 bits)."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def check_token(token: str) -> None:
    if TOKEN.fullmatch(token) is None:
        raise InvalidInput("not a session token", code="session_token_invalid")
