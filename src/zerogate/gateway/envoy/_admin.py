"""A small client for Envoy's admin API on loopback: readiness and stats, nothing that writes.

It talks to an httpx transport directly rather than through a client: it is polled every few
milliseconds while a reload settles, and a client would log each poll at INFO. A bare transport
also never consults HTTP(S)_PROXY from the environment.
"""

from __future__ import annotations

from collections.abc import Iterable

import httpx
import orjson

_TIMEOUT_S = 2.0


class EnvoyAdmin:
    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self._transport = httpx.AsyncHTTPTransport(retries=0)

    async def ready(self) -> bool:
        """`GET /ready` answers 200 once Envoy is LIVE (initial listeners and clusters loaded)."""
        answer = await self._get("/ready", {})
        return answer is not None and answer[0] == 200

    async def stats(self, names: Iterable[str]) -> dict[str, str] | None:
        """The current values of the named stats (text readouts and counters) as text, or None
        when the admin API does not answer (Envoy starting or restarting)."""
        wanted = set(names)
        pattern = "^(" + "|".join(sorted(n.replace(".", r"\.") for n in wanted)) + ")$"
        answer = await self._get("/stats", {"format": "json", "filter": pattern})
        if answer is None or answer[0] != 200:
            return None
        try:
            items = orjson.loads(answer[1]).get("stats", [])
        except (orjson.JSONDecodeError, AttributeError):
            return None
        return {
            str(item["name"]): str(item.get("value", ""))
            for item in items
            if isinstance(item, dict) and item.get("name") in wanted
        }

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def _get(self, path: str, params: dict[str, str]) -> tuple[int, bytes] | None:
        request = httpx.Request(
            "GET",
            httpx.URL(self.url + path, params=params),
            extensions={"timeout": httpx.Timeout(_TIMEOUT_S).as_dict()},
        )
        try:
            response = await self._transport.handle_async_request(request)
            try:
                body = await response.aread()
            finally:
                await response.aclose()
        except httpx.HTTPError:
            return None
        return response.status_code, body
