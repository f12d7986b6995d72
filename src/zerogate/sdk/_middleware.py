"""ASGI middleware: only requests carrying a valid gateway assertion reach the app."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from zerogate.sdk._assertion import (
    ASSERTION_HEADER,
    Assertion,
    verify_assertion,
    verify_decision_token,
)
from zerogate.sdk._keys import RemoteKeys
from zerogate.tokens import TokenError, decision_cookie

Scope = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]
]
SCOPE_KEY = "zerogate.assertion"


class AssertionMiddleware:
    """Verify `x-zerogate-assertion` on every HTTP request; 401 without a valid one.

    A GET the gateway let through on a decision token (no check call, so no fresh assertion)
    carries the route's decision-token cookie instead, which is verified the same way. The
    verified `Assertion` is at `scope["zerogate.assertion"]` (see `require_assertion`).
    """

    def __init__(self, app: ASGIApp, *, jwks_url: str, issuer: str, audience: str) -> None:
        self.app = app
        self.keys = RemoteKeys(jwks_url)
        self.issuer = issuer
        self.audience = audience
        self._cookie = decision_cookie(audience).encode()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _header(scope, ASSERTION_HEADER.encode())
        verifier = verify_assertion
        if token is None and scope.get("method") == "GET":
            token, verifier = _cookie(scope, self._cookie), verify_decision_token
        try:
            if token is None:
                raise ValueError("no assertion")
            await self.keys.ensure(_kid(token))
            scope[SCOPE_KEY] = verifier(
                token, keys=self.keys, issuer=self.issuer, audience=self.audience
            )
        except (TokenError, ValueError, OSError):
            await _refuse(send)
            return
        await self.app(scope, receive, send)


def require_assertion(request: Any) -> Assertion:
    """For FastAPI/Starlette handlers: `Depends(require_assertion)` or call it with the request."""
    found = request.scope.get(SCOPE_KEY)
    if not isinstance(found, Assertion):
        raise PermissionError("no verified Zerogate assertion (is AssertionMiddleware installed?)")
    return found


def _header(scope: Scope, name: bytes) -> str | None:
    values = [v for k, v in scope.get("headers", ()) if k.lower() == name]
    return values[0].decode("latin-1") if len(values) == 1 else None


def _cookie(scope: Scope, name: bytes) -> str | None:
    """The value of cookie `name` if the request carries exactly one."""
    found = [
        value.strip()
        for header in (v for k, v in scope.get("headers", ()) if k.lower() == b"cookie")
        for key, sep, value in (part.strip().partition(b"=") for part in header.split(b";"))
        if sep and key == name
    ]
    return found[0].decode("latin-1") if len(found) == 1 else None


def _kid(token: str) -> str | None:
    try:
        head = token.split(".", 1)[0]
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else None


async def _refuse(send: Any) -> None:
    body = b'{"error":"unauthenticated","message":"a valid Zerogate assertion is required"}'
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [(b"content-type", b"application/json"), (b"cache-control", b"no-store")],
        }
    )
    await send({"type": "http.response.body", "body": body})
