"""The admin API's route table: each operation declared once, served and documented from there.

An `Operation` names its method, path, inputs (`Field`s), response schema and error statuses;
`api_routes` serves the table through one edge (identity, CSRF, input checks, JSON errors) and
`zerogate.admin._openapi` writes the OpenAPI document from the same table.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from zerogate.admin._console import Console
from zerogate.admin._fields import Field, parse_body, parse_query
from zerogate.admin._http import (
    Actor,
    check_origin,
    error_response,
    json_response,
    read_json,
)
from zerogate.errors import ZerogateError
from zerogate.gateway.check import DECISION_ID_HEADER

API_PREFIX = "/api/v1"  # under the console's mount: /admin/api/v1
log = logging.getLogger("zerogate.admin")


@dataclass(frozen=True, slots=True)
class Call:
    """One API call, checked: path parameters, query values, body values, and who is calling."""

    request: Request
    path: Mapping[str, str]
    query: Mapping[str, Any]
    body: Mapping[str, Any]
    actor: Actor


Handler = Callable[[Console, Call], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Operation:
    """One admin API operation. `body` None: no request body (a read); a tuple: a JSON object
    with those fields (a state change, CSRF-checked). `errors`: the statuses it may answer
    besides 200 and the check's 401/403."""

    method: str
    path: str  # under API_PREFIX, e.g. /users/{username}/disable
    operation_id: str
    summary: str
    tag: str
    handler: Handler
    response: str  # the name of its 200 schema in components
    path_params: tuple[Field, ...] = ()
    query: tuple[Field, ...] = ()
    body: tuple[Field, ...] | None = None
    errors: tuple[int, ...] = ()
    description: str = ""

    @property
    def changes_state(self) -> bool:
        return self.body is not None


def api_routes(console: Console, operations: Sequence[Operation]) -> list[Route]:
    """Starlette routes for `operations` (paths relative to the console's mount)."""
    return [
        Route(
            API_PREFIX + op.path, _endpoint(console, op), methods=[op.method], name=op.operation_id
        )
        for op in operations
    ]


def _endpoint(console: Console, op: Operation) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        response = await _answer(request)
        decision_id = request.headers.get(DECISION_ID_HEADER)
        if decision_id:  # the console check's decision: the audit entries carry it too
            response.headers[DECISION_ID_HEADER] = decision_id
        return response

    async def _answer(request: Request) -> Response:
        try:
            actor = Actor.of(request)
            body: Mapping[str, Any] = {}
            if op.body is not None:
                check_origin(request, console.origin)
                body = parse_body(await read_json(request), op.body)
            given = {f.name: request.query_params.getlist(f.name) for f in op.query}
            query = parse_query(given, op.query)
            path = {str(k): str(v) for k, v in request.path_params.items()}
            for field in op.path_params:
                field.parse(path[field.name], f"path.{field.name}")
            call = Call(request, path, query, body, actor)
            return json_response(await op.handler(console, call))
        except ZerogateError as exc:
            return error_response(exc)
        except Exception:
            log.exception("admin API: %s failed", op.operation_id)
            return error_response(ZerogateError("internal error", code="internal_error"))

    return endpoint


__all__ = ["API_PREFIX", "Call", "Handler", "Operation", "api_routes"]
