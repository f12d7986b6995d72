"""The Cedar engine: turns a `Request` into a `Decision` against one compiled bundle."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson
from cedarpy import _internal as cedar

from zerogate._types import BundleHash, DecisionID, PolicyID
from zerogate.errors import ErrorDetail, InvalidInput
from zerogate.policy._compiled import PolicyBase
from zerogate.policy._entities import EntityGraph
from zerogate.policy._explain import Explainer
from zerogate.policy._model import (
    Decision,
    Entity,
    EntityUID,
    Outcome,
    PolicyEvalError,
    Request,
)
from zerogate.policy._shapes import RequestShapes
from zerogate.policy._slicing import request_keys

_ERROR_RE = re.compile(
    r"^error while evaluating policy `(?P<id>(?:[^`\\]|\\.)*)`: (?P<msg>.*)$", re.S
)
ENTITY_HANDLE_CACHE = 1024


class Engine:
    """Evaluates requests against one immutable policy base; safe to share across tasks."""

    def __init__(
        self,
        base: PolicyBase,
        *,
        schema: cedar.Schema,
        entities: tuple[Entity, ...],
        bundle_hash: BundleHash,
        slicing: bool = True,
        check_shapes_once: bool = True,
    ) -> None:
        self.base = base
        self.schema = schema
        self.bundle_hash = bundle_hash
        self.slicing = slicing
        self.graph = EntityGraph(entities)
        self._base_entities = cedar.Entities.from_json_str(
            orjson.dumps([e.as_json() for e in entities]).decode(), schema
        )
        self._entity_handles: dict[bytes, cedar.Entities] = {}
        self._explainer = Explainer(base)
        self._shapes = RequestShapes(schema, self._base_entities) if check_shapes_once else None

    def decide(
        self, request: Request, *, decision_id: DecisionID, explain: bool = True
    ) -> Decision:
        """Evaluate one request. Raises InvalidInput when it does not match the schema."""
        entities = self._entities_for(request.entities)
        ids = self._slice_ids(request) if self.slicing else None
        if ids is None:
            policies, reads = self.base.full, self.base.full_reads
        else:
            policies, reads = self.base.slice(ids)
        shapes = self._shapes
        # A request whose shape was validated sends typed values, and only the context records
        # these policies read, and skips Cedar's schema pass.
        plan = shapes.plan_for(request) if shapes is not None else None
        typed = None if plan is None else RequestShapes.render(request, plan, keep=reads)
        schema = None if typed is not None else self.schema
        cedar_request = _cedar_request(request, typed)
        raw = cedar.is_authorized_batch([cedar_request], policies, entities, schema, False)[0]
        result = orjson.loads(raw)
        verdict = result["decision"]
        diagnostics = result["diagnostics"]
        if verdict == "NoDecision":
            raise InvalidInput(
                "request does not match the policy schema",
                code="request_invalid",
                details=[
                    ErrorDetail("request_invalid", "request", m) for m in diagnostics["errors"]
                ],
            )
        # Cedar lists these in hash order; bundle order makes decisions (and their explanations
        # and audit records) the same on every call and every replica.
        order = self.base.order
        determining = tuple(sorted((PolicyID(p) for p in diagnostics["reason"]), key=order))
        errors = tuple(
            sorted(
                (_eval_error(m) for m in diagnostics["errors"]), key=lambda e: order(e.policy_id)
            )
        )
        effects = self.base.effects
        # Cedar skips a policy that errors. For a forbid that would silently drop a guard (a
        # posture check that could not be evaluated), so we fail closed instead.
        failed_forbids = tuple(e.policy_id for e in errors if effects.get(e.policy_id) == "forbid")
        if failed_forbids:
            allowed, outcome, determining = False, Outcome.POLICY_ERROR, failed_forbids
        elif verdict == "Allow":
            allowed, outcome = True, Outcome.ALLOWED
        else:
            allowed = False
            outcome = Outcome.FORBIDDEN if determining else Outcome.NO_PERMIT
        explanation = None
        if not allowed and explain:
            # Candidates for "what would grant this": every policy for this resource, whoever
            # its principal, so a non-member learns which group or grant they lack.
            candidates = (
                self.base.index.for_resource(self._resource_keys(request, _overlay(request)))
                if self.slicing
                else frozenset(effects)
            )
            if plan is not None and reads is not None:
                # The candidates are other policies: they get the whole (typed) context.
                cedar_request = _cedar_request(request, RequestShapes.render(request, plan))
            explanation = self._explainer.explain(
                outcome, determining, errors, candidates, cedar_request, entities, schema
            )
        return Decision(
            allowed=allowed,
            outcome=outcome,
            decision_id=decision_id,
            policy_ids=determining,
            errors=errors,
            bundle_hash=self.bundle_hash,
            explanation=explanation,
        )

    def _slice_ids(self, request: Request) -> frozenset[PolicyID]:
        overlay = _overlay(request)
        pkeys = request_keys(request.principal, self.graph.ancestors(request.principal, overlay))
        return self.base.index.lookup(pkeys, self._resource_keys(request, overlay))

    def _resource_keys(
        self, request: Request, overlay: dict[EntityUID, tuple[EntityUID, ...]] | None
    ) -> tuple[tuple[str, ...], ...]:
        return request_keys(request.resource, self.graph.ancestors(request.resource, overlay))

    def _entities_for(self, entities: tuple[Entity, ...]) -> cedar.Entities:
        if not entities:
            return self._base_entities
        key = orjson.dumps([e.as_json() for e in entities], option=orjson.OPT_SORT_KEYS)
        handle = self._entity_handles.get(key)
        if handle is None:
            handle = self._build_entities(entities, key)
            if len(self._entity_handles) >= ENTITY_HANDLE_CACHE:
                del self._entity_handles[next(iter(self._entity_handles))]
            self._entity_handles[key] = handle
        return handle

    def _build_entities(self, entities: tuple[Entity, ...], key: bytes) -> cedar.Entities:
        try:
            return self._base_entities.with_added_json_str(key.decode(), self.schema)
        except ValueError:
            # Cedar's message does not say which entity is wrong; find each one that fails alone.
            details = []
            for i, entity in enumerate(entities):
                one = orjson.dumps([entity.as_json()]).decode()
                try:
                    self._base_entities.with_added_json_str(one, self.schema)
                except ValueError as exc:
                    details.append(
                        ErrorDetail("entity_invalid", f"entities[{i}] {entity.uid}", str(exc))
                    )
            raise InvalidInput(
                "request entities do not match the policy schema",
                code="entity_invalid",
                details=details
                or [ErrorDetail("entity_invalid", "entities", "conflicting entities")],
            ) from None


def _overlay(request: Request) -> dict[EntityUID, tuple[EntityUID, ...]] | None:
    return {e.uid: e.parents for e in request.entities} if request.entities else None


def _cedar_request(request: Request, typed_context: str | None) -> dict[str, Any]:
    return {
        "principal": _uid(request.principal),
        "action": _uid(request.action),
        "resource": _uid(request.resource),
        "context": typed_context or context_json(request.context),
    }


def context_json(context: Any) -> str:
    """The context as JSON text for Cedar."""
    return json_bytes(context).decode()


def json_bytes(value: Any, *, option: int = 0) -> bytes:
    """`value` as JSON; what JSON cannot carry (say, a 70-bit integer) is bad input."""
    try:
        return orjson.dumps(value, option=option)
    except TypeError as exc:
        raise InvalidInput(
            "the context holds a value that is not JSON (or is out of range)",
            code="request_invalid",
            details=[ErrorDetail("request_invalid", "context", str(exc))],
        ) from None


def _uid(uid: EntityUID) -> dict[str, str]:
    return {"type": uid.type, "id": uid.id}


def _eval_error(message: str) -> PolicyEvalError:
    match = _ERROR_RE.match(message)
    if match is None:
        return PolicyEvalError(PolicyID(""), message)
    return PolicyEvalError(PolicyID(match["id"]), match["msg"])


IDSource = Callable[[], DecisionID]
