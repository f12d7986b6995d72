"""The live decision feed (a bounded ring read by cursor) and the overview's rates."""

from __future__ import annotations

from typing import Any

import pytest

from tests.admin._support import LiveConsole
from tests.gateway.check._support import request
from tests.identity._support import run
from zerogate._types import DecisionID
from zerogate.admin import ADMIN_ROUTE, DecisionFeed, MetricsWindow
from zerogate.clock import FixedClock
from zerogate.gateway.check import CheckRecord, Verdict
from zerogate.telemetry import CheckMetrics, Metrics


def _record(n: int, verdict: Verdict = Verdict.DENY, **fields: Any) -> CheckRecord:
    values: dict[str, Any] = {
        "decision_id": DecisionID(f"d{n}"),
        "verdict": verdict,
        "reason": "allowed" if verdict is Verdict.ALLOW else "no_permit",
        "status": 200 if verdict is Verdict.ALLOW else 403,
        "route": "wiki-web",
        "action": "GET",
        "principal": 'User::"eve"',
        "session_id": None,
        "client_ip": "198.51.100.7",
        "request_id": None,
        "traceparent": None,
        "policy_ids": (),
        "bundle_hash": None,
        "cached": False,
        "latency_s": 0.003,
    }
    return CheckRecord(**(values | fields))


def test_decision_feed_reads_after_a_cursor_oldest_first() -> None:
    feed = DecisionFeed(clock=FixedClock(), size=10)
    for n in range(1, 4):
        feed(_record(n))
    page = feed.after(1)
    assert [e.record.decision_id for e in page.entries] == ["d2", "d3"]
    assert (page.latest, page.missed) == (3, 0)
    assert feed.after(3).entries == ()
    restarted = feed.after(99)  # a cursor from before a restart: start again
    assert [e.seq for e in restarted.entries] == [1, 2, 3]


def test_decision_feed_is_bounded_and_says_what_a_reader_missed() -> None:
    feed = DecisionFeed(clock=FixedClock(), size=5)
    for n in range(1, 13):
        feed(_record(n))
    page = feed.after(2)
    assert [e.seq for e in page.entries] == [8, 9, 10, 11, 12]
    assert page.missed == 5  # 3..7 fell out of the ring
    newest = feed.after(2, limit=2)
    assert [e.seq for e in newest.entries] == [11, 12]  # catch up with the present
    assert newest.missed == 8


def test_decision_feed_leaves_out_the_consoles_own_allows_but_keeps_its_denials() -> None:
    feed = DecisionFeed(clock=FixedClock(), quiet_routes=(ADMIN_ROUTE,))
    feed(_record(1, Verdict.ALLOW, route=ADMIN_ROUTE))
    feed(_record(2, Verdict.DENY, route=ADMIN_ROUTE))
    feed(_record(3, Verdict.ALLOW))
    assert [e.record.decision_id for e in feed.after(0).entries] == ["d2", "d3"]


def test_decision_feed_never_raises_into_the_check() -> None:
    class BrokenClock(FixedClock):
        def now(self) -> Any:
            raise RuntimeError("clock broke")

    feed = DecisionFeed(clock=BrokenClock())
    feed(_record(1))  # logged, not raised
    assert feed.latest == 0


def test_metrics_window_rates_between_snapshots() -> None:
    clock = FixedClock()
    metrics = Metrics()
    window = MetricsWindow(metrics, clock=clock, window_s=60)
    record = CheckMetrics(metrics)
    record(_record(0, Verdict.ALLOW))  # before the first snapshot: not in the window
    first = window.rates()
    assert (first.decisions_per_s, first.deny_ratio, first.p95_latency_ms) == (None, None, None)
    for n in range(3):
        record(_record(n, Verdict.ALLOW))
    record(_record(9, Verdict.DENY))
    clock.advance(10)
    rates = window.rates()
    assert rates.window_s == 10
    assert rates.decisions_per_s == pytest.approx(0.4)
    assert rates.deny_ratio == pytest.approx(0.25)
    # All four took 3 ms: the 2.5-5 ms bucket, interpolated at 95 % as histogram_quantile does.
    assert rates.p95_latency_ms == pytest.approx(2.5 + 2.5 * 3.8 / 4)
    assert rates.decisions_total == 5
    clock.advance(120)  # then nothing for longer than the window: no traffic, no ratio
    window.sample()
    clock.advance(10)
    quiet = window.rates()
    assert (quiet.decisions_per_s, quiet.deny_ratio, quiet.p95_latency_ms) == (0.0, None, None)


def test_console_feed_shows_a_denial_with_its_explanation(console: LiveConsole) -> None:
    eve = run(console.world.directory.get_user("eve"))
    cookie = console.world.sign_in(eve, amr=("pwd",))
    start = console.get("/decisions").json()["latest"]
    refused = console.check(request(cookie=cookie))  # eve is not an employee
    assert refused.status == 403
    console.get("/users")  # the console's own allowed check: not in the feed

    page = console.get(f"/decisions?after={start}").json()

    (entry,) = page["entries"]
    assert entry["decision_id"] == refused.decision_id
    assert (entry["verdict"], entry["reason"], entry["status"]) == ("deny", "no_permit", 403)
    assert entry["principal"] == 'User::"eve"'
    assert entry["route"] == "wiki-web"
    assert "closest is `wiki-read`" in entry["explanation"]
    assert page["latest"] == entry["seq"]


def test_console_overview_counts_sessions_users_and_policy(console: LiveConsole) -> None:
    eve = run(console.world.directory.get_user("eve"))
    console.world.sign_in(eve, amr=("pwd",))
    overview = console.get("/overview").json()
    assert overview["active_sessions"] == 2  # the admin's and eve's
    assert (overview["users"], overview["disabled_users"]) == (3, 0)
    assert overview["policy"]["bundle"] == console.world.pdp.bundle_hash
    assert overview["policy"]["policies"] == len(console.world.pdp.bundle.base.sources)
    assert overview["rates"]["decisions_total"] >= 1  # this very request was checked
