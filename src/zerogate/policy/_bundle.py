"""Policy bundles: a directory of `.cedar` files, a schema, static entities and tests, content-hashed."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import cedarpy
import orjson
from cedarpy import _internal as cedar

from zerogate._types import BundleHash, PolicyID
from zerogate.errors import ErrorDetail, PolicyError
from zerogate.policy._compiled import Link, PolicyBase
from zerogate.policy._engine import Engine
from zerogate.policy._model import Entity, EntityUID
from zerogate.policy._source import parse_policies

SCHEMA_FILE = "schema.cedarschema"
ENTITIES_FILE = "entities.json"
LINKS_FILE = "links.json"
MAX_BUNDLE_FILES = 2000
MAX_BUNDLE_BYTES = 32 * 1024 * 1024
_PER_ACTION = re.compile(r'in context for Action::"(?:[^"\\]|\\.)*"')
_BUNDLE_SUFFIXES = (".cedar", ".cedarschema", ".json", ".yaml", ".yml")


def default_schema_text() -> str:
    """The Cedar schema Zerogate ships (`policy/schema/zerogate.cedarschema`)."""
    return (resources.files("zerogate.policy") / "schema" / "zerogate.cedarschema").read_text()


@dataclass(frozen=True, slots=True)
class Bundle:
    """The files of one policy revision, identified by the SHA-256 of their names and contents."""

    files: Mapping[str, str]
    hash: BundleHash = field(init=False)

    def __post_init__(self) -> None:
        digest = hashlib.sha256()
        for name in sorted(self.files):
            data = self.files[name].encode()
            # Length-prefixed so no two different file sets can hash alike.
            digest.update(b"%d:%s%d:" % (len(name.encode()), name.encode(), len(data)))
            digest.update(data)
        object.__setattr__(self, "hash", BundleHash(digest.hexdigest()))

    @classmethod
    def from_dir(cls, path: Path) -> Bundle:
        """Read a bundle directory. Raises PolicyError if it is missing, empty or too large."""
        if not path.is_dir():
            raise PolicyError(f"policy bundle directory not found: {path}", code="bundle_not_found")
        files: dict[str, str] = {}
        total = 0
        for item in sorted(path.rglob("*")):
            if not item.is_file() or item.suffix not in _BUNDLE_SUFFIXES:
                continue
            if any(part.startswith(".") for part in item.relative_to(path).parts):
                continue
            total += item.stat().st_size
            if len(files) >= MAX_BUNDLE_FILES or total > MAX_BUNDLE_BYTES:
                raise PolicyError(
                    f"policy bundle {path} is too large (max {MAX_BUNDLE_FILES} files, "
                    f"{MAX_BUNDLE_BYTES // (1024 * 1024)} MiB)",
                    code="bundle_too_large",
                )
            try:
                files[item.relative_to(path).as_posix()] = item.read_text(encoding="utf-8")
            except UnicodeDecodeError as exc:
                raise PolicyError(
                    f"{item}: not UTF-8 text ({exc.reason})", code="bundle_not_text"
                ) from None
        if not any(name.endswith(".cedar") for name in files):
            raise PolicyError(f"no .cedar policy files in {path}", code="bundle_empty")
        return cls(files)

    @property
    def policy_files(self) -> list[tuple[str, str]]:
        return [(n, t) for n, t in sorted(self.files.items()) if n.endswith(".cedar")]

    @property
    def test_files(self) -> list[tuple[str, str]]:
        return [(n, t) for n, t in sorted(self.files.items()) if n.endswith((".yaml", ".yml"))]


@dataclass(frozen=True, slots=True)
class CompiledBundle:
    """A bundle that parsed and validated; ready to build engines from."""

    bundle: Bundle
    base: PolicyBase
    schema: cedar.Schema
    entities: tuple[Entity, ...]

    @property
    def hash(self) -> BundleHash:
        return self.bundle.hash

    def engine(self, *, slicing: bool = True, check_shapes_once: bool = True) -> Engine:
        """An engine; the switches exist so tests and benchmarks can compare the paths."""
        return Engine(
            self.base,
            schema=self.schema,
            entities=self.entities,
            bundle_hash=self.bundle.hash,
            slicing=slicing,
            check_shapes_once=check_shapes_once,
        )


def compile_bundle(bundle: Bundle) -> CompiledBundle:
    """Parse and validate everything; raise one PolicyError listing every problem found."""
    errors: list[ErrorDetail] = []
    schema_name = SCHEMA_FILE if SCHEMA_FILE in bundle.files else "<zerogate.cedarschema>"
    schema_text = bundle.files.get(SCHEMA_FILE) or default_schema_text()
    schema: cedar.Schema | None = None
    try:
        schema = cedar.Schema.from_str(schema_text)
    except ValueError as exc:
        errors.append(ErrorDetail("schema_invalid", schema_name, str(exc)))
    sources = parse_policies(bundle.policy_files, errors)
    links = _parse_links(bundle.files.get(LINKS_FILE), sources, errors)
    entities = _parse_entities(bundle.files.get(ENTITIES_FILE), errors)
    if schema is None or errors:
        raise _invalid(bundle, errors)
    try:
        base = PolicyBase(sources, links)
    except ValueError as exc:
        raise _invalid(bundle, [ErrorDetail("policy_link_invalid", LINKS_FILE, str(exc))]) from None
    _validate(base, schema, errors)
    try:
        cedar.Entities.from_json_str(orjson.dumps([e.as_json() for e in entities]).decode(), schema)
    except ValueError as exc:
        errors.append(ErrorDetail("entity_invalid", ENTITIES_FILE, str(exc)))
    if errors:
        raise _invalid(bundle, errors)
    return CompiledBundle(bundle=bundle, base=base, schema=schema, entities=entities)


def _invalid(bundle: Bundle, errors: list[ErrorDetail]) -> PolicyError:
    return PolicyError(
        f"policy bundle {bundle.hash[:12]} is invalid: {len(errors)} error(s)",
        details=errors,
    )


def _validate(base: PolicyBase, schema: cedar.Schema, errors: list[ErrorDetail]) -> None:
    """Type-check every policy and template against the schema (Cedar's strict validator)."""
    text = "\n".join(src.text for src in base.sources.values())
    result = cedarpy.validate_policies(text, schema)
    id_of = result.id_annotations_by_policy_id
    seen: set[tuple[str, str]] = set()
    for err in result.errors:
        pid = PolicyID(id_of.get(err.policy_id, err.policy_id))
        source = base.sources.get(pid)
        loc = source.location if source else pid
        message = err.error.replace(f"`{err.policy_id}`", f"`{pid}`")
        # Cedar repeats a context error once per action the policy applies to; say it once.
        message = _PER_ACTION.sub("in context", message)
        if (loc, message) not in seen:
            seen.add((loc, message))
            errors.append(ErrorDetail("policy_schema_mismatch", loc, message))


def _parse_entities(text: str | None, errors: list[ErrorDetail]) -> tuple[Entity, ...]:
    if text is None:
        return ()
    raw = _json(text, ENTITIES_FILE, errors)
    if not isinstance(raw, list):
        if raw is not None:
            errors.append(ErrorDetail("entity_invalid", ENTITIES_FILE, "expected a JSON list"))
        return ()
    found: list[Entity] = []
    for i, item in enumerate(raw):
        try:
            found.append(entity_from_json(item))
        except (KeyError, TypeError, ValueError) as exc:
            errors.append(
                ErrorDetail("entity_invalid", f"{ENTITIES_FILE}[{i}]", f"bad entity: {exc}")
            )
    return tuple(found)


def entity_from_json(item: Any) -> Entity:
    """A Cedar-JSON entity (`{"uid": {...}, "attrs": {...}, "parents": [...]}`) as an Entity."""
    if not isinstance(item, dict):
        raise TypeError("expected an object")
    unknown = set(item) - {"uid", "attrs", "parents"}
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)}")
    attrs = item.get("attrs", {})
    if not isinstance(attrs, dict):
        raise TypeError("attrs must be an object")
    return Entity(
        uid=uid_from_json(item["uid"]),
        attrs=attrs,
        parents=tuple(uid_from_json(p) for p in item.get("parents", ())),
    )


def uid_from_json(item: Any) -> EntityUID:
    """`{"type": "User", "id": "alice"}` as an EntityUID; strings only."""
    if not isinstance(item, dict) or not isinstance(item.get("type"), str):
        raise TypeError("an entity reference is {'type': str, 'id': str}")
    if not isinstance(item.get("id"), str) or set(item) - {"type", "id"}:
        raise TypeError("an entity reference is {'type': str, 'id': str}")
    return EntityUID(item["type"], item["id"])


def _parse_links(
    text: str | None, sources: Mapping[PolicyID, Any], errors: list[ErrorDetail]
) -> list[Link]:
    if text is None:
        return []
    raw = _json(text, LINKS_FILE, errors)
    links: list[Link] = []
    for i, item in enumerate(raw if isinstance(raw, list) else []):
        loc = f"{LINKS_FILE}[{i}]"
        try:
            template = PolicyID(item["template"])
            values = {slot: uid_from_json(uid) for slot, uid in item["values"].items()}
            link = Link(PolicyID(item["id"]), template, values)
        except (KeyError, TypeError, AttributeError) as exc:
            errors.append(ErrorDetail("policy_link_invalid", loc, f"bad link: {exc}"))
            continue
        src = sources.get(template)
        if src is None or not src.is_template:
            errors.append(ErrorDetail("policy_link_invalid", loc, f"no template @id({template!r})"))
        elif link.id in sources:
            errors.append(ErrorDetail("policy_id_duplicate", loc, f"{link.id!r} is already used"))
        else:
            links.append(link)
    return links


def _json(text: str, name: str, errors: list[ErrorDetail]) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        errors.append(ErrorDetail("json_invalid", f"{name}:{exc.lineno}:{exc.colno}", exc.msg))
        return None
