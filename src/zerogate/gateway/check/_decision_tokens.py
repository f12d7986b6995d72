"""Decision tokens: an allowed GET leaves a cookie that lets Envoy decide the next GETs itself.

The token (ES256, `typ` zerogate-decision+jwt, `aud` zerogate-dt:ROUTE) lives for the decision
TTL: what a cached decision may be trusted for anyway. It names the session (`sid`), the user
(`preferred_username`) and the policy bundle it was decided under (`pe`), so that revoking any of them — a deny
list in Envoy's route table — sends the browser back through the check at once
(`zerogate.gateway.envoy` "local decisions"). Only browser sessions get one: API clients send
their bearer token each time and have nowhere to keep a cookie.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from zerogate._types import DecisionID
from zerogate.gateway.check._authn import Identity
from zerogate.tokens import SigningKeys, TokenType, decision_audience, decision_cookie, issue

MAX_DECISION_TOKEN_TTL = timedelta(seconds=60)  # the token profile's ceiling
EPOCH_CHARS = 16


class DecisionTokens:
    """Mints the `Set-Cookie` for an allowed GET (at ~70 µs a token, once per TTL per route)."""

    def __init__(
        self, keys: SigningKeys, *, issuer: str, ttl: timedelta = timedelta(seconds=15)
    ) -> None:
        if not timedelta(seconds=1) <= ttl <= MAX_DECISION_TOKEN_TTL:
            raise ValueError("a decision token lives between 1 and 60 seconds")
        self._keys = keys
        self._issuer = issuer
        self._ttl = ttl

    @property
    def ttl(self) -> timedelta:
        return self._ttl

    def set_cookie(
        self,
        identity: Identity,
        route: str,
        *,
        decision_id: DecisionID,
        epoch: str | None,
        now: datetime,
    ) -> str | None:
        """The cookie for `route`, or None when this identity gets none (not a browser session)."""
        if identity.via != "session" or not identity.session_id:
            return None
        p = identity.principal
        cookie = decision_cookie(route)
        claims = {
            "sub": p.user_id,
            "sid": identity.session_id,
            "preferred_username": p.username,
            "email": p.email,
            "groups": list(p.groups),
            "amr": list(identity.amr),
            "acr": identity.acr,
            "pe": (epoch or "")[:EPOCH_CHARS],
            "ck": cookie,
            "did": str(decision_id),
        }
        token = issue(
            claims,
            keys=self._keys,
            issuer=self._issuer,
            typ=TokenType.DECISION,
            audience=decision_audience(route),
            now=now,
            lifetime=self._ttl,
        )
        seconds = int(self._ttl.total_seconds())
        # __Host-: Secure, Path=/, no Domain. Lax: sent on top-level navigations from elsewhere.
        return f"{cookie}={token}; Path=/; Max-Age={seconds}; Secure; HttpOnly; SameSite=Lax"
