"""The check as Envoy's ext_authz gRPC service: `envoy.service.auth.v3.Authorization/Check`.

The same check as the HTTP face (`_ext_authz.py`), spoken over gRPC with grpcio's asyncio server
and the generated protos of the `xds-protos` package. Envoy sends an `AttributeContext`: the
method, host and path, the allowed request headers (one entry per header line, as the filter's
`encode_raw_headers` asks, so a repeated header is still seen as repeated), and on webhook
routes the raw body. We answer OK with headers for the upstream, or a denied response.

In HTTP mode Envoy's allowlists pick which of our response headers go where; a gRPC answer is
applied as given, so this face applies the same allowlists itself: `x-zerogate-*` to the upstream
on success, `set-cookie` to the client on success, and the denial headers to the client on a
denial. Any failure here is an error status, which Envoy turns into its `status_on_error` (503):
fail closed. Measured against the HTTP face in bench/gateway.py (docs/performance.md).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import replace
from typing import Any

import grpc
from envoy.config.core.v3 import base_pb2
from envoy.service.auth.v3 import external_auth_pb2
from envoy.type.v3 import http_status_pb2
from google.rpc import code_pb2, status_pb2

from zerogate.gateway import envoy as envoy_headers
from zerogate.gateway.check._checker import Checker
from zerogate.gateway.check._edge import read_headers, split_uri
from zerogate.gateway.check._envoy_request import (
    envoy_check_request,
    public_port_of,
    wanted_headers,
)
from zerogate.gateway.check._model import CheckRequest, CheckResult
from zerogate.gateway.check._own_cookies import HEADERS_TO_REMOVE
from zerogate.gateway.check._webhooks import MAX_WEBHOOK_BODY_BYTES

SERVICE = "envoy.service.auth.v3.Authorization"
GRACE_S = 1.0  # how long a stopping server lets checks in flight finish

# What passes where: Envoy's HTTP-mode allowlists, applied here since a gRPC answer is taken as
# given. Only we may assert `x-zerogate-*` to an upstream.
UPSTREAM_PREFIX = envoy_headers.ZEROGATE_PREFIX
UPSTREAM_REWRITES = frozenset(envoy_headers.UPSTREAM_REWRITES)  # our cookies taken out
CLIENT_HEADERS_ON_ALLOW = frozenset(envoy_headers.CLIENT_HEADERS_ON_ALLOW)
CLIENT_HEADERS_ON_DENY = frozenset(envoy_headers.CLIENT_HEADERS_ON_DENY)
# Room for a whole webhook body (Envoy never sends a part) and the headers around it; a bigger
# message is refused by grpc, an error Envoy answers with its 503.
MAX_MESSAGE_BYTES = MAX_WEBHOOK_BODY_BYTES + (256 << 10)
_OPTIONS = (
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    # grpc sets SO_REUSEPORT by default: a second server on the same port would share it quietly.
    ("grpc.so_reuseport", 0),
)

_SET = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD
_APPEND = base_pb2.HeaderValueOption.APPEND_IF_EXISTS_OR_ADD
_log = logging.getLogger("zerogate.gateway.check")


class GRPCCheckServer:
    """A running gRPC check service; `aclose()` stops it (checks in flight get `GRACE_S`)."""

    def __init__(self, server: grpc.aio.Server, host: str, port: int) -> None:
        self._server = server
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        """The address as the gateway's `authz_url` names it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def aclose(self) -> None:
        await self._server.stop(GRACE_S)


async def start_grpc_check_server(
    checker: Checker, host: str = "127.0.0.1", port: int = 0, *, public_port: int | None = None
) -> GRPCCheckServer:
    """Serve `checker` as Envoy's ext_authz gRPC service on `host:port` (0: a free port).

    `public_port` plays the same part as in the HTTP face: the gateway's port, put back into the
    URLs browsers are sent back to after signing in.
    """
    servicer = AuthorizationService(checker, public_port=public_port)
    handler = grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Check": grpc.unary_unary_rpc_method_handler(
                servicer.check,
                request_deserializer=external_auth_pb2.CheckRequest.FromString,
                response_serializer=external_auth_pb2.CheckResponse.SerializeToString,
            ),
        },
    )
    server = grpc.aio.server(options=_OPTIONS)
    server.add_generic_rpc_handlers((handler,))
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = server.add_insecure_port(target)
    except RuntimeError as exc:  # grpc's way of saying the address is taken or invalid
        raise OSError(f"the gRPC check service cannot listen on {target}: {exc}") from exc
    await server.start()
    return GRPCCheckServer(server, host, bound)


class AuthorizationService:
    """`Check`: translate, ask the `Checker`, answer; never an unchecked OK."""

    def __init__(self, checker: Checker, *, public_port: int | None = None) -> None:
        self._checker = checker
        self._port = public_port_of(public_port)
        self._extra = tuple(sorted(checker.webhook_headers))

    async def check(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        try:
            req = translate_grpc(request, self._port, extra=self._extra)
            # A tracing Envoy puts its ext_authz span in the call's metadata, not in the
            # request's headers: that span is the check's parent (docs/telemetry.md "Tracing").
            traced = _metadata(context, "traceparent")
            if traced is not None:
                req = replace(req, traceparent=traced)
            return to_check_response(await self._checker.check(req))
        except Exception as exc:  # the Checker never raises; this is our own code failing
            _log.error("check.grpc_failed", exc_info=exc, extra={"error": type(exc).__name__})
            # An error status: Envoy answers the client with its status_on_error, never allows.
            await context.abort(grpc.StatusCode.INTERNAL, "the check failed")


def _metadata(context: grpc.aio.ServicerContext[Any, Any], name: str) -> str | None:
    values = [v for k, v in context.invocation_metadata() or () if k == name]
    return values[0] if len(values) == 1 and isinstance(values[0], str) else None


def translate_grpc(
    request: Any, public_port: int | None = None, *, extra: Collection[str] = ()
) -> CheckRequest:
    """An `envoy.service.auth.v3.CheckRequest` as a `CheckRequest`, as the HTTP face reads one.

    Headers come from `header_map` (one entry per line, raw bytes) when Envoy sends it, else
    from the `headers` map (repeats already comma-joined by Envoy). `path` carries the query.
    """
    http = request.attributes.request.http
    raw = http.header_map.headers
    pairs: list[tuple[bytes, bytes]]
    if raw:
        pairs = [(h.key.encode("latin-1"), h.raw_value or h.value.encode()) for h in raw]
    else:
        pairs = [(k.encode("latin-1"), v.encode()) for k, v in http.headers.items()]
    headers, repeated = read_headers({"headers": pairs}, wanted_headers(extra))
    path, query = split_uri(http.path)
    body: bytes = http.raw_body or http.body.encode()
    return envoy_check_request(
        method=http.method,
        host=http.host,
        path=path,
        query=query,
        headers=headers,
        repeated=repeated,
        public_port=public_port,
        body=body,
        extra=extra,
    )


def to_check_response(result: CheckResult) -> Any:
    """A `CheckResult` as Envoy's `CheckResponse`: 200 allows (as in HTTP mode), all else denies."""
    if result.status == 200:
        upstream = [
            _option(k, v, _SET)
            for k, v in result.headers
            if k.startswith(UPSTREAM_PREFIX) or k in UPSTREAM_REWRITES
        ]
        client = [_option(k, v, _APPEND) for k, v in result.headers if k in CLIENT_HEADERS_ON_ALLOW]
        removed = [v for k, v in result.headers if k == HEADERS_TO_REMOVE]
        return external_auth_pb2.CheckResponse(
            status=status_pb2.Status(code=code_pb2.OK),
            ok_response=external_auth_pb2.OkHttpResponse(
                headers=upstream, response_headers_to_add=client, headers_to_remove=removed
            ),
        )
    headers = [
        _option(k, v, _APPEND if k == "set-cookie" else _SET)
        for k, v in result.headers
        if k in CLIENT_HEADERS_ON_DENY
    ]
    code = code_pb2.UNAUTHENTICATED if result.status == 401 else code_pb2.PERMISSION_DENIED
    return external_auth_pb2.CheckResponse(
        status=status_pb2.Status(code=code),
        denied_response=external_auth_pb2.DeniedHttpResponse(
            status=http_status_pb2.HttpStatus(code=result.status),
            headers=headers,
            body=result.body.decode("utf-8", "replace"),
        ),
    )


def _option(name: str, value: str, action: int) -> Any:
    return base_pb2.HeaderValueOption(
        header=base_pb2.HeaderValue(key=name, value=value), append_action=action
    )


__all__ = [
    "CLIENT_HEADERS_ON_ALLOW",
    "CLIENT_HEADERS_ON_DENY",
    "MAX_MESSAGE_BYTES",
    "SERVICE",
    "UPSTREAM_PREFIX",
    "UPSTREAM_REWRITES",
    "AuthorizationService",
    "GRPCCheckServer",
    "start_grpc_check_server",
    "to_check_response",
    "translate_grpc",
]
