"""Where the browser goes after signing in: same-origin paths only (the open-redirect guard).

An IdP that redirects to any `next` it is given becomes an open redirector, which phishing and
OAuth code theft both use (standards OA-A2, RFC 9700 §4.11; ASVS 5.0 3.7.2). Only a relative path
on this origin is followed; anything else is ignored and the user lands on "/".
"""

from __future__ import annotations

import re
from urllib.parse import urlencode, urlsplit

MAX_NEXT_CHARS = 2048
HOME = "/"
# Printable ASCII without space. Browsers drop tabs and newlines from URLs, so "/\t/evil.example"
# would become "//evil.example": refusing every control character closes that door.
_PATH = re.compile(r"/[!-~]*")


def safe_next(value: str | None) -> str:
    """`value` if it is a path on this origin, else "/".

    Accepted: one leading "/" (not "//", a scheme-relative URL to another host), no backslash
    anywhere (browsers read "/\\evil.example" as "//evil.example"), no scheme, no host, printable
    ASCII, at most 2048 characters.
    """
    if not value or len(value) > MAX_NEXT_CHARS or _PATH.fullmatch(value) is None:
        return HOME
    if value.startswith("//") or "\\" in value:
        return HOME
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return HOME
    return value


def login_path(next_path: str = HOME, *, prompt_login: bool = False) -> str:
    """The sign-in page URL that returns to `next_path`; `prompt_login` forces the password form."""
    query: dict[str, str] = {}
    if safe_next(next_path) != HOME:
        query["next"] = next_path
    if prompt_login:
        query["prompt"] = "login"
    return "/login" + (f"?{urlencode(query)}" if query else "")


def mfa_path(next_path: str = HOME) -> str:
    """The second-factor page URL that returns to `next_path` (step-up for a signed-in user)."""
    clean = safe_next(next_path)
    return "/login/mfa" + (f"?{urlencode({'next': clean})}" if clean != HOME else "")


__all__ = ["HOME", "MAX_NEXT_CHARS", "login_path", "mfa_path", "safe_next"]
