"""Failure messages for policy tests: expected vs actual first, then the evidence from the PDP."""

from __future__ import annotations

from collections.abc import Iterable

from zerogate._types import PolicyID
from zerogate.policy._compiled import PolicyBase
from zerogate.policy._model import Decision, Explanation, Request
from zerogate.policy.testing._file import Expectation, TestCase
from zerogate.policy.testing._values import zone


def request_text(request: Request) -> str:
    """`User::"pat" GET Route::"payroll-api"`: the request the way people talk about it."""
    action = request.action.id if request.action.type == "Action" else str(request.action)
    return f"{request.principal} {action} {request.resource}"


def failure_message(
    case: TestCase, expect: Expectation, decision: Decision, base: PolicyBase
) -> str:
    """Multi-line: a one-line summary (expected vs actual), then what the PDP saw and why.

    The first line stands alone (JUnit uses it as the failure message).
    """
    actual = "allow" if decision.allowed else "deny"
    got = f"{actual} ({decision.outcome.value})"
    lines = [f"expected {_expected(expect)}, got {got}"]
    if case.request is not None:
        local = case.now.astimezone(zone(case.timezone))
        lines.append(
            f"  request:  {request_text(case.request)} at {local.isoformat()} ({case.timezone})"
        )
    wanted = _expected(expect)
    if expect.policies is not None:
        wanted += f", policies [{_ids(expect.policies)}]"
    lines.append(f"  expected: {wanted}")
    lines.append(f"  actual:   {got}, policies [{_ids(decision.policy_ids)}]")
    for pid in decision.policy_ids:
        source = base.source_of(pid)
        reason = f": {source.reason}" if source.reason else ""
        lines.append(f"  determined by {source.effect} `{pid}` ({source.location}){reason}")
    for error in decision.errors:
        lines.append(f"  policy error in `{error.policy_id}`: {error.message}")
    if decision.explanation is not None:
        lines.extend(f"  {line}" for line in explanation_lines(decision.explanation))
    return "\n".join(lines)


def explanation_lines(explanation: Explanation) -> list[str]:
    """The explanation of a deny as indented text lines (shared by tests and the CLI)."""
    lines = [f"why: {explanation.summary}"]
    for forbid in explanation.forbids:
        reason = f": {forbid.reason}" if forbid.reason else ""
        lines.append(f"  forbid `{forbid.policy_id}` ({forbid.location}){reason}")
        lines.extend(f"    error: {c.error}" for c in forbid.failed if c.error)
    for permit in explanation.closest_permits:
        reason = f": {permit.reason}" if permit.reason else ""
        lines.append(f"  closest permit `{permit.policy_id}` ({permit.location}){reason}")
        for check in permit.failed:
            error = f"  (error: {check.error})" if check.error else ""
            lines.append(f"    needs {check.kind.value}: {check.text}{error}")
    return lines


def _expected(expect: Expectation) -> str:
    text = expect.decision
    if expect.outcome is not None:
        text += f" ({expect.outcome.value})"
    return text


def _ids(ids: Iterable[PolicyID]) -> str:
    return ", ".join(sorted(ids))
