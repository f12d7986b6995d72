"""Group rules: which Zerogate groups an upstream's claims put a user in, and which it manages.

A rule says "members of `group` are those whose claim `claim` has `value`". A claim may be a
string or a list of strings (as `groups` usually is); anything else never matches. Values compare
exactly, case included: upstream group names are identifiers, and "Admins" is not "admins".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from zerogate.config import GroupRuleSettings
from zerogate.identity import normalise_group_name

# A claim with more values than this is cut: no honest upstream sends 10,000 groups in a token.
MAX_CLAIM_VALUES = 1000


@dataclass(frozen=True, slots=True)
class GroupRule:
    """One mapping rule, resolved: `claim` filled in, `group` in its stored (lowercase) form."""

    claim: str
    value: str
    group: str


def compile_rules(
    rules: Sequence[GroupRuleSettings], *, groups_claim: str
) -> tuple[GroupRule, ...]:
    """Resolve configured rules; raises InvalidInput(group_name_invalid) for a bad group name."""
    return tuple(
        GroupRule(
            claim=rule.claim or groups_claim,
            value=rule.value,
            group=normalise_group_name(rule.group),
        )
        for rule in rules
    )


def managed_groups(rules: Iterable[GroupRule]) -> frozenset[str]:
    """The groups an upstream's rules name: the only memberships its sign-ins add or remove."""
    return frozenset(rule.group for rule in rules)


def map_groups(rules: Iterable[GroupRule], claims: Mapping[str, Any]) -> frozenset[str]:
    """The managed groups these claims entitle the user to."""
    values: dict[str, frozenset[str]] = {}
    granted = set()
    for rule in rules:
        if rule.claim not in values:
            values[rule.claim] = claim_values(claims, rule.claim)
        if rule.value in values[rule.claim]:
            granted.add(rule.group)
    return frozenset(granted)


def claim_values(claims: Mapping[str, Any], name: str) -> frozenset[str]:
    """A claim's string values. `a.b` reads the nested claim `b` of `a` (Keycloak's
    `realm_access.roles`) unless a top-level claim is literally named `a.b` (namespaced claims
    are often URLs with dots)."""
    value = claims.get(name) if name in claims else _nested(claims, name)
    if isinstance(value, str):
        return frozenset((value,))
    if isinstance(value, list):
        return frozenset(v for v in value[:MAX_CLAIM_VALUES] if isinstance(v, str))
    return frozenset()


def _nested(claims: Mapping[str, Any], path: str) -> Any:
    node: Any = claims
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


__all__ = [
    "MAX_CLAIM_VALUES",
    "GroupRule",
    "claim_values",
    "compile_rules",
    "managed_groups",
    "map_groups",
]
