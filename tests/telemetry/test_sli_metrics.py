"""The SLIs fed from other parts, each with the real part: the audit log's counts (telemetry
completeness), policy rollout errors from `PolicySync`, time to revoke at the check and at a
real Envoy's deny list, and the token endpoint's issued / refused / failed requests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.audit._support import ORIGIN, entry
from tests.identity.oidc._op import OP
from tests.policy._org import EXAMPLES
from tests.telemetry.test_metrics import scrape, value
from zerogate.app import free_port
from zerogate.app._denials import enforce_denials
from zerogate.audit import AuditLog, EventKind, NoteSigner, Outcome, WitnessingStats
from zerogate.clock import FixedClock, SystemClock
from zerogate.control import (
    TOPIC_ENTITY_CHANGED,
    TOPIC_POLICY_ACTIVATED,
    Event,
    InProcessBus,
    PolicyAdmin,
    PolicySync,
    SQLiteBus,
)
from zerogate.control.policies._db import insert_bundle
from zerogate.errors import StoreError
from zerogate.gateway.check import DecisionTokens
from zerogate.gateway.envoy import EnvoyProcess, Gateway, LocalDecisions, Route
from zerogate.policy import Bundle
from zerogate.store import Store, open_store
from zerogate.telemetry import Metrics, RevocationTimer
from zerogate.tokens import KeyRing


def _run(coro: Awaitable[None]) -> None:
    async def bounded() -> None:
        async with asyncio.timeout(60):  # fails, never hangs; no time is asserted
            await coro

    asyncio.run(bounded())


async def _until(condition: Callable[[], bool]) -> None:
    while True:  # bounded by the scenario's timeout
        if condition():
            return
        await asyncio.sleep(0.01)


@pytest.fixture
def store(make_database: Callable[..., str]) -> Iterator[Store]:
    opened = open_store(make_database("sqlite"))
    opened.migrate()
    try:
        yield opened
    finally:
        opened.close()


# Telemetry completeness: the audit log's own counts.


def test_audit_metrics_count_durable_entries_by_kind_drops_and_the_spool(tmp_path: Path) -> None:
    metrics = Metrics()
    signer = NoteSigner.generate(ORIGIN)

    async def scenario() -> None:
        async with AuditLog.open(
            tmp_path / "audit",
            signer=signer,
            origin=ORIGIN,
            checkpoint_interval_s=0,
            max_pending=3,
            drop_when_full=True,
        ) as log:
            metrics.watch_audit(log)
            pending = [log.submit(entry(n)) for n in range(5)]  # 3 fit, 2 are dropped
            assert value(scrape(metrics), "zerogate_audit_spool_entries") == 3
            await asyncio.gather(*pending)
            login = entry(9, kind=EventKind.LOGIN, decision=Outcome.SUCCESS)
            await log.append(login)

    _run(scenario())
    samples = scrape(metrics)
    entries = "zerogate_audit_entries_total"
    assert value(samples, entries, kind="decision") == 3
    assert value(samples, entries, kind="login") == 1
    assert value(samples, entries, kind="revocation") == 0  # every kind has a series
    assert value(samples, "zerogate_audit_dropped_total") == 2
    assert value(samples, "zerogate_audit_spool_entries") == 0


# Policy rollout errors and the active revision.


def test_witness_submissions_are_exported_by_result_with_the_witnessed_size() -> None:
    metrics = Metrics()
    stats: WitnessingStats | None = None
    metrics.watch_witnessing(lambda: stats)
    name = "zerogate_audit_witness_submissions_total"
    assert (name, frozenset({("result", "cosigned")})) not in scrape(metrics)  # none yet
    stats = WitnessingStats(cosigned=3, conflicts=1, failures=2, refusals=1, witnessed_size=42)
    samples = scrape(metrics)
    assert [
        value(samples, name, result=r) for r in ("cosigned", "conflict", "failed", "refused")
    ] == [3, 1, 2, 1]
    assert value(samples, "zerogate_audit_witnessed_size") == 42


def test_policy_rollout_errors_are_counted_by_reason_and_the_revision_follows(
    store: Store,
) -> None:
    metrics = Metrics()

    async def scenario() -> None:
        clock = FixedClock()
        bus = SQLiteBus(store, poll_interval_s=0.01)
        admin = PolicyAdmin(store, bus, clock=clock)
        sync = PolicySync(admin, bus, clock=clock, on_error=metrics.record_rollout_error)
        pdp = await sync.start(fallback=Bundle.from_dir(EXAMPLES))
        metrics.watch_policy(lambda: pdp.bundle_hash)
        first = pdp.bundle_hash
        revision = "zerogate_policy_revision_info"
        assert value(scrape(metrics), revision, revision=first[:12]) == 1
        # A bundle stored behind the administrator's back that no longer compiles.
        broken = Bundle({"p.cedar": "this is not cedar;"})
        with store.begin() as conn:
            insert_bundle(
                conn,
                bundle_hash=broken.hash,
                files=dict(broken.files),
                manifest={},
                now=clock.now(),
                actor=None,
            )
        await admin.activate(broken.hash)
        await bus.publish(TOPIC_POLICY_ACTIVATED, {"bundle": "0" * 64})  # not stored
        await bus.publish(TOPIC_POLICY_ACTIVATED, {"no": "bundle"})  # unusable
        await _until(lambda: sync.errors == 3)
        lockdown = Bundle({"l.cedar": '@id("l") forbid (principal, action, resource);'})
        await admin.publish(lockdown)
        await _until(lambda: pdp.bundle_hash == lockdown.hash)
        samples = scrape(metrics)
        errors = "zerogate_policy_rollout_errors_total"
        assert value(samples, errors, reason="policy_invalid") == 1
        assert value(samples, errors, reason="bundle_not_found") == 1
        assert value(samples, errors, reason="event_malformed") == 1
        assert value(samples, errors, reason="store_unavailable") == 0
        # Only the active revision is exported: one series, never a growing set.
        revisions = [labels for name, labels in samples if name == revision]
        assert revisions == [frozenset({("revision", lockdown.hash[:12])})]
        await sync.aclose()
        await bus.aclose()

    _run(scenario())


def test_rollout_error_reasons_stay_bounded() -> None:
    metrics = Metrics()
    metrics.record_rollout_error("something_new")
    assert value(scrape(metrics), "zerogate_policy_rollout_errors_total", reason="other") == 1


# Time to revoke.


def _revocation(at: FixedClock, **payload: Any) -> Event:
    return Event(1, TOPIC_ENTITY_CHANGED, None, dict(payload), at.now())


def test_revocation_timer_times_ended_sessions_from_when_they_were_stored() -> None:
    metrics = Metrics()
    clock = FixedClock()
    at_check = RevocationTimer(metrics, "check", clock=clock)
    stored = _revocation(clock, type="User", id="pat", session_ids=["a" * 64])
    clock.advance(0.3)
    at_check(stored)
    at_check(_revocation(clock, type="User", id="pat", change="groups"))  # ends no session
    at_check(Event(2, TOPIC_POLICY_ACTIVATED, None, {"bundle": "b" * 64}, clock.now()))
    samples = scrape(metrics)
    histogram = "zerogate_revocation_seconds"
    assert value(samples, f"{histogram}_count", where="check") == 1
    assert value(samples, f"{histogram}_sum", where="check") == pytest.approx(0.3)
    assert value(samples, f"{histogram}_bucket", where="check", le="0.25") == 0
    assert value(samples, f"{histogram}_bucket", where="check", le="0.5") == 1
    assert value(samples, f"{histogram}_count", where="envoy") == 0
    # A peer's clock a little ahead never makes a negative time.
    early = Event(3, TOPIC_ENTITY_CHANGED, None, {"session_ids": ["b"]}, clock.now())
    clock.advance(-1)
    at_check(early)
    assert value(scrape(metrics), f"{histogram}_bucket", where="check", le="0.01") == 1
    with pytest.raises(ValueError, match="where"):
        RevocationTimer(metrics, "elsewhere", clock=clock)


def test_time_to_revoke_at_envoy_is_observed_once_the_deny_list_is_in_envoy(
    tmp_path: Path,
) -> None:
    metrics = Metrics()
    clock = SystemClock()
    bus = InProcessBus(clock=clock)
    tokens = DecisionTokens(KeyRing(), issuer="https://login.test", ttl=timedelta(seconds=5))
    nowhere = f"http://127.0.0.1:{free_port()}"
    gateway = Gateway(
        listen_port=free_port(),
        admin_port=free_port(),
        authz_url=nowhere,
        routes=(Route("wiki", hosts=("wiki.localhost",), upstream=nowhere, resource_id="wiki"),),
        local_decisions=LocalDecisions(issuer="https://login.test", jwks_url=f"{nowhere}/jwks"),
    )
    histogram, where = "zerogate_revocation_seconds_count", {"where": "envoy"}

    async def scenario() -> None:
        async with EnvoyProcess(gateway, workdir=tmp_path / "envoy") as envoy:
            follower = asyncio.create_task(
                enforce_denials(
                    bus,
                    envoy,
                    tokens,
                    clock=clock,
                    epoch=lambda: None,
                    clock_skew_s=1,
                    on_revoked=RevocationTimer(metrics, "envoy", clock=clock),
                )
            )
            await asyncio.sleep(0.05)  # the follower subscribes (as tests/app/test_denials.py)
            await bus.publish(TOPIC_ENTITY_CHANGED, {"type": "User", "id": "pat", "change": "x"})
            await bus.publish(
                TOPIC_ENTITY_CHANGED,
                {"type": "User", "id": "pat", "session_ids": ["c" * 64]},
            )
            await _until(lambda: bool(envoy.denials.sessions))
            await _until(lambda: metrics.registry.get_sample_value(histogram, where) == 1)
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower

    _run(scenario())
    assert value(scrape(metrics), histogram, where="envoy") == 1  # the other event ends nothing


# Token issuance, refresh and refusals at the token endpoint.


@pytest.fixture
def op(store: Store) -> Iterator[OP]:
    provider = OP(store)
    try:
        yield provider
    finally:
        provider.http.close()


def test_the_token_endpoint_tells_the_metrics_what_it_issued_and_refused(op: OP) -> None:
    metrics = Metrics()
    op.routes.on_token = metrics.record_token_request
    client, secret = op.client()
    first = op.tokens(client, secret, op.login(op.user()))
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    assert op.token(client, secret, **refresh).status_code == 200
    assert op.token(client, secret, **refresh).json()["error"] == "invalid_grant"  # spent
    assert op.token(client, "wrong", **refresh).status_code == 401
    assert op.token(client, secret, grant_type="password").status_code == 400
    samples = scrape(metrics)
    issued = "zerogate_tokens_issued_total"
    refused = "zerogate_token_requests_refused_total"
    assert value(samples, issued, grant="authorization_code") == 1
    assert value(samples, issued, grant="refresh_token") == 1
    assert value(samples, refused, grant="refresh_token", error="invalid_grant") == 1
    assert value(samples, refused, grant="refresh_token", error="invalid_client") == 1
    assert value(samples, refused, grant="other", error="unsupported_grant_type") == 1
    assert value(samples, "zerogate_token_issue_errors_total", grant="refresh_token") == 0


def test_an_issuer_failure_counts_as_a_token_issue_error(op: OP, store: Store) -> None:
    metrics = Metrics()
    op.routes.on_token = metrics.record_token_request
    client, secret = op.client()
    session = op.login(op.user())
    code, flow = op.code_for(client, session)
    with store.begin() as conn:  # the store breaks under the issuer
        conn.exec_driver_sql("DROP TABLE oauth_refresh_tokens")
    with pytest.raises(StoreError):  # the server's own exception: a 500
        op.redeem(client, secret, code, flow)
    samples = scrape(metrics)
    assert value(samples, "zerogate_token_issue_errors_total", grant="authorization_code") == 1
    assert value(samples, "zerogate_tokens_issued_total", grant="authorization_code") == 0
