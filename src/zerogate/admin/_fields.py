"""Typed inputs of the admin API: one declaration gives both the check and the OpenAPI schema.

Query parameters and body fields are declared once as `Field`s; the API validates with them and
the OpenAPI document is written from them, so what the document promises and what the server
accepts cannot drift apart (schemathesis holds us to both).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from zerogate.errors import ErrorDetail, InvalidInput

# RFC 3339 date-time (JSON Schema "date-time"), with seconds and an explicit offset.
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})"
)


@dataclass(frozen=True, slots=True)
class Field:
    """One input value: a string (optionally a pattern, a length bound or a closed set), an
    integer in a range, a boolean, or an RFC 3339 time. `parse` raises InvalidInput."""

    name: str
    kind: str = "string"  # string | integer | boolean | date-time
    description: str = ""
    required: bool = False
    pattern: str | None = None
    max_length: int | None = None
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    default: Any = None
    example: Any = None

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.kind == "date-time":
            out = {"type": "string", "format": "date-time"}
        elif self.kind == "string":
            out = {"type": "string"}
            if self.choices:
                out["enum"] = list(self.choices)
            if self.pattern is not None:
                out["pattern"] = f"^{self.pattern}$"
            if self.max_length is not None:
                out["minLength"] = 1
                out["maxLength"] = self.max_length
        else:
            out = {"type": self.kind}
            if self.minimum is not None:
                out["minimum"] = self.minimum
            if self.maximum is not None:
                out["maximum"] = self.maximum
        if self.default is not None:
            out["default"] = self.default
        if self.example is not None:
            out["examples"] = [self.example]
        if self.description:
            out["description"] = self.description
        return out

    def parse_text(self, text: str, loc: str) -> Any:
        """A query parameter's text as this field's value."""
        if self.kind == "integer":
            if not re.fullmatch(r"-?\d{1,20}", text):
                raise _invalid(loc, "an integer")
            return self.parse(int(text), loc)
        if self.kind == "boolean":
            if text not in ("true", "false"):
                raise _invalid(loc, "true or false")
            return text == "true"
        return self.parse(text, loc)

    def parse(self, value: Any, loc: str) -> Any:
        """A JSON value as this field's value."""
        if self.kind == "integer":
            if not isinstance(value, int) or isinstance(value, bool):
                raise _invalid(loc, "an integer")
            if (self.minimum is not None and value < self.minimum) or (
                self.maximum is not None and value > self.maximum
            ):
                raise _invalid(loc, f"an integer from {self.minimum} to {self.maximum}")
            return value
        if self.kind == "boolean":
            if not isinstance(value, bool):
                raise _invalid(loc, "true or false")
            return value
        if not isinstance(value, str):
            raise _invalid(loc, "a string")
        if self.kind == "date-time":
            return _parse_time(value, loc)
        if self.choices and value not in self.choices:
            raise _invalid(loc, "one of " + ", ".join(self.choices))
        if self.max_length is not None and not 1 <= len(value) <= self.max_length:
            raise _invalid(loc, f"1 to {self.max_length} characters")
        if self.pattern is not None and re.fullmatch(self.pattern, value) is None:
            raise _invalid(loc, "characters outside what is allowed here")
        return value


def parse_query(query: Mapping[str, Sequence[str]], fields: Sequence[Field]) -> dict[str, Any]:
    """The declared query parameters (defaults filled in) from each name's values; every
    problem reported at once. A parameter given twice is refused: which one counts would be a
    guess. Undeclared parameters are ignored, as HTTP caches and proxies may add their own."""
    problems: list[ErrorDetail] = []
    values: dict[str, Any] = {}
    for field in fields:
        loc = f"query.{field.name}"
        given = query.get(field.name, ())
        if len(given) > 1:
            problems.append(ErrorDetail("invalid_input", loc, "given more than once"))
            continue
        if not given:
            values[field.name] = field.default
            continue
        try:
            values[field.name] = field.parse_text(given[0], loc)
        except InvalidInput as exc:
            problems += exc.details
    if problems:
        raise InvalidInput("invalid query parameters", code="query_invalid", details=problems)
    return values


def parse_body(doc: Any, fields: Sequence[Field]) -> dict[str, Any]:
    """A JSON object body: declared fields only (unknown ones refused), required ones present."""
    if not isinstance(doc, dict):
        raise InvalidInput(
            "the request body must be a JSON object",
            code="body_invalid",
            details=[ErrorDetail("body_invalid", "body", "a JSON object")],
        )
    known = {f.name: f for f in fields}
    problems = [
        ErrorDetail("body_invalid", f"body.{name}", "not a field of this request")
        for name in doc
        if name not in known
    ]
    values: dict[str, Any] = {}
    for field in fields:
        loc = f"body.{field.name}"
        if field.name not in doc:
            if field.required:
                problems.append(ErrorDetail("body_invalid", loc, "required"))
            values[field.name] = field.default
            continue
        try:
            values[field.name] = field.parse(doc[field.name], loc)
        except InvalidInput as exc:
            problems += [ErrorDetail("body_invalid", d.loc, d.msg) for d in exc.details]
    if problems:
        raise InvalidInput("invalid request body", code="body_invalid", details=problems)
    return values


def body_schema(fields: Sequence[Field]) -> dict[str, Any]:
    """The JSON Schema of a body made of `fields` (no other properties)."""
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {f.name: f.schema() for f in fields},
        "additionalProperties": False,
    }
    required = [f.name for f in fields if f.required]
    if required:
        schema["required"] = required
    example = {f.name: f.example for f in fields if f.example is not None}
    if all(f.name in example for f in fields if f.required):
        schema["examples"] = [example]
    return schema


def _parse_time(text: str, loc: str) -> datetime:
    if _RFC3339.fullmatch(text) is None:
        raise _invalid(loc, "an RFC 3339 date-time such as 2026-01-05T10:00:00Z")
    try:
        when = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        raise _invalid(loc, "an RFC 3339 date-time such as 2026-01-05T10:00:00Z") from None
    return when.astimezone(UTC)


def _invalid(loc: str, wanted: str) -> InvalidInput:
    return InvalidInput(
        f"{loc} must be {wanted}",
        code="invalid_input",
        details=[ErrorDetail("invalid_input", loc, f"must be {wanted}")],
    )


__all__ = ["Field", "body_schema", "parse_body", "parse_query"]
