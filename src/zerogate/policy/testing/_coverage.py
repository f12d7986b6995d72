"""Policy-level test coverage: which policies determined at least one test decision, and which never did."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from zerogate._types import PolicyID
from zerogate.policy._compiled import PolicyBase


@dataclass(frozen=True, slots=True)
class PolicyCoverage:
    """One evaluatable policy (static, or a template link) and the test cases it determined."""

    policy_id: PolicyID
    effect: str
    location: str
    hits: int
    files: tuple[str, ...]
    template: PolicyID | None = None

    @property
    def covered(self) -> bool:
        return self.hits > 0


@dataclass(frozen=True, slots=True)
class TemplateCoverage:
    """A template is never evaluated itself; it is covered through the links made from it."""

    template_id: PolicyID
    location: str
    links: tuple[PolicyID, ...]
    covered_links: tuple[PolicyID, ...]

    @property
    def covered(self) -> bool:
        return bool(self.covered_links)


@dataclass(frozen=True, slots=True)
class Coverage:
    """Coverage of a whole run; the percentage counts evaluatable policies, not templates."""

    policies: tuple[PolicyCoverage, ...]
    templates: tuple[TemplateCoverage, ...] = ()

    @property
    def total(self) -> int:
        return len(self.policies)

    @property
    def covered(self) -> int:
        return sum(1 for p in self.policies if p.covered)

    @property
    def uncovered(self) -> tuple[PolicyID, ...]:
        return tuple(p.policy_id for p in self.policies if not p.covered)

    @property
    def percent(self) -> float:
        return self.percent_of(p.policy_id for p in self.policies if p.covered)

    def percent_of(self, covered: Iterable[PolicyID]) -> float:
        """The share of this bundle's policies in `covered` (100.0 when there is nothing to cover)."""
        if not self.policies:
            return 100.0
        known = {p.policy_id for p in self.policies}
        return 100.0 * len(known.intersection(covered)) / len(known)


def measure_coverage(base: PolicyBase, hits: Mapping[PolicyID, Iterable[str]]) -> Coverage:
    """`hits` maps a policy id to the test file of every case it determined (one entry per case)."""
    policies = []
    for pid in base.effects:
        files = list(hits.get(pid, ()))
        link = base.links.get(pid)
        policies.append(
            PolicyCoverage(
                policy_id=pid,
                effect=base.effects[pid],
                location=base.source_of(pid).location,
                hits=len(files),
                files=tuple(sorted(set(files))),
                template=link.template_id if link else None,
            )
        )
    policies.sort(key=lambda p: (_location_key(p.location), p.policy_id))
    templates = []
    for tid, source in base.sources.items():
        if not source.is_template:
            continue
        links = tuple(sorted(p.policy_id for p in policies if p.template == tid))
        covered = tuple(sorted(p.policy_id for p in policies if p.template == tid and p.covered))
        templates.append(TemplateCoverage(tid, source.location, links, covered))
    templates.sort(key=lambda t: _location_key(t.location))
    return Coverage(tuple(policies), tuple(templates))


def _location_key(location: str) -> tuple[str, int]:
    file, _, line = location.rpartition(":")
    return (file, int(line)) if line.isdigit() else (location, 0)
