"""Zerogate's own cookies stop at the check: an allow tells Envoy to send the upstream the
`Cookie` header without them.

Browsers send every cookie of a host to every port of it, so an app served on the sign-in host
would get the single sign-on session itself, and every app on a host gets that host's gateway
cookie and the other routes' decision tokens, all of which it could replay to the gateway. Only
the route's own decision token stays: the app's SDK may verify it (docs/sdk.md).
"""

from __future__ import annotations

from zerogate.gateway.check._handoff import HOST_COOKIE
from zerogate.identity import SESSION_COOKIE_NAME
from zerogate.tokens import DECISION_COOKIE_PREFIX, decision_cookie

# Envoy (HTTP mode) removes the headers this response header names from the upstream request.
HEADERS_TO_REMOVE = "x-envoy-auth-headers-to-remove"
_OWN = frozenset({SESSION_COOKIE_NAME, HOST_COOKIE})


def upstream_cookie(cookie: str | None, route: str | None) -> tuple[tuple[str, str], ...]:
    """The allow headers that rewrite `cookie` for the upstream; none when nothing is ours."""
    if not cookie:
        return ()
    keep = decision_cookie(route) if route else None
    parts = [part.strip() for part in cookie.split(";") if part.strip()]
    kept = [part for part in parts if not _ours(part.partition("=")[0].strip(), keep)]
    if len(kept) == len(parts):
        return ()
    if not kept:
        return ((HEADERS_TO_REMOVE, "cookie"),)
    return (("cookie", "; ".join(kept)),)


def _ours(name: str, keep: str | None) -> bool:
    return name in _OWN or (name.startswith(DECISION_COOKIE_PREFIX) and name != keep)
