"""Size limits and shapes a `CheckRequest` must respect before anything is looked up (STYLE 11).

A request that breaks one is refused with 400/414/431 and never reaches the store or the PDP:
oversized or malformed input is a deny, never a crash and never an allow.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from zerogate.gateway.check._model import CheckRequest
from zerogate.identity import SESSION_COOKIE_MAX_BYTES
from zerogate.tokens import MAX_TOKEN_BYTES

MAX_URI_CHARS = 8192
MAX_AUTHORIZATION_CHARS = MAX_TOKEN_BYTES + 64  # "Bearer " and some slack around a 16 KiB token
MAX_ACCEPT_CHARS = 4096
MAX_ID_CHARS = 256  # x-request-id, traceparent: they go to logs and the audit record
MAX_ROUTE_CHARS = 256
_METHOD = re.compile(r"[A-Za-z-]{1,32}")
_HOST = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?"
)
_PRINTABLE = re.compile(r"[!-~]*")  # the raw URI: printable ASCII, no space (RFC 3986)
_ROUTE = re.compile(rf"[!-~]{{1,{MAX_ROUTE_CHARS}}}")


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a request was refused before checking: HTTP status, stable code, a line for people."""

    status: int
    code: str
    message: str


def problem_with(req: CheckRequest) -> Problem | None:
    """The first limit `req` breaks, or None. Sizes first: they are the cheapest to test."""
    if req.defect is not None:
        return Problem(400, "request_invalid", "The request is ambiguous or incomplete.")
    if len(req.path) + len(req.query) > MAX_URI_CHARS:
        return Problem(414, "uri_too_long", "The address is too long.")
    if req.cookie is not None and len(req.cookie) > SESSION_COOKIE_MAX_BYTES:
        return Problem(431, "request_header_too_large", "The request's cookies are too large.")
    for value, limit in (
        (req.authorization, MAX_AUTHORIZATION_CHARS),
        (req.accept, MAX_ACCEPT_CHARS),
        (req.request_id, MAX_ID_CHARS),
        (req.traceparent, MAX_ID_CHARS),
    ):
        if value is not None and len(value) > limit:
            return Problem(431, "request_header_too_large", "A request header is too large.")
    if _METHOD.fullmatch(req.method) is None:
        return Problem(400, "request_invalid", "The request method is not valid.")
    if _HOST.fullmatch(req.host) is None:
        return Problem(400, "request_invalid", "The request's host is not valid.")
    if req.proto not in ("https", "http"):
        return Problem(400, "request_invalid", "The request's protocol is not known.")
    if not req.path.startswith("/") or _PRINTABLE.fullmatch(req.path) is None:
        return Problem(400, "request_invalid", "The address is not valid.")
    if _PRINTABLE.fullmatch(req.query) is None:
        return Problem(400, "request_invalid", "The address is not valid.")
    if req.route is not None and _ROUTE.fullmatch(req.route) is None:
        return Problem(400, "request_invalid", "The route is not valid.")
    if req.client_ip is None or not _is_ip(req.client_ip):
        return Problem(400, "request_invalid", "The client's address is missing or not valid.")
    return None


def _is_ip(value: str) -> bool:
    if "%" in value:  # an IPv6 zone id: meaningless beyond the proxy's host, and Cedar refuses it
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


__all__ = ["MAX_URI_CHARS", "Problem", "problem_with"]
