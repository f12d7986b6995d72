"""`GET /metrics` in the Prometheus text exposition format, as a small ASGI app."""

from __future__ import annotations

from prometheus_client import generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from zerogate.telemetry._metrics import Metrics

METRICS_PATH = "/metrics"
# The classic text format `generate_latest` writes, which every Prometheus 2.x and 3.x reads;
# spelt out because newer prometheus_client releases announce a later version by default.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def metrics_app(metrics: Metrics) -> Starlette:
    """Serves `metrics` at `GET /metrics` (mount it with `Route("/metrics", app)`)."""

    async def scrape(request: Request) -> Response:
        await metrics.refresh()  # Envoy's counts, each source bounded by a short timeout
        body = generate_latest(metrics.registry)
        return Response(body, media_type=CONTENT_TYPE, headers={"cache-control": "no-store"})

    return Starlette(routes=[Route(METRICS_PATH, scrape, methods=["GET"])])
