"""Loads Settings from defaults, then `zerogate.toml`, then `ZEROGATE_*` env, reporting every error at once."""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from zerogate.config._settings import Secret, Settings
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
    names = {f.name for f in dataclasses.fields(cls)}
    for unknown in sorted(set(raw) - names):
        dotted = prefix + unknown
        errors.append(
            ErrorDetail("config_unknown_key", _where(dotted, origin), f"unknown setting {dotted!r}")
        )
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in raw:
            continue
        dotted = prefix + f.name
        hint = hints[f.name]
        value = raw[f.name]
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, Mapping):
                errors.append(
                    ErrorDetail("config_type", _where(dotted, origin), "expected a table")
                )
                continue
            kwargs[f.name] = _build(hint, value, dotted + ".", origin, errors)  # type: ignore[arg-type]
            continue
        try:
            kwargs[f.name] = _coerce(hint, value)
        except (TypeError, ValueError) as exc:
            errors.append(ErrorDetail("config_type", _where(dotted, origin), str(exc)))
    return cls(**kwargs)


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
    raise TypeError(f"unsupported setting type {hint!r}")


def _where(dotted: str, origin: Mapping[str, str]) -> str:
    source = origin.get(dotted)
    return f"{source}:{dotted}" if source and not source.startswith("env:") else (source or dotted)
