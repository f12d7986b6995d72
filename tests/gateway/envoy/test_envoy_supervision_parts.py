"""The supervisor's parts that need no Envoy: restart backoff and the log relay."""

from __future__ import annotations

import asyncio
import logging
import random

import pytest
from envoy_support import run
from hypothesis import given
from hypothesis import strategies as st

from zerogate.errors import ConfigError
from zerogate.gateway.envoy import RestartPolicy
from zerogate.gateway.envoy._logs import EnvoyLogRelay


def test_restart_policy_backs_off_exponentially_up_to_the_cap() -> None:
    policy = RestartPolicy(initial_delay_s=0.1, max_delay_s=1.0, multiplier=2.0, jitter=0.0)
    rng = random.Random(0)
    assert [policy.delay(n, rng) for n in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]


@given(
    attempt=st.integers(min_value=-5, max_value=10_000),
    seed=st.integers(min_value=0, max_value=2**32),
    jitter=st.floats(min_value=0, max_value=0.99),
)
def test_restart_policy_delay_is_bounded_and_jittered_within_its_band(
    attempt: int, seed: int, jitter: float
) -> None:
    policy = RestartPolicy(initial_delay_s=0.05, max_delay_s=5.0, jitter=jitter)
    delay = policy.delay(attempt, random.Random(seed))
    base = min(5.0, 0.05 * 2.0 ** min(max(attempt, 0), 64))
    assert 0 <= delay <= 5.0
    assert base * (1 - jitter) - 1e-9 <= delay <= base * (1 + jitter) + 1e-9


def test_restart_policy_starts_over_after_a_stable_run() -> None:
    policy = RestartPolicy(initial_delay_s=0.1, max_delay_s=10, jitter=0.0, stable_after_s=30)
    rng = random.Random(0)
    assert policy.schedule(0, uptime_s=0.5, rng=rng) == (0.1, 1)
    assert policy.schedule(3, uptime_s=0.5, rng=rng) == (0.8, 4)  # crash-looping: back off
    assert policy.schedule(3, uptime_s=30.0, rng=rng) == (0.1, 1)  # ran a while: start over


def test_restart_policy_reports_every_bad_field() -> None:
    with pytest.raises(ConfigError) as caught:
        RestartPolicy(initial_delay_s=-1, max_delay_s=0, multiplier=0.5, jitter=1.0)
    assert {d.loc for d in caught.value.details} == {
        "initial_delay_s",
        "max_delay_s",
        "multiplier",
        "jitter",
    }


def test_log_relay_maps_envoy_levels_and_keeps_components(caplog: pytest.LogCaptureFixture) -> None:
    relay = EnvoyLogRelay(pid=4242)
    with caplog.at_level(logging.DEBUG, logger="zerogate.gateway.envoy"):
        relay.feed("info|config|loading 1 listener(s)\n")
        relay.feed("warning|config|Filesystem config update rejected: bad\n")
        relay.feed("   a continuation line\n")
        relay.feed("error|main|cannot bind\n")
        relay.feed("debug|http|noise\n")
        relay.feed("critical|assert|boom\n")
        relay.feed("warning|main|caught ENVOY_SIGTERM\n")
        relay.feed("\n")
    levels = [
        (r.levelno, r.getMessage(), getattr(r, "envoy_component", None)) for r in caplog.records
    ]
    assert levels == [
        (logging.INFO, "envoy: loading 1 listener(s)", "config"),
        (logging.WARNING, "envoy: Filesystem config update rejected: bad", "config"),
        (logging.WARNING, "envoy:    a continuation line", ""),
        (logging.ERROR, "envoy: cannot bind", "main"),
        (logging.DEBUG, "envoy: noise", "http"),
        (logging.CRITICAL, "envoy: boom", "assert"),
        (logging.INFO, "envoy: caught ENVOY_SIGTERM", "main"),
    ]
    assert all(getattr(r, "envoy_pid", None) == 4242 for r in caplog.records)
    assert relay.since(2) == ["   a continuation line", "cannot bind", "boom"]


def test_log_relay_reads_a_stream_line_by_line(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        stream = asyncio.StreamReader(limit=64)
        stream.feed_data(b"info|main|one\nwarning|main|" + b"x" * 200 + b"\ninfo|main|two")
        stream.feed_eof()
        await EnvoyLogRelay(pid=1).relay(stream)

    with caplog.at_level(logging.INFO, logger="zerogate.gateway.envoy"):
        run(scenario())
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == "envoy: one"
    assert messages[-1] == "envoy: two"
