"""Turns PDP `Decision`s into AuthZEN evaluation responses, singly or as a batch under a semantic.

The wire shape is spelled out field by field rather than dumped from our dataclasses, so that
renaming an internal field can never silently change the public API (docs/authzen.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from zerogate.errors import ZerogateError
from zerogate.policy import (
    PDP,
    Decision,
    Request,
)

GENERIC_DENIAL = "access denied"


class EvaluationsSemantic(StrEnum):
    """How a batch runs (AuthZEN Access Evaluations API, `options.evaluations_semantic`)."""

    EXECUTE_ALL = "execute_all"
    DENY_ON_FIRST_DENY = "deny_on_first_deny"
    PERMIT_ON_FIRST_PERMIT = "permit_on_first_permit"


@dataclass(frozen=True, slots=True)
class Evaluations:
    """A translated batch; `batch` is False when the body had no `evaluations` array."""

    requests: tuple[Request, ...]
    semantic: EvaluationsSemantic = EvaluationsSemantic.EXECUTE_ALL
    batch: bool = True


def evaluation_json(decision: Decision) -> dict[str, Any]:
    """One evaluation response; denies carry the explanation for admins and a line for users."""
    admin: dict[str, Any] = {
        "outcome": decision.outcome.value,
        "policies": list(decision.policy_ids),
        "bundle": decision.bundle_hash,
    }
    if decision.errors or not decision.allowed:
        admin["errors"] = [e.as_dict() for e in decision.errors]
    context: dict[str, Any] = {"id": decision.decision_id, "reason_admin": admin}
    # `is True`, not truthiness: only a real boolean from the PDP may ever become a permit.
    if decision.allowed is True:
        return {"decision": True, "context": context}
    explanation = decision.explanation
    admin["explanation"] = None if explanation is None else explanation.as_dict()
    context["reason_user"] = {"en": explanation.summary if explanation else GENERIC_DENIAL}
    return {"decision": False, "context": context}


def run_evaluations(pdp: PDP, batch: Evaluations) -> list[dict[str, Any]]:
    """Decide in order; the short-circuiting semantics stop early (AuthZEN §7.1.2)."""
    semantic = batch.semantic
    results: list[dict[str, Any]] = []
    for request in batch.requests:
        try:
            decision = pdp.decide(request)
        except ZerogateError as exc:  # this evaluation's own problem: deny just this one
            results.append(error_evaluation_json(exc))
            allowed = False
        else:
            results.append(evaluation_json(decision))
            allowed = decision.allowed is True
        # An error counts as a deny here, as the specification's semantics say.
        if semantic is EvaluationsSemantic.DENY_ON_FIRST_DENY and not allowed:
            break
        if semantic is EvaluationsSemantic.PERMIT_ON_FIRST_PERMIT and allowed:
            break
    return results


def error_evaluation_json(error: ZerogateError) -> dict[str, Any]:
    """A batch item the PDP refused: denied, with the error in its context (AuthZEN §7.2.1)."""
    return {"decision": False, "context": {"error": {"status": error.status, **error.as_dict()}}}
