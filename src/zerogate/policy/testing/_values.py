"""Reads the values people type in tests and on the command line: entity refs, times, zones."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from zerogate.errors import ErrorDetail, InvalidInput
from zerogate.policy._bundle import entity_from_json
from zerogate.policy._model import Entity, EntityUID

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_UID_RE = re.compile(rf'^(?P<type>{_IDENT}(?:::{_IDENT})*)::"(?P<id>(?:[^"\\]|\\.)*)"$', re.S)
_BARE_RE = re.compile(rf"^{_IDENT}$")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "0": "\0", "\\": "\\", '"': '"', "'": "'"}
_ESCAPE_RE = re.compile(r"\\(u\{[0-9a-fA-F]{1,6}\}|.)", re.S)
MAX_JSON_DEPTH = 32


def parse_uid(value: Any, *, default_type: str | None = None) -> EntityUID:
    """`User::"pat"` or `{type: User, id: pat}` as an EntityUID.

    With `default_type`, a bare name is shorthand: `GET` is `Action::"GET"`. Raises InvalidInput
    (code `uid_invalid`) saying what was expected.
    """
    if isinstance(value, Mapping):
        unknown = set(value) - {"type", "id"}
        if (
            unknown
            or not isinstance(value.get("type"), str)
            or not isinstance(value.get("id"), str)
        ):
            raise _bad_uid(value)
        if not re.fullmatch(rf"{_IDENT}(?:::{_IDENT})*", value["type"]):
            raise _bad_uid(value)
        return EntityUID(value["type"], value["id"])
    if not isinstance(value, str):
        raise _bad_uid(value)
    text = value.strip()
    match = _UID_RE.match(text)
    if match is not None:
        return EntityUID(match["type"], _unescape(match["id"]))
    if default_type is not None and _BARE_RE.match(text):
        return EntityUID(default_type, text)
    raise _bad_uid(value)


def _bad_uid(value: Any) -> InvalidInput:
    return InvalidInput(
        f'expected an entity like User::"pat" or {{type: User, id: pat}}, got {value!r}',
        code="uid_invalid",
    )


def _unescape(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        esc = match[1]
        if esc.startswith("u{"):
            return chr(int(esc[2:-1], 16))
        if esc not in _ESCAPES:
            raise InvalidInput(f"unknown escape \\{esc} in an entity id", code="uid_invalid")
        return _ESCAPES[esc]

    return _ESCAPE_RE.sub(one, text)


def zone(name: Any) -> ZoneInfo:
    """An IANA zone (`Europe/Berlin`); raises InvalidInput (`timezone_unknown`) otherwise."""
    if not isinstance(name, str) or not name:
        raise InvalidInput("`timezone` must be an IANA zone name", code="timezone_unknown")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"unknown time zone {name!r} (use an IANA name like Europe/Berlin)",
            code="timezone_unknown",
        ) from None


def instant(value: Any, zone_name: str) -> datetime:
    """An ISO 8601 time as an aware UTC datetime; a time without offset is local to `zone_name`."""
    when: object = value
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidInput(
                f"`now` must be an ISO 8601 time like 2026-01-05T10:00:00+01:00, got {value!r}",
                code="time_invalid",
            ) from None
    if not isinstance(when, datetime):
        raise InvalidInput(
            f"`now` must be an ISO 8601 date and time, got {value!r}", code="time_invalid"
        )
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone(zone_name))
    return when.astimezone(UTC)


def merge_patch(base: Any, patch: Any) -> Any:
    """RFC 7396 JSON Merge Patch: mappings merge recursively, `null` deletes, anything else replaces."""
    if not isinstance(patch, Mapping):
        return patch
    result = dict(base) if isinstance(base, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def plain_json(value: Any, where: str, *, deletions: bool = False, depth: int = 0) -> Any:
    """A plain copy of `value` if it is JSON Cedar can take (no floats, dates or nulls).

    With `deletions`, a mapping member may be null: a merge patch deleting a default (RFC 7396).
    Raises InvalidInput (`test_value_invalid`) naming the offending path.
    """
    if depth > MAX_JSON_DEPTH:
        raise InvalidInput(f"`{where}` is nested too deeply", code="test_value_invalid")
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if item is None and deletions:
                out[str(key)] = None
            else:
                out[str(key)] = plain_json(
                    item, f"{where}.{key}", deletions=deletions, depth=depth + 1
                )
        return out
    if isinstance(value, list):
        return [
            plain_json(item, f"{where}[{i}]", deletions=deletions, depth=depth + 1)
            for i, item in enumerate(value)
        ]
    hint = ""
    if value is None:
        hint = " (a null only deletes a default)" if deletions else ""
    elif isinstance(value, float):
        hint = " (Cedar has no floating-point numbers; use an integer)"
    elif isinstance(value, date):
        hint = " (YAML read a date; quote it to keep a string)"
    raise InvalidInput(
        f"`{where}` has a value Cedar cannot take: {value!r}{hint}", code="test_value_invalid"
    )


def parse_entities(raw: Any) -> tuple[Entity, ...]:
    """Cedar-JSON entities, where `uid` and `parents` may also be written `Type::"id"`.

    Raises InvalidInput (`entity_invalid`) listing every bad entity, located `[index]`.
    """
    if not isinstance(raw, list):
        raise InvalidInput(
            "entities must be a list",
            code="entity_invalid",
            details=[ErrorDetail("entity_invalid", "", "expected a list of entities")],
        )
    found: list[Entity] = []
    details: list[ErrorDetail] = []
    for i, item in enumerate(raw):
        try:
            if not isinstance(item, Mapping):
                raise TypeError("an entity is a mapping with `uid`, `attrs`, `parents`")
            normal = dict(item)
            if "attrs" in normal:
                normal["attrs"] = plain_json(normal["attrs"], "attrs")
            if "uid" in normal:
                normal["uid"] = parse_uid(normal["uid"]).as_json()
            else:
                raise KeyError("uid")
            parents = normal.get("parents", [])
            if not isinstance(parents, list):
                raise TypeError("parents must be a list")
            normal["parents"] = [parse_uid(p).as_json() for p in parents]
            found.append(entity_from_json(normal))
        except InvalidInput as exc:
            details.append(ErrorDetail("entity_invalid", f"[{i}]", exc.message))
        except KeyError as exc:
            details.append(ErrorDetail("entity_invalid", f"[{i}]", f"missing {exc}"))
        except (TypeError, ValueError) as exc:
            details.append(ErrorDetail("entity_invalid", f"[{i}]", str(exc)))
    if details:
        raise InvalidInput("invalid entities", code="entity_invalid", details=details)
    return tuple(found)
