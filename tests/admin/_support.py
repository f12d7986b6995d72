"""A real admin console for the tests: uvicorn on a loopback socket, a real store, the example
policies in a real PDP, a real `Checker` in front, and a real audit log in the test's directory.

The console runs on its own event loop in a thread (the audit log's writer lives there); the
test talks to it over HTTP with httpx and runs coroutines on that loop with `run`. Sessions are
made directly in the store: the admin's with a second factor, as the console's policy asks.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn
from starlette.applications import Starlette

from tests.gateway.check._support import CheckWorld, make_world
from tests.policy._org import EXAMPLES
from zerogate.admin import (
    ADMIN_ROUTE,
    AuditView,
    Console,
    DecisionFeed,
    MetricsWindow,
    admin_mount,
    create_admin_app,
)
from zerogate.audit import AuditLog, AuditRecord, EventKind, Search, search
from zerogate.control import InProcessBus, PolicyAdmin
from zerogate.gateway.check import Checker, CheckRecord, CheckRequest, CheckResult
from zerogate.identity import User
from zerogate.identity.oidc import ClientRegistry
from zerogate.policy import Bundle
from zerogate.store import Store
from zerogate.telemetry import CheckMetrics, Metrics

T = TypeVar("T")
ORIGIN_NAME = "zerogate.test/audit"
BROWSER = "text/html,application/xhtml+xml"


@dataclass
class LiveConsole:
    """The running console and what tests need to drive it."""

    base: str  # http://localhost:PORT (the console is at /admin)
    world: CheckWorld
    loop: asyncio.AbstractEventLoop
    audit: AuditLog
    audit_dir: Path
    feed: DecisionFeed
    metrics: Metrics
    policies: PolicyAdmin
    clients: ClientRegistry
    admin: User
    admin_cookie: str
    checker: Checker  # the console's, recording into the feed and metrics like the gateway's

    @property
    def api(self) -> str:
        return f"{self.base}/admin/api/v1"

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the console's loop (where the audit log lives)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def get(self, path: str, *, cookie: str | None = None, **headers: str) -> httpx.Response:
        sent = {"cookie": self.admin_cookie if cookie is None else cookie, **headers}
        return httpx.get(f"{self.api}{path}", headers=_clean(sent), timeout=10)

    def post(
        self,
        path: str,
        body: Any = None,
        *,
        cookie: str | None = None,
        origin: str | None = "",
        **headers: str,
    ) -> httpx.Response:
        """A JSON POST as the console's own script sends it (cookie and Origin by default)."""
        sent = {
            "cookie": self.admin_cookie if cookie is None else cookie,
            "origin": self.base if origin == "" else origin,
            **headers,
        }
        return httpx.post(
            f"{self.api}{path}", json={} if body is None else body, headers=_clean(sent), timeout=10
        )

    def page(self, path: str, *, cookie: str | None = None) -> httpx.Response:
        sent = {"cookie": self.admin_cookie if cookie is None else cookie, "accept": BROWSER}
        return httpx.get(f"{self.base}/admin/{path}", headers=_clean(sent), timeout=10)

    def check(self, req: CheckRequest) -> CheckResult:
        """A gateway check with the console's checker (its decision reaches the feed)."""
        return self.run(self.checker.check(req))

    def admin_entries(self) -> list[AuditRecord]:
        """Every ADMIN entry in the audit log, read from its files."""
        return search(self.audit_dir, Search(kind=EventKind.ADMIN), limit=10_000)


def _tcp_socket() -> socket.socket:
    """A listening socket on 127.0.0.1 that says it is TCP: asyncio sets TCP_NODELAY only on
    those, and without it each answer waits ~40 ms for the client's delayed ACK."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _clean(headers: dict[str, str | None]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if v}


@contextlib.contextmanager
def live_console(store: Store, workdir: Path) -> Iterator[LiveConsole]:
    """Start the console over `store` (migrated, empty); stop everything when the block ends."""
    world = make_world(store)
    admin = world.add_user("admin", "admins")
    world.add_user("ada", "employees")
    world.add_user("eve")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="console-loop", daemon=True)
    thread.start()
    sock = _tcp_socket()
    base = f"http://localhost:{sock.getsockname()[1]}"
    audit_dir = workdir / "audit"
    metrics = Metrics()
    feed = DecisionFeed(clock=world.clock, quiet_routes=(ADMIN_ROUTE,))
    policies = PolicyAdmin(store, InProcessBus(clock=world.clock), clock=world.clock)
    clients = ClientRegistry(store)

    def record(r: CheckRecord) -> None:
        for recorder in (CheckMetrics(metrics), feed, world.records.append):
            recorder(r)

    checker = world.checker_with(on_decision=record)

    async def start() -> AuditLog:
        await policies.publish(Bundle.from_dir(EXAMPLES), actor="pytest")
        return await AuditLog.open(audit_dir, clock=world.clock, origin=ORIGIN_NAME)

    def call(coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(30)

    audit = call(start())
    console = Console(
        directory=world.directory,
        sessions=world.sessions,
        clients=clients,
        policies=policies,
        pdp=world.pdp,
        audit=audit,
        audit_view=AuditView(audit_dir, public_key="", origin=ORIGIN_NAME, clock=world.clock),
        feed=feed,
        window=MetricsWindow(metrics, clock=world.clock),
        clock=world.clock,
        origin=base,
    )
    app = Starlette(routes=admin_mount(create_admin_app(console, checker=checker)))
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
    served = asyncio.run_coroutine_threadsafe(server.serve(sockets=[sock]), loop)
    deadline = time.monotonic() + 10
    while not server.started:
        assert not served.done(), f"uvicorn stopped during start-up: {served.exception()}"
        assert time.monotonic() < deadline, "uvicorn did not start within 10 s"
        time.sleep(0.01)
    cookie = world.sign_in(admin, amr=("pwd", "otp"), mfa_ago_s=30)
    try:
        yield LiveConsole(
            base,
            world,
            loop,
            audit,
            audit_dir,
            feed,
            metrics,
            policies,
            clients,
            admin,
            cookie,
            checker,
        )
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            served.result(10)
        with contextlib.suppress(Exception):
            call(audit.close())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
        sock.close()
