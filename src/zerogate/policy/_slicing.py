"""Policy slicing: index policies by scope so a decision only evaluates policies that can apply.

A policy whose principal (or resource) scope cannot match the request evaluates to "not
applicable" without error in Cedar, since the scope is conjoined before any condition. Evaluating
only the slice of policies whose scope keys the request can match therefore gives the same
decision, determining policies and errors as evaluating the whole set (tested by hypothesis).
Keys: `*` (any), `is:T` (an `is T` scope) and a concrete entity (for `==`, `in` and `is T in`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypeAlias

from cedarpy import pst

from zerogate._types import PolicyID
from zerogate.policy._model import EntityUID

Key: TypeAlias = tuple[str, ...]
ANY: Key = ("*",)


def uid_key(uid: EntityUID) -> Key:
    return ("uid", uid.type, uid.id)


def scope_key(
    constraint: pst.PrincipalOrResourceConstraint, slot_values: Mapping[str, EntityUID]
) -> Key:
    """The index key of one principal/resource scope constraint (slots filled from a link)."""
    if isinstance(constraint, pst.ScopeAny):
        return ANY
    if isinstance(constraint, pst.ScopeIs):
        return ("is", str(constraint.entity_type))
    entity = constraint.entity
    if isinstance(entity, pst.Slot):
        return uid_key(slot_values[f"?{entity.name}"])
    return ("uid", str(entity.type), entity.id)


def request_keys(uid: EntityUID, ancestors: Iterable[EntityUID]) -> tuple[Key, ...]:
    """Every key a policy scope could be filed under and still match this entity."""
    return (ANY, ("is", uid.type), uid_key(uid), *(uid_key(a) for a in ancestors))


class SliceIndex:
    """(principal key, resource key) -> the ids of policies filed there."""

    __slots__ = ("_buckets", "_by_resource", "size")

    def __init__(self, entries: Iterable[tuple[PolicyID, Key, Key]]) -> None:
        buckets: dict[tuple[Key, Key], list[PolicyID]] = {}
        by_resource: dict[Key, list[PolicyID]] = {}
        size = 0
        for policy_id, pkey, rkey in entries:
            buckets.setdefault((pkey, rkey), []).append(policy_id)
            by_resource.setdefault(rkey, []).append(policy_id)
            size += 1
        self._buckets = {k: tuple(v) for k, v in buckets.items()}
        self._by_resource = {k: tuple(v) for k, v in by_resource.items()}
        self.size = size

    def lookup(self, pkeys: Iterable[Key], rkeys: tuple[Key, ...]) -> frozenset[PolicyID]:
        buckets = self._buckets
        found: list[PolicyID] = []
        for pk in pkeys:
            for rk in rkeys:
                hit = buckets.get((pk, rk))
                if hit:
                    found.extend(hit)
        return frozenset(found)

    def for_resource(self, rkeys: tuple[Key, ...]) -> frozenset[PolicyID]:
        """Policies whose resource scope can match, whatever the principal (for explanations)."""
        return frozenset(pid for rk in rkeys for pid in self._by_resource.get(rk, ()))
