"""Which context records policies read: the analysis that decides what Cedar is sent."""

from __future__ import annotations

import pytest
from cedarpy import _internal as cedar

from zerogate.policy._reads import context_reads


def _reads(text: str) -> frozenset[str] | None:
    tree = cedar.PolicySet.from_str(text).to_pst()
    return context_reads([*tree.static_policies.values(), *tree.templates.values()])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("permit (principal, action, resource);", frozenset()),
        (
            "permit (principal, action, resource) when { context.authn.mfa && context has device };",
            frozenset({"authn", "device"}),
        ),
        (
            "permit (principal, action, resource) unless { [context.a].contains(context.b) };",
            {"a", "b"},
        ),
        ("permit (principal, action, resource) when { {r: context.risk}.r.score > 1 };", {"risk"}),
        ("permit (principal, action, resource) when { context == {} };", None),
        ("permit (principal, action, resource) when { [context].isEmpty() };", None),
        ("permit (principal == ?principal, action, resource) when { context.x };", {"x"}),
    ],
)
def test_context_reads_names_records_or_gives_up(text: str, expected: object) -> None:
    assert _reads(text) == expected
