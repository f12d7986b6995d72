"""The identity part's public face, and its place in the layering (it never imports control)."""

from __future__ import annotations

import ast
from pathlib import Path

import zerogate.identity as identity

PACKAGE = Path(identity.__file__).parent
# Identity sits below control, app and cli (they publish its changes) and beside policy.
FORBIDDEN = (
    "zerogate.control",
    "zerogate.app",
    "zerogate.cli",
    "zerogate.policy",
    "zerogate.authzen",
)


def test_identity_exports_a_sorted_all_of_existing_names() -> None:
    exported = identity.__all__
    ordered = sorted(exported, key=lambda n: (not n.isupper(), not n[:1].isupper(), n))
    assert exported == ordered
    assert all(hasattr(identity, n) for n in exported)


def test_identity_imports_no_part_above_it() -> None:
    offences = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            offences += [f"{path.name}: {n}" for n in names if n.startswith(FORBIDDEN)]
    assert not offences


def test_every_module_opens_with_a_one_sentence_docstring() -> None:
    for path in sorted(PACKAGE.glob("*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text()))
        assert doc, path.name
        assert doc.splitlines()[0].endswith("."), path.name
