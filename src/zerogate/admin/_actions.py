"""Every admin action goes into the audit log before it is answered, and fails closed.

`audited` writes two `ADMIN` entries around the action, both carrying the decision id of the
console check that let the request in:

1. the intent (`decision = allow`, `attrs.phase = "intent"`), before anything changes. If the
   log cannot take it, the action is not attempted and the caller gets 503 `audit_unavailable`;
2. the outcome (`success`, or `failure` with the error's code as `reason`), once the action has
   run. If the log cannot take it, the caller gets 503 `audit_unavailable` as well, whose
   message says whether the action happened: the log then holds its intent and nothing after.

An action that is not recorded is thus never reported as done, and an action that is done is
always preceded by its intent in the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from zerogate.admin._http import Actor
from zerogate.audit import AuditEntry, AuditLog, EventKind, Outcome
from zerogate.errors import ZerogateError

T = TypeVar("T")
APPEND_TIMEOUT_S = 5.0  # a log that takes longer is treated as down: the action waits on it
log = logging.getLogger("zerogate.admin")


async def audited(
    audit: AuditLog,
    actor: Actor,
    *,
    action: str,
    resource: str,
    attrs: Mapping[str, str] | None = None,
    act: Callable[[], Awaitable[T]],
) -> tuple[T, int, int]:
    """Run `act` between its intent and outcome entries (see the module docstring); returns
    its value and the two entries' sequence numbers. The action's own ZerogateError passes
    through once its failure is recorded."""
    extra = dict(attrs or {})
    if actor.ip:
        extra["ip"] = actor.ip[:64]

    def entry(decision: Outcome, phase: str, reason: str = "") -> AuditEntry:
        return AuditEntry(
            kind=EventKind.ADMIN,
            decision=decision,
            decision_id=actor.decision_id,
            principal=actor.principal,
            resource=resource,
            action=action,
            reason=reason,
            attrs={**extra, "phase": phase},
        )

    intent = await _append(audit, entry(Outcome.ALLOW, "intent"), done=False, action=action)
    try:
        value = await act()
    except ZerogateError as exc:
        failure = entry(Outcome.FAILURE, "outcome", exc.code)
        await _append(audit, failure, done=False, action=action)
        raise
    except Exception:
        failure = entry(Outcome.FAILURE, "outcome", "internal_error")
        await _append(audit, failure, done=False, action=action)
        raise
    outcome = await _append(audit, entry(Outcome.SUCCESS, "outcome"), done=True, action=action)
    return value, intent, outcome


async def _append(audit: AuditLog, entry: AuditEntry, *, done: bool, action: str) -> int:
    try:
        async with asyncio.timeout(APPEND_TIMEOUT_S):
            seq = await audit.append(entry)
        if seq is None:  # dropped: a log configured to drop when full did so
            raise RuntimeError("the audit log dropped the entry")
        return seq
    except Exception as exc:
        log.error(
            "admin action not recorded",
            extra={
                "action": action,
                "phase": entry.attrs.get("phase"),
                "error": type(exc).__name__,
            },
        )
        if done:
            message = (
                f"{action} was done, but its outcome could not be written to the audit log "
                "(the log holds its intent); check the log before trying again"
            )
        else:
            message = f"{action} was not done: the audit log cannot record it right now"
        raise ZerogateError(message, code="audit_unavailable", status=503) from exc


__all__ = ["APPEND_TIMEOUT_S", "audited"]
