"""Talking to an upstream over HTTP: bounded JSON requests with httpx, as a client only.

Every answer is size-limited while it streams (a hostile or broken upstream cannot make us buffer
gigabytes), redirects are never followed (an upstream's endpoints are exactly what its discovery
document says), and every failure becomes `UpstreamUnreachable` with a reason for the log.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

# Discovery documents are a few KiB; Entra ID's JWKS with certificate chains is ~20 KiB.
MAX_DOCUMENT_BYTES = 256 * 1024
_ACCEPT_JSON = {"accept": "application/json"}


class UpstreamUnreachable(Exception):
    """No usable answer: network error, timeout, redirect, oversized or non-JSON body."""


@dataclass(frozen=True, slots=True)
class UpstreamAnswer:
    """An answer whose body is a JSON object (or None when it was not one)."""

    status: int
    body: Mapping[str, Any] | None
    content_type: str


async def get_json(
    client: httpx.AsyncClient,
    url: str,
    *,
    timeout_s: float,
    headers: Mapping[str, str] | None = None,
) -> UpstreamAnswer:
    """GET `url`; the body is parsed if it is JSON, else `body` is None."""
    try:
        request = client.build_request(
            "GET",
            url,
            headers={**_ACCEPT_JSON, **(headers or {})},
            timeout=httpx.Timeout(timeout_s),
        )
    except httpx.InvalidURL:
        raise UpstreamUnreachable(f"GET {url[:200]}: not a URL") from None
    return await _send(client, request, timeout_s)


async def post_form(
    client: httpx.AsyncClient,
    url: str,
    *,
    body: str,
    headers: Mapping[str, str],
    timeout_s: float,
) -> UpstreamAnswer:
    """POST an url-encoded form (already encoded) to `url`."""
    try:
        request = client.build_request(
            "POST",
            url,
            content=body.encode("utf-8"),
            headers={
                **_ACCEPT_JSON,
                "content-type": "application/x-www-form-urlencoded",
                **headers,
            },
            timeout=httpx.Timeout(timeout_s),
        )
    except httpx.InvalidURL:
        raise UpstreamUnreachable(f"POST {url[:200]}: not a URL") from None
    return await _send(client, request, timeout_s)


async def _send(
    client: httpx.AsyncClient, request: httpx.Request, timeout_s: float
) -> UpstreamAnswer:
    where = f"{request.method} {request.url.copy_with(query=None)}"
    try:
        # httpx's timeouts are per read; this one bounds the whole exchange, so an upstream
        # that trickles a byte at a time cannot hold a sign-in open.
        async with asyncio.timeout(timeout_s):
            response = await client.send(request, stream=True, follow_redirects=False)
            try:
                raw = await _read_bounded(response)
            finally:
                await response.aclose()
    except httpx.HTTPError as exc:
        raise UpstreamUnreachable(f"{where}: {type(exc).__name__}") from None
    except TimeoutError:
        raise UpstreamUnreachable(f"{where}: no complete answer in {timeout_s} s") from None
    if response.is_redirect:
        raise UpstreamUnreachable(f"{where}: redirect refused")
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    return UpstreamAnswer(response.status_code, _object(raw), content_type)


async def _read_bounded(response: httpx.Response) -> bytes:
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_DOCUMENT_BYTES:
        raise UpstreamUnreachable(f"{_bare(response.url)}: answer over {MAX_DOCUMENT_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_DOCUMENT_BYTES:
            raise UpstreamUnreachable(
                f"{_bare(response.url)}: answer over {MAX_DOCUMENT_BYTES} bytes"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _bare(url: httpx.URL) -> str:
    return str(url.copy_with(query=None))


def _object(raw: bytes) -> Mapping[str, Any] | None:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def new_client() -> httpx.AsyncClient:
    """The default client: no proxies or netrc from the environment (STYLE §12: pass a client
    built by the composition root for an egress proxy), no redirects, TLS verification on."""
    return httpx.AsyncClient(trust_env=False, follow_redirects=False, timeout=10.0)


__all__ = [
    "MAX_DOCUMENT_BYTES",
    "UpstreamAnswer",
    "UpstreamUnreachable",
    "get_json",
    "new_client",
    "post_form",
]
