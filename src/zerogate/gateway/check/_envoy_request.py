"""What Envoy's ext_authz filter tells us, as a `CheckRequest`: shared by the HTTP and gRPC faces.

Both faces see the same request headers (the filter's `allowed_headers`), the route header Envoy
set after removing any client copy, and on webhook routes the whole body. They differ only in
how those arrive: HTTP headers and a path behind `/check`, or an `AttributeContext` message.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from zerogate.gateway.check._edge import ROUTE_HEADER, last_hop
from zerogate.gateway.check._model import CheckRequest
from zerogate.gateway.check._peer import XFCC_HEADER, peer_spiffe_id
from zerogate.gateway.check._webhooks import MAX_WEBHOOK_BODY_BYTES

# Envoy says whether the body it buffered is whole; we configure it never to send a part.
PARTIAL_BODY = "x-envoy-auth-partial-body"
_WANTED = frozenset(
    name.encode("ascii")
    for name in (
        "host",
        "cookie",
        "authorization",
        "accept",
        "x-forwarded-proto",
        "x-forwarded-for",
        "x-request-id",
        "traceparent",
        ROUTE_HEADER,
        PARTIAL_BODY,
        XFCC_HEADER,
    )
)


def wanted_headers(extra: Collection[str] = ()) -> frozenset[bytes]:
    """The header names (lower-case bytes) the check reads, plus the webhook routes' `extra`."""
    return _WANTED.union(name.encode("ascii") for name in extra) if extra else _WANTED


def public_port_of(port: int | None) -> int | None:
    """The port to put back into `Host` (Envoy strips it): none for the default ports."""
    return None if port in (None, 80, 443) else port


def envoy_check_request(
    *,
    method: str,
    host: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    repeated: str | None,
    public_port: int | None,
    body: bytes,
    extra: Collection[str] = (),
) -> CheckRequest:
    """One ext_authz request as a `CheckRequest`.

    `path` is the original path, still percent-encoded ("" means "/"), `query` the raw query
    string; `headers` are the wanted ones (`read_headers`), `repeated` the name of one that came
    twice (the check refuses an ambiguous request). A body longer than the webhook limit is cut
    one byte past it, as the HTTP face reads it: enough for the check to see it is too big.
    """
    if public_port is not None and host and ":" not in host:
        host = f"{host}:{public_port}"
    if len(body) > MAX_WEBHOOK_BODY_BYTES:
        body = body[: MAX_WEBHOOK_BODY_BYTES + 1]
    return CheckRequest(
        method=method,
        host=host,
        path=path or "/",
        query=query,
        route=headers.get(ROUTE_HEADER),
        client_ip=last_hop(headers.get("x-forwarded-for")),
        proto=headers.get("x-forwarded-proto", "http"),
        cookie=headers.get("cookie"),
        authorization=headers.get("authorization"),
        accept=headers.get("accept"),
        request_id=headers.get("x-request-id"),
        traceparent=headers.get("traceparent"),
        defect=_defect(repeated, headers.get(PARTIAL_BODY)),
        body=body,
        extra_headers=tuple((name, headers[name]) for name in extra if name in headers),
        peer_spiffe_id=peer_spiffe_id(headers.get(XFCC_HEADER)),
    )


def _defect(repeated: str | None, partial_body: str | None) -> str | None:
    if repeated is not None:
        return f"repeated header: {repeated}"
    if partial_body not in (None, "false"):
        return "Envoy sent part of the body"  # a signature over part of it proves nothing
    return None


__all__ = ["PARTIAL_BODY", "envoy_check_request", "public_port_of", "wanted_headers"]
