"""Renders policy parts back to Cedar text for explanations (`principal in Group::"eng"`)."""

from __future__ import annotations

import re

from cedarpy import _internal as cedar
from cedarpy import pst

from zerogate.policy._model import PartKind


def render_scope(kind: PartKind, node: pst.Template) -> str:
    """One scope constraint of a probe policy as Cedar text."""
    if kind is PartKind.ACTION:
        action = node.action
        if isinstance(action, pst.ActionEq):
            return f"action == {action.entity}"
        if isinstance(action, pst.ActionIn):
            inner = ", ".join(str(e) for e in action.entities)
            return f"action in [{inner}]" if len(action.entities) != 1 else f"action in {inner}"
        return "action"
    var = kind.value
    c = node.principal if kind is PartKind.PRINCIPAL else node.resource
    if isinstance(c, pst.ScopeEq):
        return f"{var} == {c.entity}"
    if isinstance(c, pst.ScopeIn):
        return f"{var} in {c.entity}"
    if isinstance(c, pst.ScopeIs):
        return f"{var} is {c.entity_type}"
    if isinstance(c, pst.ScopeIsIn):
        return f"{var} is {c.entity_type} in {c.entity}"
    return var


def render_condition(node: pst.Template) -> str:
    """The single `when`/`unless` clause of a probe policy as Cedar text."""
    tree = pst.PolicySet(
        templates=pst.FrozenMap({}),
        static_policies=pst.FrozenMap({node.id: node}),
        template_links=(),
    )
    text = str(cedar.PolicySet.from_pst(tree))
    body = _tidy(text[text.index("{") + 1 : text.rindex("}")].strip())
    if isinstance(node.clauses[0], pst.Unless):
        return f"unless {body}"
    return body


_REDUNDANT_PARENS = re.compile(r"\(([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\)")


def _tidy(text: str) -> str:
    """Drop the parentheses Cedar's printer puts around plain attribute paths."""
    while True:
        tidier = _REDUNDANT_PARENS.sub(r"\1", text)
        if tidier == text:
            return text
        text = tidier
