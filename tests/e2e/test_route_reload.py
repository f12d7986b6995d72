"""Routes change under a running `zerogate up`: `zerogate route add` puts an app behind the real
Envoy without a restart (same process, same Envoy, an open connection kept) and the terminal
shows the reload, a broken file is refused while the running routes keep serving, and
`zerogate route remove` takes the app away.
"""

from __future__ import annotations

import http.client
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests._serve import loopback_socket, serving
from tests._up import CLI, Up, eventually, prepare, up_env, zerogate_up

pytestmark = pytest.mark.e2e
# A public route from the start: the gateway does not fall back to the demo app (a route that
# takes decision tokens), so adding and removing public routes changes only Envoy's route
# table. (Adding or removing a route that takes decision tokens also changes its listener, whose
# keep-alive connections Envoy then drains gradually: closed after a response, never mid-request;
# docs/gateway.md "Live route changes".)
CONFIG = """# Routes are added by the test, with `zerogate route add`.
[routes.home]
from = "home.localhost/"
to = "{upstream}"
allow_public = true
"""


@pytest.fixture
def env() -> dict[str, str]:
    return up_env()


@pytest.fixture
def upstream() -> Iterator[str]:
    """The person's own app: it says so, and echoes the path."""

    async def mine(request: Request) -> Response:
        return JSONResponse({"app": "mine", "path": request.url.path})

    app = Starlette(routes=[Route("/{path:path}", mine)])
    with loopback_socket() as (sock, url), serving(app, sock):
        yield url


@pytest.fixture
def up(tmp_path: Path, env: dict[str, str], upstream: str) -> Iterator[Up]:
    prepare(tmp_path, CONFIG.format(upstream=upstream))
    with zerogate_up(tmp_path, env) as running:
        yield running


def _cli(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=cwd, env=env, capture_output=True, text=True)


def _replace(path: Path, text: str) -> None:
    """A hand edit saved in one go (no poll may see half a file)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _get(conn: http.client.HTTPConnection, host: str, path: str = "/") -> tuple[int, bytes]:
    conn.request("GET", path, headers={"Host": host, "Accept": "application/json"})
    reply = conn.getresponse()
    return reply.status, reply.read()


def test_route_add_and_remove_apply_to_a_running_gateway(
    up: Up, upstream: str, env: dict[str, str]
) -> None:
    host = f"app.localhost:{up.gateway_port}"
    envoy_before = up.envoy_pids()
    assert len(envoy_before) == 1, up.lines
    # One keep-alive connection, opened before any change, used through all of them.
    conn = http.client.HTTPConnection("127.0.0.1", up.gateway_port, timeout=10)
    try:
        assert _get(conn, host)[0] == 404  # no route for that host yet
        local = conn.sock.getsockname() if conn.sock else None

        added = _cli(
            up.workdir, env, "route", "add", "app", "--from", host, "--to", upstream, "--public"
        )
        assert added.returncode == 0, added.stderr
        eventually(lambda: _get(conn, host, "/hello")[0] == 200, "the new route serves")
        status, body = _get(conn, host, "/hello")
        assert (status, body) == (200, b'{"app":"mine","path":"/hello"}')
        # The terminal says so, on one line with its fields (INFO is shown for zerogate.*) ...
        eventually(
            lambda: up.printed(
                r"^\d\d:\d\d:\d\d INFO zerogate\.app routes reloaded routes=app,home$"
            ),
            "the reload is shown",
        )
        # ... and no access log: neither uvicorn's nor Envoy's prints the requests.
        assert not up.printed(r"/hello"), "".join(up.lines)

        # A broken hand edit: refused and reported, and the running route keeps serving.
        config = up.workdir / "zerogate.toml"
        good = config.read_text()
        _replace(config, good + '\n[routes.broken]\nfrom = "broken.localhost/"\nto = "ftp://x"\n')
        eventually(
            lambda: up.printed(r"not applied.*routes\.broken\.to"), "the bad file is reported"
        )
        assert _get(conn, host, "/still")[0] == 200
        _replace(config, good)

        removed = _cli(up.workdir, env, "route", "remove", "app")
        assert removed.returncode == 0, removed.stderr
        eventually(lambda: _get(conn, host)[0] == 404, "the removed route is gone")

        assert conn.sock is not None
        assert conn.sock.getsockname() == local  # the same connection all along
    finally:
        conn.close()
    assert up.proc.poll() is None  # the same `zerogate up`, never restarted
    assert up.envoy_pids() == envoy_before  # and the same Envoy


def test_non_route_changes_are_reported_as_needing_a_restart(up: Up) -> None:
    config = up.workdir / "zerogate.toml"
    _replace(config, config.read_text() + "\n[identity]\npassword_min_length = 12\n")
    eventually(lambda: up.printed(r"\[identity\]: restart zerogate"), "restart is asked for")
    assert up.proc.poll() is None
