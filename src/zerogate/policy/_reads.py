"""Which top-level context records a set of policies can read, found from their syntax trees."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from cedarpy import pst

_CONTEXT = pst.Var("context")


def context_reads(nodes: Iterable[pst.Template]) -> frozenset[str] | None:
    """The `x` of every `context.x` and `context has x` in `nodes`.

    None when some policy uses `context` in any other way (compares it whole, say): then every
    record may matter and nothing can be left out.
    """
    found: set[str] = set()
    for node in nodes:
        for clause in node.clauses:
            if not _collect(clause.expr, found):
                return None
    return frozenset(found)


def _collect(expr: Any, found: set[str]) -> bool:
    """Add the records `expr` reads to `found`; False if `context` escapes as a whole."""
    if isinstance(expr, pst.GetAttr) and expr.base == _CONTEXT:
        found.add(expr.attr)
        return True
    if isinstance(expr, pst.HasAttr) and expr.base == _CONTEXT:
        found.add(expr.attrs[0])
        return True
    if expr == _CONTEXT:
        return False
    if dataclasses.is_dataclass(expr) and not isinstance(expr, type):
        return all(_collect(getattr(expr, f.name), found) for f in dataclasses.fields(expr))
    if isinstance(expr, tuple):
        return all(_collect(item, found) for item in expr)
    if isinstance(expr, dict):  # record literals (FrozenMap)
        return all(_collect(item, found) for item in expr.values())
    return True
