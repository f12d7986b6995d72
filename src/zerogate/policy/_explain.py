"""Why-denied explanations: which forbid fired, or which permits came closest and what they lacked.

For "no permit matched", each candidate permit in the request's slice is split into parts: its
scope constraints, each top-level conjunct of a `when` and each top-level disjunct of an `unless`.
Every part becomes a probe policy of its own; one Cedar call over the probe set tells which parts
hold. A part that errors in isolation (for example a conjunct that its neighbour guarded with
`has`) is reported as failed with the error. Probe sets are built once per slice and cached.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from cedarpy import _internal as cedar
from cedarpy import pst

from zerogate._types import PolicyID
from zerogate.policy._compiled import PolicyBase, pst_uid
from zerogate.policy._model import (
    ConditionCheck,
    Explanation,
    Outcome,
    PartKind,
    PolicyEvalError,
    PolicyExplanation,
)
from zerogate.policy._render import render_condition, render_scope

MAX_CLOSEST = 3
PROBE_CACHE_SIZE = 1024
_ANY = pst.ScopeAny()


@dataclass(frozen=True, slots=True)
class _Part:
    policy_id: PolicyID
    kind: PartKind
    text: str


class Explainer:
    """Builds explanations for denies against one policy base."""

    def __init__(self, base: PolicyBase) -> None:
        self._base = base
        # Per policy, for the bundle's lifetime (bounded by the number of policies).
        self._trees: dict[PolicyID, pst.Template] = {}
        self._owners: dict[PolicyID, tuple[str, str] | None] = {}
        self._probes: dict[frozenset[PolicyID], tuple[cedar.PolicySet, dict[str, _Part]]] = {}

    def explain(
        self,
        outcome: Outcome,
        determining: Sequence[PolicyID],
        errors: Sequence[PolicyEvalError],
        candidates: frozenset[PolicyID],
        cedar_request: dict[str, Any],
        entities: cedar.Entities,
        schema: cedar.Schema | None,
    ) -> Explanation:
        if outcome is Outcome.POLICY_ERROR:
            failed = {e.policy_id: e.message for e in errors}
            forbids = tuple(self._fired(pid, failed.get(pid)) for pid in determining)
            first = forbids[0]
            return Explanation(
                summary=f"denied: forbid `{first.policy_id}` could not be evaluated "
                f"({failed.get(first.policy_id)}); failing closed",
                forbids=forbids,
            )
        if outcome is Outcome.FORBIDDEN:
            forbids = tuple(self._fired(pid, None) for pid in determining)
            first = forbids[0]
            because = f": {first.reason}" if first.reason else ""
            return Explanation(
                summary=f"denied by forbid `{first.policy_id}`{because}", forbids=forbids
            )
        principal = cedar_request["principal"]
        permits = frozenset(
            p
            for p in candidates
            if self._base.effects.get(p) == "permit" and not self._someone_elses(p, principal)
        )
        closest = self._closest(permits, cedar_request, entities, schema)
        if not closest:
            return Explanation(summary="denied: no policy grants access to this resource")
        best = closest[0]
        needs = "; ".join(c.text for c in best.failed) or "nothing"
        return Explanation(
            summary=f"denied: no policy permits this; closest is `{best.policy_id}`, "
            f"which also needs: {needs}",
            closest_permits=closest,
        )

    def _fired(self, policy_id: PolicyID, error: str | None) -> PolicyExplanation:
        source = self._base.source_of(policy_id)
        failed = () if error is None else (ConditionCheck(PartKind.WHEN, "", False, error),)
        return PolicyExplanation(
            policy_id=policy_id,
            effect="forbid",
            location=source.location,
            reason=source.reason,
            failed=failed,
            parts=0,
        )

    def _someone_elses(self, policy_id: PolicyID, principal: dict[str, str]) -> bool:
        """A grant scoped to another principal of the requester's own type (another user's
        personal grant). Naming it would tell the requester who holds access, and it could never
        apply to them, so it is no candidate. Group-scoped permits stay: "you need group X"."""
        if policy_id in self._owners:
            owner = self._owners[policy_id]
        else:
            entity = getattr(self._concrete(policy_id).principal, "entity", None)
            owner = (str(entity.type), entity.id) if isinstance(entity, pst.EntityUid) else None
            self._owners[policy_id] = owner
        if owner is None:
            return False
        return owner[0] == principal["type"] and owner[1] != principal["id"]

    def _closest(
        self,
        permits: frozenset[PolicyID],
        cedar_request: dict[str, Any],
        entities: cedar.Entities,
        schema: cedar.Schema | None,
    ) -> tuple[PolicyExplanation, ...]:
        if not permits:
            return ()
        probe, parts = self._probe_for(permits)
        # Same request as the decision call: typed context and no schema pass when it had none.
        raw = cedar.is_authorized_batch([cedar_request], probe, entities, schema, False)[0]
        diagnostics = orjson.loads(raw)["diagnostics"]
        holds = set(diagnostics.get("reason", ()))
        errors: dict[str, str] = {}
        for message in diagnostics.get("errors", ()):
            part_id, _, detail = message.partition("`: ")
            errors[part_id.rpartition("`")[2]] = detail
        # Rank on counts first; only the closest few become objects.
        total: dict[PolicyID, int] = dict.fromkeys(permits, 0)
        failing: dict[PolicyID, int] = dict.fromkeys(permits, 0)
        for part_id, part in parts.items():
            total[part.policy_id] += 1
            if part_id not in holds:
                failing[part.policy_id] += 1
        best = sorted(permits, key=lambda pid: (failing[pid], -total[pid], pid))[:MAX_CLOSEST]
        closest = []
        for pid in best:
            failed = tuple(
                ConditionCheck(part.kind, part.text, False, errors.get(part_id))
                for part_id, part in parts.items()
                if part.policy_id == pid and part_id not in holds
            )
            source = self._base.source_of(pid)
            closest.append(
                PolicyExplanation(pid, "permit", source.location, source.reason, failed, total[pid])
            )
        return tuple(closest)

    def _probe_for(self, permits: frozenset[PolicyID]) -> tuple[cedar.PolicySet, dict[str, _Part]]:
        cached = self._probes.get(permits)
        if cached is None:
            if len(self._probes) >= PROBE_CACHE_SIZE:
                del self._probes[next(iter(self._probes))]
            cached = self._probes[permits] = self._build_probe(permits)
        return cached

    def _build_probe(
        self, permits: frozenset[PolicyID]
    ) -> tuple[cedar.PolicySet, dict[str, _Part]]:
        nodes: dict[str, pst.Template] = {}
        parts: dict[str, _Part] = {}
        for pid in sorted(permits):
            node = self._concrete(pid)
            pieces: list[tuple[PartKind, pst.Template]] = []
            if not isinstance(node.principal, pst.ScopeAny):
                pieces.append((PartKind.PRINCIPAL, _probe(node, principal=node.principal)))
            if not isinstance(node.action, pst.ScopeAny):
                pieces.append((PartKind.ACTION, _probe(node, action=node.action)))
            if not isinstance(node.resource, pst.ScopeAny):
                pieces.append((PartKind.RESOURCE, _probe(node, resource=node.resource)))
            for clause in node.clauses:
                if isinstance(clause, pst.When):
                    for conj in _flatten(clause.expr, "and"):
                        pieces.append((PartKind.WHEN, _probe(node, clause=pst.When(conj))))
                else:
                    for disj in _flatten(clause.expr, "or"):
                        pieces.append((PartKind.UNLESS, _probe(node, clause=pst.Unless(disj))))
            for i, (kind, probe) in enumerate(pieces):
                part_id = f"{pid}#{i}"
                nodes[part_id] = dataclasses.replace(probe, id=part_id)
                text = (
                    render_scope(kind, probe) if kind in _SCOPE_KINDS else render_condition(probe)
                )
                parts[part_id] = _Part(pid, kind, text)
        tree = pst.PolicySet(
            templates=pst.FrozenMap({}), static_policies=pst.FrozenMap(nodes), template_links=()
        )
        return cedar.PolicySet.from_pst(tree), parts

    def _concrete(self, pid: PolicyID) -> pst.Template:
        """The policy's tree with any template slots filled from its link (built once)."""
        node = self._trees.get(pid)
        if node is None:
            node = self._trees[pid] = self._fill(pid)
        return node

    def _fill(self, pid: PolicyID) -> pst.Template:
        link = self._base.links.get(pid)
        node = self._base.source_of(pid).node
        if link is None:
            return node

        def fill(c: pst.PrincipalOrResourceConstraint) -> pst.PrincipalOrResourceConstraint:
            entity = getattr(c, "entity", None)
            if isinstance(entity, pst.Slot):
                uid = pst_uid(link.values[f"?{entity.name}"])
                if isinstance(c, pst.ScopeEq):
                    return pst.ScopeEq(uid)
                if isinstance(c, pst.ScopeIn):
                    return pst.ScopeIn(uid)
                if isinstance(c, pst.ScopeIsIn):
                    return pst.ScopeIsIn(c.entity_type, uid)
            return c

        return pst.Template(
            id=pid,
            effect=node.effect,
            principal=fill(node.principal),
            action=node.action,
            resource=fill(node.resource),
            clauses=node.clauses,
            annotations=pst.FrozenMap({}),
        )


_SCOPE_KINDS = (PartKind.PRINCIPAL, PartKind.ACTION, PartKind.RESOURCE)


def _flatten(expr: pst.Expr, op: str) -> list[pst.Expr]:
    if isinstance(expr, pst.BinaryOp) and expr.op == op:
        return _flatten(expr.left, op) + _flatten(expr.right, op)
    return [expr]


def _probe(
    node: pst.Template,
    *,
    principal: pst.PrincipalOrResourceConstraint = _ANY,
    action: pst.ActionConstraint = _ANY,
    resource: pst.PrincipalOrResourceConstraint = _ANY,
    clause: pst.Clause | None = None,
) -> pst.Template:
    return pst.Template(
        id=node.id,
        effect="permit",
        principal=principal,
        action=action,
        resource=resource,
        clauses=() if clause is None else (clause,),
        annotations=pst.FrozenMap({}),
    )
