"""`zerogate up` with `[telemetry] otlp_endpoint` set: Envoy and the check send their spans to a
test OTLP/gRPC collector, in one trace, and the audit entry of that decision records its id.

The collector serves on this test's event loop; `zerogate up` runs as a child process (stopped
by its own PID), driven from a worker thread.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests._up import cli, eventually, prepare, up_env, zerogate_up
from tests.telemetry._collector import CollectedSpan, Collector, collecting

pytestmark = pytest.mark.e2e
CLIENT_TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _unauthenticated_call(gateway_port: int) -> int:
    """An API call without credentials through the gateway: refused (401), but decided."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{gateway_port}/",
        headers={
            "Host": "localhost",
            "Accept": "application/json",
            "traceparent": CLIENT_TRACEPARENT,  # the edge does not trust it (the default)
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:  # loopback only
            return int(reply.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _trace(collector: Collector) -> tuple[CollectedSpan, CollectedSpan] | None:
    """Envoy's ingress span and the check's span, once both have arrived."""
    ingress, check = collector.named("ingress"), collector.named("zerogate.check")
    return (ingress[0], check[0]) if ingress and check else None


def test_zerogate_up_traces_the_gateway_and_the_check_into_the_audit_entry(
    tmp_path: Path,
) -> None:
    async def scenario() -> tuple[int, CollectedSpan, CollectedSpan, str]:
        async with collecting() as collector:
            config = f'[telemetry]\notlp_endpoint = "{collector.url}"\nservice_name = "zg-e2e"\n'
            prepare(tmp_path, config)
            env = up_env()

            def drive() -> int:
                with zerogate_up(tmp_path, env) as up:
                    status = _unauthenticated_call(up.gateway_port)
                    # Envoy and the SDK each export in batches, every few seconds.
                    eventually(lambda: _trace(collector) is not None, "spans at the collector")
                return status

            status = await asyncio.to_thread(drive)
            found = _trace(collector)
            assert found is not None
            ingress, check = found
            # `zerogate up` has stopped: its audit log is closed and can be searched.
            search = await asyncio.to_thread(
                cli, tmp_path, env, "audit", "search", "--trace-id", check.trace_id, "--json"
            )
            return status, ingress, check, search

    status, ingress, check, search = asyncio.run(scenario())
    assert status == 401
    assert (ingress.service, check.service) == ("zg-e2e-gateway", "zg-e2e")
    assert check.trace_id == ingress.trace_id
    assert check.trace_id != CLIENT_TRACEPARENT.split("-")[1]  # Envoy started the trace
    assert check.attributes["zerogate.decision"] == "unauthenticated"
    (entry,) = json.loads(search)["records"]
    assert entry["trace_id"] == check.trace_id
    assert entry["decision_id"] == check.attributes["zerogate.decision_id"]
