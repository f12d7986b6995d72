"""Revocation with three check replicas behind one real Envoy, on one real PostgreSQL.

Each replica is assembled as `zerogate up` assembles its check service (a `Checker` with the
session cache, its own store connection, its own PDP, and its own subscription to the change
feed over LISTEN/NOTIFY), served in-process on its own port; Envoy's ext_authz cluster balances
round robin over the three. A session is signed in, used until every replica has it cached,
then revoked in the store (`Sessions.revoke` publishes `entity.changed`, as the admin API does).

The replicas' caches never expire here (their clock's monotonic time stands still), so only the
change feed can stop the session: the test asserts that every replica, once it applied the
event, denied the session and never allowed it again. It asserts correctness, not timing (the
time is measured by bench/gateway.py, "revocation to deny, 3 replicas").
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.gateway.envoy.envoy_support import Upstream, run
from tests.policy._org import example_bundle
from zerogate.app import free_port
from zerogate.app._serve import background_server, loopback_socket
from zerogate.app.admin import record_session_change
from zerogate.clock import SystemClock
from zerogate.control import TOPIC_ENTITY_CHANGED, EventBus, open_bus
from zerogate.gateway.check import Checker, CheckRecord, SessionCache, Verdict, create_app
from zerogate.gateway.envoy import EnvoyProcess, Gateway, Route
from zerogate.identity import SESSION_COOKIE_NAME, Directory, Sessions
from zerogate.policy import PDP, DecisionCache
from zerogate.store import Store, open_store
from zerogate.tokens import KeyRing

pytestmark = pytest.mark.e2e
HOST = "wiki.example.test"
ISSUER = "https://login.zerogate.test"
REPLICAS = 3


class StillClock(SystemClock):
    """Real wall time, but monotonic time stands still: TTL caches never expire by themselves."""

    def monotonic(self) -> float:
        return 1000.0


@dataclass
class Replica:
    """One check replica and what it did, in one order shared by all (`tick`)."""

    index: int
    store: Store
    bus: EventBus
    checker: Checker
    decisions: list[tuple[int, CheckRecord]] = field(default_factory=list)
    revoked_at: int | None = None  # the tick at which its feed delivered the revocation


def _replica(index: int, url: str, tick: Callable[[], int], ring: KeyRing) -> Replica:
    clock = StillClock()
    store = open_store(url)
    pdp = PDP(example_bundle(), clock=clock, cache=DecisionCache(clock=clock, ttl_s=15.0))
    decisions: list[tuple[int, CheckRecord]] = []
    checker = Checker(
        pdp,
        Sessions(store),
        Directory(store),
        ring,
        issuer=ISSUER,
        clock=clock,
        login_url=f"{ISSUER}/login",
        session_cache=SessionCache(clock=clock),
        on_decision=lambda record: decisions.append((tick(), record)),
    )
    bus = open_bus(store, poll_interval_s=0.5, clock=SystemClock())
    return Replica(index, store, bus, checker, decisions)


async def _follow(replica: Replica, session_id: str, tick: Callable[[], int]) -> None:
    """As `zerogate up`'s `_follow`: every `entity.changed` event goes to the checker."""
    after = await replica.bus.last_seq()
    async for event in replica.bus.subscribe(topics=[TOPIC_ENTITY_CHANGED], after_seq=after):
        replica.checker.entity_changed(event.payload)
        if session_id in event.payload.get("session_ids", []) and replica.revoked_at is None:
            replica.revoked_at = tick()


@contextlib.asynccontextmanager
async def _fleet(
    url: str, workdir: Path, session_id: str
) -> AsyncIterator[tuple[list[Replica], int]]:
    counter = itertools.count()
    tick = lambda: next(counter)  # noqa: E731 - one shared order for records and events
    ring = KeyRing()
    ring.ensure_active(datetime.now(UTC) - timedelta(minutes=5))
    async with contextlib.AsyncExitStack() as stack:
        replicas = [_replica(i, url, tick, ring) for i in range(REPLICAS)]
        for replica in replicas:
            stack.callback(replica.store.close)
            stack.push_async_callback(replica.bus.aclose)
        upstream_sock = loopback_socket()
        stack.callback(upstream_sock.close)
        await stack.enter_async_context(background_server(Upstream().app(), upstream_sock))
        ports = []
        for replica in replicas:
            sock = loopback_socket()
            stack.callback(sock.close)
            await stack.enter_async_context(background_server(create_app(replica.checker), sock))
            ports.append(sock.getsockname()[1])
            task = asyncio.create_task(_follow(replica, session_id, tick))
            stack.push_async_callback(_cancel, task)
        route = Route(
            "wiki",
            hosts=(HOST,),
            upstream=f"http://127.0.0.1:{upstream_sock.getsockname()[1]}",
            resource_id="wiki-web",
        )
        gateway = Gateway(
            listen_port=free_port(),
            admin_port=free_port(),
            authz_url=f"http://127.0.0.1:{ports[0]}",
            authz_replicas=tuple(f"http://127.0.0.1:{p}" for p in ports[1:]),
            routes=(route,),
        )
        envoy = EnvoyProcess(gateway, workdir=workdir)
        stack.push_async_callback(envoy.aclose)
        await envoy.start()
        yield replicas, gateway.listen_port


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _seen(replica: Replica, session_id: str, verdict: Verdict) -> list[int]:
    return [t for t, r in replica.decisions if r.session_id == session_id and r.verdict is verdict]


def test_revocation_is_enforced_by_every_check_replica(
    tmp_path: Path, make_database: Callable[..., str]
) -> None:
    url = make_database("postgresql")
    seed = open_store(url)
    try:
        run(_scenario(url, seed, tmp_path), timeout_s=120)
    finally:
        seed.close()


async def _scenario(url: str, seed: Store, workdir: Path) -> None:
    now = datetime.now(UTC)
    directory = Directory(seed)
    await directory.add_group("employees", now=now)
    emma = await directory.add_user("emma", "emma@example.test", groups=("employees",), now=now)
    sessions = Sessions(seed, on_change=record_session_change)  # publishes entity.changed
    new = await sessions.create(
        emma, amr=("pwd",), auth_time=now, ip="127.0.0.1", user_agent="e2e", now=now
    )
    sid = new.session.id
    headers = {"Host": HOST, "Cookie": f"{SESSION_COOKIE_NAME}={new.token}"}
    async with (
        _fleet(url, workdir / "envoy", sid) as (replicas, port),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client,
    ):
        # Until every replica has allowed the session once: each now holds it in its cache.
        while not all(_seen(r, sid, Verdict.ALLOW) for r in replicas):
            answer = await client.get("/", headers=headers)
            assert answer.status_code == 200, answer.text
            assert answer.json()["path"] == "/"  # from the upstream, through Envoy
        await sessions.revoke(new.token, reason="e2e", now=datetime.now(UTC))

        def denied_everywhere() -> bool:
            return all(
                r.revoked_at is not None
                and any(t > r.revoked_at for t in _seen(r, sid, Verdict.UNAUTHENTICATED))
                for r in replicas
            )

        while not denied_everywhere():  # bounded by run()'s timeout: a replica that never
            answer = await client.get("/", headers=headers)  # hears of it fails the test
            assert answer.status_code in (200, 401)
            await asyncio.sleep(0.005)
        for answer_after in range(2 * REPLICAS):  # and from now on, every replica denies
            answer = await client.get("/", headers=headers)
            assert answer.status_code == 401, answer_after
    for replica in replicas:
        revoked = replica.revoked_at
        assert revoked is not None
        allowed = _seen(replica, sid, Verdict.ALLOW)
        assert allowed
        assert max(allowed) < revoked, f"replica {replica.index} allowed after the event"
        refused = [r for _, r in replica.decisions if r.verdict is Verdict.UNAUTHENTICATED]
        assert refused
        assert {r.reason for r in refused} == {"session_revoked"}
