"""The IdP's public keys, fetched from its JWKS URL and cached."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import httpx

from zerogate.tokens import JWKSKeys, VerificationKey

MAX_JWKS_BYTES = 256 * 1024


class RemoteKeys:
    """`VerificationKeys` from a JWKS URL: refreshed every `cache_s`, and at most every
    `min_refresh_s` when a token names a key we do not have yet (a new key after rotation)."""

    def __init__(
        self,
        jwks_url: str,
        *,
        cache_s: float = 300.0,
        min_refresh_s: float = 30.0,
        timeout_s: float = 5.0,
        max_token_lifetime: timedelta = timedelta(hours=1),
    ) -> None:
        self.jwks_url = jwks_url
        self._cache_s = cache_s
        self._min_refresh_s = min_refresh_s
        self._timeout_s = timeout_s
        self._keys = JWKSKeys([], max_token_lifetime=max_token_lifetime)
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()
        self.max_token_lifetime = max_token_lifetime

    def verification_key(self, kid: str) -> VerificationKey | None:
        return self._keys.verification_key(kid)

    async def ensure(self, kid: str | None = None) -> None:
        """Fetch the key set if it is stale, or if `kid` is unknown and we may ask again."""
        age = time.monotonic() - self._fetched_at
        unknown = kid is not None and self._keys.verification_key(kid) is None
        if age < self._cache_s and not (unknown and age >= self._min_refresh_s):
            return
        async with self._lock:
            async with httpx.AsyncClient(timeout=self._timeout_s) as http:
                reply = await http.get(self.jwks_url, headers={"accept": "application/json"})
            reply.raise_for_status()
            if len(reply.content) > MAX_JWKS_BYTES:
                raise ValueError("the JWKS document is too large")
            self._keys = JWKSKeys.from_jwks(
                reply.json(), max_token_lifetime=self.max_token_lifetime
            )
            self._fetched_at = time.monotonic()
