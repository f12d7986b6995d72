"""The Envoy ext_authz gRPC face through a real grpc channel on loopback: the contract with Envoy.

Each test starts the face's own server on a port the OS hands out, calls
`envoy.service.auth.v3.Authorization/Check` with the generated stub (as Envoy would call it), and
stops the server. The HTTP face's contract (test_check_ext_authz.py) holds here too.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

import grpc
import orjson
import pytest
from envoy.config.core.v3 import address_pb2, base_pb2
from envoy.service.auth.v3 import attribute_context_pb2 as attrs
from envoy.service.auth.v3 import external_auth_pb2, external_auth_pb2_grpc
from google.rpc import code_pb2

from tests.gateway.check._support import (
    APP_HOST,
    BROWSER,
    CLIENT_IP,
    CheckWorld,
    bearer,
    continued,
)
from tests.identity._support import run
from zerogate.gateway.check import (
    DECISION_ID_HEADER,
    MAX_WEBHOOK_BODY_BYTES,
    ROUTE_HEADER,
    WEBHOOK_HEADER,
    Checker,
    CheckResult,
    ReplayCache,
    Verdict,
    WebhookVerifier,
    start_grpc_check_server,
)
from zerogate.gateway.check._ext_authz_grpc import (
    CLIENT_HEADERS_ON_ALLOW,
    CLIENT_HEADERS_ON_DENY,
    UPSTREAM_PREFIX,
    UPSTREAM_REWRITES,
    to_check_response,
)
from zerogate.gateway.envoy import ZEROGATE_PREFIX
from zerogate.gateway.envoy import _headers as envoy_headers

HOOK_ROUTE = "payments-hooks"
SECRET = "whsec-current-0123456789abcdefghijklmnop"
SIG, TS = "zerogate-signature", "zerogate-timestamp"
HOOK_PATH = "/hooks/payments"


def envoy_request(
    path: str = "/pages/Home",
    *,
    route: str | None = "wiki-web",
    method: str = "GET",
    host: str = APP_HOST,
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    accept: str | None = BROWSER,
    raw: bool = True,
) -> Any:
    """A CheckRequest as Envoy builds it: `raw` as with `encode_raw_headers` (one entry per line)."""
    sent = [
        ("x-forwarded-proto", "https"),
        ("x-forwarded-for", CLIENT_IP),
        ("x-request-id", "8d3e-req"),
        *((("accept", accept),) if accept else ()),
        *(((ROUTE_HEADER, route),) if route is not None else ()),
        *headers,
    ]
    http = attrs.AttributeContext.HttpRequest(method=method, path=path, host=host, raw_body=body)
    if raw:
        http.header_map.CopyFrom(
            base_pb2.HeaderMap(
                headers=[base_pb2.HeaderValue(key=k, raw_value=v.encode()) for k, v in sent]
            )
        )
    else:
        for k, v in sent:
            http.headers[k] = f"{http.headers[k]},{v}" if k in http.headers else v
    peer = address_pb2.Address(socket_address=address_pb2.SocketAddress(address="127.0.0.1"))
    return external_auth_pb2.CheckRequest(
        attributes=attrs.AttributeContext(
            source=attrs.AttributeContext.Peer(address=peer),
            request=attrs.AttributeContext.Request(http=http),
        )
    )


async def _ask(checker: Checker, requests: Sequence[Any], *, public_port: int | None) -> list[Any]:
    server = await start_grpc_check_server(checker, public_port=public_port)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = external_auth_pb2_grpc.AuthorizationStub(channel)
            return [await stub.Check(r, timeout=10) for r in requests]
    finally:
        await server.aclose()


def ask(checker: Checker, *requests: Any, public_port: int | None = None) -> list[Any]:
    return run(_ask(checker, requests, public_port=public_port))


def headers_of(options: Sequence[Any]) -> list[tuple[str, str]]:
    return [(o.header.key, o.header.value) for o in options]


def test_grpc_allows_with_upstream_headers(world: CheckWorld) -> None:
    alice = world.add_user("alice", "engineering", "employees")
    (answer,) = ask(world.checker, envoy_request(headers=[("cookie", world.sign_in(alice))]))
    assert answer.status.code == code_pb2.OK
    assert answer.WhichOneof("http_response") == "ok_response"
    upstream = dict(headers_of(answer.ok_response.headers))
    assert upstream["x-zerogate-user"] == "alice"
    assert upstream["x-zerogate-email"] == "alice@example.test"
    assert upstream["x-zerogate-groups"] == "employees,engineering"
    assert upstream[DECISION_ID_HEADER] == world.records[-1].decision_id
    # Envoy must replace a copy, never add a second value beside it.
    assert {o.append_action for o in answer.ok_response.headers} == {
        base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD
    }
    assert list(answer.ok_response.response_headers_to_add) == []
    record = world.records[-1]
    assert (record.verdict, record.route, record.action) == (Verdict.ALLOW, "wiki-web", "GET")
    assert (record.client_ip, record.request_id) == (CLIENT_IP, "8d3e-req")


def test_grpc_denial_is_the_explained_answer(world: CheckWorld) -> None:
    bob = world.add_user("bob", "employees")
    req = envoy_request(
        route="admin-ui",
        host="admin.example.test",
        headers=[("cookie", world.sign_in(bob))],
        accept="application/json",
    )
    (answer,) = ask(world.checker, req)
    assert answer.status.code == code_pb2.PERMISSION_DENIED
    denied = answer.denied_response
    assert denied.status.code == 403
    record = world.records[-1]
    assert orjson.loads(denied.body) == {
        "error": "no_permit",
        "error_description": "Admin routes need an admin signed in with a hardware key.",
        "decision_id": record.decision_id,
    }
    headers = dict(headers_of(denied.headers))
    assert headers["content-type"] == "application/json"
    assert headers["cache-control"] == "no-store"
    assert headers[DECISION_ID_HEADER] == record.decision_id


def test_grpc_api_client_without_credentials_gets_a_bearer_challenge(world: CheckWorld) -> None:
    (answer,) = ask(world.checker, envoy_request(accept="application/json"))
    assert answer.status.code == code_pb2.UNAUTHENTICATED
    assert answer.denied_response.status.code == 401
    headers = dict(headers_of(answer.denied_response.headers))
    assert headers["www-authenticate"].startswith('Bearer realm="zerogate"')


def test_grpc_redirects_browsers_with_the_raw_original_url(world: CheckWorld) -> None:
    req = envoy_request("/pages/Caf%C3%A9%2Fmenu?x=1&next=%2F%2Fevil")
    (answer,) = ask(world.checker, req, public_port=8443)
    assert answer.denied_response.status.code == 302
    location = dict(headers_of(answer.denied_response.headers))["location"]
    target = f"https://{APP_HOST}:8443/pages/Caf%C3%A9%2Fmenu?x=1&next=%2F%2Fevil"
    assert parse_qs(urlsplit(location).query)["next"] == [continued(target)]
    assert answer.denied_response.body == ""


def test_grpc_reads_bearer_tokens_and_joined_cookies(world: CheckWorld) -> None:
    alice = world.add_user("alice", "engineering", "employees")
    token = world.access_token(alice)
    cookie = world.sign_in(alice)
    name, _, value = cookie.partition("; ")[2].partition("=")
    split_cookie = [("cookie", "theme=dark"), ("cookie", f"{name}={value}")]  # as HTTP/2 sends
    answers = ask(
        world.checker,
        envoy_request(headers=[("authorization", bearer(token))], accept="application/json"),
        envoy_request(headers=split_cookie),
    )
    assert [a.status.code for a in answers] == [code_pb2.OK, code_pb2.OK]


def test_grpc_refuses_a_repeated_header(world: CheckWorld) -> None:
    alice = world.add_user("alice", "engineering", "employees")
    cookie = world.sign_in(alice)
    again = [("cookie", cookie), ("authorization", "Bearer a"), ("authorization", "Bearer b")]
    (answer,) = ask(world.checker, envoy_request(headers=again, accept="application/json"))
    assert answer.denied_response.status.code == 400
    assert world.records[-1].reason == "request_invalid"


def test_grpc_reads_the_plain_header_map_too(world: CheckWorld) -> None:
    alice = world.add_user("alice", "engineering", "employees")
    req = envoy_request(headers=[("cookie", world.sign_in(alice))], raw=False)
    (answer,) = ask(world.checker, req)
    assert answer.status.code == code_pb2.OK


def test_grpc_without_the_route_header_is_denied(world: CheckWorld) -> None:
    (answer,) = ask(world.checker, envoy_request(route=None, accept="application/json"))
    assert answer.denied_response.status.code == 403
    assert world.records[-1].reason == "route_missing"


def test_grpc_fails_closed_when_the_face_breaks(
    world: CheckWorld, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(req: Any) -> CheckResult:
        raise RuntimeError("boom")

    monkeypatch.setattr(world.checker, "check", broken)
    with pytest.raises(grpc.aio.AioRpcError) as failed, caplog.at_level(logging.ERROR):
        ask(world.checker, envoy_request())
    # An error status, never an OK: Envoy answers with its status_on_error (503).
    assert failed.value.code() is grpc.StatusCode.INTERNAL
    assert "boom" not in (failed.value.details() or "")
    assert any(r.getMessage() == "check.grpc_failed" for r in caplog.records)


def test_grpc_pdp_failure_is_the_checks_own_503(
    world: CheckWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(request: Any) -> Any:
        raise RuntimeError("PDP down")

    alice = world.add_user("alice", "engineering", "employees")
    cookie = world.sign_in(alice)
    monkeypatch.setattr(world.pdp, "decide", down)  # the check fails closed itself
    (answer,) = ask(world.checker, envoy_request(headers=[("cookie", cookie)]))
    assert answer.status.code == code_pb2.PERMISSION_DENIED
    assert answer.denied_response.status.code == 503
    assert b"Access could not be checked" in answer.denied_response.body.encode()
    assert world.records[-1].verdict is Verdict.ERROR


def test_grpc_only_allowlisted_headers_pass() -> None:
    headers = (
        ("x-zerogate-user", "alice"),
        ("x-internal", "never"),
        ("set-cookie", "a=1"),
        ("set-cookie", "b=2"),
    )
    allowed = to_check_response(CheckResult(200, headers, b"", "d-1", Verdict.ALLOW, "allowed"))
    assert headers_of(allowed.ok_response.headers) == [("x-zerogate-user", "alice")]
    to_client = allowed.ok_response.response_headers_to_add
    assert headers_of(to_client) == [("set-cookie", "a=1"), ("set-cookie", "b=2")]
    assert {o.append_action for o in to_client} == {
        base_pb2.HeaderValueOption.APPEND_IF_EXISTS_OR_ADD
    }
    denied = to_check_response(
        CheckResult(403, (*headers, ("location", "/x")), b"no", "d-2", Verdict.DENY, "no_permit")
    )
    assert headers_of(denied.denied_response.headers) == [
        ("set-cookie", "a=1"),
        ("set-cookie", "b=2"),
        ("location", "/x"),
    ]


def test_grpc_allowlists_match_envoys_http_mode() -> None:
    """HTTP mode: Envoy filters our answer; gRPC mode: the face does. Same lists (a guard)."""
    assert UPSTREAM_PREFIX == ZEROGATE_PREFIX
    assert frozenset(envoy_headers.CLIENT_HEADERS_ON_ALLOW) == CLIENT_HEADERS_ON_ALLOW
    assert frozenset(envoy_headers.UPSTREAM_REWRITES) == UPSTREAM_REWRITES
    assert frozenset(envoy_headers.CLIENT_HEADERS_ON_DENY) == CLIENT_HEADERS_ON_DENY


# Webhook routes: the body arrives as raw bytes in the message


def _hooks_checker(world: CheckWorld) -> Checker:
    verifier = WebhookVerifier(
        [SECRET],
        tolerance_s=300,
        signature_header=SIG,
        timestamp_header=TS,
        clock=world.clock,
        replay_cache=ReplayCache(clock=world.clock),
    )
    return world.checker_with(
        webhooks={HOOK_ROUTE: verifier},
    )


def _hook(world: CheckWorld, body: bytes, *, signed_body: bytes | None = None, **more: str) -> Any:
    ts = int(world.clock.now().timestamp())
    message = f"{ts}.POST.{HOOK_PATH}.".encode() + (body if signed_body is None else signed_body)
    digest = hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()
    headers = [(SIG, f"v1={digest}"), (TS, str(ts)), *more.items()]
    return envoy_request(
        HOOK_PATH,
        route=HOOK_ROUTE,
        method="POST",
        host="pay.example.test",
        headers=headers,
        body=body,
        accept="application/json",
    )


def test_grpc_webhook_body_is_verified(world: CheckWorld) -> None:
    checker = _hooks_checker(world)
    body = b'{"id":"evt_1"}\xff\x00 binary'
    answers = ask(
        checker,
        _hook(world, body),
        _hook(world, body),  # the same delivery again: a replay
        _hook(world, b'{"id":"evt_2"}', signed_body=b'{"id":"evt_3"}'),  # tampered
    )
    assert answers[0].status.code == code_pb2.OK
    assert dict(headers_of(answers[0].ok_response.headers))[WEBHOOK_HEADER] == "verified"
    assert [a.denied_response.status.code for a in answers[1:]] == [401, 401]
    assert [r.reason for r in world.records] == [
        "webhook_verified",
        "webhook_replayed",
        "webhook_signature_invalid",
    ]


def test_grpc_webhook_partial_or_oversized_body_is_refused(world: CheckWorld) -> None:
    checker = _hooks_checker(world)
    big = b"y" * (MAX_WEBHOOK_BODY_BYTES + 10)
    answers = ask(
        checker,
        _hook(world, b"{}", **{"x-envoy-auth-partial-body": "true"}),
        _hook(world, big),
    )
    assert [a.denied_response.status.code for a in answers] == [400, 413]


def test_grpc_webhook_body_sent_as_text_is_read_as_utf8(world: CheckWorld) -> None:
    """Envoy 1.40 fills `body` (text) rather than `raw_body` for a per-route body in gRPC mode."""
    checker = _hooks_checker(world)
    body = '{"note":"caf\u00e9 \u2713"}'.encode()
    req = _hook(world, body)
    http = req.attributes.request.http
    http.raw_body = b""
    http.body = body.decode()
    (answer,) = ask(checker, req)
    assert answer.status.code == code_pb2.OK
    assert world.records[-1].reason == "webhook_verified"
