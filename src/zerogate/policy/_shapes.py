"""Schema checks once per request *shape*, so Cedar need not re-validate every request.

Cedar's schema check of a request is type-driven: whether a request is valid depends on the
principal/action/resource types and on the *types* of the context values, never on a plain
string or number's value. Two things are value-dependent, and both stay checked per request:
extension values (an `ipaddr` string must parse: Cedar checks that when it builds the typed
value) and the Long range (checked here). Entity references are part of the shape as written.

So the first request of each shape is validated by Cedar *with* the schema, and Cedar is also
asked which string leaves are extension-typed (a leaf is one if replacing it with an unparsable
string breaks validation; its constructor is the one whose `__extn` form validates). Later
requests of the shape are sent with those leaves in `__extn` form and without the schema, which
saves Cedar's per-call schema pass (about a third of an uncached decision, bench/pdp.py).
Extension leaves inside sets are not handled: such shapes keep the per-call schema check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

import orjson
from cedarpy import _internal as cedar

from zerogate.errors import ErrorDetail, InvalidInput
from zerogate.policy._model import Request

Path: TypeAlias = tuple[str, ...]
EXTENSION_FNS = ("ip", "decimal", "datetime", "duration")
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1
MAX_SHAPES = 1024
_UNPARSABLE = "\x00not-a-value"
_EMPTY_POLICIES = cedar.PolicySet.from_str("")


@dataclass(frozen=True, slots=True)
class ShapePlan:
    """What was learnt about one shape: which context paths hold which extension type."""

    extensions: tuple[tuple[Path, str], ...]

    @property
    def roots(self) -> frozenset[str]:
        """The top-level records that hold extension values."""
        return frozenset(path[0] for path, _ in self.extensions)


class RequestShapes:
    """Learns and remembers request shapes for one schema."""

    def __init__(self, schema: cedar.Schema, entities: cedar.Entities) -> None:
        self._schema = schema
        self._entities = entities
        self._plans: dict[bytes, ShapePlan | None] = {}

    def plan_for(self, request: Request) -> ShapePlan | None:
        """The plan for this request's shape, learnt (and the request validated) if new.

        None: this shape needs Cedar's per-call schema check. Raises InvalidInput for a request
        that does not match the schema.
        """
        request_type = (request.principal.type, request.action.type, request.action.id)
        signature = (*request_type, request.resource.type, _signature(request.context))
        key = orjson.dumps(signature, option=orjson.OPT_SORT_KEYS)
        if key in self._plans:
            plan = self._plans[key]
        else:
            strings: list[tuple[Path, bool]] = []
            _string_paths(request.context, (), strings, False)
            plan = self._learn(request, strings)
            if len(self._plans) >= MAX_SHAPES:
                del self._plans[next(iter(self._plans))]
            self._plans[key] = plan
        return plan

    @staticmethod
    def render(request: Request, plan: ShapePlan, *, keep: frozenset[str] | None = None) -> str:
        """The context as typed JSON under `plan`, keeping only `keep` (None: all records)."""
        context: Any = request.context
        if keep is not None:
            # Records holding extension values always go: Cedar checks those values (a bad IP
            # is rejected), and whether a request is valid must not depend on the policies.
            keep = keep | plan.roots
            context = {k: v for k, v in context.items() if k in keep}
        for path, fn in plan.extensions:
            if path[0] in context:
                context = _replace(
                    context, path, {"__extn": {"fn": fn, "arg": _get(context, path)}}
                )
        return orjson.dumps(context).decode()

    def _learn(self, request: Request, strings: list[tuple[Path, bool]]) -> ShapePlan | None:
        errors = self._errors(request, request.context)
        if errors:
            raise InvalidInput(
                "request does not match the policy schema",
                code="request_invalid",
                details=[ErrorDetail("request_invalid", "request", m) for m in errors],
            )
        extensions: list[tuple[Path, str]] = []
        for path, in_set in strings:
            if not self._errors(request, _replace(request.context, path, _UNPARSABLE)):
                continue  # a plain String
            if in_set:
                return None
            value = _get(request.context, path)
            for fn in EXTENSION_FNS:
                typed = _replace(request.context, path, {"__extn": {"fn": fn, "arg": value}})
                if not self._errors(request, typed):
                    extensions.append((path, fn))
                    break
            else:
                return None
        return ShapePlan(tuple(extensions))

    def _errors(self, request: Request, context: Any) -> list[str]:
        cedar_request = {
            "principal": request.principal.as_json(),
            "action": request.action.as_json(),
            "resource": request.resource.as_json(),
            "context": orjson.dumps(context).decode(),
        }
        raw = cedar.is_authorized_batch(
            [cedar_request], _EMPTY_POLICIES, self._entities, self._schema, False
        )[0]
        result = orjson.loads(raw)
        errors: list[str] = result["diagnostics"]["errors"]
        return errors if result["decision"] == "NoDecision" else []


def _signature(value: Any) -> Any:
    """`value` with every scalar replaced by a canonical one of its type (the hot path: lean).

    Dict key order is left to the caller's sorted dump; sets collapse to their distinct element
    signatures.
    """
    kind = type(value)
    if kind is str:
        return ""
    if kind is bool:
        return False
    if kind is int:
        if not LONG_MIN <= value <= LONG_MAX:
            raise InvalidInput(
                "a number in the context is outside Cedar's Long range",
                code="request_invalid",
                details=[ErrorDetail("request_invalid", "context", f"{value} is not a Long")],
            )
        return 0
    if kind is dict or (kind is not list and isinstance(value, Mapping)):
        if "__entity" in value or "__extn" in value:
            return value  # entity references and explicit extension values: part of the shape
        return {k: _signature(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        if not value:
            return []
        if all(type(v) is str for v in value):
            return [""]
        items = [_signature(v) for v in value]
        return sorted(
            {orjson.dumps(i, option=orjson.OPT_SORT_KEYS): i for i in items}.values(),
            key=orjson.dumps,
        )
    return value  # floats, None and the like: Cedar rejects them when the shape is learnt


def _string_paths(value: Any, path: Path, found: list[tuple[Path, bool]], in_set: bool) -> None:
    """Every string leaf's path, and whether it sits in a set (only when a shape is learnt)."""
    if isinstance(value, str):
        found.append((path, in_set))
    elif isinstance(value, Mapping):
        if "__entity" not in value and "__extn" not in value:
            for k, v in value.items():
                _string_paths(v, (*path, k), found, in_set)
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _string_paths(v, (*path, str(i)), found, True)


def _get(value: Any, path: Path) -> Any:
    for part in path:
        value = value[int(part)] if isinstance(value, list | tuple) else value[part]
    return value


def _replace(value: Any, path: Path, new: Any) -> Any:
    """A copy of `value` with the leaf at `path` replaced (only the containers on the path copy)."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, list | tuple):
        index = int(head)
        items = list(value)
        items[index] = _replace(items[index], rest, new)
        return items
    copy = dict(value)
    copy[head] = _replace(copy[head], rest, new)
    return copy
