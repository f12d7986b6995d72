"""ASGI plumbing shared by the HTTP faces: read the few headers we use, send a `CheckResult`.

Plain ASGI on the hot path (STYLE 18): one pass over the raw header list, no Request object. A
body arrives only on webhook routes (Envoy buffers it for the signature check); it is read with
a cap, and an empty one costs one `receive`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from zerogate.gateway.check._model import CheckResult

ROUTE_HEADER = "x-zerogate-route"
# Repeats of these are joined as HTTP allows (RFC 9110 §5.3; cookies per RFC 6265 §5.4);
# any other header we read must appear at most once, or the request is ambiguous and refused.
_JOINED = {b"cookie": b"; ", b"x-forwarded-for": b", "}


def read_headers(scope: Scope, wanted: Collection[bytes]) -> tuple[dict[str, str], str | None]:
    """The `wanted` headers (lower-case names) as text, and the name of a repeated one, if any."""
    found: dict[bytes, bytes] = {}
    repeated: str | None = None
    for name, value in scope["headers"]:
        if name not in wanted:
            continue
        if name in found:
            joiner = _JOINED.get(name)
            if joiner is None:
                repeated = repeated or name.decode("latin-1")
                continue
            value = found[name] + joiner + value
        found[name] = value
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in found.items()}, repeated


async def read_body(receive: Receive, limit: int) -> bytes:
    """The request body, cut after `limit` + 1 bytes: enough for the check to see it is too big."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more and size <= limit:
        message = await receive()
        if message["type"] != "http.request":  # the proxy went away: nothing will be answered
            break
        chunk: bytes = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        more = bool(message.get("more_body", False))
    body = b"".join(chunks)
    return body if size <= limit else body[: limit + 1]


def last_hop(forwarded_for: str | None) -> str | None:
    """The address the proxy appended last to X-Forwarded-For: the peer it saw.

    Earlier entries come from the client and prove nothing (Envoy's `use_remote_address`, and
    nginx/Caddy/Traefik, append the real peer after whatever the client sent).
    """
    if not forwarded_for:
        return None
    hop = forwarded_for.rpartition(",")[2].strip()
    return hop or None


def split_uri(uri: str) -> tuple[str, str]:
    path, _, query = uri.partition("?")
    return path, query


async def send_result(send: Send, result: CheckResult, *, status: int | None = None) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in result.headers]
    headers.append((b"content-length", str(len(result.body)).encode("ascii")))
    start = {"type": "http.response.start", "status": status or result.status, "headers": headers}
    await send(start)
    await send({"type": "http.response.body", "body": result.body})


def health(ready: Callable[[], bool] | None) -> Callable[[Request], Awaitable[Response]]:
    """`GET /healthz`: 200 when `ready()` is True (or no gate was given), else 503."""

    async def healthz(request: Request) -> Response:
        up = True
        if ready is not None:
            try:
                up = ready() is True
            except Exception:
                up = False
        body = orjson.dumps({"status": "ok" if up else "unavailable"})
        return Response(body, 200 if up else 503, media_type="application/json")

    return healthz


__all__ = [
    "ROUTE_HEADER",
    "health",
    "last_hop",
    "read_body",
    "read_headers",
    "send_result",
    "split_uri",
]
