"""One upstream provider: its settings, compiled rules, and its cached metadata and keys."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import httpx

from zerogate.config import UpstreamSettings
from zerogate.identity.federation._http import UpstreamAnswer, UpstreamUnreachable, get_json
from zerogate.identity.federation._metadata import (
    ProviderMetadata,
    discovery_url,
    parse_discovery,
    parse_jwks,
)
from zerogate.identity.federation._model import FederationFailed, FederationFailure
from zerogate.identity.federation._rules import GroupRule, compile_rules
from zerogate.tokens import JWKSKeys

# After an unknown `kid` the JWKS is fetched again (the upstream rotated its keys, OIDC Core
# §10.1.1), but at most this often: a stream of forged tokens must not turn into a stream of
# requests to the upstream.
KEY_REFRESH_INTERVAL = timedelta(seconds=60)


class Upstream:
    """An upstream OpenID provider as configured, with discovery and JWKS cached for a TTL."""

    def __init__(self, name: str, settings: UpstreamSettings) -> None:
        self.name = name
        self.settings = settings
        self.display_name = settings.display_name or name
        self.domains = frozenset(d.lower() for d in settings.domains)
        self.rules: tuple[GroupRule, ...] = compile_rules(
            settings.group_rules, groups_claim=settings.groups_claim
        )
        self._ttl = timedelta(seconds=settings.cache_ttl_s)
        self._metadata: tuple[ProviderMetadata, datetime] | None = None
        self._keys: tuple[JWKSKeys, datetime] | None = None
        self._lock = asyncio.Lock()

    async def metadata(self, http: httpx.AsyncClient, *, now: datetime) -> ProviderMetadata:
        """The checked discovery document, fetched when missing or older than the TTL."""
        cached = self._metadata
        if cached is not None and _fresh(cached[1], now, self._ttl):
            return cached[0]
        async with self._lock:
            cached = self._metadata
            if cached is not None and _fresh(cached[1], now, self._ttl):
                return cached[0]
            response = await self._get(http, discovery_url(self.settings.issuer))
            if response.status != 200:
                raise self._unreachable(f"discovery answered {response.status}")
            metadata = parse_discovery(
                response.body, expected_issuer=self.settings.issuer, upstream=self.name
            )
            self._metadata = (metadata, now)
            return metadata

    async def keys(
        self, http: httpx.AsyncClient, *, now: datetime, refresh: bool = False
    ) -> JWKSKeys:
        """The upstream's signing keys; `refresh` fetches again unless fetched very recently."""
        metadata = await self.metadata(http, now=now)
        cached = self._keys
        if cached is not None and self._keys_usable(cached[1], now, refresh=refresh):
            return cached[0]
        async with self._lock:
            cached = self._keys
            if cached is not None and self._keys_usable(cached[1], now, refresh=refresh):
                return cached[0]
            response = await self._get(http, metadata.jwks_uri)
            if response.status != 200:
                raise self._unreachable(f"JWKS answered {response.status}")
            keys = parse_jwks(response.body, metadata=metadata, upstream=self.name)
            self._keys = (keys, now)
            return keys

    def can_refresh_keys(self, now: datetime) -> bool:
        return self._keys is None or now - self._keys[1] >= KEY_REFRESH_INTERVAL

    def _keys_usable(self, fetched: datetime, now: datetime, *, refresh: bool) -> bool:
        if refresh:
            return now - fetched < KEY_REFRESH_INTERVAL
        return _fresh(fetched, now, self._ttl)

    async def _get(self, http: httpx.AsyncClient, url: str) -> UpstreamAnswer:
        try:
            return await get_json(http, url, timeout_s=self.settings.timeout_s)
        except UpstreamUnreachable as exc:
            raise self._unreachable(str(exc)) from None

    def _unreachable(self, detail: str) -> FederationFailed:
        return FederationFailed(FederationFailure.UNREACHABLE, upstream=self.name, detail=detail)


def _fresh(fetched: datetime, now: datetime, ttl: timedelta) -> bool:
    # A clock stepped back makes an entry look fresh from the future: refetch instead.
    return fetched <= now < fetched + ttl


__all__ = ["KEY_REFRESH_INTERVAL", "Upstream"]
