"""The processes `bench/gateway.py` starts beside Envoy: nginx (upstream and forward-auth front)
and the check service, each on its own loopback port, started by us and stopped by its PID.

Every file they write stays under the bench's scratch directory: nginx runs with `-p`, `-e` and
`daemon off`, and the check service reads the SQLite store the bench prepared there. A child is
also asked (Linux parent-death signal) to stop if the bench itself dies.
"""

from __future__ import annotations

import ctypes
import http.client
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
UPSTREAM_BODY = "hello from upstream\n"
_PR_SET_PDEATHSIG = 1  # prctl(2)


class BrokenSetup(Exception):
    """A server or a row does not behave as it must: nothing is timed (the bench exits 2)."""


def find_tool(name: str) -> str | None:
    """`name` on PATH, or in /usr/sbin (Debian's nginx, off a normal user's PATH)."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def _die_with_parent() -> None:
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    """One process we started: stopped with SIGTERM (SIGKILL after a grace period) by its PID."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def last_words(self) -> str:
        try:
            lines = self.log.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(lines[-8:]) or "(empty log)"

    def stop(self, grace_s: float = 5.0) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(grace_s)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(grace_s)


def spawn(name: str, argv: list[str], log: Path) -> Child:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C reaches the bench, which stops us in order
            preexec_fn=_die_with_parent,
        )
    return Child(name, popen, log)


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def get(port: int, *, host: str, headers: dict[str, str] | None = None, path: str = "/") -> Reply:
    """One GET on a fresh connection to 127.0.0.1:`port` (blocking; for checks, not timing)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers={"Host": host, **(headers or {})})
        answer = conn.getresponse()
        body = answer.read()
        return Reply(answer.status, {k.lower(): v for k, v in answer.getheaders()}, body)
    finally:
        conn.close()


def wait_until_serving(
    child: Child, port: int, *, path: str, status: int = 200, timeout_s: float = 30.0
) -> None:
    """Poll `path` until it answers `status`; raises if the child exits or the time runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        if not child.alive():
            raise RuntimeError(f"{child.name} exited during start-up: {child.last_words()}")
        try:
            if get(port, host="127.0.0.1", path=path).status == status:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{child.name} not serving after {timeout_s:g} s")
        time.sleep(0.05)


# nginx ------------------------------------------------------------------------------------------

_NGINX_HEAD = """\
worker_processes 1;
daemon off;
pid {run}/nginx.pid;
error_log {run}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    client_body_temp_path {run}/body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
"""

# The upstream of every row (and row A by itself): the baseline's tiny static answer. It echoes
# the identity header it received, and whether a signed assertion came with it, so the bench can
# see the check's answer reached it.
_UPSTREAM = """\
    map $http_x_zerogate_assertion $zg_has_assertion {{ "" no; default yes; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            default_type text/plain;
            add_header X-Seen-User $http_x_zerogate_user;
            add_header X-Seen-Assertion $zg_has_assertion;
            return 200 "{body}";
        }}
    }}
}}
"""

# docs/check.md's nginx snippet, plus keep-alive to both upstreams (without it every request and
# every auth subrequest opens a new TCP connection, which is not how anyone would deploy it).
_FORWARD_AUTH = """\
    upstream zg_app {{ server 127.0.0.1:{upstream}; keepalive 64; }}
    upstream zg_check {{ server 127.0.0.1:{check}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            auth_request /_zerogate;
            auth_request_set $zg_user      $upstream_http_x_zerogate_user;
            auth_request_set $zg_email     $upstream_http_x_zerogate_email;
            auth_request_set $zg_groups    $upstream_http_x_zerogate_groups;
            auth_request_set $zg_decision  $upstream_http_x_zerogate_decision_id;
            auth_request_set $zg_assertion $upstream_http_x_zerogate_assertion;
            auth_request_set $zg_login     $upstream_http_location;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Zerogate-User        $zg_user;
            proxy_set_header X-Zerogate-Email       $zg_email;
            proxy_set_header X-Zerogate-Groups      $zg_groups;
            proxy_set_header X-Zerogate-Decision-Id $zg_decision;
            proxy_set_header X-Zerogate-Assertion   $zg_assertion;
            proxy_set_header X-Zerogate-Route       {route};
            error_page 401 = @zerogate_401;
            error_page 403 = @zerogate_403;
            proxy_pass http://zg_app;
        }}
        location = /_zerogate {{
            internal;
            proxy_pass http://zg_check/forward-auth;
            proxy_http_version 1.1;
            proxy_pass_request_body off;
            proxy_set_header Connection "";
            proxy_set_header Content-Length "";
            proxy_set_header Host              $host;
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header X-Original-URI    $request_uri;
            proxy_set_header X-Forwarded-Host  $http_host;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-For   $remote_addr;
            proxy_set_header X-Zerogate-Route  {route};
        }}
        location @zerogate_401 {{
            if ($zg_login) {{ return 302 $zg_login; }}
            return 401;
        }}
        location @zerogate_403 {{
            add_header X-Zerogate-Decision-Id $zg_decision always;
            return 403;
        }}
    }}
}}
"""


def start_nginx(binary: str, prefix: Path, server_block: str, *, name: str) -> Child:
    """nginx (master + 1 worker) with every file under `prefix`, in the foreground."""
    run = prefix / "run"
    run.mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(_NGINX_HEAD.format(run=run) + server_block)
    argv = [binary, "-p", str(prefix), "-e", str(run / "error.log"), "-c", str(conf)]
    return spawn(name, argv, prefix / "stdout.log")


def upstream_block(port: int) -> str:
    return _UPSTREAM.format(port=port, body=UPSTREAM_BODY.replace("\n", "\\n"))


def forward_auth_block(port: int, *, upstream: int, check: int, route: str) -> str:
    return _FORWARD_AUTH.format(port=port, upstream=upstream, check=check, route=route)


# The check service --------------------------------------------------------------------------------


def start_check(
    scratch: Path,
    name: str,
    *,
    store: Path,
    port: int,
    forward_auth_port: int = 0,
    grpc_port: int = 0,
    decision_cache: bool = True,
    session_cache: bool = True,
    events: bool = True,
    decision_tokens: bool = False,
) -> Child:
    argv = [
        sys.executable,
        str(BENCH / "_check_server.py"),
        *("--store", str(store), "--ext-authz-port", str(port)),
        *(("--forward-auth-port", str(forward_auth_port)) if forward_auth_port else ()),
        *(("--grpc-port", str(grpc_port)) if grpc_port else ()),
        *(() if decision_cache else ("--no-decision-cache",)),
        *(() if session_cache else ("--no-session-cache",)),
        *(() if events else ("--no-events",)),
        *(("--decision-tokens",) if decision_tokens else ()),
        # Every decision is counted and audited (durably, group-committed) as in `zerogate up`.
        *("--audit-dir", str(scratch / f"{name}-audit")),
    ]
    return spawn(name, argv, scratch / f"{name}.log")
