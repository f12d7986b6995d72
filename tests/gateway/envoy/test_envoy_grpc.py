"""ext_authz in gRPC mode: the generated config, and a real Envoy asking the real check service's
gRPC face, in front of the stand-in upstream.

Envoy, the gRPC check server and the upstream run on loopback ports the OS handed out; Envoy is
stopped by its own PID and the gRPC server by `aclose()` when each test ends.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from envoy_support import Upstream, dead_url, make_gateway, run

from tests._up import prepare, up_env, zerogate_up
from tests.gateway.check._support import CheckWorld, make_world
from zerogate.app import free_port
from zerogate.config import load_settings
from zerogate.errors import ConfigError
from zerogate.gateway.check import (
    MAX_WEBHOOK_BODY_BYTES,
    WEBHOOK_HEADER,
    Checker,
    CheckRecord,
    CheckRequest,
    CheckResult,
    ReplayCache,
    WebhookVerifier,
    start_grpc_check_server,
)
from zerogate.gateway.envoy import (
    AUTHZ_CLUSTER,
    EnvoyProcess,
    Gateway,
    Route,
    build_clusters,
    build_listener,
    build_route_config,
    check_config,
)
from zerogate.store import Store, open_store

CHECK = "http://127.0.0.1:9191"
UP = "http://127.0.0.1:8081"
HOST = "wiki.example.test"
ADMIN_HOST = "admin.example.test"
HOOK_HOST = "pay.example.test"
HOOK_ROUTE = "payments-hooks"
SECRET = "whsec-e2e-0123456789abcdefghijklmnopqrstuv"
SIG, TS = "zerogate-signature", "zerogate-timestamp"
EXT_AUTHZ = "envoy.filters.http.ext_authz"
SPOOFED = {
    "x-zerogate-user": "mallory",
    "X-Zerogate-Route": "admin-ui",
    "x-zerogate-assertion": "forged",
    "x-forwarded-user": "root",
    "x-forwarded-for": "203.0.113.9",
}


def ext_authz(gateway: Gateway) -> dict[str, Any]:
    hcm = build_listener(gateway)["filter_chains"][0]["filters"][0]["typed_config"]
    (found,) = [f for f in hcm["http_filters"] if f["name"] == EXT_AUTHZ]
    return dict(found["typed_config"])


def authz_cluster(gateway: Gateway) -> dict[str, Any]:
    (found,) = [c for c in build_clusters(gateway) if c["name"] == AUTHZ_CLUSTER]
    return found


# The generated config


def test_grpc_ext_authz_never_fails_open() -> None:
    """A fail-open trap guard: no answer, an error or a timeout of the gRPC check is a denial."""
    config = ext_authz(make_gateway("http://127.0.0.1:9191", check_protocol="grpc"))
    assert config["failure_mode_allow"] is False
    assert config["status_on_error"] == {"code": 503}
    assert config["grpc_service"]["envoy_grpc"] == {"cluster_name": AUTHZ_CLUSTER}
    assert config["grpc_service"]["timeout"] == "2s"
    assert config["encode_raw_headers"] is True  # repeated headers stay visible to the check
    assert "http_service" not in config
    assert {"exact": "cookie"} in config["allowed_headers"]["patterns"]


def test_grpc_authz_cluster_speaks_http2_and_http_mode_is_unchanged() -> None:
    grpc_gateway = make_gateway("http://127.0.0.1:9191", check_protocol="grpc")
    options = authz_cluster(grpc_gateway)["typed_extension_protocol_options"]
    (http_options,) = options.values()
    assert http_options["explicit_http_config"] == {"http2_protocol_options": {}}

    http_gateway = make_gateway("http://127.0.0.1:9191")
    assert http_gateway.check_protocol == "http"  # the default: the measured faster one
    assert "typed_extension_protocol_options" not in authz_cluster(http_gateway)
    config = ext_authz(http_gateway)
    assert "grpc_service" not in config
    assert "encode_raw_headers" not in config
    assert config["failure_mode_allow"] is False


def test_grpc_gateway_config_passes_envoy_validation() -> None:
    route = Route("wiki", hosts=(HOST,), upstream="http://127.0.0.1:8081", resource_id="wiki-web")
    run(check_config(make_gateway("http://127.0.0.1:9191", route, check_protocol="grpc")))


def per_route_authz(gateway: Gateway) -> dict[str, dict[str, Any]]:
    return {
        r["name"]: r["typed_per_filter_config"][EXT_AUTHZ]
        for vh in build_route_config(gateway)["virtual_hosts"]
        for r in vh["routes"]
        if r["name"] != "zerogate_not_found"
    }


def test_grpc_webhook_bodies_are_packed_as_bytes_filter_wide_and_other_routes_opt_out() -> None:
    public = Route("site", hosts=("www.example.test",), upstream=UP, allow_public=True)
    grpc = make_gateway(CHECK, *routes(UP), public, check_protocol="grpc")
    assert ext_authz(grpc)["with_request_body"] == {
        "max_request_bytes": MAX_WEBHOOK_BODY_BYTES,  # the largest webhook route's
        "allow_partial_message": False,
        "pack_as_bytes": True,
    }
    settings = per_route_authz(grpc)
    assert settings["site"] == {"@type": settings["site"]["@type"], "disabled": True}
    hooks = settings["hooks"]["check_settings"]
    assert hooks["with_request_body"]["max_request_bytes"] == MAX_WEBHOOK_BODY_BYTES
    assert "disable_request_body_buffering" not in hooks  # Envoy allows one of the two
    for name in ("wiki", "admin"):
        assert settings[name]["check_settings"]["disable_request_body_buffering"] is True
    run(check_config(grpc))  # and Envoy accepts it

    # Without webhook routes there is no filter-wide body; HTTP mode never has one.
    plain = make_gateway(CHECK, *routes(UP)[:2], public, check_protocol="grpc")
    assert "with_request_body" not in ext_authz(plain)
    http = make_gateway(CHECK, *routes(UP), public)
    assert "with_request_body" not in ext_authz(http)
    assert not any(
        "disable_request_body_buffering" in s.get("check_settings", {})
        for s in per_route_authz(http).values()
    )


def test_grpc_unknown_check_protocol_is_refused() -> None:
    with pytest.raises(ConfigError) as refused:
        make_gateway("http://127.0.0.1:9191", check_protocol="thrift")
    (detail,) = refused.value.details
    assert (detail.code, detail.loc) == ("gateway_invalid", "check_protocol")


def test_grpc_check_protocol_setting_is_validated_at_load(tmp_path: Path) -> None:
    path = tmp_path / "zerogate.toml"
    path.write_text('[gateway]\ncheck_protocol = "grpc"\n')
    assert load_settings(path, environ={}).gateway.check_protocol == "grpc"
    assert load_settings(None, environ={}).gateway.check_protocol == "http"
    path.write_text('[gateway]\ncheck_protocol = "thrift"\n')
    with pytest.raises(ConfigError) as refused:
        load_settings(path, environ={})
    assert [d.loc.split(":", 1)[1] for d in refused.value.details] == ["gateway.check_protocol"]


# A real Envoy in front of the real check, over gRPC


@pytest.fixture
def sqlite_store(make_database: Callable[..., str]) -> Iterator[Store]:
    opened = open_store(make_database("sqlite"))
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def world(sqlite_store: Store) -> CheckWorld:
    return make_world(sqlite_store)


def checker_with_hooks(world: CheckWorld, records: list[CheckRecord]) -> Checker:
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
        on_decision=records.append,
    )


def routes(upstream_url: str) -> tuple[Route, ...]:
    return (
        Route("wiki", hosts=(HOST,), upstream=upstream_url, resource_id="wiki-web"),
        Route("admin", hosts=(ADMIN_HOST,), upstream=upstream_url, resource_id="admin-ui"),
        Route(
            "hooks",
            hosts=(HOOK_HOST,),
            upstream=upstream_url,
            resource_id=HOOK_ROUTE,
            pass_headers=(SIG, TS),
            check_body_max_bytes=MAX_WEBHOOK_BODY_BYTES,
        ),
    )


@asynccontextmanager
async def grpc_gateway(
    checker: Checker | None, upstream_url: str, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """Envoy with `check_protocol="grpc"` asking `checker` (None: a port nothing listens on)."""
    server = None if checker is None else await start_grpc_check_server(checker)
    try:
        authz_url = dead_url() if server is None else server.url
        gateway = make_gateway(
            authz_url, *routes(upstream_url), check_protocol="grpc", authz_timeout_s=0.5
        )
        envoy = EnvoyProcess(gateway, workdir=tmp_path / "envoy")
        await envoy.start()
        try:
            base = f"http://127.0.0.1:{gateway.listen_port}"
            async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=10) as http:
                yield http
        finally:
            await envoy.aclose()
    finally:
        if server is not None:
            await server.aclose()


def test_envoy_grpc_allows_with_the_checks_identity_and_nothing_spoofed(
    tmp_path: Path, world: CheckWorld, upstream: Upstream, upstream_url: str
) -> None:
    records: list[CheckRecord] = []
    alice = world.add_user("alice", "engineering", "employees")
    cookie = world.sign_in(alice)

    async def scenario() -> httpx.Response:
        async with grpc_gateway(checker_with_hooks(world, records), upstream_url, tmp_path) as http:
            return await http.get(
                "/pages/Home?v=2", headers={"host": HOST, "cookie": cookie, **SPOOFED}
            )

    response = run(scenario())
    assert response.status_code == 200
    (seen,) = upstream.seen
    assert seen.path == "/pages/Home?v=2"
    assert seen.one("x-zerogate-user") == "alice"  # the check's, never the client's "mallory"
    assert seen.one("x-zerogate-groups") == "employees,engineering"
    assert seen.one("x-zerogate-route") == "wiki-web"  # Envoy's, never the client's
    assert seen.all("x-zerogate-assertion") == []  # this checker signs none; the forged one went
    assert seen.all("x-forwarded-user") == []
    assert "203.0.113.9" not in (seen.one("x-forwarded-for") or "")
    (record,) = records
    assert (record.route, record.verdict, record.action) == ("wiki-web", "allow", "GET")
    # The peer Envoy saw (the address it appended), never the client's claim.
    assert record.client_ip == seen.one("x-forwarded-for")
    assert record.client_ip != "203.0.113.9"
    assert seen.one("x-zerogate-decision-id") == record.decision_id


def test_envoy_grpc_denials_reach_the_client_explained_and_never_the_upstream(
    tmp_path: Path, world: CheckWorld, upstream: Upstream, upstream_url: str
) -> None:
    records: list[CheckRecord] = []
    bob = world.add_user("bob", "employees")
    cookie = world.sign_in(bob)
    api = {"accept": "application/json"}

    async def scenario() -> list[httpx.Response]:
        async with grpc_gateway(checker_with_hooks(world, records), upstream_url, tmp_path) as http:
            return [
                await http.get("/", headers={"host": ADMIN_HOST, "cookie": cookie, **api}),
                await http.get("/pages/Home", headers={"host": HOST, **api}),
                await http.get("/pages/Home", headers={"host": HOST, "accept": "text/html"}),
            ]

    forbidden, api_401, browser = run(scenario())
    assert upstream.seen == []
    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"] == "application/json"
    assert forbidden.json() == {
        "error": "no_permit",
        "error_description": "Admin routes need an admin signed in with a hardware key.",
        "decision_id": records[0].decision_id,
    }
    assert forbidden.headers["x-zerogate-decision-id"] == records[0].decision_id
    assert api_401.status_code == 401
    assert api_401.headers["www-authenticate"].startswith('Bearer realm="zerogate"')
    assert browser.status_code == 302
    assert browser.headers["location"].startswith("https://login.zerogate.test/login?next=")


def test_envoy_grpc_check_down_fails_closed_with_503(
    tmp_path: Path, upstream: Upstream, upstream_url: str
) -> None:
    async def scenario() -> httpx.Response:
        async with grpc_gateway(None, upstream_url, tmp_path) as http:
            return await http.get("/pages/Home", headers={"host": HOST, **SPOOFED})

    response = run(scenario())
    assert response.status_code == 503
    assert upstream.seen == []
    assert "x-zerogate-user" not in response.headers


def test_envoy_grpc_webhook_body_is_verified_by_the_check(
    tmp_path: Path, world: CheckWorld, upstream: Upstream, upstream_url: str
) -> None:
    records: list[CheckRecord] = []
    body = '{"event":"payment.succeeded","note":"caf\u00e9 \u2713"}\n'.encode()
    binary = b'{"event":"x"}\n\xff\x00 not utf-8 \x80'

    def signed(content: bytes) -> dict[str, str]:
        ts = int(world.clock.now().timestamp())
        message = f"{ts}.POST./hooks/in.".encode() + content
        digest = hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()
        return {"host": HOOK_HOST, SIG: f"v1={digest}", TS: str(ts)}

    async def scenario() -> list[httpx.Response]:
        async with grpc_gateway(checker_with_hooks(world, records), upstream_url, tmp_path) as http:
            first = await http.post("/hooks/in", content=body, headers=signed(body))
            tampered = await http.post("/hooks/in", content=body + b"!", headers=signed(body))
            not_text = await http.post("/hooks/in", content=binary, headers=signed(binary))
            twice = [*signed(body).items(), (SIG, "v1=" + "0" * 64)]
            repeated = await http.post("/hooks/in", content=body, headers=twice)
            return [first, tampered, not_text, repeated]

    first, tampered, not_text, repeated = run(scenario())
    assert first.status_code == 200
    assert tampered.status_code == 401
    # The body reaches the check as raw bytes (the filter-wide pack_as_bytes): a body that is
    # not UTF-8 still matches its signature.
    assert not_text.status_code == 200
    assert [(s.method, s.path) for s in upstream.seen] == [("POST", "/hooks/in")] * 2
    assert [s.one(WEBHOOK_HEADER) for s in upstream.seen] == ["verified"] * 2
    # Envoy sent both signature lines (encode_raw_headers), as in HTTP mode: an ambiguous
    # request is refused. (Envoy joins a few headers itself, authorization and accept among
    # them, in both modes.)
    assert repeated.status_code == 400
    assert [r.reason for r in records] == [
        "webhook_verified",
        "webhook_signature_invalid",
        "webhook_verified",
        "request_invalid",
    ]


class BodiesSeen:
    """The real checker, noting the body each check request brought (None: no body field)."""

    def __init__(self, checker: Checker) -> None:
        self._checker = checker
        self.bodies: list[tuple[str | None, bytes | None]] = []

    @property
    def webhook_headers(self) -> frozenset[str]:
        return self._checker.webhook_headers

    async def check(self, req: CheckRequest) -> CheckResult:
        self.bodies.append((req.route, req.body))
        return await self._checker.check(req)


def test_envoy_grpc_sends_no_body_to_the_check_for_other_routes(
    tmp_path: Path, world: CheckWorld, upstream: Upstream, upstream_url: str
) -> None:
    """The filter-wide body setting is for webhook routes only: other routes opt out, their
    bodies go straight to the upstream, whole, and the check never sees them."""
    alice = world.add_user("alice", "engineering", "employees")
    cookie = world.sign_in(alice, amr=("pwd", "otp"), mfa_ago_s=0)  # MFA: engineers may write
    body = b"edit: \xff\x00 not for the check " * 4096  # past Envoy's 32 KiB buffer limit
    checker = BodiesSeen(checker_with_hooks(world, []))

    async def scenario() -> httpx.Response:
        async with grpc_gateway(checker, upstream_url, tmp_path) as http:  # type: ignore[arg-type]
            headers = {"host": HOST, "cookie": cookie, "accept": "application/json"}
            return await http.post("/pages/Home", content=body, headers=headers)

    response = run(scenario())
    assert response.status_code == 200, response.text
    assert checker.bodies == [("wiki-web", b"")]  # asked about it, without its body
    (seen,) = upstream.seen
    assert (seen.method, seen.path) == ("POST", "/pages/Home")
    assert seen.one("content-length") == str(len(body))  # and the upstream got it whole


def test_zerogate_up_runs_the_grpc_face_when_configured(tmp_path: Path) -> None:
    """`[gateway] check_protocol = "grpc"`: Envoy asks the check over HTTP/2, and it answers."""
    admin = free_port()
    prepare(tmp_path, "# No routes: the demo app.\n")
    env = up_env(ZEROGATE_GATEWAY__CHECK_PROTOCOL="grpc", ZEROGATE_GATEWAY__ADMIN_PORT=str(admin))
    with zerogate_up(tmp_path, env) as up:
        conn = http.client.HTTPConnection("127.0.0.1", up.gateway_port, timeout=10)
        try:
            host = f"localhost:{up.gateway_port}"
            conn.request("GET", "/", headers={"Host": host, "Accept": "application/json"})
            reply = conn.getresponse()
            body = reply.read()
        finally:
            conn.close()
        stats = http.client.HTTPConnection("127.0.0.1", admin, timeout=10)
        try:
            stats.request(
                "GET", f"/stats?filter=^cluster\\.{AUTHZ_CLUSTER}\\.upstream_cx_http2_total$"
            )
            counters = stats.getresponse().read().decode()
        finally:
            stats.close()
    assert reply.status == 401, (body, up.lines)
    assert (reply.getheader("www-authenticate") or "").startswith('Bearer realm="zerogate"')
    name, _, value = counters.strip().partition(": ")
    assert name.endswith("upstream_cx_http2_total")
    assert int(value) >= 1  # the check was asked over HTTP/2: gRPC
