"""Every error path of the HTTP face: its status, stable code and JSON location; fail closed."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import orjson
import pytest
from authzen_support import EVALUATION, EVALUATIONS, evaluation, locs

from zerogate.authzen import create_app
from zerogate.clock import FixedClock
from zerogate.errors import ConfigError, StoreError
from zerogate.policy import PDP, CompiledBundle, Decision, Request

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.testclient import TestClient

JSON = {"content-type": "application/json"}


class BrokenPDP(PDP):
    """A PDP whose engine blows up with something that is not a ZerogateError."""

    def decide(self, request: Request, *, explain: bool = True) -> Decision:
        raise RuntimeError("engine exploded at /srv/secret/path")


class UnavailablePDP(PDP):
    def decide(self, request: Request, *, explain: bool = True) -> Decision:
        raise StoreError("entity store is unreachable")


def test_errors_invalid_json_has_line_and_column(client: TestClient) -> None:
    response = client.post(EVALUATION, content=b'{\n  "subject": ,\n}', headers=JSON)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "json_invalid"
    assert body["errors"][0]["code"] == "json_invalid"
    assert body["errors"][0]["loc"] == "body:2:14"


def test_errors_body_must_be_an_object(client: TestClient) -> None:
    response = client.post(EVALUATION, json=[evaluation()])

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"code": "request_invalid", "loc": "body", "msg": "expected an object"}
    ]


def test_errors_lists_every_problem_at_once(client: TestClient) -> None:
    body = {
        "subject": {"type": "User", "id": 7, "role": "admin"},
        "action": {},
        "resource": "App::wiki",
        "context": [],
        "page": {"token": "x"},
    }

    response = client.post(EVALUATION, json=body)

    assert response.status_code == 400
    payload = response.json()
    assert payload["code"] == "request_invalid"
    assert payload["errors"] == [
        {"code": "request_invalid", "loc": "action.name", "msg": "field required"},
        {"code": "request_invalid", "loc": "context", "msg": "expected an object"},
        {"code": "request_invalid", "loc": "page", "msg": "unknown field"},
        {"code": "request_invalid", "loc": "resource", "msg": "expected an object"},
        {"code": "request_invalid", "loc": "subject.id", "msg": "expected a non-empty string"},
        {"code": "request_invalid", "loc": "subject.role", "msg": "unknown field"},
    ]


def test_errors_missing_tuple_members(client: TestClient) -> None:
    response = client.post(EVALUATION, json={})

    assert locs(response.json()) == ["action", "resource", "subject"]


def test_errors_pdp_schema_mismatch_keeps_its_status_and_body(client: TestClient) -> None:
    body = {**evaluation(), "subject": {"type": "Robot", "id": "r2"}}

    response = client.post(EVALUATION, json=body)

    assert response.status_code == 400
    payload = response.json()
    assert payload["code"] == "request_invalid"
    assert payload["message"] == "request does not match the policy schema"
    assert "Robot" in payload["errors"][0]["msg"]
    assert "decision" not in payload


def test_errors_pdp_entity_mismatch(client: TestClient) -> None:
    body = evaluation()
    body["subject"]["properties"]["attrs"] = {"email": 42}

    response = client.post(EVALUATION, json=body)

    assert response.status_code == 400
    assert response.json()["code"] == "entity_invalid"


def test_errors_pdp_zerogate_error_maps_to_its_status(
    make_client: Callable[..., TestClient], compiled: CompiledBundle
) -> None:
    client = make_client(UnavailablePDP(compiled, clock=FixedClock()))

    response = client.post(EVALUATION, json=evaluation())

    assert response.status_code == 503
    assert response.json() == {
        "code": "store_unavailable",
        "message": "entity store is unreachable",
    }


@pytest.mark.parametrize("path", [EVALUATION, EVALUATIONS])
def test_errors_unexpected_exception_fails_closed(
    make_client: Callable[..., TestClient], compiled: CompiledBundle, path: str
) -> None:
    client = make_client(BrokenPDP(compiled, clock=FixedClock()))
    body: dict[str, Any] = evaluation()
    if path == EVALUATIONS:
        body["evaluations"] = [{}, {}]

    response = client.post(path, json=body, headers={"x-request-id": "r-1"})

    assert response.status_code == 500
    payload = response.json()
    assert payload["code"] == "internal_error"
    assert payload.get("decision") is not True
    assert "evaluations" not in payload
    assert "secret" not in response.text
    assert "RuntimeError" not in response.text
    assert response.headers["x-request-id"] == "r-1"


def test_errors_content_length_over_limit_is_413(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_request_bytes=100)

    response = client.post(EVALUATION, json=evaluation())

    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert locs(response.json()) == ["body"]


def test_errors_streamed_body_over_limit_is_413(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_request_bytes=100)
    chunks = iter([b'{"subject": ', b" " * 120, b"{}}"])  # chunked: no Content-Length

    response = client.post(EVALUATION, content=chunks, headers=JSON)

    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"


def _asgi_post(
    app: Any, headers: list[tuple[bytes, bytes]], chunk: bytes, *, endless: bool
) -> tuple[list[dict[str, Any]], int]:
    """POST straight into the ASGI app; returns what it sent and how often it asked for more."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": EVALUATION,
        "raw_path": EVALUATION.encode(),
        "root_path": "",
        "query_string": b"",
        "server": ("127.0.0.1", 8181),
        "client": ("127.0.0.1", 50000),
        "headers": [(b"content-type", b"application/json"), *headers],
    }
    received = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal received
        received += 1
        return {"type": "http.request", "body": chunk, "more_body": endless}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent, received


def test_errors_never_read_past_the_limit(pdp: PDP) -> None:
    """A body that never ends, under a Content-Length that lies: we stop after the limit."""
    app = create_app(pdp, max_request_bytes=1000)

    sent, received = _asgi_post(app, [(b"content-length", b"10")], b" " * 300, endless=True)

    assert sent[0]["status"] == 413
    assert received == 4  # 1,200 bytes: the first chunk past 1,000 ends the read
    assert orjson.loads(sent[1]["body"])["code"] == "request_too_large"


def test_errors_bad_content_length_is_400(pdp: PDP) -> None:
    sent, _ = _asgi_post(create_app(pdp), [(b"content-length", b"-5")], b"{}", endless=False)

    assert sent[0]["status"] == 400
    assert orjson.loads(sent[1]["body"])["errors"][0]["loc"] == "headers.content-length"


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_errors_wrong_content_type_is_415(client: TestClient, content_type: str | None) -> None:
    headers = {} if content_type is None else {"content-type": content_type}

    response = client.post(EVALUATION, content=orjson.dumps(evaluation()), headers=headers)

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert locs(response.json()) == ["headers.content-type"]


@pytest.mark.parametrize(
    ("method", "path"), [("GET", EVALUATION), ("PUT", EVALUATIONS), ("POST", "/healthz")]
)
def test_errors_wrong_method_is_405(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path, headers={"x-request-id": "r-2"})

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert response.headers["allow"]
    assert response.headers["x-request-id"] == "r-2"


def test_errors_unknown_path_is_404(client: TestClient) -> None:
    response = client.post("/access/v1/search/subject", json={})

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_errors_invalid_settings_refused(pdp: PDP) -> None:
    with pytest.raises(ConfigError):
        create_app(pdp, max_request_bytes=0)
    with pytest.raises(ConfigError):
        create_app(pdp, public_url="https://pdp.example.com/?tenant=1")
