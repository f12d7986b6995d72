"""Translates AuthZEN request bodies into `policy.Request`s, reporting every problem at once.

Checks here are plain `isinstance` tests and set differences on purpose: this runs on every
authorization request, and a validation framework would cost more than the decision itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from zerogate.authzen._decision import Evaluations, EvaluationsSemantic
from zerogate.errors import ErrorDetail, InvalidInput
from zerogate.policy import Entity, EntityUID, Request, entity_from_json, uid_from_json

MAX_EVALUATIONS = 256  # one request may not buy unbounded PDP work (AuthZEN: DoS)
ACTION_TYPE = "Action"
_INVALID = "request_invalid"
_TUPLE = ("subject", "action", "resource", "context")
_REQUIRED = ("subject", "action", "resource")
_SINGLE_KEYS = frozenset({*_TUPLE, "entities"})
_BATCH_KEYS = _SINGLE_KEYS | {"evaluations", "options"}
_ITEM_KEYS = frozenset(_TUPLE)
_PARTY_KEYS = frozenset({"type", "id", "properties"})
_ACTION_KEYS = frozenset({"name", "properties"})
_PROPERTY_KEYS = frozenset({"attrs", "parents"})
_OPTION_KEYS = frozenset({"evaluations_semantic"})
_SEMANTICS = tuple(s.value for s in EvaluationsSemantic)


class _Party(NamedTuple):  # a NamedTuple: built twice per request, cheaper than a dataclass
    """A subject or resource: its uid and, if the caller described it, its entity."""

    uid: EntityUID
    entity: Entity | None
    loc: str


_Extra = tuple[tuple[str, Entity], ...]  # (location, entity) from the `entities` extension


def translate_evaluation(raw: Any) -> Request:
    """An Access Evaluation request body as one Request, or InvalidInput listing every problem."""
    body = _root(raw)
    errors: list[ErrorDetail] = []
    _unknown(body, _SINGLE_KEYS, "", errors)
    request = _combine(_parts(body, "", errors), _entities(body, errors), "", errors)
    _raise_if(errors)
    assert request is not None  # no errors means every part translated
    return request


def translate_evaluations(raw: Any) -> Evaluations:
    """An Access Evaluations body: top-level values are defaults each evaluation may override."""
    body = _root(raw)
    errors: list[ErrorDetail] = []
    _unknown(body, _BATCH_KEYS, "", errors)
    semantic = _semantic(body.get("options", {}), errors)
    defaults = _parts(body, "", errors)
    extra = _entities(body, errors)
    items = body.get("evaluations", [])
    requests: list[Request | None] = []
    if not isinstance(items, list):
        errors.append(ErrorDetail(_INVALID, "evaluations", "expected an array"))
    elif len(items) > MAX_EVALUATIONS:
        errors.append(ErrorDetail(_INVALID, "evaluations", f"at most {MAX_EVALUATIONS} allowed"))
    elif not items:  # no array (or an empty one): answer like the single endpoint (§7.1)
        requests.append(_combine(defaults, extra, "", errors))
    else:
        for i, item in enumerate(items):
            loc = f"evaluations[{i}]"
            if _object(item, loc, errors):
                _unknown(item, _ITEM_KEYS, loc, errors)
                # An item's key replaces the default for that key, whole (AuthZEN §7.1.1).
                parts = {**defaults, **_parts(item, loc, errors)}
                requests.append(_combine(parts, extra, loc, errors))
    _raise_if(errors)
    return Evaluations(tuple(r for r in requests if r is not None), semantic, bool(items))


def _parts(raw: Mapping[str, Any], loc: str, errors: list[ErrorDetail]) -> dict[str, Any]:
    """Translate whichever of the 4-tuple keys are present; None marks one that was invalid."""
    found: dict[str, Any] = {}
    if "subject" in raw:
        found["subject"] = _party(raw["subject"], _join(loc, "subject"), errors)
    if "action" in raw:
        found["action"] = _action(raw["action"], _join(loc, "action"), errors)
    if "resource" in raw:
        found["resource"] = _party(raw["resource"], _join(loc, "resource"), errors)
    if "context" in raw:
        context = raw["context"]
        found["context"] = context if _object(context, _join(loc, "context"), errors) else None
    return found


def _combine(
    parts: dict[str, Any], extra: _Extra, loc: str, errors: list[ErrorDetail]
) -> Request | None:
    for key in _REQUIRED:
        if key not in parts:
            errors.append(ErrorDetail(_INVALID, _join(loc, key), "field required"))
    subject, action, resource = parts.get("subject"), parts.get("action"), parts.get("resource")
    context = parts.get("context", {})
    if subject is None or action is None or resource is None or context is None:
        return None  # the reason is already in `errors`
    # Each entity once: Cedar would only say "conflicting entities", not where.
    described = [(p.loc, p.entity) for p in (subject, resource) if p.entity is not None]
    entities: dict[EntityUID, tuple[str, Entity]] = {}
    for where, entity in (*described, *extra):
        if entity.uid in entities:
            msg = f"{entity.uid} is already described at {entities[entity.uid][0]}"
            errors.append(ErrorDetail(_INVALID, where, msg))
        entities.setdefault(entity.uid, (where, entity))
    found = tuple(e for _, e in entities.values())
    return Request(subject.uid, action, resource.uid, context, found)


def _party(raw: Any, loc: str, errors: list[ErrorDetail]) -> _Party | None:
    if not _object(raw, loc, errors):
        return None
    _unknown(raw, _PARTY_KEYS, loc, errors)
    type_, id_ = _string(raw, "type", loc, errors), _string(raw, "id", loc, errors)
    where = _join(loc, "properties")
    props = _properties(raw["properties"], where, errors) if "properties" in raw else ({}, ())
    if type_ is None or id_ is None or props is None:
        return None
    uid = EntityUID(type_, id_)
    # An entity only when the caller described one; otherwise the bundle's entities stand.
    described = "properties" in raw and raw["properties"].keys() & _PROPERTY_KEYS
    return _Party(uid, Entity(uid, *props) if described else None, where)


def _properties(
    raw: Any, loc: str, errors: list[ErrorDetail]
) -> tuple[dict[str, Any], tuple[EntityUID, ...]] | None:
    """Zerogate's profile of `properties`: the entity's Cedar `attrs` and `parents`."""
    if not _object(raw, loc, errors):
        return None
    before = len(errors)
    _unknown(raw, _PROPERTY_KEYS, loc, errors)
    attrs = raw.get("attrs", {})
    if not isinstance(attrs, dict):
        errors.append(ErrorDetail(_INVALID, f"{loc}.attrs", "expected an object"))
    parents: list[EntityUID] = []
    raw_parents = raw.get("parents", [])
    if not isinstance(raw_parents, list):
        errors.append(ErrorDetail(_INVALID, f"{loc}.parents", "expected an array"))
        raw_parents = []
    for i, item in enumerate(raw_parents):
        try:
            parents.append(uid_from_json(item))
        except TypeError as exc:
            errors.append(ErrorDetail(_INVALID, f"{loc}.parents[{i}]", str(exc)))
    return (attrs, tuple(parents)) if len(errors) == before else None


def _action(raw: Any, loc: str, errors: list[ErrorDetail]) -> EntityUID | None:
    if not _object(raw, loc, errors):
        return None
    _unknown(raw, _ACTION_KEYS, loc, errors)
    # Cedar actions carry no request-time attributes; dropping them silently would let a
    # PEP believe a policy saw them. Request data belongs in `context`.
    if raw.get("properties", {}) != {}:
        msg = "action properties are not supported; send request data in `context`"
        errors.append(ErrorDetail(_INVALID, f"{loc}.properties", msg))
    name = _string(raw, "name", loc, errors)
    return None if name is None else EntityUID(ACTION_TYPE, name)


def _entities(raw: Mapping[str, Any], errors: list[ErrorDetail]) -> _Extra:
    """The Zerogate extension `entities`: Cedar-JSON entities the PEP knows about."""
    items = raw.get("entities", [])
    if not isinstance(items, list):
        errors.append(ErrorDetail(_INVALID, "entities", "expected an array"))
        return ()
    found: list[tuple[str, Entity]] = []
    for i, item in enumerate(items):
        try:
            found.append((f"entities[{i}]", entity_from_json(item)))
        except KeyError as exc:
            errors.append(ErrorDetail(_INVALID, f"entities[{i}]", f"field required: {exc}"))
        except (TypeError, ValueError) as exc:
            errors.append(ErrorDetail(_INVALID, f"entities[{i}]", str(exc)))
    return tuple(found)


def _semantic(raw: Any, errors: list[ErrorDetail]) -> EvaluationsSemantic:
    if _object(raw, "options", errors):
        _unknown(raw, _OPTION_KEYS, "options", errors)
        value = raw.get("evaluations_semantic", EvaluationsSemantic.EXECUTE_ALL.value)
        if value in _SEMANTICS:
            return EvaluationsSemantic(value)
        msg = f"expected one of: {', '.join(_SEMANTICS)}"
        errors.append(ErrorDetail(_INVALID, "options.evaluations_semantic", msg))
    return EvaluationsSemantic.EXECUTE_ALL


def _string(raw: Mapping[str, Any], key: str, loc: str, errors: list[ErrorDetail]) -> str | None:
    value = raw.get(key)
    if isinstance(value, str) and value:
        return value
    msg = "expected a non-empty string" if key in raw else "field required"
    errors.append(ErrorDetail(_INVALID, _join(loc, key), msg))
    return None


def _object(value: Any, loc: str, errors: list[ErrorDetail]) -> bool:
    if isinstance(value, dict):
        return True
    errors.append(ErrorDetail(_INVALID, loc, "expected an object"))
    return False


def _unknown(
    raw: Mapping[str, Any], allowed: frozenset[str], loc: str, errors: list[ErrorDetail]
) -> None:
    if raw.keys() <= allowed:  # the usual case, without building a set
        return
    for key in raw.keys() - allowed:
        errors.append(ErrorDetail(_INVALID, _join(loc, key), "unknown field"))


def _join(loc: str, key: str) -> str:
    return f"{loc}.{key}" if loc else key


def _root(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    raise InvalidInput(
        "request body must be a JSON object",
        code=_INVALID,
        details=[ErrorDetail(_INVALID, "body", "expected an object")],
    )


def _raise_if(errors: list[ErrorDetail]) -> None:
    if errors:
        unique = dict.fromkeys(errors)  # a bad default repeats once per evaluation otherwise
        raise InvalidInput(
            f"request does not match the AuthZEN API: {len(unique)} error(s)",
            code=_INVALID,
            details=unique,
        )
