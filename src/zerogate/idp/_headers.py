"""Response hardening and request-size limits, as one ASGI middleware in front of the pages.

Every response gets the browser-side defences the login pages need (a handler may set its own
value first): a Content-Security-Policy that allows no script at all and no framing (ASVS 5.0
3.4.3, 3.4.6; standards OA-A8 clickjacking), `X-Frame-Options` for old browsers, `nosniff`
(3.4.4), `Referrer-Policy: no-referrer` (3.4.5; OA-A7) and COOP (3.4.8); HSTS when served over
https (3.4.1). A request whose cookies or declared body exceed the limits is answered with a
clear 431 / 413 page before any handler runs; a streamed body is cut off at the limit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# `form-action` is left out on purpose: browsers apply it to the redirect after a form post, and
# a sign-in for an OpenID Connect client ends in a redirect to that client's origin.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; img-src 'self'; style-src 'self'"
)
SECURITY_HEADERS: Mapping[str, str] = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
}
HSTS = "max-age=31536000; includeSubDomains"

ErrorRenderer = Callable[[str, str, int], Response]


class Hardening:
    """Adds the security headers to every response and refuses oversized requests early."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        https: bool,
        max_cookie_bytes: int,
        max_body_bytes: int,
        render_error: ErrorRenderer,
    ) -> None:
        self.app = app
        self._headers = dict(SECURITY_HEADERS)
        if https:
            self._headers["strict-transport-security"] = HSTS
        self._max_cookie = max_cookie_bytes
        self._max_body = max_body_bytes
        self._render_error = render_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(Headers(scope=scope))
        if refusal is not None:
            await refusal(scope, receive, self._send_with_headers(send))
            return
        await self.app(scope, self._limited(receive), self._send_with_headers(send))

    def _refusal(self, headers: Headers) -> Response | None:
        cookies = sum(len(v) for k, v in headers.raw if k == b"cookie")
        if cookies > self._max_cookie:
            return self._render_error(
                "request_header_too_large", "The request's cookies are too large.", 431
            )
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self._max_body):
            return self._render_error("request_too_large", "The request is too large.", 413)
        return None

    def _limited(self, receive: Receive) -> Receive:
        """Count a streamed body (no or a false Content-Length) and stop it past the limit."""
        seen = 0

        async def receive_limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self._max_body:
                    raise HTTPException(413)  # rendered as `request_too_large` by the app
            return message

        return receive_limited

    def _send_with_headers(self, send: Send) -> Send:
        async def send_hardened(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self._headers.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        return send_hardened


__all__ = ["CONTENT_SECURITY_POLICY", "HSTS", "SECURITY_HEADERS", "ErrorRenderer", "Hardening"]
