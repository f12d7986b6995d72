"""Pure pieces of the check: caches, step-up detection, the human reason, header plumbing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zerogate._types import BundleHash, DecisionID, PolicyID, UserID
from zerogate.clock import FixedClock
from zerogate.errors import ConfigError
from zerogate.gateway.check import MAX_SESSION_TTL_S, SessionCache
from zerogate.gateway.check._caches import TTLCache
from zerogate.gateway.check._edge import last_hop, read_headers
from zerogate.gateway.check._policy_request import human_reason
from zerogate.gateway.check._stepup import StepUpKind, step_up_for_decision
from zerogate.identity import ActiveSession
from zerogate.policy import (
    ConditionCheck,
    Decision,
    Explanation,
    Outcome,
    PartKind,
    PolicyExplanation,
)

T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def _session(sid: str, username: str = "alice", *, expires_in_s: float = 600) -> ActiveSession:
    return ActiveSession(
        id=sid,
        user_id=UserID("u-1"),
        username=username,
        auth_time=T0,
        amr=("pwd",),
        mfa_at=None,
        created_at=T0,
        last_seen_at=T0,
        absolute_expires_at=T0 + timedelta(hours=12),
        expires_at=T0 + timedelta(seconds=expires_in_s),
        ip=None,
        user_agent=None,
    )


def _deny(*failed: tuple[PartKind, str], reason: str | None = "needs more") -> Decision:
    checks = tuple(ConditionCheck(kind, text, False) for kind, text in failed)
    closest = PolicyExplanation(PolicyID("p"), "permit", "p.cedar:1", reason, checks, 4)
    explanation = Explanation("denied: ...", closest_permits=(closest,))
    return Decision(False, Outcome.NO_PERMIT, DecisionID("d"), (), (), BundleHash("b"), explanation)


def test_ttl_cache_expires_and_evicts_least_recently_used() -> None:
    clock = FixedClock()
    cache: TTLCache[str, int] = TTLCache(clock=clock, ttl_s=2.0, max_entries=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recently used
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)
    clock.advance(2.0)
    assert cache.get("a") is None
    assert len(cache) == 1


@given(st.lists(st.tuples(st.sampled_from("abcdef"), st.integers()), max_size=40))
def test_ttl_cache_never_holds_more_than_its_bound(puts: list[tuple[str, int]]) -> None:
    cache: TTLCache[str, int] = TTLCache(clock=FixedClock(), ttl_s=5.0, max_entries=3)
    for key, value in puts:
        cache.put(key, value)
        assert len(cache) <= 3
        assert cache.get(key) == value


def test_session_cache_ttl_is_at_most_one_second() -> None:
    with pytest.raises(ConfigError):
        SessionCache(clock=FixedClock(), ttl_s=MAX_SESSION_TTL_S + 0.1)
    with pytest.raises(ConfigError):
        SessionCache(clock=FixedClock(), ttl_s=0)


def test_session_cache_drop_and_expiry() -> None:
    clock = FixedClock(at=T0)
    cache = SessionCache(clock=clock, ttl_s=1.0)
    cache.put(_session("s1"))
    cache.put(_session("s2", "bob"))
    cache.put(_session("s3", expires_in_s=0.5))
    assert cache.get("s1") is not None
    assert cache.drop(["s1", "nope"]) == 1
    assert cache.get("s1") is None
    assert cache.drop_users(["bob"]) == 1
    assert cache.get("s2") is None
    clock.advance(0.5)  # within the TTL, but past the session's own expiry
    assert cache.get("s3") is None


def test_step_up_only_when_every_missing_part_is_authn() -> None:
    assert step_up_for_decision(_deny((PartKind.WHEN, "context.authn.mfa"))) is not None
    assert step_up_for_decision(_deny((PartKind.PRINCIPAL, 'principal in Group::"x"'))) is None
    mixed = _deny((PartKind.WHEN, "context.authn.mfa"), (PartKind.WHEN, "context has device"))
    assert step_up_for_decision(mixed) is None
    assert step_up_for_decision(_deny()) is None


def test_step_up_reads_age_bounds_as_max_age() -> None:
    strict = step_up_for_decision(_deny((PartKind.WHEN, "context.authn.auth_age_s < 900")))
    assert strict is not None
    assert (strict.kind, strict.max_age, strict.acr) == (StepUpKind.REAUTHENTICATE, 899, None)
    both = step_up_for_decision(
        _deny(
            (PartKind.WHEN, "context.authn.auth_age_s <= 300"),
            (PartKind.WHEN, "context.authn.auth_age_s < 900"),
            (PartKind.WHEN, "context.authn.mfa"),
        )
    )
    assert both is not None
    assert (both.max_age, both.acr) == (300, "urn:zerogate:acr:mfa")
    hwk = step_up_for_decision(_deny((PartKind.WHEN, 'context.authn.amr.contains("hwk")')))
    assert hwk is not None
    assert (hwk.kind, hwk.acr) == (StepUpKind.MFA, "urn:zerogate:acr:phr")


def test_human_reason_is_the_annotation_or_a_generic_line() -> None:
    assert human_reason(_deny(reason="needs the wiki group")) == "Needs the wiki group."
    assert human_reason(_deny(reason="Ask IT!")) == "Ask IT!"
    assert human_reason(_deny(reason=None)) == "No policy gives you access here."
    error = Decision(
        False, Outcome.POLICY_ERROR, DecisionID("d"), (), (), BundleHash("b"), Explanation("x")
    )
    assert human_reason(error) == "Access could not be confirmed by policy, so it was denied."


def test_last_hop_takes_what_the_proxy_appended() -> None:
    assert last_hop("1.1.1.1, 10.0.0.1 , 192.0.2.5") == "192.0.2.5"
    assert last_hop("192.0.2.5") == "192.0.2.5"
    assert last_hop("1.1.1.1,") is None
    assert last_hop("") is None
    assert last_hop(None) is None


def test_read_headers_joins_cookies_and_flags_other_repeats() -> None:
    scope = {
        "headers": [
            (b"cookie", b"a=1"),
            (b"cookie", b"b=2"),
            (b"x-forwarded-for", b"1.1.1.1"),
            (b"x-forwarded-for", b"2.2.2.2"),
            (b"host", b"h"),
            (b"user-agent", b"x"),
        ]
    }
    wanted = frozenset({b"cookie", b"x-forwarded-for", b"host"})
    assert read_headers(scope, wanted) == (
        {"cookie": "a=1; b=2", "x-forwarded-for": "1.1.1.1, 2.2.2.2", "host": "h"},
        None,
    )
    scope["headers"].append((b"host", b"other"))
    assert read_headers(scope, wanted)[1] == "host"
