"""The YAML test-file format of `zerogate policy test`: named cases, each a request and an expectation.

A file pins the clock (`now`, `timezone`), shares `defaults` (merged into every case as a JSON
Merge Patch, RFC 7396: mappings merge, `null` deletes, lists replace) and `entities`, and lists
`cases`. Every problem is reported at once with `file:line`; a case that cannot be read becomes an
error result rather than stopping the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from zerogate._types import PolicyID
from zerogate.errors import ErrorDetail, InvalidInput
from zerogate.policy._model import Entity, EntityUID, Outcome, Request
from zerogate.policy.testing._values import (
    instant,
    merge_patch,
    parse_entities,
    parse_uid,
    plain_json,
    zone,
)
from zerogate.policy.testing._yaml import LocatedDict, LocatedList, YAMLProblem, load_yaml

MAX_TEST_FILE_BYTES = 1024 * 1024
MAX_CASES = 10_000
DEFAULT_NOW = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
"""The clock when a file pins none: Monday 2026-01-05 10:00 UTC (FixedClock's default)."""

FILE_KEYS = frozenset({"description", "now", "timezone", "defaults", "entities", "cases"})
DEFAULT_KEYS = frozenset({"principal", "action", "resource", "context"})
CASE_KEYS = frozenset(
    {
        "name",
        "description",
        "principal",
        "action",
        "resource",
        "context",
        "entities",
        "expect",
        "policies",
        "outcome",
        "now",
        "timezone",
    }
)
_EXPECT = {"allow": True, "deny": False}


@dataclass(frozen=True, slots=True)
class Expectation:
    """What a case expects: the decision, and optionally the exact determining policies/outcome."""

    allowed: bool
    policies: tuple[PolicyID, ...] | None = None
    outcome: Outcome | None = None

    @property
    def decision(self) -> str:
        return "allow" if self.allowed else "deny"


@dataclass(frozen=True, slots=True)
class TestCase:
    """One case read from a test file; `request` is None exactly when `errors` says why."""

    __test__ = False  # not a pytest class

    file: str
    name: str
    line: int
    request: Request | None
    expect: Expectation | None
    now: datetime
    timezone: str
    errors: tuple[ErrorDetail, ...] = ()

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class TestFile:
    """A parsed test file; `errors` are file-level problems (none of its cases run then)."""

    __test__ = False

    name: str
    cases: tuple[TestCase, ...]
    errors: tuple[ErrorDetail, ...] = ()
    description: str | None = None


class _Problems:
    """Collects `file:line` ErrorDetails so every problem in a file is reported at once."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.items: list[ErrorDetail] = []

    def add(self, code: str, line: int, msg: str) -> None:
        self.items.append(ErrorDetail(code, f"{self.file}:{line}", msg))


def load_test_file(name: str, text: str) -> TestFile:
    """Read one YAML test file. Never raises for bad input: problems come back as errors."""
    problems = _Problems(name)
    if len(text.encode()) > MAX_TEST_FILE_BYTES:
        problems.add("test_file_too_large", 1, f"over {MAX_TEST_FILE_BYTES // 1024} KiB")
        return TestFile(name, (), tuple(problems.items))
    try:
        doc = load_yaml(text)
    except YAMLProblem as exc:
        problems.add("test_yaml_invalid", exc.line, exc.message)
        return TestFile(name, (), tuple(problems.items))
    if not isinstance(doc, LocatedDict):
        problems.add("test_file_invalid", 1, "a test file is a mapping with a `cases` list")
        return TestFile(name, (), tuple(problems.items))
    _unknown_keys(doc, FILE_KEYS, "test file", problems)
    description = _optional_str(doc, "description", problems)
    tz_name = _timezone(doc, "UTC", problems)
    now = _now(doc, tz_name, DEFAULT_NOW, problems)
    defaults = _defaults(doc, problems)
    shared = _entities(doc, problems)
    raw_cases = doc.get("cases")
    if not isinstance(raw_cases, LocatedList) or not raw_cases:
        code = "test_key_missing" if raw_cases is None else "test_value_invalid"
        problems.add(code, doc.line_of("cases"), "`cases` must be a non-empty list")
        raw_cases = LocatedList(doc.line)
    if len(raw_cases) > MAX_CASES:
        problems.add("test_file_too_large", raw_cases.line, f"over {MAX_CASES} cases")
        raw_cases = LocatedList(doc.line)
    file_errors = tuple(sorted(problems.items, key=_by_line))
    cases: list[TestCase] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(raw_cases):
        for case in _cases(name, raw, raw_cases.line_of(i), i, defaults, shared, tz_name, now):
            if case.name in seen:
                dup = ErrorDetail(
                    "test_case_duplicate",
                    case.location,
                    f"case name {case.name!r} is already used at line {seen[case.name]}",
                )
                case = TestCase(
                    case.file, case.name, case.line, None, None, case.now, case.timezone,
                    (*case.errors, dup),
                )  # fmt: skip
            seen.setdefault(case.name, case.line)
            cases.append(case)
    return TestFile(name, tuple(cases), file_errors, description)


def _cases(
    file: str,
    raw: Any,
    line: int,
    index: int,
    defaults: Mapping[str, Any],
    shared: tuple[Entity, ...],
    file_zone: str,
    file_now: datetime,
) -> list[TestCase]:
    """One case entry; an `action` list expands to one case per action, named `name [ACTION]`."""
    problems = _Problems(file)
    if not isinstance(raw, LocatedDict):
        problems.add("test_case_invalid", line, "a case is a mapping")
        name = f"case #{index + 1}"
        return [TestCase(file, name, line, None, None, file_now, file_zone, tuple(problems.items))]
    _unknown_keys(raw, CASE_KEYS, "case", problems)
    raw_name = raw.get("name")
    name = raw_name.strip() if isinstance(raw_name, str) else ""
    if not name:
        problems.add("test_key_missing", raw.line_of("name"), "every case needs a `name`")
        name = f"case #{index + 1}"
    _optional_str(raw, "description", problems)
    tz_name = _timezone(raw, file_zone, problems)
    now = _now(raw, tz_name, file_now, problems)
    expect = _expectation(raw, problems)
    merged = {k: v for k, v in defaults.items() if k != "context"}
    merged.update({k: raw[k] for k in ("principal", "action", "resource") if k in raw})
    principal = _uid_value(merged.get("principal"), raw, "principal", None, problems)
    resource = _uid_value(merged.get("resource"), raw, "resource", None, problems)
    context = _context(raw, defaults.get("context", {}), problems)
    entities = _merge_entities(shared, _entities(raw, problems))
    actions = merged.get("action")
    many = isinstance(actions, list)
    values = list(actions) if isinstance(actions, list) else [actions]
    if not values:
        problems.add("test_value_invalid", raw.line_of("action"), "`action` list is empty")
        values = [None]
    cases = []
    for value in values:
        own = _Problems(file)
        own.items = list(problems.items)
        action = _uid_value(value, raw, "action", "Action", own)
        label = f"{name} [{action.id if action else value}]" if many else name
        request = None
        if not own.items and principal and action and resource:
            request = Request(principal, action, resource, context, entities)
        errors = tuple(sorted(own.items, key=_by_line))
        cases.append(TestCase(file, label, raw.line, request, expect, now, tz_name, errors))
    return cases


def _unknown_keys(
    doc: LocatedDict, allowed: frozenset[str], what: str, problems: _Problems
) -> None:
    for key in doc:
        if key not in allowed:
            known = ", ".join(sorted(allowed))
            problems.add(
                "test_key_unknown", doc.line_of(key), f"unknown {what} key {key!r} (known: {known})"
            )


def _optional_str(doc: LocatedDict, key: str, problems: _Problems) -> str | None:
    value = doc.get(key)
    if value is not None and not isinstance(value, str):
        problems.add("test_value_invalid", doc.line_of(key), f"`{key}` must be a string")
        return None
    return value


def _timezone(doc: LocatedDict, default: str, problems: _Problems) -> str:
    value = doc.get("timezone", default)
    try:
        zone(value)
    except InvalidInput as exc:
        problems.add(exc.code, doc.line_of("timezone"), exc.message)
        return default
    return str(value)


def _now(doc: LocatedDict, tz_name: str, default: datetime, problems: _Problems) -> datetime:
    if "now" not in doc:
        return default
    try:
        return instant(doc["now"], tz_name)
    except InvalidInput as exc:
        problems.add(exc.code, doc.line_of("now"), exc.message)
        return default


def _defaults(doc: LocatedDict, problems: _Problems) -> Mapping[str, Any]:
    raw = doc.get("defaults", {})
    if not isinstance(raw, dict):
        problems.add("test_value_invalid", doc.line_of("defaults"), "`defaults` must be a mapping")
        return {}
    found = {k: v for k, v in raw.items() if k in DEFAULT_KEYS}
    if isinstance(raw, LocatedDict):
        _unknown_keys(raw, DEFAULT_KEYS, "defaults", problems)
        if "context" in raw:
            found["context"] = merge_patch({}, _json_mapping(raw, "context", problems))
    return found


def _entities(doc: LocatedDict, problems: _Problems) -> tuple[Entity, ...]:
    raw = doc.get("entities")
    if raw is None:
        return ()
    try:
        return parse_entities(raw)
    except InvalidInput as exc:
        for detail in exc.details:
            line = _item_line(raw, detail.loc)
            problems.add(detail.code, line, f"entities{detail.loc}: {detail.msg}")
        return ()


def _item_line(raw: Any, loc: str) -> int:
    """`[3]` -> the line of item 3 of a LocatedList."""
    if isinstance(raw, LocatedList) and loc.startswith("[") and loc[1:-1].isdigit():
        return raw.line_of(int(loc[1:-1]))
    return raw.line if isinstance(raw, LocatedList | LocatedDict) else 1


def _merge_entities(shared: tuple[Entity, ...], own: tuple[Entity, ...]) -> tuple[Entity, ...]:
    """File entities plus the case's own; a case entity replaces a file entity with its uid."""
    mine = {e.uid for e in own}
    return (*(e for e in shared if e.uid not in mine), *own)


def _uid_value(
    value: Any, raw: LocatedDict, key: str, default_type: str | None, problems: _Problems
) -> EntityUID | None:
    line = raw.line_of(key)
    if value is None:
        problems.add("test_key_missing", line, f"`{key}` is required (in the case or `defaults`)")
        return None
    try:
        return parse_uid(value, default_type=default_type)
    except InvalidInput as exc:
        problems.add(exc.code, line, f"`{key}`: {exc.message}")
        return None


def _context(raw: LocatedDict, base: Any, problems: _Problems) -> Mapping[str, Any]:
    own = _json_mapping(raw, "context", problems) if "context" in raw else {}
    merged = merge_patch(base, own)
    return merged if isinstance(merged, dict) else {}


def _json_mapping(doc: LocatedDict, key: str, problems: _Problems) -> dict[str, Any]:
    value = doc[key]
    if not isinstance(value, dict):
        problems.add("test_value_invalid", doc.line_of(key), f"`{key}` must be a mapping")
        return {}
    try:
        plain: dict[str, Any] = plain_json(value, key, deletions=True)
    except InvalidInput as exc:
        problems.add(exc.code, doc.line_of(key), exc.message)
        return {}
    return plain


def _expectation(raw: LocatedDict, problems: _Problems) -> Expectation | None:
    value = raw.get("expect")
    if not isinstance(value, str) or value not in _EXPECT:
        problems.add(
            "test_key_missing" if value is None else "test_value_invalid",
            raw.line_of("expect"),
            "`expect` must be `allow` or `deny`",
        )
        return None
    allowed = _EXPECT[value]
    policies = None
    if "policies" in raw:
        ids = raw["policies"]
        if not isinstance(ids, list) or not all(isinstance(p, str) and p for p in ids):
            problems.add(
                "test_value_invalid", raw.line_of("policies"), "`policies` is a list of policy ids"
            )
        else:
            policies = tuple(sorted({PolicyID(p) for p in ids}))
    outcome = None
    if "outcome" in raw:
        try:
            outcome = Outcome(raw["outcome"])
        except ValueError:
            known = ", ".join(o.value for o in Outcome)
            problems.add(
                "test_value_invalid", raw.line_of("outcome"), f"`outcome` must be one of: {known}"
            )
        else:
            if (outcome is Outcome.ALLOWED) != allowed:
                problems.add(
                    "test_value_invalid",
                    raw.line_of("outcome"),
                    f"`outcome: {outcome.value}` contradicts `expect: {value}`",
                )
    return Expectation(allowed, policies, outcome)


def _by_line(detail: ErrorDetail) -> tuple[int, str]:
    line = detail.loc.rpartition(":")[2]
    return (int(line) if line.isdigit() else 0, detail.code)
