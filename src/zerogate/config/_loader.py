"""Loads Settings from defaults, then `zerogate.toml`, then `ZEROGATE_*` env, reporting every error at once."""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from zerogate.config._secret import Secret
from zerogate.config._settings import Settings
from zerogate.config._upstreams import UPSTREAM_NAME
from zerogate.errors import ConfigError, ErrorDetail

ENV_PREFIX = "ZEROGATE_"


def load_settings(
    path: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build Settings; `path` may be missing (defaults apply). Raises ConfigError listing all problems."""
    errors: list[ErrorDetail] = []
    raw: dict[str, Any] = {}
    origin: dict[str, str] = {}
    if path is not None and path.exists():
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"cannot parse {path}",
                details=[ErrorDetail("config_syntax", str(path), str(exc))],
            ) from exc
        _mark(raw, "", str(path), origin)
    for key, value in (environ or {}).items():
        if not key.startswith(ENV_PREFIX):
            continue
        dotted = key[len(ENV_PREFIX) :].lower().replace("__", ".")
        _set_dotted(raw, dotted, value)
        origin[dotted] = f"env:{key}"
    settings = _build(Settings, raw, "", origin, errors)
    if errors:
        raise ConfigError(f"{len(errors)} configuration error(s)", details=errors)
    assert isinstance(settings, Settings)
    return settings


def _mark(raw: Mapping[str, Any], prefix: str, source: str, origin: dict[str, str]) -> None:
    for key, value in raw.items():
        dotted = f"{prefix}{key}"
        origin[dotted] = source
        if isinstance(value, Mapping):
            _mark(value, dotted + ".", source, origin)
        elif isinstance(value, list):
            # Arrays of tables (`[[upstreams.x.group_rules]]`): each entry is `key[i]`.
            for index, item in enumerate(value):
                if isinstance(item, Mapping):
                    origin[f"{dotted}[{index}]"] = source
                    _mark(item, f"{dotted}[{index}].", source, origin)


def _set_dotted(raw: dict[str, Any], dotted: str, value: str) -> None:
    *parents, leaf = dotted.split(".")
    node = raw
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[leaf] = value


def _build(
    cls: type[Any],
    raw: Mapping[str, Any],
    prefix: str,
    origin: Mapping[str, str],
    errors: list[ErrorDetail],
) -> Any:
    hints = typing.get_type_hints(cls)
    names = {_key(f) for f in dataclasses.fields(cls)}
    for unknown in sorted(set(raw) - names):
        dotted = prefix + unknown
        errors.append(
            ErrorDetail("config_unknown_key", _where(dotted, origin), f"unknown setting {dotted!r}")
        )
    kwargs: dict[str, Any] = {}
    failed: set[str] = set()
    for f in dataclasses.fields(cls):
        key = _key(f)
        if key not in raw:
            continue
        dotted = prefix + key
        hint = hints[f.name]
        value = raw[key]
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, Mapping):
                errors.append(
                    ErrorDetail("config_type", _where(dotted, origin), "expected a table")
                )
            else:
                kwargs[f.name] = _build(hint, value, dotted + ".", origin, errors)  # type: ignore[arg-type]
        elif (named := _table_of(hint)) is not None:
            built = _build_named(named, value, dotted, origin, errors)
            if built is not None:
                kwargs[f.name] = built
        elif (item := _array_of(hint)) is not None:
            built_list = _build_array(item, value, dotted, origin, errors)
            if built_list is not None:
                kwargs[f.name] = built_list
        else:
            try:
                kwargs[f.name] = _coerce(hint, value)
            except (TypeError, ValueError) as exc:
                errors.append(ErrorDetail("config_type", _where(dotted, origin), str(exc)))
                failed.add(key)
    built_cls = cls(**kwargs)
    _check(built_cls, prefix, origin, errors, skip=failed)
    return built_cls


def _key(f: dataclasses.Field[Any]) -> str:
    """The setting's name in files and variables: the field's, unless it is a Python keyword
    (`from`), which the field declares with `metadata={"key": ...}`."""
    return str(f.metadata.get("key", f.name))


def _check(
    obj: Any, prefix: str, origin: Mapping[str, str], errors: list[ErrorDetail], *, skip: set[str]
) -> None:
    """Run a settings class's own `problems()` (values that parse but make no sense)."""
    problems = getattr(obj, "problems", None)
    if problems is None:
        return
    for key, msg in problems():
        if key in skip:
            continue  # already reported as a type error
        errors.append(ErrorDetail("config_invalid", _where(prefix + key, origin), msg))


def _table_of(hint: Any) -> type[Any] | None:
    """`Mapping[str, SomeSettings]` -> SomeSettings: a table of name-keyed tables."""
    if typing.get_origin(hint) is Mapping:
        _, value = typing.get_args(hint)
        if dataclasses.is_dataclass(value):
            return value  # type: ignore[return-value]
    return None


def _array_of(hint: Any) -> type[Any] | None:
    """`tuple[SomeRule, ...]` -> SomeRule: an array of tables."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) is not tuple or len(args) != 2 or args[1] is not Ellipsis:
        return None
    item: type[Any] = args[0]
    return item if dataclasses.is_dataclass(item) else None


def _build_named(
    cls: type[Any],
    value: Any,
    dotted: str,
    origin: Mapping[str, str],
    errors: list[ErrorDetail],
) -> Mapping[str, Any] | None:
    if not isinstance(value, Mapping):
        errors.append(ErrorDetail("config_type", _where(dotted, origin), "expected a table"))
        return None
    built: dict[str, Any] = {}
    for name in sorted(value):
        where = _where(f"{dotted}.{name}", origin)
        if not UPSTREAM_NAME.fullmatch(name) or "__" in name:
            msg = "names are 1-32 lowercase letters, digits, '-' or '_', starting with a letter"
            errors.append(ErrorDetail("config_invalid", where, msg))
            continue
        if not isinstance(value[name], Mapping):
            errors.append(ErrorDetail("config_type", where, "expected a table"))
            continue
        built[name] = _build(cls, value[name], f"{dotted}.{name}.", origin, errors)
    return MappingProxyType(built)


def _build_array(
    cls: type[Any],
    value: Any,
    dotted: str,
    origin: Mapping[str, str],
    errors: list[ErrorDetail],
) -> tuple[Any, ...] | None:
    if not isinstance(value, list):
        msg = "expected an array of tables (set it in the configuration file)"
        errors.append(ErrorDetail("config_type", _where(dotted, origin), msg))
        return None
    items = []
    for index, item in enumerate(value):
        here = f"{dotted}[{index}]"
        if not isinstance(item, Mapping):
            errors.append(ErrorDetail("config_type", _where(here, origin), "expected a table"))
            continue
        items.append(_build(cls, item, here + ".", origin, errors))
    return tuple(items)


def _coerce(hint: Any, value: Any) -> Any:
    optional = False
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        hint = args[0]
    if optional and value in ("", None):
        return None
    if hint is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expected a boolean, got {value!r}")
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"expected an integer, got {value!r}")
        return int(value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"expected a number, got {value!r}")
        return float(value)
    if hint is Path:
        if not isinstance(value, str):
            raise ValueError(f"expected a path, got {value!r}")
        return Path(value)
    if hint is Secret:
        if not isinstance(value, str):
            raise ValueError("expected a string")
        return Secret(value)
    if hint is str:
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {value!r}")
        return value
    if typing.get_origin(hint) is tuple and typing.get_args(hint) == (str, Ellipsis):
        if isinstance(value, str):
            # From the environment: a comma-separated list.
            return tuple(item.strip() for item in value.split(",") if item.strip())
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"expected an array of strings, got {value!r}")
        return tuple(value)
    raise TypeError(f"unsupported setting type {hint!r}")


def _where(dotted: str, origin: Mapping[str, str]) -> str:
    source = origin.get(dotted)
    if source is None:
        # A missing key: name the file whose table should have held it.
        table = origin.get(dotted.rpartition(".")[0])
        if table is not None and not table.startswith("env:"):
            source = table
    return f"{source}:{dotted}" if source and not source.startswith("env:") else (source or dotted)
