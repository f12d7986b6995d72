"""A real Envoy in front of a stand-in upstream and a stand-in check service, driven over HTTP.

Every Envoy here is started by the test, on ports the OS handed out, with its files in the
test's temp dir, and is stopped by its own PID when the test ends.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from envoy_support import (
    CheckStandIn,
    RawClient,
    Upstream,
    dead_url,
    make_gateway,
    run,
    until,
)
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from zerogate.app import free_port
from zerogate.errors import ConfigError
from zerogate.gateway.envoy import EnvoyProcess, Gateway, RestartPolicy, Route, find_envoy

pytestmark = pytest.mark.e2e

SPOOFED = {
    "x-zerogate-user": "mallory",
    "X-Zerogate-Route": "Admin::Everything",
    "x-zerogate-assertion": "forged",
    "x-forwarded-user": "root",
    "x-forwarded-email": "root@example.com",
    "x-auth-request-user": "root",
    "x-remote-user": "root",
    "x-forwarded-for": "203.0.113.9",
    "x-forwarded-host": "evil.test",
    "x-forwarded-proto": "https",
}


@asynccontextmanager
async def running(gateway: Gateway, tmp_path: Path, **options: Any) -> AsyncIterator[EnvoyProcess]:
    """A started EnvoyProcess; afterwards its process is gone (checked, not assumed)."""
    envoy = EnvoyProcess(gateway, workdir=tmp_path / "envoy", **options)
    await envoy.start()
    pids = {envoy.pid}
    try:
        yield envoy
        pids.add(envoy.pid)
    finally:
        await envoy.aclose()
    for pid in pids - {None}:
        assert pid is not None
        assert not _alive(pid), f"envoy {pid} outlived aclose()"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def client(envoy: EnvoyProcess) -> httpx.AsyncClient:
    base = f"http://127.0.0.1:{envoy.gateway.listen_port}"
    return httpx.AsyncClient(base_url=base, trust_env=False, timeout=10)


async def get(envoy: EnvoyProcess, path: str, *, host: str, **headers: str) -> httpx.Response:
    async with client(envoy) as http:
        return await http.get(path, headers={"host": host, **headers})


def app_route(upstream_url: str, **options: Any) -> Route:
    options.setdefault("hosts", ("app.test",))
    return Route("app", upstream=upstream_url, resource_id="App::Main", **options)


def test_envoy_allowed_request_carries_the_checks_identity_and_nothing_spoofed(
    tmp_path: Path, upstream: Upstream, upstream_url: str, check: CheckStandIn, check_url: str
) -> None:
    gateway = make_gateway(check_url, app_route(upstream_url))

    async def scenario() -> httpx.Response:
        async with running(gateway, tmp_path) as envoy:
            return await get(envoy, "/docs/x?q=1", host="app.test", cookie="session=s1", **SPOOFED)

    response = run(scenario())
    assert response.status_code == 200
    assert response.headers["set-cookie"] == "session=refreshed; HttpOnly"  # allowed on success
    (seen,) = upstream.seen
    assert seen.path == "/docs/x?q=1"
    assert seen.all("set-cookie") == []
    assert seen.one("x-zerogate-user") == "alice"
    assert seen.one("x-zerogate-route") == "App::Main"
    assert seen.one("x-zerogate-assertion") == "signed.jwt.here"
    assert seen.all("x-not-for-upstream") == []  # only x-zerogate-* answers pass upstream
    for name in ("x-forwarded-user", "x-forwarded-email", "x-auth-request-user", "x-remote-user"):
        assert seen.all(name) == [], name
    assert seen.all("x-forwarded-host") == []
    assert "203.0.113.9" not in (seen.one("x-forwarded-for") or "")
    assert seen.one("x-forwarded-proto") == "http"  # from the connection, not the client
    assert seen.one("cookie") == "session=s1"

    (asked,) = check.seen
    assert (asked.method, asked.path) == ("GET", "/check/docs/x?q=1")
    assert asked.one("host") == "app.test"
    assert asked.one("x-zerogate-route") == "App::Main"
    assert asked.one("cookie") == "session=s1"
    assert asked.one("x-request-id")
    assert asked.all("x-zerogate-user") == []
    assert asked.all("x-zerogate-assertion") == []
    assert "203.0.113.9" not in (asked.one("x-forwarded-for") or "")
    assert asked.all("x-forwarded-user") == []


def test_envoy_check_gets_the_original_method_and_no_body(
    tmp_path: Path, upstream: Upstream, upstream_url: str, check: CheckStandIn, check_url: str
) -> None:
    gateway = make_gateway(check_url, app_route(upstream_url))

    async def scenario() -> httpx.Response:
        async with running(gateway, tmp_path) as envoy, client(envoy) as http:
            return await http.post("/items", content=b"payload", headers={"host": "app.test"})

    assert run(scenario()).status_code == 200
    (asked,) = check.seen
    assert (asked.method, asked.path) == ("POST", "/check/items")
    assert asked.one("content-length") == "0"
    (seen,) = upstream.seen
    assert (seen.method, seen.one("content-length")) == ("POST", "7")


@pytest.mark.parametrize(
    ("mode", "status", "client_headers", "body"),
    [
        (
            "deny",
            403,
            {"www-authenticate": 'Bearer realm="zerogate"', "x-zerogate-decision-id": "d-1"},
            b"denied by policy\n",
        ),
        ("redirect", 302, {"location": "https://login.test/start", "set-cookie": "state=abc"}, b""),
    ],
)
def test_envoy_a_denial_reaches_the_client_and_never_the_upstream(
    tmp_path: Path,
    upstream: Upstream,
    upstream_url: str,
    check: CheckStandIn,
    check_url: str,
    mode: str,
    status: int,
    client_headers: dict[str, str],
    body: bytes,
) -> None:
    check.mode = mode
    gateway = make_gateway(check_url, app_route(upstream_url))

    async def scenario() -> httpx.Response:
        async with running(gateway, tmp_path) as envoy:
            return await get(envoy, "/private", host="app.test")

    response = run(scenario())
    assert response.status_code == status
    assert response.content == body
    for name, value in client_headers.items():
        assert response.headers.get(name) == value
    assert "x-internal-reason" not in response.headers  # not on the client allowlist
    assert len(check.seen) == 1
    assert upstream.seen == []


@pytest.mark.parametrize("failure", ["down", "timeout", "error"])
def test_envoy_fails_closed_when_the_check_service_cannot_answer(
    tmp_path: Path,
    upstream: Upstream,
    upstream_url: str,
    check: CheckStandIn,
    check_url: str,
    failure: str,
) -> None:
    check.mode = "error" if failure == "error" else "slow"  # error: a 5xx from the check
    authz_url = dead_url() if failure == "down" else check_url
    gateway = make_gateway(authz_url, app_route(upstream_url), authz_timeout_s=0.2)

    async def scenario() -> httpx.Response:
        async with running(gateway, tmp_path) as envoy:
            return await get(envoy, "/private", host="app.test")

    response = run(scenario())
    check.release.set()
    assert response.status_code == 503
    assert upstream.seen == []
    assert "x-zerogate-user" not in response.headers


def test_envoy_public_route_never_calls_the_check(
    tmp_path: Path, upstream: Upstream, upstream_url: str, check: CheckStandIn, check_url: str
) -> None:
    check.mode = "deny"
    public = Route("hooks", hosts=("hooks.test",), upstream=upstream_url, allow_public=True)
    gateway = make_gateway(check_url, public)

    async def scenario() -> httpx.Response:
        async with running(gateway, tmp_path) as envoy:
            return await get(envoy, "/in/1", host="hooks.test", **SPOOFED)

    response = run(scenario())
    assert response.status_code == 200
    assert check.seen == []
    (seen,) = upstream.seen
    assert seen.all("x-zerogate-user") == []  # stripped, and nobody set it
    assert seen.one("x-zerogate-route") == "hooks"
    assert seen.all("x-forwarded-user") == []


def test_envoy_unknown_hosts_and_paths_get_404_without_a_check(
    tmp_path: Path, upstream: Upstream, upstream_url: str, check: CheckStandIn, check_url: str
) -> None:
    only_api = app_route(upstream_url, path_prefix="/api")
    gateway = make_gateway(check_url, only_api)

    async def scenario() -> list[int]:
        async with running(gateway, tmp_path) as envoy:
            return [
                (await get(envoy, "/", host="other.test")).status_code,
                (await get(envoy, "/api", host="evil.app.test")).status_code,
                (await get(envoy, "/apix", host="app.test")).status_code,  # not under /api
                (await get(envoy, "/", host="app.test")).status_code,
                (await get(envoy, "/api/v1", host="app.test:8443")).status_code,  # port ignored
            ]

    assert run(scenario()) == [404, 404, 404, 404, 200]
    assert [s.path for s in check.seen] == ["/check/api/v1"]
    assert [s.path for s in upstream.seen] == ["/api/v1"]


def test_envoy_normalises_paths_before_routing_and_checking(
    tmp_path: Path, upstream: Upstream, upstream_url: str, check: CheckStandIn, check_url: str
) -> None:
    check.mode = "deny"
    public = Route(
        "pub", hosts=("app.test",), path_prefix="/public/", upstream=upstream_url, allow_public=True
    )
    private = app_route(upstream_url, path_prefix="/admin")
    gateway = make_gateway(check_url, public, private)

    async def scenario() -> list[int]:
        async with running(gateway, tmp_path) as envoy:
            statuses = []
            for target in (
                "/public/../admin/users",  # dot segments: lands on /admin, which is checked
                "/public/%2e%2e/admin/users",
                "//admin//users",
                "/public/..%2Fadmin/users",  # an escaped slash: refused outright
            ):
                async with RawClient(envoy.gateway.listen_port) as raw:
                    statuses.append((await raw.get(target, host="app.test"))[0])
            async with RawClient(envoy.gateway.listen_port) as raw:
                underscore = [("x_zerogate_user", "root")]
                statuses.append(
                    (await raw.get("/public/x", host="app.test", headers=underscore))[0]
                )
            return statuses

    assert run(scenario()) == [403, 403, 403, 400, 400]
    assert [s.path for s in check.seen] == ["/check/admin/users"] * 3
    assert upstream.seen == []


def test_envoy_apply_adds_a_route_without_a_restart_or_a_new_connection(
    tmp_path: Path, upstream: Upstream, upstream_url: str, check: CheckStandIn, check_url: str
) -> None:
    before = make_gateway(check_url, app_route(upstream_url))
    added = Route(
        "new", hosts=("new.test",), upstream=upstream_url.replace("127.0.0.1", "localhost")
    )

    async def scenario() -> list[int]:
        async with running(before, tmp_path) as envoy:
            pid = envoy.pid
            async with RawClient(envoy.gateway.listen_port) as raw:
                statuses = [(await raw.get("/", host="new.test"))[0]]
                statuses.append((await raw.get("/", host="app.test"))[0])
                await envoy.apply(Gateway(**{**_fields(before), "routes": (*before.routes, added)}))
                statuses.append((await raw.get("/", host="new.test"))[0])  # same socket
                statuses.append((await raw.get("/", host="app.test"))[0])
                assert not raw.closed
            assert envoy.pid == pid
            assert envoy.restarts == 0
            assert envoy.gateway.routes[-1] == added
            return statuses

    assert run(scenario()) == [404, 200, 200, 200]
    assert [s.one("x-zerogate-route") for s in check.seen] == ["App::Main", "new", "App::Main"]


def test_envoy_apply_moves_a_route_to_another_upstream_and_drops_the_old_cluster(
    tmp_path: Path, upstream: Upstream, upstream_url: str, check: CheckStandIn, check_url: str
) -> None:
    first = make_gateway(check_url, app_route(upstream_url))
    by_name = app_route(upstream_url.replace("127.0.0.1", "localhost"))

    async def scenario() -> tuple[list[int], str]:
        async with running(first, tmp_path) as envoy:
            statuses = [(await get(envoy, "/", host="app.test")).status_code]
            await envoy.apply(Gateway(**{**_fields(first), "routes": (by_name,)}))
            statuses.append((await get(envoy, "/", host="app.test")).status_code)
            async with httpx.AsyncClient(trust_env=False) as admin:
                clusters = (await admin.get(envoy.admin_url + "/clusters")).text
            return statuses, clusters

    statuses, clusters = run(scenario())
    assert statuses == [200, 200]
    assert "upstream_localhost_" in clusters
    assert "upstream_127_0_0_1_" not in clusters
    assert len(upstream.seen) == 2


def test_envoy_apply_that_envoy_rejects_keeps_the_previous_configuration(
    tmp_path: Path, upstream: Upstream, upstream_url: str, check: CheckStandIn, check_url: str
) -> None:
    gateway = make_gateway(check_url, app_route(upstream_url))
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    taken = busy.getsockname()[1]

    async def scenario() -> tuple[ConfigError, int]:
        async with running(gateway, tmp_path) as envoy:
            with pytest.raises(ConfigError) as caught:
                await envoy.apply(Gateway(**{**_fields(gateway), "listen_port": taken}))
            assert envoy.gateway == gateway
            status = (await get(envoy, "/", host="app.test")).status_code
            return caught.value, status

    try:
        error, status = run(scenario())
    finally:
        busy.close()
    assert error.code == "envoy_update_rejected"
    assert "Address already in use" in error.details[0].msg
    assert status == 200
    lds = orjson.loads((tmp_path / "envoy" / "xds" / "lds" / "lds.json").read_bytes())
    address = lds["resources"][0]["address"]["socket_address"]
    assert address["port_value"] == gateway.listen_port  # a restart would come back as before


def test_envoy_apply_refuses_changes_that_need_a_restart(
    tmp_path: Path, upstream_url: str, check_url: str
) -> None:
    gateway = make_gateway(check_url, app_route(upstream_url))

    async def scenario() -> ConfigError:
        async with running(gateway, tmp_path) as envoy:
            changed = Gateway(**{**_fields(gateway), "admin_port": free_port(), "concurrency": 2})
            with pytest.raises(ConfigError) as caught:
                await envoy.apply(changed)
            return caught.value

    error = run(scenario())
    assert error.code == "gateway_restart_required"
    assert sorted(d.loc for d in error.details) == ["admin_port", "concurrency"]


def test_envoy_apply_validates_first_and_a_refusal_changes_nothing(
    tmp_path: Path, upstream: Upstream, upstream_url: str, check: CheckStandIn, check_url: str
) -> None:
    # The real Envoy, behind a wrapper whose `--mode validate` refuses once `refuse` exists.
    refuse = tmp_path / "refuse"
    wrapper = tmp_path / "bin" / "envoy"
    wrapper.parent.mkdir()
    wrapper.write_text(
        "#!/bin/sh\n"
        f'if [ -e "{refuse}" ] && [ "$1" = "--mode" ]; then\n'
        "  echo \"error initializing configuration 'x': refused for the test\" >&2; exit 1\n"
        "fi\n"
        f'exec "{find_envoy()}" "$@"\n'
    )
    wrapper.chmod(0o755)
    gateway = make_gateway(check_url, app_route(upstream_url))
    added = Route("new", hosts=("new.test",), upstream=upstream_url)

    async def scenario() -> tuple[ConfigError, int]:
        async with running(gateway, tmp_path, envoy=wrapper) as envoy:
            xds = tmp_path / "envoy" / "xds"
            files = {p: p.read_bytes() for p in xds.rglob("*.json")}
            refuse.touch()
            with pytest.raises(ConfigError) as caught:
                await envoy.apply(Gateway(**{**_fields(gateway), "routes": (added,)}))
            assert {p: p.read_bytes() for p in xds.rglob("*.json")} == files
            assert envoy.gateway == gateway
            return caught.value, (await get(envoy, "/", host="app.test")).status_code

    error, status = run(scenario())
    assert error.code == "envoy_config_rejected"
    assert error.details[0].msg == "refused for the test"
    assert status == 200


def test_envoy_is_restarted_after_sigkill_and_traffic_recovers(
    tmp_path: Path, upstream: Upstream, upstream_url: str, check: CheckStandIn, check_url: str
) -> None:
    gateway = make_gateway(check_url, app_route(upstream_url))
    fast = RestartPolicy(initial_delay_s=0.01, max_delay_s=0.1)

    async def scenario() -> None:
        async with running(gateway, tmp_path, restart=fast) as envoy:
            first = envoy.pid
            assert first is not None
            assert (await get(envoy, "/", host="app.test")).status_code == 200
            os.kill(first, signal.SIGKILL)  # our child, by its PID

            async def replaced() -> bool:
                return envoy.pid not in (None, first)

            async def serving() -> bool:  # the restarted Envoy may still be loading its files
                try:
                    return (await get(envoy, "/", host="app.test")).status_code == 200
                except httpx.TransportError:
                    return False

            await until(replaced)
            await until(serving)
            assert envoy.restarts == 1
            assert not _alive(first)

    run(scenario())


def test_envoy_aclose_stops_it_and_folds_its_log_into_ours(
    tmp_path: Path, upstream_url: str, check_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = make_gateway(check_url, app_route(upstream_url))

    async def scenario() -> int:
        envoy = EnvoyProcess(gateway, workdir=tmp_path / "envoy")
        async with envoy:
            pid = envoy.pid
            assert pid is not None
        assert envoy.pid is None
        with pytest.raises(OSError):  # admin port closed: nothing is left listening
            await asyncio.open_connection("127.0.0.1", gateway.admin_port)
        return pid

    with caplog.at_level(logging.INFO, logger="zerogate.gateway.envoy"):
        pid = run(scenario())
    assert not _alive(pid)
    records = [r for r in caplog.records if getattr(r, "envoy_pid", None) == pid]
    messages = [r.getMessage() for r in records]
    assert "envoy started" in messages
    assert "envoy stopped" in messages
    assert any(m.startswith("envoy: caught ") and "SIGTERM" in m for m in messages)


def test_envoy_start_failure_reports_envoys_reason_and_leaves_nothing(
    tmp_path: Path, upstream_url: str, check_url: str
) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    gateway = make_gateway(check_url, app_route(upstream_url), admin_port=busy.getsockname()[1])

    async def scenario() -> None:
        envoy = EnvoyProcess(gateway, workdir=tmp_path / "envoy")
        with pytest.raises(Exception) as caught:
            await envoy.start()
        assert getattr(caught.value, "code", None) == "envoy_exited"
        assert "Address already in use" in str(caught.value)
        assert envoy.pid is None

    try:
        run(scenario())
    finally:
        busy.close()


def test_envoy_websockets_only_where_a_route_allows_them(
    tmp_path: Path, upstream: Upstream, upstream_url: str, check: CheckStandIn, check_url: str
) -> None:
    ws = Route(
        "ws", hosts=("127.0.0.1",), path_prefix="/ws", upstream=upstream_url, websockets=True
    )
    plain = Route("plain", hosts=("localhost",), upstream=upstream_url)
    gateway = make_gateway(check_url, ws, plain)

    async def scenario() -> tuple[str, int]:
        async with running(gateway, tmp_path) as envoy:
            port = envoy.gateway.listen_port
            async with connect(f"ws://127.0.0.1:{port}/ws", proxy=None) as socket_:
                await socket_.send("hi")
                echoed = str(await socket_.recv())
            with pytest.raises(InvalidStatus) as caught:
                async with connect(f"ws://localhost:{port}/ws", proxy=None):
                    pass
            return echoed, caught.value.response.status_code

    echoed, refused = run(scenario())
    assert echoed == "alice:hi"  # the upgrade was checked, and carried the identity
    assert refused >= 400
    assert check.seen[0].one("x-zerogate-route") == "ws"


def _fields(gateway: Gateway) -> dict[str, Any]:
    return {name: getattr(gateway, name) for name in Gateway.__dataclass_fields__}
