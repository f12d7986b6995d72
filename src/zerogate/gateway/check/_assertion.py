"""The signed identity assertion the upstream receives: a short ES256 JWT in `x-zerogate-assertion`.

The plain `x-zerogate-user` headers are a convenience for apps on a trusted network; an app that
must not trust the network verifies this token instead (`zerogate.sdk.verify_assertion`): signed
with the IdP's rotating keys (published at the issuer's `/jwks.json`), `aud` = the route, at most
two minutes long. Signing costs ~60 µs, so one token is reused per (session, route) until it has
less than half its life left.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta
from threading import Lock

from zerogate.gateway.check._authn import Identity
from zerogate.tokens import SigningKeys, TokenType, issue

ASSERTION_HEADER = "x-zerogate-assertion"
MAX_ASSERTION_LIFETIME = timedelta(minutes=2)


class AssertionSigner:
    """Issues (and briefly reuses) assertions for allowed requests."""

    def __init__(
        self,
        keys: SigningKeys,
        *,
        issuer: str,
        lifetime: timedelta = MAX_ASSERTION_LIFETIME,
        max_entries: int = 10_000,
    ) -> None:
        if not timedelta(0) < lifetime <= MAX_ASSERTION_LIFETIME:
            raise ValueError("an assertion lives at most two minutes")
        self._keys = keys
        self._issuer = issuer
        self._lifetime = lifetime
        self._max = max_entries
        self._cache: OrderedDict[tuple[str, str, str], tuple[datetime, str]] = OrderedDict()
        self._lock = Lock()

    def assertion(self, identity: Identity, route: str, *, now: datetime) -> str:
        p = identity.principal
        key = (identity.session_id or identity.client_id or p.user_id, p.user_id, route)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] - now > self._lifetime / 2:
                self._cache.move_to_end(key)
                return hit[1]
        claims = {
            "sub": p.user_id,
            "preferred_username": p.username,
            "email": p.email,
            "groups": list(p.groups),
            "amr": list(identity.amr),
            "acr": identity.acr,
        }
        if identity.session_id:
            claims["sid"] = identity.session_id
        token = issue(
            claims,
            keys=self._keys,
            issuer=self._issuer,
            typ=TokenType.ASSERTION,
            audience=route,
            now=now,
            lifetime=self._lifetime,
        )
        with self._lock:
            self._cache[key] = (now + self._lifetime, token)
            self._cache.move_to_end(key)
            while len(self._cache) > self._max:
                self._cache.popitem(last=False)
        return token

    def forget(self, session_ids: set[str]) -> None:
        """Drop cached assertions of ended sessions (they would otherwise live on ≤ 1 minute)."""
        with self._lock:
            for key in [k for k in self._cache if k[0] in session_ids]:
                del self._cache[key]
