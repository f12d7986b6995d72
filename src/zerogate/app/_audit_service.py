"""The audit log of a running Zerogate, and the recorders that feed it (docs/audit.md).

`audit_service` opens the log in `[audit] dir` for the life of the process. `AuditRecorder` is
the check's `DecisionRecorder`: it turns each `CheckRecord` into an entry and hands it to the
log's spool without waiting for the disk (a decision is answered before its entry is fsync'd,
and is written with the next group commit, milliseconds later). When the spool is full the
recorder raises, and the check turns an allow into a 503: an access that cannot be recorded is
not granted. `fan_out` lets several recorders (metrics, audit, the console's live feed) see
every decision.

Security events come two ways. The sign-in pages await `SecurityAuditor` for each sign-in and
second-factor attempt (an attempt that cannot be recorded gets an error, not a session). Changes
made anywhere — the CLI, the console, another replica — reach the change feed in the
transaction that made them; `audit_changes` follows the feed and records each revocation,
policy activation and identity change, resuming after the last one it recorded (a cursor file
beside the data; at least once: an entry repeated after a crash carries the same
`attrs.event_seq`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from zerogate.audit import AuditEntry, AuditLog, EventKind, Masks, Outcome
from zerogate.clock import Clock
from zerogate.config import Settings
from zerogate.control import TOPIC_ENTITY_CHANGED, TOPIC_POLICY_ACTIVATED, Event, EventBus
from zerogate.gateway.check import CheckRecord, DecisionRecorder, Verdict
from zerogate.idp import SecurityEvent, SecurityEventKind

log = logging.getLogger("zerogate.app")
AUDIT_CURSOR_FILE = "audit.cursor"  # in the data directory: the last change-feed event audited

# Every other verdict (unauthenticated, bad request, error) is a deny; `attrs.verdict` says which.
_OUTCOMES = {
    Verdict.ALLOW: Outcome.ALLOW,
    Verdict.DENY: Outcome.DENY,
    Verdict.STEP_UP: Outcome.STEP_UP,
}


@contextlib.asynccontextmanager
async def audit_service(settings: Settings, *, clock: Clock) -> AsyncIterator[AuditLog]:
    """The open audit log; closed (final checkpoint signed) when the block ends."""
    conf = settings.audit
    masks = Masks.of(redact=conf.mask, hash=conf.hash)
    async with AuditLog.open(
        settings.audit_dir,
        clock=clock,
        origin=conf.origin,
        masks=masks,
        max_pending=conf.max_pending,
        segment_bytes=conf.segment_bytes,
        checkpoint_interval_s=conf.checkpoint_interval_s,
        retention_days=conf.retention_days,
        retention_bytes=conf.retention_bytes,
    ) as audit:
        if audit.recovery.truncated_bytes:
            log.warning(
                "audit log: cut a torn tail of %d bytes from %s after a crash",
                audit.recovery.truncated_bytes,
                audit.recovery.segment,
            )
        yield audit


def decision_entry(record: CheckRecord) -> AuditEntry:
    """One check's decision as an audit entry (never a token, a cookie or a raw session id)."""
    attrs = {"status": str(record.status), "route": record.route or "", "reason": record.reason}
    if record.verdict not in _OUTCOMES:
        attrs["verdict"] = record.verdict.value
    if record.client_ip:
        attrs["ip"] = record.client_ip
    if record.session_id:
        attrs["session"] = record.session_id[:16]  # a prefix of its hash: enough to correlate
    if record.request_id:
        attrs["request_id"] = record.request_id[:128]
    if record.cached:
        attrs["cached"] = "true"
    if record.stale:
        attrs["stale"] = "true"
    if record.error:
        attrs["error"] = record.error
    return AuditEntry(
        kind=EventKind.DECISION,
        decision=_OUTCOMES.get(record.verdict, Outcome.DENY),
        decision_id=record.decision_id,
        trace_id=trace_id_of(record.traceparent),
        principal=record.principal or "",
        resource=f'Route::"{record.route}"' if record.route else "",
        action=record.action,
        policies=tuple(record.policy_ids),
        # The explanation when the PDP gave one ("why denied"), else the check's reason code.
        reason=record.explanation or record.reason,
        policy_revision=record.bundle_hash or "",
        latency_us=round(record.latency_s * 1_000_000),
        attrs={k: v for k, v in attrs.items() if v},
    )


def trace_id_of(traceparent: str | None) -> str:
    """The trace id of a W3C `traceparent` (version 00), or "" when absent or malformed."""
    if not traceparent:
        return ""
    parts = traceparent.strip().split("-")
    if len(parts) < 4 or len(parts[0]) != 2 or parts[0] == "ff":
        return ""
    trace = parts[1]
    if len(trace) != 32 or trace.strip("0") == "":
        return ""
    try:
        int(trace, 16)
    except ValueError:
        return ""
    return trace if trace == trace.lower() else ""


class AuditRecorder:
    """The check's recorder into the audit log (see the module docstring)."""

    def __init__(self, audit: AuditLog) -> None:
        self._audit = audit

    def __call__(self, record: CheckRecord) -> None:
        written = self._audit.submit(decision_entry(record))
        written.add_done_callback(_written)


def _written(future: asyncio.Future[int]) -> None:
    # A failed write stops the log (later submits raise, so allows become 503s) and is logged
    # once by the log itself; reading the exception here keeps asyncio from logging it again.
    if not future.cancelled():
        future.exception()


def fan_out(*recorders: DecisionRecorder | None) -> DecisionRecorder | None:
    """One recorder calling each of `recorders` in turn (None ones left out); the first that
    raises stops the rest and fails the check's recording (an allow becomes a 503)."""
    present: Sequence[DecisionRecorder] = tuple(r for r in recorders if r is not None)
    if not present:
        return None
    if len(present) == 1:
        return present[0]

    def record(record: CheckRecord) -> None:
        for recorder in present:
            recorder(record)

    return record


class SecurityAuditor:
    """The sign-in pages' `SecurityEvents`: each attempt, durably, before the answer."""

    def __init__(self, audit: AuditLog) -> None:
        self._audit = audit

    async def __call__(self, event: SecurityEvent) -> None:
        await self._audit.append(security_entry(event))


_SECURITY_KINDS = {
    SecurityEventKind.LOGIN: (EventKind.LOGIN, "sign_in"),
    SecurityEventKind.MFA: (EventKind.MFA, "second_factor"),
    SecurityEventKind.TOKEN: (EventKind.TOKEN, "token"),
}


def security_entry(event: SecurityEvent) -> AuditEntry:
    attrs = {"ip": event.ip, "methods": " ".join(event.methods), "client_id": event.client_id}
    if event.user_id:
        attrs["user_id"] = event.user_id
    if event.step_up:
        attrs["step_up"] = "true"
    kind, action = _SECURITY_KINDS[event.kind]
    return AuditEntry(
        kind=kind,
        decision=Outcome.SUCCESS if event.ok else Outcome.FAILURE,
        principal=f'User::"{event.username}"' if event.username else "",
        resource=f'Client::"{event.client_id}"' if event.client_id else "",
        action=action,
        reason=event.reason,
        attrs={k: v for k, v in attrs.items() if v},
    )


# Identity changes after which sessions and tokens stop working are revocations; changes of a
# user's own factors are MFA events; the rest is administration.
_REVOKING = {"sessions_revoked", "user_disabled", "user_deleted"}
_FACTORS = {
    "totp_enrolled",
    "totp_removed",
    "recovery_codes_generated",
    "recovery_code_used",
    "passkey_registered",
    "passkey_removed",
}


def change_entry(event: Event) -> AuditEntry | None:
    """A change-feed event as an audit entry; None for topics that are not security events."""
    payload = event.payload
    attrs = {"event_seq": str(event.seq), "recorded_at": event.created_at.isoformat()}
    actor = payload.get("actor")
    principal = str(actor) if isinstance(actor, str) else ""
    if event.topic == TOPIC_POLICY_ACTIVATED:
        bundle = str(payload.get("bundle", ""))
        return AuditEntry(
            kind=EventKind.POLICY_ACTIVATION,
            decision=Outcome.SUCCESS,
            principal=principal,
            resource=f'Bundle::"{bundle}"',
            action="activate",
            policy_revision=bundle,
            attrs=attrs,
        )
    if event.topic != TOPIC_ENTITY_CHANGED:
        return None
    change = str(payload.get("change", ""))
    kind = (
        EventKind.REVOCATION
        if change in _REVOKING
        else EventKind.MFA
        if change in _FACTORS
        else EventKind.ADMIN
    )
    if isinstance(user_id := payload.get("user_id"), str):
        attrs["user_id"] = user_id
    sessions = payload.get("session_ids")
    if isinstance(sessions, list):
        attrs["sessions"] = str(len(sessions))
        # Prefixes of the sessions' hashes, as the decision entries name them.
        attrs["session_ids"] = " ".join(str(s)[:16] for s in sessions[:32])
    entity = f'{payload.get("type", "")}::"{payload.get("id", "")}"'
    return AuditEntry(
        kind=kind,
        decision=Outcome.SUCCESS,
        principal=principal,
        resource=entity,
        action=change,
        attrs=attrs,
    )


async def audit_changes(bus: EventBus, audit: AuditLog, cursor: Path) -> None:
    """Record every security-relevant change-feed event, from the one after `cursor` on."""
    after = _read_cursor(cursor)
    topics = [TOPIC_ENTITY_CHANGED, TOPIC_POLICY_ACTIVATED]
    async for event in bus.subscribe(topics=topics, after_seq=after):
        entry = change_entry(event)
        if entry is not None:
            await audit.append(entry)
        await asyncio.to_thread(_write_cursor, cursor, event.seq)


def _read_cursor(path: Path) -> int:
    try:
        return max(0, int(path.read_text().strip() or 0))
    except FileNotFoundError:
        return 0
    except ValueError:
        log.warning("audit: %s is not a number; recording the change feed from its start", path)
        return 0


def _write_cursor(path: Path, seq: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{seq}\n")
    tmp.replace(path)
