"""What `zerogate up` writes to the audit log: each check's decision (with the request's trace
id), the sign-in pages' security events and the change feed's revocations, policy activations
and identity changes (issue 5 item 1; standards OBS-01/OBS-02)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest

from zerogate._types import BundleHash, DecisionID, PolicyID
from zerogate.app._audit_service import (
    AuditRecorder,
    audit_changes,
    decision_entry,
    fan_out,
    security_entry,
    trace_id_of,
)
from zerogate.audit import AuditError, AuditLog, EventKind, NoteSigner, Outcome, read_records
from zerogate.clock import SystemClock
from zerogate.control import TOPIC_ENTITY_CHANGED, TOPIC_POLICY_ACTIVATED, InProcessBus
from zerogate.gateway.check import CheckRecord, Verdict
from zerogate.idp import SecurityEvent, SecurityEventKind

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SESSION = "9f" * 32


def record(**changes: Any) -> CheckRecord:
    fields: dict[str, Any] = {
        "decision_id": DecisionID("d-1"),
        "verdict": Verdict.DENY,
        "reason": "no_permit",
        "status": 403,
        "route": "wiki",
        "action": "GET",
        "principal": 'User::"alice"',
        "session_id": SESSION,
        "client_ip": "198.51.100.7",
        "request_id": "req-1",
        "traceparent": f"00-{TRACE}-00f067aa0ba902b7-01",
        "policy_ids": (PolicyID("wiki-readers"),),
        "bundle_hash": BundleHash("ab" * 32),
        "cached": True,
        "latency_s": 0.000412,
        "explanation": "no policy permits GET on wiki for alice",
    }
    fields.update(changes)
    return CheckRecord(**fields)


def test_a_decision_entry_says_who_what_why_under_which_revision_and_in_which_trace() -> None:
    entry = decision_entry(record())
    assert (entry.kind, entry.decision) == (EventKind.DECISION, Outcome.DENY)
    assert entry.decision_id == "d-1"
    assert entry.trace_id == TRACE
    assert (entry.principal, entry.resource, entry.action) == (
        'User::"alice"',
        'Route::"wiki"',
        "GET",
    )
    assert entry.policies == ("wiki-readers",)
    assert entry.reason.startswith("no policy permits")  # the explanation
    assert entry.attrs["reason"] == "no_permit"  # the check's stable code
    assert entry.policy_revision == "ab" * 32
    assert entry.latency_us == 412
    assert entry.attrs["status"] == "403"
    assert entry.attrs["cached"] == "true"
    assert entry.attrs["session"] == SESSION[:16]  # a prefix: enough to correlate, not the id
    assert SESSION not in str(entry.fields())


@pytest.mark.parametrize("verdict", list(Verdict))
def test_every_verdict_is_recorded(verdict: Verdict) -> None:
    """An unauthenticated or failed check is a deny, and says which (telemetry completeness
    counts every decision: none may fail to become an entry)."""
    entry = decision_entry(record(verdict=verdict))
    expected = {Verdict.ALLOW: Outcome.ALLOW, Verdict.STEP_UP: Outcome.STEP_UP}
    assert entry.decision is expected.get(verdict, Outcome.DENY)
    plain = verdict in (Verdict.ALLOW, Verdict.DENY, Verdict.STEP_UP)
    assert entry.attrs.get("verdict") == (None if plain else verdict.value)


@pytest.mark.parametrize(
    "traceparent",
    [
        None,
        "",
        "garbage",
        f"ff-{TRACE}-00f067aa0ba902b7-01",  # version ff is invalid
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # all-zero trace id
        f"00-{TRACE.upper()}-00f067aa0ba902b7-01",  # upper case is invalid
        "00-4bf92f3577b34da6a3ce929d0e0e473z-00f067aa0ba902b7-01",
        "00-4bf92f35-00f067aa0ba902b7-01",
    ],
)
def test_a_malformed_traceparent_leaves_the_trace_id_empty(traceparent: str | None) -> None:
    assert trace_id_of(traceparent) == ""
    assert decision_entry(record(traceparent=traceparent)).trace_id == ""


def test_fan_out_calls_each_recorder_and_a_failure_stops_the_recording() -> None:
    seen: list[str] = []
    assert fan_out(None) is None
    both = fan_out(lambda r: seen.append("metrics"), None, lambda r: seen.append("audit"))
    assert both is not None
    both(record())
    assert seen == ["metrics", "audit"]

    def broken(_: CheckRecord) -> None:
        raise AuditError("the audit spool is full", code="audit_spool_full")

    failing = fan_out(lambda r: seen.append("metrics"), broken)
    assert failing is not None
    with pytest.raises(AuditError):
        failing(record())


def test_the_recorder_writes_decisions_and_refuses_when_the_spool_is_full(tmp_path: Path) -> None:
    async def main() -> None:
        signer = NoteSigner.generate("test.zerogate/audit")
        async with AuditLog.open(
            tmp_path, signer=signer, checkpoint_interval_s=0, max_pending=2
        ) as log:
            recorder = AuditRecorder(log)
            recorder(record(decision_id=DecisionID("d-1")))
            recorder(record(decision_id=DecisionID("d-2")))
            with pytest.raises(AuditError) as full:  # the check turns an allow into a 503
                recorder(record(decision_id=DecisionID("d-3")))
            assert full.value.code == "audit_spool_full"

    asyncio.run(main())
    assert [r.entry.decision_id for r in read_records(tmp_path)] == ["d-1", "d-2"]


def test_security_events_become_login_and_mfa_entries() -> None:
    failed = security_entry(
        SecurityEvent(
            SecurityEventKind.LOGIN,
            False,
            ("pwd",),
            "198.51.100.7",
            user_id="u-1",
            reason="bad_password",
        )
    )
    assert (failed.kind, failed.decision, failed.principal) == (
        EventKind.LOGIN,
        Outcome.FAILURE,
        "",
    )
    assert failed.attrs == {"ip": "198.51.100.7", "methods": "pwd", "user_id": "u-1"}
    assert failed.reason == "bad_password"
    mfa = security_entry(
        SecurityEvent(SecurityEventKind.MFA, True, ("otp",), "::1", username="ada", step_up=True)
    )
    assert (mfa.kind, mfa.decision, mfa.principal) == (
        EventKind.MFA,
        Outcome.SUCCESS,
        'User::"ada"',
    )
    assert mfa.attrs["step_up"] == "true"


def test_the_change_feed_is_audited_once_and_resumes_after_a_restart(tmp_path: Path) -> None:
    log_dir, cursor = tmp_path / "audit", tmp_path / "audit.cursor"
    signer = NoteSigner.generate("test.zerogate/audit")

    async def follow(bus: InProcessBus, until: int, last_seq: int) -> None:
        async with AuditLog.open(log_dir, signer=signer, checkpoint_interval_s=0) as log:
            task = asyncio.create_task(audit_changes(bus, log, cursor))
            for _ in range(1000):  # the follower runs beside this loop: poll its output
                seen = cursor.read_text().strip() if cursor.exists() else ""
                if len(list(read_records(log_dir))) >= until and seen == str(last_seq):
                    break
                await asyncio.sleep(0.01)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def main() -> None:
        bus = InProcessBus(clock=SystemClock())
        await bus.publish(
            TOPIC_ENTITY_CHANGED,
            {
                "type": "User",
                "id": "alice",
                "change": "sessions_revoked",
                "user_id": "u-1",
                "session_ids": [SESSION],
            },
        )
        await bus.publish("something.else", {"x": 1})  # not a security event: skipped
        await bus.publish(TOPIC_POLICY_ACTIVATED, {"bundle": "cd" * 32, "actor": "ops"})
        await follow(bus, until=2, last_seq=3)
        await bus.publish(
            TOPIC_ENTITY_CHANGED, {"type": "User", "id": "bob", "change": "user_created"}
        )
        await bus.publish(
            TOPIC_ENTITY_CHANGED, {"type": "User", "id": "bob", "change": "totp_enrolled"}
        )
        await follow(bus, until=4, last_seq=5)  # a restart: resumes after the cursor

    asyncio.run(main())
    entries = [r.entry for r in read_records(log_dir)]
    assert [(e.kind, e.action) for e in entries] == [
        (EventKind.REVOCATION, "sessions_revoked"),
        (EventKind.POLICY_ACTIVATION, "activate"),
        (EventKind.ADMIN, "user_created"),
        (EventKind.MFA, "totp_enrolled"),
    ]
    revoked, activated = entries[0], entries[1]
    assert revoked.resource == 'User::"alice"'
    assert revoked.attrs["session_ids"] == SESSION[:16]
    assert revoked.attrs["event_seq"] == "1"
    assert (activated.principal, activated.policy_revision) == ("ops", "cd" * 32)
    assert cursor.read_text().strip() == "5"


def test_token_requests_become_token_entries_naming_the_client() -> None:
    issued = security_entry(
        SecurityEvent(
            SecurityEventKind.TOKEN,
            True,
            ("refresh_token",),
            "127.0.0.1",
            user_id="usr_1",
            username="ada",
            client_id="web-app",
        )
    )
    assert (issued.kind, issued.decision, issued.action) == (
        EventKind.TOKEN,
        Outcome.SUCCESS,
        "token",
    )
    assert (issued.principal, issued.resource) == ('User::"ada"', 'Client::"web-app"')
    assert issued.attrs["methods"] == "refresh_token"
