"""Reads YAML test files safely, remembering the line of every mapping, key and list item."""

from __future__ import annotations

from typing import Any

import yaml

MAX_NODES = 200_000
"""Largest document, counting every alias expansion: stops "billion laughs" alias bombs."""

_MERGE_TAG = "tag:yaml.org,2002:merge"


class YAMLProblem(Exception):
    """A document that is not usable YAML; `line` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class LocatedDict(dict[str, Any]):
    """A YAML mapping that knows its own line and the line of each of its keys."""

    __slots__ = ("key_lines", "line")

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[str, int] = {}

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class LocatedList(list[Any]):
    """A YAML sequence that knows its own line and the line of each item."""

    __slots__ = ("item_lines", "line")

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.item_lines: list[int] = []

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


class _Loader(yaml.SafeLoader):
    """SafeLoader (no arbitrary objects) that builds Located containers and refuses duplicates."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LocatedDict:
    own = sum(1 for key, _ in node.value if key.tag != _MERGE_TAG)
    loader.flatten_mapping(node)
    inherited = len(node.value) - own  # pairs pulled in by `<<: *anchor`, which own keys override
    result = LocatedDict(node.start_mark.line + 1)
    own_lines: dict[str, int] = {}
    for i, (key_node, value_node) in enumerate(node.value):
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, str):
            # YAML 1.1 reads `on`, `yes`, `1` as non-strings; a key must be text to mean anything.
            raise YAMLProblem(line, f"mapping keys must be strings, got {key!r} (quote the key)")
        if i >= inherited:
            # PyYAML silently keeps the last of two equal keys; a test must not hide an edit.
            if key in own_lines:
                raise YAMLProblem(line, f"duplicate key {key!r} (first at line {own_lines[key]})")
            own_lines[key] = line
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = line
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LocatedList:
    result = LocatedList(node.start_mark.line + 1)
    for child in node.value:
        result.append(loader.construct_object(child, deep=True))
        result.item_lines.append(child.start_mark.line + 1)
    return result


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


def load_yaml(text: str) -> Any:
    """Parse one YAML document. Raises YAMLProblem with the line of the first problem."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_size(node, {}, set())
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise YAMLProblem(line, _yaml_message(exc)) from None
    except yaml.YAMLError as exc:
        raise YAMLProblem(1, str(exc)) from None
    except RecursionError:
        raise YAMLProblem(1, "the document is nested too deeply") from None
    finally:
        loader.dispose()


def _yaml_message(exc: yaml.MarkedYAMLError) -> str:
    parts = [p for p in (exc.context, exc.problem) if p]
    return "; ".join(parts) or "invalid YAML"


def _check_size(node: yaml.Node, memo: dict[int, int], active: set[int]) -> int:
    """Count nodes with aliases expanded, memoised so the walk itself stays linear."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in active:
        raise YAMLProblem(node.start_mark.line + 1, "recursive alias")
    active.add(key)
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_check_size(child, memo, active) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            size += _check_size(k, memo, active) + _check_size(v, memo, active)
    active.discard(key)
    if size > MAX_NODES:
        raise YAMLProblem(
            node.start_mark.line + 1, f"document too large (over {MAX_NODES} nodes with aliases)"
        )
    memo[key] = size
    return size
