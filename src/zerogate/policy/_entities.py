"""The entity graph the PDP needs outside Cedar: parents and ancestors, for slicing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from zerogate.policy._model import Entity, EntityUID


class EntityGraph:
    """Parent links of the bundle's static entities; requests overlay their own entities."""

    __slots__ = ("_parents",)

    def __init__(self, entities: Iterable[Entity] = ()) -> None:
        self._parents: dict[EntityUID, tuple[EntityUID, ...]] = {e.uid: e.parents for e in entities}

    def ancestors(
        self, uid: EntityUID, overlay: Mapping[EntityUID, tuple[EntityUID, ...]] | None = None
    ) -> list[EntityUID]:
        """All transitive parents of `uid` (Cedar's `in`), request entities taking precedence."""
        base = self._parents
        seen: list[EntityUID] = []
        stack = list(_parents_of(uid, base, overlay))
        while stack:
            parent = stack.pop()
            if parent in seen or parent == uid:
                continue
            seen.append(parent)
            stack.extend(_parents_of(parent, base, overlay))
        return seen


def _parents_of(
    uid: EntityUID,
    base: Mapping[EntityUID, tuple[EntityUID, ...]],
    overlay: Mapping[EntityUID, tuple[EntityUID, ...]] | None,
) -> tuple[EntityUID, ...]:
    if overlay is not None and uid in overlay:
        # Cedar merges request entities with the static ones as a disjoint union, so an entity
        # appears in one or the other; the engine rejects duplicates before evaluating.
        return overlay[uid]
    return base.get(uid, ())
