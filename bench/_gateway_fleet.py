"""The processes and state `bench/gateway.py` measures: nginx, the check services, the Envoys,
a SQLite store with one signed-in user; and the check that every row behaves before timing.

`fleet()` starts everything on loopback ports (idle servers cost ~0 CPU, so all run at once and
the rows can be interleaved) and stops each one by its PID on the way out, Envoy through
`EnvoyProcess.aclose()`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson

from _check_server import ISSUER
from _servers import (
    UPSTREAM_BODY,
    BrokenSetup,
    Child,
    forward_auth_block,
    get,
    start_check,
    start_nginx,
    upstream_block,
    wait_until_serving,
)
from zerogate.app import enforce_denials, free_port
from zerogate.app._fast_path_audit import FastPathAudit
from zerogate.app._gateway_service import FAST_PATH_LOG
from zerogate.app.admin import record_session_change
from zerogate.audit import AuditLog
from zerogate.clock import SystemClock
from zerogate.control import open_bus
from zerogate.gateway.check import DecisionTokens
from zerogate.gateway.envoy import AUTHZ_CLUSTER, EnvoyProcess, Gateway, LocalDecisions, Route
from zerogate.identity import SESSION_COOKIE_NAME, Directory, Sessions, User
from zerogate.store import Store, open_store
from zerogate.tokens import KeyRing

HOST = "wiki.example.test"
ROUTE = "wiki-web"  # examples/policies: employees may read it
USER = "emma"  # in `employees`
BROWSER = "text/html,application/xhtml+xml"
EVENT_POLL_S = 0.2  # the SQLite change feed's default poll interval


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    title: str
    port: int
    components: dict[str, int]  # name -> PID of a process tree whose CPU the row uses
    checked: bool = True  # behind the check: a request without the cookie must be refused
    seen_user: str | None = USER  # the x-zerogate-user the upstream must see (None: not checked)
    vs_envoy: bool = True  # "added latency" is meaningful against row B
    decision_token: bool = False  # wrk also sends a fresh decision-token cookie (local decisions)


@dataclass
class Fleet:
    """Everything the bench started, by name, and what it needs to drive it."""

    scratch: Path
    wrk: str
    store: Store
    sessions: Sessions
    user: User
    cookie: str
    rows: list[Row] = field(default_factory=list)
    envoys: dict[str, EnvoyProcess] = field(default_factory=dict)
    revocation_ports: dict[str, int] = field(default_factory=dict)


async def prepare_store(path: Path) -> tuple[Store, Sessions, User, str]:
    store = open_store(f"sqlite:///{path}")
    store.migrate()
    now = datetime.now(UTC)
    directory = Directory(store)
    await directory.add_group("employees", now=now)
    user = await directory.add_user(USER, f"{USER}@example.test", groups=("employees",), now=now)
    sessions = Sessions(store, on_change=record_session_change)
    token = await new_session(sessions, user)
    return store, sessions, user, f"{SESSION_COOKIE_NAME}={token}"


async def new_session(sessions: Sessions, user: User) -> str:
    now = datetime.now(UTC)
    new = await sessions.create(
        user, amr=("pwd",), auth_time=now, ip="127.0.0.1", user_agent="bench", now=now
    )
    return new.token


def _gateway(
    port: int,
    authz_port: int,
    upstream_port: int,
    *,
    public: bool,
    check_protocol: str = "http",
    local: bool = False,
    access_log: Path | None = None,
) -> Gateway:
    route = Route(
        "wiki",
        hosts=(HOST,),
        upstream=f"http://127.0.0.1:{upstream_port}",
        resource_id=ROUTE,
        allow_public=public,
    )
    return Gateway(
        listen_port=port,
        admin_port=free_port(),
        authz_url=f"http://127.0.0.1:{authz_port}",
        routes=(route,),
        concurrency=1,
        check_protocol=check_protocol,
        local_decisions=LocalDecisions(
            issuer=ISSUER,
            jwks_url=f"http://127.0.0.1:{authz_port}/jwks.json",
            access_log=str(access_log) if access_log is not None else "",
        )
        if local
        else None,
    )


@contextlib.asynccontextmanager
async def fleet(scratch: Path, wrk: str, nginx_bin: str) -> AsyncIterator[Fleet]:
    """Start nginx, the check services and the Envoys; stop every one of them (by PID) on exit."""
    async with contextlib.AsyncExitStack() as stack:
        store, sessions, user, cookie = await prepare_store(scratch / "zerogate.db")
        stack.callback(store.close)
        world = Fleet(scratch, wrk, store, sessions, user, cookie)
        names = ("nginx", "front", "C", "Cfa", "Cg", "Cn", "D", "R", "L")
        ports = {name: free_port() for name in names}

        def started(child: Child) -> Child:
            stack.callback(child.stop)
            return child

        db = scratch / "zerogate.db"
        upstream = started(
            start_nginx(nginx_bin, scratch / "nginx", upstream_block(ports["nginx"]), name="nginx")
        )
        checks = {
            "C": started(
                start_check(
                    scratch,
                    "check-C",
                    store=db,
                    port=ports["C"],
                    forward_auth_port=ports["Cfa"],
                    grpc_port=ports["Cg"],  # row C-grpc: the same check, its gRPC face
                )
            ),
            "Cn": started(
                start_check(scratch, "check-Cn", store=db, port=ports["Cn"], session_cache=False)
            ),
            "D": started(
                start_check(scratch, "check-D", store=db, port=ports["D"], decision_cache=False)
            ),
            "R": started(start_check(scratch, "check-R", store=db, port=ports["R"], events=False)),
            "L": started(
                start_check(scratch, "check-L", store=db, port=ports["L"], decision_tokens=True)
            ),
        }
        block = forward_auth_block(
            ports["front"], upstream=ports["nginx"], check=ports["Cfa"], route=ROUTE
        )
        front = started(start_nginx(nginx_bin, scratch / "nginx-front", block, name="nginx-front"))
        for child, port, path, status in (
            (upstream, ports["nginx"], "/", 200),
            *((checks[key], ports[key], "/healthz", 200) for key in checks),
            (checks["C"], ports["Cfa"], "/healthz", 200),
            (front, ports["front"], "/", 401),  # asks check C, which refuses a cookie-less call
        ):
            await asyncio.to_thread(wait_until_serving, child, port, path=path, status=status)

        gateways = {
            "B": _gateway(free_port(), free_port(), ports["nginx"], public=True),
            **{
                key: _gateway(free_port(), ports[key], ports["nginx"], public=False)
                for key in ("C", "Cn", "D", "R")
            },
            "Cg": _gateway(
                free_port(), ports["Cg"], ports["nginx"], public=False, check_protocol="grpc"
            ),
            # As `zerogate up`: Envoy logs what it decides alone, for the audit log.
            "L": _gateway(
                free_port(),
                ports["L"],
                ports["nginx"],
                public=False,
                local=True,
                access_log=scratch / FAST_PATH_LOG,
            ),
        }
        for key, gateway in gateways.items():
            envoy = EnvoyProcess(gateway, workdir=scratch / f"envoy-{key}")
            stack.push_async_callback(envoy.aclose)  # safe before start: stops nothing
            world.envoys[key] = envoy
        await asyncio.gather(*(envoy.start() for envoy in world.envoys.values()))

        def pid(key: str) -> int:
            found = world.envoys[key].pid
            assert found is not None
            return found

        nginx_pid = upstream.pid
        world.rows = [
            Row(
                "A",
                "nginx alone (static 20-byte answer)",
                ports["nginx"],
                {"nginx": nginx_pid},
                checked=False,
                seen_user=None,
                vs_envoy=False,
            ),
            Row(
                "B",
                "Envoy alone -> nginx (public route)",
                gateways["B"].listen_port,
                {"envoy": pid("B"), "nginx": nginx_pid},
                checked=False,
                seen_user="",
            ),
            Row(
                "C",
                "Envoy + Zerogate, cached decisions",
                gateways["C"].listen_port,
                {"envoy": pid("C"), "check": checks["C"].pid, "nginx": nginx_pid},
            ),
            Row(
                "C-grpc",
                "Envoy + Zerogate gRPC ext_authz (cached)",
                gateways["Cg"].listen_port,
                {"envoy": pid("Cg"), "check": checks["C"].pid, "nginx": nginx_pid},
            ),
            Row(
                "C-local",
                "Envoy + Zerogate, local decisions (decision token, jwt_authn cache)",
                gateways["L"].listen_port,
                {"envoy": pid("L"), "check": checks["L"].pid, "nginx": nginx_pid},
                decision_token=True,
            ),
            Row(
                "C-nosc",
                "Envoy + Zerogate, cached, no session cache",
                gateways["Cn"].listen_port,
                {"envoy": pid("Cn"), "check": checks["Cn"].pid, "nginx": nginx_pid},
            ),
            Row(
                "D",
                "Envoy + Zerogate, uncached decisions",
                gateways["D"].listen_port,
                {"envoy": pid("D"), "check": checks["D"].pid, "nginx": nginx_pid},
            ),
            Row(
                "F",
                "nginx + Zerogate forward-auth -> nginx",
                ports["front"],
                {"nginx_front": front.pid, "check": checks["C"].pid, "nginx": nginx_pid},
                vs_envoy=False,
            ),
        ]
        world.revocation_ports = {
            "events": gateways["C"].listen_port,
            "ttl": gateways["R"].listen_port,
            "no_session_cache": gateways["Cn"].listen_port,
            "local": gateways["L"].listen_port,
        }
        # Row C-local's deny list, kept from the change feed as `zerogate up` keeps it.
        bus = open_bus(store, poll_interval_s=EVENT_POLL_S, clock=SystemClock())
        stack.push_async_callback(bus.aclose)
        denials = enforce_denials(
            bus,
            world.envoys["L"],
            DecisionTokens(KeyRing(), issuer=ISSUER),  # only its TTL is read
            clock=SystemClock(),
            epoch=lambda: None,  # the bench activates no policy
            clock_skew_s=5,  # LocalDecisions' default leeway
        )
        follower = asyncio.create_task(denials)
        stack.push_async_callback(_cancel, follower)
        # ... and audits those lines from this process, as `zerogate up` does (the fast path's
        # audit costs CPU here, on the same two cores as Envoy).
        audit = await stack.enter_async_context(AuditLog.open(scratch / "audit-fast-path"))
        fast_path = FastPathAudit(scratch / FAST_PATH_LOG, world.envoys["L"], audit)
        stack.push_async_callback(_cancel, asyncio.create_task(fast_path.run()))
        yield world


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def verify(world: Fleet) -> list[str]:
    """Every row answers as it must; returns what was checked (raises BrokenSetup otherwise)."""
    checked: list[str] = []

    def expect(ok: bool, row: Row, what: str, got: object) -> None:
        if not ok:
            raise BrokenSetup(f"row {row.key}: {what}; got {got!r}")
        checked.append(f"{row.key}: {what}")

    spoofed = {"X-Zerogate-User": "mallory"}  # a client's copy must never reach the upstream
    for row in world.rows:
        allowed = get(row.port, host=HOST, headers={"Cookie": world.cookie, **spoofed})
        expect(
            allowed.status == 200 and allowed.body.decode() == UPSTREAM_BODY,
            row,
            "with the cookie: 200 from the upstream",
            (allowed.status, allowed.body[:200]),
        )
        seen = allowed.headers.get("x-seen-user", "")
        if row.seen_user is not None:
            what = f"the upstream saw x-zerogate-user {row.seen_user!r}, not the client's copy"
            expect(seen == row.seen_user, row, what, seen)
        if row.checked:
            signed = allowed.headers.get("x-seen-assertion")
            expect(signed == "yes", row, "the upstream got a signed assertion", signed)
        if not row.checked:
            continue
        api = get(row.port, host=HOST, headers=spoofed)
        expect(
            api.status == 401 and api.headers.get("www-authenticate", "").startswith("Bearer"),
            row,
            "without the cookie: 401 with a Bearer challenge",
            (api.status, api.headers),
        )
        page = get(row.port, host=HOST, headers={"Accept": BROWSER})
        expect(
            page.status == 302 and "/login" in page.headers.get("location", ""),
            row,
            "a browser without the cookie: 302 to the sign-in page",
            (page.status, page.headers.get("location")),
        )
    return checked


async def authz_connections(world: Fleet) -> dict[str, dict[str, int]]:
    """Envoy's own counters for its check-service cluster: connections vs requests (reuse)."""
    found: dict[str, dict[str, int]] = {}
    for key in ("C", "Cg", "Cn", "D", "L"):
        port = world.envoys[key].gateway.admin_port
        reply = await asyncio.to_thread(
            get,
            port,
            host="127.0.0.1",
            path=f"/stats?format=json&filter=^cluster\\.{AUTHZ_CLUSTER}\\.",
        )
        stats = {
            s["name"].rsplit(".", 1)[1]: s.get("value", 0)
            for s in orjson.loads(reply.body).get("stats", [])
            if "name" in s
        }
        found[key] = {k: int(stats.get(k, 0)) for k in ("upstream_cx_total", "upstream_rq_total")}
    return found


def decision_cookie(world: Fleet, row: Row) -> str:
    """A fresh decision token for `row`: one allowed GET through the check (it lives 15 s)."""
    reply = get(row.port, host=HOST, headers={"Cookie": world.cookie})
    cookie = reply.headers.get("set-cookie", "")
    if reply.status != 200 or not cookie.startswith("__Host-zerogate-dt-"):
        raise BrokenSetup(f"row {row.key}: no decision token: {reply.status} {cookie[:40]!r}")
    return cookie.split(";", 1)[0]
