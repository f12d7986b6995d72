"""The admin API's HTTP edge: who is asking, CSRF defences, bounded JSON in, JSON errors out.

Who: the console runs behind `CheckMiddleware`, which removes any `x-zerogate-*` header the
client sent and adds the checked identity; `Actor.of` reads it back (and refuses a request that
has none, so an unprotected mount answers nothing).

CSRF (ASVS 5.0 3.5.1-3.5.3): a state-changing call must send `Content-Type: application/json`,
which a cross-site form cannot, and which a cross-site `fetch` can only send after a CORS
preflight that the console never answers with permission. As a second wall, a call carrying
cookies must name the console's own origin in `Origin` (browsers always send it with POST);
a call without cookies (a bearer token from a script) is not exposed to CSRF at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from zerogate.authzen import read_json as read_bounded_json
from zerogate.errors import ErrorDetail, ZerogateError
from zerogate.gateway.check import DECISION_ID_HEADER
from zerogate.policy import EntityUID

JSON_TYPE = "application/json"
MAX_BODY_BYTES = 16 * 1024  # the largest admin call is a short reason
_NO_STORE = {"cache-control": "no-store"}


class JSONResponse(Response):
    media_type = JSON_TYPE

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def json_response(content: Any, status: int = 200) -> JSONResponse:
    """An API answer; never cached (it is about people and their access)."""
    return JSONResponse(content, status_code=status, headers=_NO_STORE)


def error_response(error: ZerogateError, headers: dict[str, str] | None = None) -> JSONResponse:
    """`{"code", "message", "errors"?}` with the error's HTTP status (STYLE 8)."""
    response = json_response(error.as_dict(), error.status)
    if headers:
        response.headers.update(headers)
    return response


@dataclass(frozen=True, slots=True)
class Actor:
    """The administrator making a call, as the check established: for the audit log."""

    username: str
    decision_id: str  # the console check's decision that let this request in
    ip: str | None

    @property
    def principal(self) -> str:
        return str(EntityUID("User", self.username))

    @classmethod
    def of(cls, request: Request) -> Actor:
        username = request.headers.get("x-zerogate-user", "")
        if not username:
            raise ZerogateError(
                "the console is not behind Zerogate's check", code="admin_unidentified", status=401
            )
        client = request.client
        return cls(username, request.headers.get(DECISION_ID_HEADER, ""), client and client.host)


def check_origin(request: Request, origin: str) -> None:
    """Refuse a cookie-carrying state change from any other origin (see the module doc)."""
    sent = request.headers.get("origin")
    if sent is None and "cookie" not in request.headers:
        return
    if sent != origin:
        raise ZerogateError(
            "this call must come from the console's own pages",
            code="origin_mismatch",
            status=403,
            details=[
                ErrorDetail("origin_mismatch", "headers.origin", f"expected {origin}"),
            ],
        )


async def read_json(request: Request) -> Any:
    """The body of a JSON call, at most MAX_BODY_BYTES; raises InvalidInput with a stable code:
    415 `unsupported_media_type`, 413 `request_too_large`, 400 `json_invalid` (the same reader
    as the AuthZEN API's)."""
    return await read_bounded_json(request, limit=MAX_BODY_BYTES)


__all__ = [
    "JSON_TYPE",
    "MAX_BODY_BYTES",
    "Actor",
    "JSONResponse",
    "check_origin",
    "error_response",
    "json_response",
    "read_json",
]
