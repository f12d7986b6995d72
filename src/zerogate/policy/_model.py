"""The PDP's own value types: what a request is, what a decision and its explanation are."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from zerogate._types import BundleHash, DecisionID, PolicyID


@dataclass(frozen=True, slots=True)
class EntityUID:
    """A Cedar entity reference: `User::"alice"` is EntityUID("User", "alice")."""

    type: str
    id: str

    def __str__(self) -> str:
        escaped = self.id.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.type}::"{escaped}"'

    def as_json(self) -> dict[str, str]:
        return {"type": self.type, "id": self.id}


@dataclass(frozen=True, slots=True)
class Entity:
    """An entity the caller knows about: its attributes and the groups (parents) it belongs to."""

    uid: EntityUID
    attrs: Mapping[str, Any] = field(default_factory=dict)
    parents: tuple[EntityUID, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "uid": self.uid.as_json(),
            "attrs": dict(self.attrs),
            "parents": [p.as_json() for p in self.parents],
        }


@dataclass(frozen=True, slots=True)
class Request:
    """One authorization question: may `principal` do `action` on `resource`, in `context`?

    `entities` carries what the caller knows about the principal (its groups, attributes) and
    the resource; the PDP merges it with the static entities of the active bundle.
    """

    principal: EntityUID
    action: EntityUID
    resource: EntityUID
    context: Mapping[str, Any] = field(default_factory=dict)
    entities: tuple[Entity, ...] = ()


class Outcome(StrEnum):
    """Why a decision came out as it did; stable, shows in APIs and audit."""

    ALLOWED = "allowed"
    FORBIDDEN = "forbidden"  # a forbid policy matched
    NO_PERMIT = "no_permit"  # nothing granted access (Cedar's default deny)
    POLICY_ERROR = "policy_error"  # a forbid could not be evaluated: fail closed


class PartKind(StrEnum):
    """Which part of a policy a condition check refers to."""

    PRINCIPAL = "principal"
    ACTION = "action"
    RESOURCE = "resource"
    WHEN = "when"
    UNLESS = "unless"


@dataclass(frozen=True, slots=True)
class ConditionCheck:
    """One scope constraint or one `when`/`unless` conjunct and how it evaluated."""

    kind: PartKind
    text: str
    holds: bool
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "text": self.text,
            "holds": self.holds,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class PolicyExplanation:
    """How one policy fared against the request; `failed` lists what stopped it applying."""

    policy_id: PolicyID
    effect: str
    location: str
    reason: str | None
    failed: tuple[ConditionCheck, ...]
    parts: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "policy_id": self.policy_id,
            "effect": self.effect,
            "location": self.location,
            "reason": self.reason,
            "failed": [c.as_dict() for c in self.failed],
            "parts": self.parts,
        }


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a request was denied, for people: a summary line plus the evidence."""

    summary: str
    forbids: tuple[PolicyExplanation, ...] = ()
    closest_permits: tuple[PolicyExplanation, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The one JSON shape of an explanation (AuthZEN, CLI, and later audit)."""
        return {
            "summary": self.summary,
            "forbids": [p.as_dict() for p in self.forbids],
            "closest_permits": [p.as_dict() for p in self.closest_permits],
        }


@dataclass(frozen=True, slots=True)
class PolicyEvalError:
    """A policy that raised an error while evaluating (Cedar skips those; we report them)."""

    policy_id: PolicyID
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"policy_id": self.policy_id, "message": self.message}


@dataclass(frozen=True, slots=True)
class Decision:
    """The PDP's answer: allow or deny, which policies determined it, and for denies, why."""

    allowed: bool
    outcome: Outcome
    decision_id: DecisionID
    policy_ids: tuple[PolicyID, ...]
    errors: tuple[PolicyEvalError, ...]
    bundle_hash: BundleHash
    explanation: Explanation | None = None
    cached: bool = False
