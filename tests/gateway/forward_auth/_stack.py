"""Real proxies in front of the real check service, for the forward-auth tests.

`Echo` is the protected app: it counts the requests that reach it and answers with the
`x-zerogate-*` headers it received. `ProxyProcess` runs nginx or Caddy as a child process on a
port the OS handed out, waits until it listens, and stops it by its PID (then its own process
group, so an nginx worker cannot outlive its master). The configs are the ones docs/check.md
shows, with this test's ports filled in.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from urllib.parse import quote, unquote

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.gateway.check._support import APP_HOST, BROWSER, LOGIN_URL, CheckWorld

ROUTE = "wiki-web"  # a Route of the example policies: employees may read it
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0
# Names only the check may set; a client's copies must never reach the app.
SPOOFED = {
    "x-zerogate-user": "mallory",
    "x-zerogate-email": "mallory@evil.test",
    "x-zerogate-groups": "admins",
    "x-zerogate-decision-id": "forged",
    "x-zerogate-route": "admin-ui",
    "x-zerogate-assertion": "forged.jwt.value",
    "x-forwarded-for": "203.0.113.9",
    "x-forwarded-host": "evil.test",
    "x-forwarded-proto": "https",
}


@dataclass
class Echo:
    """The app behind the proxy: what reached it, one dict of `x-zerogate-*` headers per hit."""

    hits: list[dict[str, list[str]]] = field(default_factory=list)

    def app(self) -> Starlette:
        async def answer(request: Request) -> Response:
            seen: dict[str, list[str]] = {}
            for raw_name, raw_value in request.headers.raw:
                name = raw_name.decode("latin-1").lower()
                if name.startswith("x-zerogate-"):
                    seen.setdefault(name, []).append(raw_value.decode("latin-1"))
            self.hits.append(seen)
            return JSONResponse({"path": request.url.path, "zerogate": seen})

        return Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST"])])


@dataclass
class CheckService:
    """The check service's forward-auth face on loopback; `stop()` takes it down mid-test."""

    url: str
    _stack: contextlib.ExitStack

    def stop(self) -> None:
        self._stack.close()  # closing it again at teardown does nothing


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


class ProxyProcess:
    """A proxy started as our child in its own session; stopped by its PID when the block ends."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        port: int,
        log: Path,
        env: Mapping[str, str] | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
    ) -> None:
        self.argv = list(argv)
        self.port = port
        self.log = log
        self.env = dict(env) if env is not None else None
        self.stop_signal = stop_signal
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ProxyProcess:
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,  # its workers share its group: we can stop them all
            )
        try:
            self._wait_listening()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _wait_listening(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.argv[0]} exited at start:\n{self.output()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 1),
            ):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.argv[0]} did not listen in time:\n{self.output()}")
            time.sleep(0.02)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        """Signal our child by its PID, wait, then make sure nothing of its group is left."""
        process = self.process
        if process is None:
            return
        self.process = None
        if process.poll() is None:
            # os.kill, not Popen.send_signal, which would reap it first if it just exited
            os.kill(process.pid, self.stop_signal)
            if not _exited(process.pid, STOP_TIMEOUT_S):
                os.kill(process.pid, signal.SIGKILL)
                _exited(process.pid, STOP_TIMEOUT_S)
            # Still unreaped, so its PID (= its group id, start_new_session) cannot be reused:
            # whatever it started and left behind is stopped with it.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT_S)


def _exited(pid: int, timeout_s: float) -> bool:
    """Wait for our child `pid` to exit without reaping it (it stays a zombie until `wait`)."""
    deadline = time.monotonic() + timeout_s
    while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def require_binary(name: str) -> str:
    """The proxy's binary; missing: skip on a developer's machine, fail in CI (`CI` is set), where
    scripts/system-deps.sh installs it."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")
    if found is not None:
        return found
    message = f"{name} is not installed: run scripts/system-deps.sh (or apt-get install {name})"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def proxy_client(proxy: ProxyProcess) -> httpx.Client:
    """A client for the proxy that names the app's host and never follows redirects."""
    return httpx.Client(
        base_url=proxy.url,
        headers={"host": APP_HOST},
        trust_env=False,
        follow_redirects=False,
        timeout=10,
    )


# The nginx site from docs/check.md; only the process settings at the top are test-specific.
NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log info;

events {
    worker_connections 64;
}

http {
    access_log %(dir)s/access.log;
    client_body_temp_path %(dir)s/client_body;
    proxy_temp_path %(dir)s/proxy;
    fastcgi_temp_path %(dir)s/fastcgi;
    uwsgi_temp_path %(dir)s/uwsgi;
    scgi_temp_path %(dir)s/scgi;

    server {
        listen 127.0.0.1:%(port)d;
        server_name %(host)s;

        location / {
            auth_request /_zerogate;
            auth_request_set $zg_user      $upstream_http_x_zerogate_user;
            auth_request_set $zg_email     $upstream_http_x_zerogate_email;
            auth_request_set $zg_groups    $upstream_http_x_zerogate_groups;
            auth_request_set $zg_decision  $upstream_http_x_zerogate_decision_id;
            auth_request_set $zg_assertion $upstream_http_x_zerogate_assertion;
            auth_request_set $zg_login     $upstream_http_location;
            proxy_set_header X-Zerogate-User        $zg_user;
            proxy_set_header X-Zerogate-Email       $zg_email;
            proxy_set_header X-Zerogate-Groups      $zg_groups;
            proxy_set_header X-Zerogate-Decision-Id $zg_decision;
            proxy_set_header X-Zerogate-Assertion   $zg_assertion;
            proxy_set_header X-Zerogate-Route       %(route)s;
            error_page 401 = @zerogate_401;
            error_page 403 = @zerogate_403;
            proxy_pass http://127.0.0.1:%(app_port)d;
        }

        location = /_zerogate {
            internal;
            proxy_pass http://127.0.0.1:%(check_port)d/forward-auth;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header Host              $host;
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header X-Original-URI    $request_uri;
            proxy_set_header X-Forwarded-Host  $http_host;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-For   $remote_addr;
            proxy_set_header X-Zerogate-Route  %(route)s;
        }

        location @zerogate_401 {
            if ($zg_login) {
                return 302 $zg_login;
            }
            return 401;
        }

        location @zerogate_403 {
            add_header X-Zerogate-Decision-Id $zg_decision always;
            return 403;
        }
    }
}
"""


def nginx_conf(directory: Path, *, port: int, check_url: str, app_url: str) -> Path:
    """Write nginx.conf into `directory` (which also holds its pid, logs and temp files)."""
    text = NGINX_CONF % {
        "dir": directory,
        "port": port,
        "host": APP_HOST,
        "route": ROUTE,
        "check_port": port_of(check_url),
        "app_port": port_of(app_url),
    }
    path = directory / "nginx.conf"
    path.write_text(text)
    return path


# The Caddy site from docs/check.md; the global block keeps the test off the admin API, ACME and
# the user's config directory.
CADDYFILE = """\
{
	admin off
	auto_https off
}

http://%(host)s:%(port)d {
	bind 127.0.0.1
	route {
		request_header -X-Zerogate-*
		forward_auth 127.0.0.1:%(check_port)d {
			uri /forward-auth
			header_up X-Zerogate-Route %(route)s
			copy_headers X-Zerogate-User X-Zerogate-Email X-Zerogate-Groups X-Zerogate-Decision-Id
		}
		reverse_proxy 127.0.0.1:%(app_port)d {
			header_up X-Zerogate-Route %(route)s
		}
	}
}
"""


def caddyfile(directory: Path, *, port: int, check_url: str, app_url: str) -> Path:
    text = CADDYFILE % {
        "port": port,
        "host": APP_HOST,
        "route": ROUTE,
        "check_port": port_of(check_url),
        "app_port": port_of(app_url),
    }
    path = directory / "Caddyfile"
    path.write_text(text)
    return path


def caddy_env(directory: Path) -> dict[str, str]:
    """Caddy's environment: its data and config directories inside the test's."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "TZ")}
    for key in ("HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME"):
        env[key] = str(directory / key.lower())
    return env


# Caddy and Traefik pass a check's refusal on as it is: the same answers, whichever proxy.


def assert_browser_sent_to_sign_in(proxy: ProxyProcess, world: CheckWorld, echo: Echo) -> None:
    with proxy_client(proxy) as http:
        r = http.get("/pages/Home", headers={"accept": BROWSER, **SPOOFED})
    assert r.status_code == 302  # the check's answer, passed on as it is
    assert r.headers["location"].startswith(f"{LOGIN_URL}?next=")
    # back to the page asked for, on the host the proxy saw (not the client's X-Forwarded-*)
    assert quote("http://wiki.example.test/pages/Home", safe="") in unquote(r.headers["location"])
    assert echo.hits == []
    assert world.records[-1].reason == "no_credentials"


def assert_api_gets_a_bearer_challenge(proxy: ProxyProcess, echo: Echo) -> None:
    with proxy_client(proxy) as http:
        r = http.get("/api/pages", headers={"accept": "application/json"})
    assert r.status_code == 401
    assert r.headers.get_list("www-authenticate") == ['Bearer realm="zerogate"']
    assert echo.hits == []
