"""The HTTP edge of the AuthZEN API: bounded JSON bodies, orjson responses, errors as JSON.

Status mapping happens here and nowhere deeper (STYLE #8): everything below raises
`ZerogateError`s with stable codes; this module turns them into status + `as_dict()` bodies.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from zerogate.errors import ErrorDetail, InvalidInput, ZerogateError

JSON_MEDIA_TYPE = "application/json"
REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")


class JSONResponse(Response):
    """A JSON response rendered with orjson (the request path does not pay for `json`)."""

    media_type = JSON_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def respond(request: Request, content: Any, status: int = 200) -> JSONResponse:
    """A JSON response that echoes the caller's X-Request-ID (AuthZEN HTTPS binding)."""
    request_id = request_id_of(request)
    headers = None if request_id is None else {REQUEST_ID_HEADER: request_id}
    return JSONResponse(content, status_code=status, headers=headers)


def request_id_of(request: Request) -> str | None:
    """The caller's X-Request-ID if it is a sane token (≤ 128 visible ASCII characters).

    Anything else is dropped rather than echoed into responses and logs.
    """
    value = request.headers.get(REQUEST_ID_HEADER)
    if value is None or not _REQUEST_ID.fullmatch(value):
        return None
    return value


def error_response(
    request: Request, error: ZerogateError, headers: dict[str, str] | None = None
) -> JSONResponse:
    """`{"code", "message", "errors"?}` with the error's own HTTP status."""
    response = respond(request, error.as_dict(), error.status)
    if headers:
        response.headers.update(headers)
    return response


def internal_error() -> ZerogateError:
    """What callers see of a bug: a stable code and nothing about the internals."""
    return ZerogateError("internal error; the request was not authorized", code="internal_error")


async def read_json(request: Request, *, limit: int) -> Any:
    """The decoded JSON body, at most `limit` bytes, of a request that says it is JSON.

    Raises InvalidInput: 415 `unsupported_media_type`; 413 `request_too_large`, checked against
    Content-Length before reading and again against the bytes actually received, so a lying
    or absent Content-Length cannot make us buffer more than `limit`; 400 `json_invalid`.
    """
    content_type = request.headers.get("content-type", "")
    if content_type.partition(";")[0].strip().lower() != JSON_MEDIA_TYPE:
        raise InvalidInput(
            f"the request body must be {JSON_MEDIA_TYPE}",
            code="unsupported_media_type",
            status=415,
            details=[
                ErrorDetail(
                    "unsupported_media_type",
                    "headers.content-type",
                    f"got {content_type!r}" if content_type else "missing",
                )
            ],
        )
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isascii() or not declared.isdigit():
            raise _bad_length(declared)
        if int(declared) > limit:
            raise _too_large(limit)  # refuse before reading a byte
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    try:
        return orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(
            "request body is not valid JSON",
            code="json_invalid",
            details=[ErrorDetail("json_invalid", f"body:{exc.lineno}:{exc.colno}", exc.msg)],
        ) from None


def _too_large(limit: int) -> InvalidInput:
    return InvalidInput(
        f"request body is larger than {limit} bytes",
        code="request_too_large",
        status=413,
        details=[ErrorDetail("request_too_large", "body", f"at most {limit} bytes")],
    )


def _bad_length(declared: str) -> InvalidInput:
    return InvalidInput(
        "invalid Content-Length header",
        code="request_invalid",
        details=[ErrorDetail("request_invalid", "headers.content-length", repr(declared))],
    )
