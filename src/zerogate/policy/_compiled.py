"""A compiled, immutable policy base: the Cedar handles, the slice index and per-slice policy sets."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cedarpy import _internal as cedar
from cedarpy import pst

from zerogate._types import PolicyID
from zerogate.policy._model import EntityUID
from zerogate.policy._reads import context_reads
from zerogate.policy._slicing import SliceIndex, scope_key
from zerogate.policy._source import PolicySource

SLICE_CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class Link:
    """A template-linked policy: `template_id` with its `?principal`/`?resource` slots filled."""

    id: PolicyID
    template_id: PolicyID
    values: Mapping[str, EntityUID]


class PolicyBase:
    """Everything the engine evaluates against; built once per bundle, never mutated after."""

    def __init__(self, sources: Mapping[PolicyID, PolicySource], links: Iterable[Link]) -> None:
        self.sources = dict(sources)
        self.links = {link.id: link for link in links}
        # Effect of every evaluatable policy id (static policies and template links).
        self.effects: dict[PolicyID, str] = {
            pid: src.effect for pid, src in self.sources.items() if not src.is_template
        }
        for link in self.links.values():
            self.effects[link.id] = self.sources[link.template_id].effect
        self.index = SliceIndex(self._index_entries())
        self.full = self.policy_set(frozenset(self.effects))
        self.full_reads = self.reads(frozenset(self.effects))
        self._slices: dict[frozenset[PolicyID], tuple[cedar.PolicySet, frozenset[str] | None]] = {}

    def _index_entries(self) -> Iterable[tuple[PolicyID, tuple[str, ...], tuple[str, ...]]]:
        for pid, src in self.sources.items():
            if not src.is_template:
                yield pid, scope_key(src.node.principal, {}), scope_key(src.node.resource, {})
        for link in self.links.values():
            node = self.sources[link.template_id].node
            yield (
                link.id,
                scope_key(node.principal, link.values),
                scope_key(node.resource, link.values),
            )

    def order(self, policy_id: PolicyID) -> tuple[str, int, str]:
        """Sort key: where the policy is written (file, line), then its id."""
        source = self.sources.get(
            self.links[policy_id].template_id if policy_id in self.links else policy_id
        )
        return (source.file, source.line, policy_id) if source else ("", 0, policy_id)

    def source_of(self, policy_id: PolicyID) -> PolicySource:
        """The written policy behind an id (a link's template for template-linked policies)."""
        link = self.links.get(policy_id)
        return self.sources[link.template_id if link else policy_id]

    def policy_set(self, ids: frozenset[PolicyID]) -> cedar.PolicySet:
        """A Cedar policy set holding exactly `ids` (and the templates their links need)."""
        static: dict[str, pst.Template] = {
            pid: self.sources[pid].node for pid in ids if pid in self.sources
        }
        links = [self.links[pid] for pid in ids if pid in self.links]
        templates: dict[str, pst.Template] = {
            link.template_id: self.sources[link.template_id].node for link in links
        }
        tree = pst.PolicySet(
            templates=pst.FrozenMap(templates),
            static_policies=pst.FrozenMap(static),
            template_links=tuple(
                pst.TemplateLink(
                    template_id=link.template_id,
                    new_id=link.id,
                    values=pst.FrozenMap(
                        {slot.lstrip("?"): pst_uid(uid) for slot, uid in link.values.items()}
                    ),
                )
                for link in links
            ),
        )
        return cedar.PolicySet.from_pst(tree)

    def slice(self, ids: frozenset[PolicyID]) -> tuple[cedar.PolicySet, frozenset[str] | None]:
        """The cached policy set for one slice and the context records it reads (None: all).

        Slices repeat, so each is built once.
        """
        entry = self._slices.get(ids)
        if entry is None:
            if len(self._slices) >= SLICE_CACHE_SIZE:
                del self._slices[next(iter(self._slices))]
            entry = self._slices[ids] = (self.policy_set(ids), self.reads(ids))
        return entry

    def reads(self, ids: frozenset[PolicyID]) -> frozenset[str] | None:
        """The top-level context records policies `ids` can read (None: possibly all)."""
        return context_reads(self.source_of(pid).node for pid in ids)


def pst_uid(uid: EntityUID) -> pst.EntityUid:
    *namespace, basename = uid.type.split("::")
    return pst.EntityUid(type=pst.EntityType(basename, tuple(namespace)), id=uid.id)
