"""Reads Cedar policy text into located, uniquely identified policies (`file:line` on errors)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from cedarpy import _internal as cedar
from cedarpy import pst

from zerogate._types import PolicyID
from zerogate.errors import ErrorDetail

MAX_POLICY_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class PolicySource:
    """One policy or template as written: its `@id`, location, text and syntax tree."""

    id: PolicyID
    file: str
    line: int
    text: str
    node: pst.Template
    is_template: bool

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def effect(self) -> str:
        return self.node.effect

    @property
    def reason(self) -> str | None:
        """A human sentence from `@reason("...")`, shown in explanations."""
        return self.node.annotations.get("reason")


def segments(text: str) -> Iterator[tuple[str, int, int]]:
    """Cedar text as ("code" | "string" | "comment", start, end) runs, in order.

    The one place that knows Cedar's lexical rules for `"..."` (with `\\` escapes) and `//`
    comments, so statement splitting and comment-preserving formatting agree.
    """
    i, n, start = 0, len(text), 0
    while i < n:
        ch = text[i]
        if ch == '"':
            end = i + 1
            while end < n and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            end = min(end + 1, n)
        elif ch == "/" and text.startswith("//", i):
            newline = text.find("\n", i)
            end = n if newline < 0 else newline
        else:
            i += 1
            continue
        if start < i:
            yield "code", start, i
        yield ("string" if ch == '"' else "comment"), i, end
        i = start = end
    if start < n:
        yield "code", start, n


def split_statements(text: str) -> Iterator[tuple[int, str]]:
    """Yield (line, statement) for each `;`-terminated statement, ignoring `;` in strings/comments.

    The line is that of the statement's first code character, so comments above a policy do not
    shift where its errors point.
    """
    code_start = -1
    for kind, start, end in segments(text):
        if kind == "comment":
            continue
        if kind == "string":
            code_start = start if code_start < 0 else code_start
            continue
        for i in range(start, end):
            ch = text[i]
            if ch.isspace():
                continue
            if code_start < 0:
                code_start = i
            if ch == ";":
                yield text.count("\n", 0, code_start) + 1, text[code_start : i + 1]
                code_start = -1
    if code_start >= 0:
        yield text.count("\n", 0, code_start) + 1, text[code_start:].rstrip()


def comments(text: str) -> Iterator[str]:
    """Every `//` comment in Cedar text (not inside strings), without trailing whitespace."""
    for kind, start, end in segments(text):
        if kind == "comment":
            yield text[start:end].rstrip()


def parse_policies(
    files: Iterable[tuple[str, str]], errors: list[ErrorDetail]
) -> dict[PolicyID, PolicySource]:
    """Parse (name, text) pairs; append every problem to `errors` and return what did parse."""
    found: dict[PolicyID, PolicySource] = {}
    for name, text in files:
        if len(text.encode()) > MAX_POLICY_FILE_BYTES:
            errors.append(ErrorDetail("policy_file_too_large", name, "over 1 MiB"))
            continue
        for line, statement in split_statements(text):
            loc = f"{name}:{line}"
            source = _parse_one(name, line, statement, loc, errors)
            if source is None:
                continue
            if source.id in found:
                errors.append(
                    ErrorDetail(
                        "policy_id_duplicate",
                        loc,
                        f"@id({source.id!r}) is already used at {found[source.id].location}",
                    )
                )
                continue
            found[source.id] = source
    return found


def _parse_one(
    name: str, line: int, statement: str, loc: str, errors: list[ErrorDetail]
) -> PolicySource | None:
    try:
        tree = cedar.PolicySet.from_str(statement).to_pst()
    except ValueError as exc:
        errors.append(ErrorDetail("policy_syntax", loc, str(exc)))
        return None
    nodes = [(n, False) for n in tree.static_policies.values()]
    nodes += [(n, True) for n in tree.templates.values()]
    if len(nodes) != 1:  # pragma: no cover - the splitter hands over exactly one statement
        errors.append(ErrorDetail("policy_syntax", loc, "expected exactly one policy"))
        return None
    node, is_template = nodes[0]
    policy_id = node.annotations.get("id")
    if not policy_id:
        errors.append(
            ErrorDetail(
                "policy_id_missing",
                loc,
                'every policy needs a stable @id("...") annotation (it names the policy '
                "in decisions, explanations and audit)",
            )
        )
        return None
    pid = PolicyID(policy_id)
    return PolicySource(
        id=pid,
        file=name,
        line=line,
        text=statement,
        node=dataclasses.replace(node, id=pid),
        is_template=is_template,
    )
