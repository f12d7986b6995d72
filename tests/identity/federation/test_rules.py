"""Group rules: which managed groups an upstream's claims grant (unit, no I/O)."""

from __future__ import annotations

from typing import Any

import pytest

from zerogate.config import GroupRuleSettings
from zerogate.errors import InvalidInput
from zerogate.identity.federation import (
    GroupRule,
    claim_values,
    compile_rules,
    managed_groups,
    map_groups,
)

RULES = compile_rules(
    [
        GroupRuleSettings(value="Engineering", group="Engineering"),
        GroupRuleSettings(value="eng-contractors", group="engineering"),
        GroupRuleSettings(claim="roles", value="Admin", group="admins"),
        GroupRuleSettings(claim="realm_access.roles", value="ops", group="ops"),
        GroupRuleSettings(claim="https://example.com/claims/tier", value="gold", group="gold"),
    ],
    groups_claim="groups",
)


def test_compile_rules_fills_the_claim_and_lowercases_groups() -> None:
    assert RULES[0] == GroupRule(claim="groups", value="Engineering", group="engineering")
    assert managed_groups(RULES) == {"engineering", "admins", "ops", "gold"}


def test_compile_rules_refuses_a_bad_group_name() -> None:
    with pytest.raises(InvalidInput) as caught:
        compile_rules([GroupRuleSettings(value="x", group="-bad-")], groups_claim="groups")
    assert caught.value.code == "group_name_invalid"


@pytest.mark.parametrize(
    ("claims", "groups"),
    [
        ({"groups": ["Engineering", "Staff"]}, {"engineering"}),
        ({"groups": "Engineering"}, {"engineering"}),  # a single string is one value
        ({"groups": ["eng-contractors"]}, {"engineering"}),  # two rules, one group
        ({"groups": ["engineering"]}, set()),  # exact, case-sensitive
        ({"roles": ["Admin"], "groups": []}, {"admins"}),
        ({"realm_access": {"roles": ["ops"]}}, {"ops"}),  # nested (Keycloak)
        ({"https://example.com/claims/tier": "gold"}, {"gold"}),  # a dotted name, literally
        ({"groups": [["Engineering"], 7, None, {"x": 1}]}, set()),  # non-strings never match
        ({"groups": {"Engineering": True}}, set()),
        ({}, set()),
    ],
)
def test_map_groups(claims: dict[str, Any], groups: set[str]) -> None:
    assert map_groups(RULES, claims) == groups


def test_claim_values_are_bounded() -> None:
    many = [f"g{i}" for i in range(5000)]
    assert len(claim_values({"groups": many}, "groups")) == 1000
