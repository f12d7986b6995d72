"""Parts talk only through their public faces: no import of another part's `_private` module."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "zerogate"


def _part(module: str) -> str:
    """`zerogate.control.events._db` -> `control`; top-level modules are their own part."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    names = list(rel.parts)
    return ".".join(names[:-1] if names[-1] == "__init__" else names)


def test_architecture_no_part_imports_another_parts_private_modules() -> None:
    offences = []
    for path in sorted(SRC.rglob("*.py")):
        importer = _module_name(path)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for target in targets:
                if not target.startswith("zerogate."):
                    continue
                private = any(
                    seg.startswith("_") and seg != "__init__" for seg in target.split(".")[1:]
                )
                if (
                    private
                    and _part(target) != _part(importer)
                    and not target.startswith(("zerogate._types", "zerogate._version"))
                ):
                    offences.append(
                        f"{path.relative_to(SRC.parent)}:{node.lineno} imports {target}"
                    )
    assert not offences, "\n".join(offences)
