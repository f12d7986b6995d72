"""The entity graph the PDP needs outside Cedar: parents and ancestors, for slicing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from zerogate.policy._model import Entity, EntityUID


class EntityGraph:
    """Parent links of the bundle's static entities; requests overlay their own entities.

    The static graph never changes for a bundle, so each static entity's closure is computed
    once. Cedar merges request entities with static ones as a disjoint union (an identical
    duplicate is allowed, a different one is rejected before evaluation), so a static closure
    stays valid under any overlay.
    """

    __slots__ = ("_closures", "_parents")

    def __init__(self, entities: Iterable[Entity] = ()) -> None:
        self._parents: dict[EntityUID, tuple[EntityUID, ...]] = {e.uid: e.parents for e in entities}
        self._closures: dict[EntityUID, tuple[EntityUID, ...]] = {}

    def ancestors(
        self, uid: EntityUID, overlay: Mapping[EntityUID, tuple[EntityUID, ...]] | None = None
    ) -> tuple[EntityUID, ...]:
        """All transitive parents of `uid` (what Cedar's `in` follows)."""
        if overlay is None or uid not in overlay:
            return self._static(uid)
        found: set[EntityUID] = set()
        stack = list(overlay[uid])
        while stack:
            parent = stack.pop()
            if parent in found or parent == uid:
                continue
            found.add(parent)
            if parent in overlay:
                stack.extend(overlay[parent])
            else:
                found.update(self._static(parent))
        found.discard(uid)
        return tuple(found)

    def _static(self, uid: EntityUID) -> tuple[EntityUID, ...]:
        closure = self._closures.get(uid)
        if closure is not None:
            return closure
        parents = self._parents
        if uid not in parents:
            return ()  # not cached: request uids are unbounded, and this is already cheap
        found: set[EntityUID] = set()
        stack = list(parents[uid])
        while stack:
            parent = stack.pop()
            if parent in found or parent == uid:
                continue
            found.add(parent)
            stack.extend(parents.get(parent, ()))
        closure = self._closures[uid] = tuple(found)
        return closure
