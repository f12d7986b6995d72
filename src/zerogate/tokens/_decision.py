"""Names shared by everyone who handles a route's decision token: the check service that mints
it, Envoy that verifies it, and the SDK that may verify it again in the app.

A decision token (`TokenType.DECISION`) says "this person may GET this route" for a few seconds.
Its audience is never the route's own id, so an identity assertion, which an upstream sees, can
never be replayed to the gateway as a decision token.
"""

from __future__ import annotations

import base64
import hashlib

DECISION_COOKIE_PREFIX = "__Host-zerogate-dt-"
DECISION_AUDIENCE_PREFIX = "zerogate-dt:"


def decision_cookie(route: str) -> str:
    """The cookie carrying `route`'s decision token: one per route, a cookie-safe name."""
    digest = hashlib.sha256(route.encode()).digest()[:10]
    return DECISION_COOKIE_PREFIX + base64.b32encode(digest).decode().lower()


def decision_audience(route: str) -> str:
    """The `aud` of `route`'s decision tokens."""
    return DECISION_AUDIENCE_PREFIX + route
