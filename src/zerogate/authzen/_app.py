"""The AuthZEN Authorization API 1.0 as a Starlette app in front of one `PDP`.

Routes: `POST /access/v1/evaluation`, `POST /access/v1/evaluations`,
`GET /.well-known/authzen-configuration` and `GET /healthz`. The PDP is called inline on the
event loop: a decision is sub-millisecond CPU work, cheaper than a hop to a thread pool.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from zerogate.authzen._decision import evaluation_json, run_evaluations
from zerogate.authzen._http import (
    error_response,
    internal_error,
    read_json,
    request_id_of,
    respond,
)
from zerogate.authzen._translate import translate_evaluation, translate_evaluations
from zerogate.errors import ConfigError, ErrorDetail, ZerogateError
from zerogate.policy import PDP

EVALUATION_PATH = "/access/v1/evaluation"
EVALUATIONS_PATH = "/access/v1/evaluations"
METADATA_PATH = "/.well-known/authzen-configuration"
HEALTH_PATH = "/healthz"
_log = logging.getLogger(__name__)
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


def create_app(
    pdp: PDP,
    *,
    max_request_bytes: int = 65536,
    ready: Callable[[], bool] | None = None,
    public_url: str | None = None,
) -> Starlette:
    """Build the AuthZEN app.

    `ready` gates `/healthz` (503 until it returns True). `public_url` is the PDP identifier
    published in the metadata document; without it the identifier is derived from each
    request's own URL, which suits development but lets the caller's Host header choose it.
    """
    if max_request_bytes < 1:
        raise ConfigError(
            "max_request_bytes must be positive",
            details=[ErrorDetail("config_invalid", "max_request_bytes", str(max_request_bytes))],
        )
    api = _AuthZEN(pdp, max_request_bytes, ready, _checked_url(public_url))
    routes = [
        Route(EVALUATION_PATH, api.evaluation, methods=["POST"]),
        Route(EVALUATIONS_PATH, api.evaluations, methods=["POST"]),
        Route(METADATA_PATH, api.metadata, methods=["GET"]),
        Route(HEALTH_PATH, api.healthz, methods=["GET"]),
    ]
    return Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, Exception: _unexpected},
    )


class _AuthZEN:
    """The endpoints; each one fails closed: no path out of an error carries `decision: true`."""

    def __init__(
        self, pdp: PDP, limit: int, ready: Callable[[], bool] | None, public_url: str | None
    ) -> None:
        self._pdp = pdp
        self._limit = limit
        self._ready = ready
        self._public_url = public_url

    async def evaluation(self, request: Request) -> Response:
        try:
            raw = await read_json(request, limit=self._limit)
            return respond(request, evaluation_json(self._pdp.decide(translate_evaluation(raw))))
        except ZerogateError as exc:
            return error_response(request, exc)
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is listening any more
        except Exception:
            return _unexpected_error(request)

    async def evaluations(self, request: Request) -> Response:
        try:
            raw = await read_json(request, limit=self._limit)
            batch = translate_evaluations(raw)
            if not batch.batch:  # no `evaluations` array: exactly the single endpoint (§7.1)
                return respond(request, evaluation_json(self._pdp.decide(batch.requests[0])))
            results = run_evaluations(self._pdp, batch)
            return respond(request, {"evaluations": results})
        except ZerogateError as exc:
            return error_response(request, exc)
        except ClientDisconnect:
            return Response(status_code=400)
        except Exception:
            return _unexpected_error(request)

    async def metadata(self, request: Request) -> Response:
        base = self._public_url or str(request.base_url).rstrip("/")
        document = {
            "policy_decision_point": base,
            "access_evaluation_endpoint": base + EVALUATION_PATH,
            "access_evaluations_endpoint": base + EVALUATIONS_PATH,
        }
        response = respond(request, document)
        response.headers["cache-control"] = "max-age=300"
        return response

    async def healthz(self, request: Request) -> Response:
        if self._ready is not None:
            try:
                up = self._ready() is True
            except Exception:
                _log.exception("authzen.ready_check_failed")
                up = False
            if not up:
                return respond(request, {"status": "unavailable"}, 503)
        return respond(request, {"status": "ok", "bundle": self._pdp.bundle_hash})


def _unexpected_error(request: Request) -> Response:
    _log.exception(
        "authzen.internal_error",
        extra={"path": request.url.path, "request_id": request_id_of(request)},
    )
    return error_response(request, internal_error())


async def _http_error(request: Request, exc: Exception) -> Response:
    """404 and 405 from the router, as JSON errors like every other answer."""
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    error = ZerogateError(exc.detail, code=code, status=exc.status_code)
    return error_response(request, error, dict(exc.headers or {}))


async def _unexpected(request: Request, exc: Exception) -> Response:
    """Last resort outside the endpoints; the endpoints catch their own errors first."""
    return _unexpected_error(request)


def _checked_url(url: str | None) -> str | None:
    """AuthZEN §9.1: the PDP identifier is an absolute URL without query or fragment."""
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(
            "public_url must be an absolute https URL without query or fragment",
            details=[ErrorDetail("config_invalid", "public_url", repr(url))],
        )
    return url.rstrip("/")
