"""The metrics a check updates, read back through `GET /metrics` as Prometheus would."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from tests.gateway.check._support import CheckWorld, make_world, request
from zerogate._types import DecisionID, PolicyID
from zerogate.gateway.check import CheckRecord, Verdict
from zerogate.policy import CacheStats
from zerogate.store import Store, open_store
from zerogate.telemetry import MAX_POLICIES, MAX_ROUTES, CheckMetrics, Metrics, metrics_app


@pytest.fixture
def world(make_database: Callable[..., str]) -> Iterator[CheckWorld]:
    store: Store = open_store(make_database("sqlite"))
    try:
        yield make_world(store)
    finally:
        store.close()


def scrape(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample `GET /metrics` shows, by name and labels."""
    with TestClient(metrics_app(metrics)) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_check_metrics_counts_real_checks_by_route_verdict_and_reason(world: CheckWorld) -> None:
    metrics = Metrics()
    record = CheckMetrics(metrics)
    user = world.add_user("pat", "employees")
    cookie = world.sign_in(user)
    assert world.check(request(cookie=cookie)).allowed
    assert world.check(request(cookie=cookie)).allowed  # the PDP answers from its cache
    assert world.check(request(cookie=None, accept="application/json")).status == 401
    for rec in world.records:
        record(rec)

    samples = scrape(metrics)
    decisions = "zerogate_check_decisions_total"
    allowed = value(samples, decisions, route="wiki-web", verdict="allow", reason="allowed")
    anonymous = value(
        samples, decisions, route="wiki-web", verdict="unauthenticated", reason="no_credentials"
    )
    assert (allowed, anonymous) == (2, 1)
    duration = "zerogate_check_decision_duration_seconds_count"
    assert value(samples, duration, route="wiki-web", verdict="allow") == 2
    assert value(samples, "zerogate_check_pdp_decisions_total", cached="true") == 1
    assert value(samples, "zerogate_check_pdp_decisions_total", cached="false") == 1
    # The permit behind both allows, by route and verdict: the deny ratio by policy's source.
    permits = {rec.policy_ids for rec in world.records if rec.verdict is Verdict.ALLOW}
    [[permit]] = permits
    policy_decisions = "zerogate_check_policy_decisions_total"
    assert value(samples, policy_decisions, policy=permit, route="wiki-web", verdict="allow") == 2
    # no credentials at all is not a failed authentication
    assert value(samples, "zerogate_authentications_total", result="success") == 2
    assert value(samples, "zerogate_authentications_total", result="failure") == 0


def test_check_metrics_counts_refused_credentials_as_auth_failures(world: CheckWorld) -> None:
    metrics = Metrics()
    world.check(request(authorization="Bearer not-a-token", accept="application/json"))
    CheckMetrics(metrics)(world.records[-1])
    assert world.records[-1].verdict is Verdict.UNAUTHENTICATED
    assert value(scrape(metrics), "zerogate_authentications_total", result="failure") == 1


def _record(**changes: object) -> CheckRecord:
    base = CheckRecord(
        decision_id="d-1",  # type: ignore[arg-type]
        verdict=Verdict.DENY,
        reason="no_permit",
        status=403,
        route="wiki-web",
        action="GET",
        principal='User::"pat"',
        session_id="a" * 64,
        client_ip="198.51.100.7",
        request_id="req-1",
        traceparent=None,
        policy_ids=(),
        bundle_hash=None,
        cached=False,
        latency_s=0.003,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_check_metrics_labels_stay_bounded() -> None:
    metrics = Metrics()
    record = CheckMetrics(metrics)
    record(_record(reason="something_new"))
    record(_record(route="bad route\nwith newline"))
    record(_record(route=None, verdict=Verdict.BAD_REQUEST, reason="request_invalid"))
    for i in range(MAX_ROUTES + 5):  # wiki-web took one place: 6 ids over the cap
        record(_record(route=f"r{i}"))
    samples = scrape(metrics)
    decisions = "zerogate_check_decisions_total"
    assert value(samples, decisions, route="wiki-web", verdict="deny", reason="other") == 1
    assert value(samples, decisions, route="other", verdict="deny", reason="no_permit") == 7
    assert (
        value(samples, decisions, route="none", verdict="bad_request", reason="request_invalid")
        == 1
    )
    routes = {dict(labels)["route"] for name, labels in samples if name == decisions}
    assert len(routes) == MAX_ROUTES + 2  # capped ids, plus `other` and `none`
    # identities never become labels
    text = repr(samples)
    assert "pat" not in text
    assert "198.51.100.7" not in text


def test_metrics_registries_are_independent() -> None:
    first, second = Metrics(), Metrics()
    CheckMetrics(first)(_record())
    decisions = "zerogate_check_decisions_total"
    assert (
        value(scrape(first), decisions, route="wiki-web", verdict="deny", reason="no_permit") == 1
    )
    assert (
        value(scrape(second), decisions, route="wiki-web", verdict="deny", reason="no_permit") == 0
    )


def test_metrics_export_the_decision_cache_counts_and_follow_a_replaced_cache(
    world: CheckWorld,
) -> None:
    metrics = Metrics()
    assert world.pdp.cache is not None
    metrics.watch_decision_cache(world.pdp.cache.stats)
    cookie = world.sign_in(world.add_user("pat", "employees"))
    for _ in range(3):
        world.check(request(cookie=cookie))
    samples = scrape(metrics)
    assert value(samples, "zerogate_pdp_decision_cache_hits_total") == 2
    assert value(samples, "zerogate_pdp_decision_cache_misses_total") == 1
    assert value(samples, "zerogate_pdp_decision_cache_entries") == 1

    metrics.watch_decision_cache(lambda: CacheStats(hits=7, misses=1, entries=0, invalidations=3))
    samples = scrape(metrics)
    assert value(samples, "zerogate_pdp_decision_cache_hits_total") == 7
    assert value(samples, "zerogate_pdp_decision_cache_invalidations_total") == 3


def test_metrics_token_issuance_by_bounded_grant() -> None:
    metrics = Metrics()
    metrics.record_token_issued("authorization_code")
    metrics.record_token_issued("refresh_token")
    metrics.record_token_issued("made_up_grant")
    metrics.record_token_issue_error("refresh_token")
    samples = scrape(metrics)
    issued = "zerogate_tokens_issued_total"
    assert value(samples, issued, grant="authorization_code") == 1
    assert value(samples, issued, grant="other") == 1
    assert value(samples, "zerogate_token_issue_errors_total", grant="refresh_token") == 1


def test_metrics_app_answers_get_only() -> None:
    with TestClient(metrics_app(Metrics())) as client:
        assert client.post("/metrics").status_code == 405
        assert client.get("/elsewhere").status_code == 404


def test_policy_labels_are_bounded_like_routes() -> None:
    metrics = Metrics()
    record = CheckMetrics(metrics)
    base = CheckRecord(
        decision_id=DecisionID("d"),
        verdict=Verdict.DENY,
        reason="forbidden",
        status=403,
        route="wiki-web",
        action="GET",
        principal=None,
        session_id=None,
        client_ip=None,
        request_id=None,
        traceparent=None,
        policy_ids=(),
        bundle_hash=None,
        cached=False,
        latency_s=0.001,
    )
    for n in range(MAX_POLICIES + 5):
        record(replace(base, policy_ids=(PolicyID(f"forbid-{n}"),)))
    samples = scrape(metrics)
    names = {
        dict(labels)["policy"]
        for (name, labels) in samples
        if name == "zerogate_check_policy_decisions_total"
    }
    assert len(names) == MAX_POLICIES + 1  # and `other`
    assert (
        value(
            samples,
            "zerogate_check_policy_decisions_total",
            policy="other",
            route="wiki-web",
            verdict="deny",
        )
        == 5
    )
