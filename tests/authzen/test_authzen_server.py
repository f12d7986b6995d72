"""The real server path: uvicorn on a real socket, a real HTTP client."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from authzen_support import EVALUATION, EVALUATIONS, app, evaluation

from zerogate.authzen import create_app
from zerogate.policy import PDP


@pytest.fixture
def base_url(pdp: PDP) -> Iterator[str]:
    """uvicorn serving the AuthZEN app on 127.0.0.1, on a port the OS picks, in a thread."""
    config = uvicorn.Config(
        create_app(pdp), host="127.0.0.1", port=0, lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="authzen-uvicorn", daemon=True)
    thread.start()  # off the main thread uvicorn installs no signal handlers
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "uvicorn exited during start-up"
        assert time.monotonic() < deadline, "uvicorn did not start within 10 s"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        assert not thread.is_alive()


def test_server_answers_over_a_real_socket(base_url: str) -> None:
    headers = {"X-Request-ID": "sock-1"}
    with httpx.Client(base_url=base_url, timeout=5) as http:
        allowed = http.post(EVALUATION, json=evaluation("wiki"), headers=headers)
        batch = http.post(
            EVALUATIONS,
            json={**evaluation(), "evaluations": [{"resource": app("payroll")}, {}]},
        )
        too_large = http.post(
            EVALUATION, content=b" " * 70_000, headers={"content-type": "application/json"}
        )
        health = http.get("/healthz")

    assert allowed.status_code == 200
    assert allowed.json()["decision"] is True
    assert allowed.headers["x-request-id"] == "sock-1"
    assert [e["decision"] for e in batch.json()["evaluations"]] == [False, True]
    assert too_large.status_code == 413
    assert health.json()["status"] == "ok"
