"""Edits `[routes.NAME]` tables in zerogate.toml, keeping the person's comments and layout, and
writes the result (atomically) only once it loads the way the server will load it."""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Callable, Mapping, MutableMapping
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import Table

from zerogate.config._loader import load_settings
from zerogate.config._settings import Settings
from zerogate.errors import ConfigError, ErrorDetail

# A table header line or an array-of-tables header: where the previous table's lines end.
_HEADER = re.compile(r"\s*\[")
_COMMENT = re.compile(r"\s*#")


def add_route(text: str, name: str, values: Mapping[str, Any], *, source: str) -> str:
    """`text` with a new `[routes.NAME]` table holding `values` (in the order given).

    Raises ConfigError `route_duplicate` if a route of that name exists, `config_syntax` if
    `text` is not TOML. `source` names the file in error locations.
    """
    doc = _parse(text, source)
    routes = doc.get("routes")
    if isinstance(routes, MutableMapping) and name in routes:
        raise ConfigError(
            f"a route named {name!r} exists",
            code="route_duplicate",
            details=[
                ErrorDetail(
                    "route_duplicate",
                    f"{source}:routes.{name}",
                    "the name is taken: remove that route first or choose another name",
                )
            ],
        )
    table = tomlkit.table()
    for key, value in values.items():
        table[key] = value
    table.add(tomlkit.nl())  # a blank line before whatever follows it
    if routes is None:
        routes = tomlkit.table(is_super_table=True)  # written as [routes.NAME] headers only
        doc["routes"] = routes
    elif not isinstance(routes, MutableMapping):
        detail = ErrorDetail("config_type", f"{source}:routes", "expected a table")
        raise ConfigError("routes is not a table", code="config_type", details=[detail])
    routes[name] = table
    edited = _keep_end(text, _spaced(tomlkit.dumps(doc), name))
    expected = _plain(_parse(text, source))
    expected.setdefault("routes", {})[name] = dict(values)
    _same(edited, expected, source)
    return edited


def remove_route(text: str, name: str, *, source: str) -> str:
    """`text` without the `[routes.NAME]` table (and the comment lines right above it).

    Comments above the next table stay with it. Raises ConfigError `route_not_found`.
    """
    doc = _parse(text, source)
    routes = doc.get("routes")
    if not isinstance(routes, MutableMapping) or name not in routes:
        raise ConfigError(
            f"no route named {name!r}",
            code="route_not_found",
            details=[ErrorDetail("route_not_found", f"{source}:routes.{name}", "no such route")],
        )
    expected = _plain(doc)
    del expected["routes"][name]
    if not expected["routes"]:
        del expected["routes"]
    edited = _cut_table(text, name)
    if edited is None or _plain(_parse(edited, source)) != expected:
        # Not a plain `[routes.NAME]` block (an inline table, dotted keys): let tomlkit do it.
        del routes[name]
        if not routes:
            del doc["routes"]
        edited = tomlkit.dumps(doc)
    edited = _keep_end(text, edited)
    _same(edited, expected, source)
    return edited


def write_settings(
    path: Path,
    text: str,
    *,
    environ: Mapping[str, str],
    check: Callable[[Settings], object] | None = None,
) -> Settings:
    """Replace `path` with `text` if it loads (with `environ`) and passes `check`; else raise
    the ConfigError with locations in `path` and leave the file as it was.

    The new text is written to a temporary file beside `path`, loaded from there, then renamed
    over `path` (atomic on POSIX): a running server never reads a half-written file.
    """
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))  # keep the file's permissions
        try:
            settings = load_settings(tmp, environ=environ)
            if check is not None:
                check(settings)
        except ConfigError as exc:
            raise _relocated(exc, str(tmp), str(path)) from None
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sync_dir(path.parent)
    return settings


def _parse(text: str, source: str) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(text)
    except TOMLKitError as exc:
        raise ConfigError(
            f"cannot parse {source}",
            details=[ErrorDetail("config_syntax", source, str(exc))],
        ) from None


def _plain(doc: tomlkit.TOMLDocument | Table) -> dict[str, Any]:
    unwrapped: dict[str, Any] = doc.unwrap()
    return unwrapped


def _same(edited: str, expected: dict[str, Any], source: str) -> None:
    """The edit must mean exactly what was intended (a guard against a layout we misread)."""
    if _plain(_parse(edited, source)) != expected:
        raise ConfigError(
            f"cannot edit {source} safely",
            code="config_edit_failed",
            details=[
                ErrorDetail("config_edit_failed", source, "edit the [routes.NAME] tables by hand")
            ],
        )


def _header(name: str) -> re.Pattern[str]:
    quoted = re.escape(name)
    return re.compile(
        rf"\s*\[\s*routes\s*\.\s*(?:{quoted}|\"{quoted}\"|'{quoted}')\s*\]\s*(?:#.*)?$"
    )


def _spaced(text: str, name: str) -> str:
    """A blank line between the new `[routes.NAME]` header and the line above it."""
    header = _header(name)
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if i and header.match(line.rstrip("\r\n")) and lines[i - 1].strip():
            if not lines[i - 1].endswith("\n"):
                lines[i - 1] += "\n"
            lines.insert(i, "\n")
            break
    return "".join(lines)


def _cut_table(text: str, name: str) -> str | None:
    """Remove the `[routes.NAME]` block by its lines; None if there is not exactly one."""
    header = _header(name)
    lines = text.splitlines(keepends=True)
    found = [i for i, line in enumerate(lines) if header.match(line.rstrip("\r\n"))]
    if len(found) != 1:
        return None
    (first,) = found
    end = next((i for i in range(first + 1, len(lines)) if _HEADER.match(lines[i])), len(lines))
    while end - 1 > first and _COMMENT.match(lines[end - 1]):
        end -= 1  # comment lines right above the next header belong to it
    start = first
    while start > 0 and _COMMENT.match(lines[start - 1]):
        start -= 1  # and the ones right above ours to us
    return "".join(lines[:start] + lines[end:])


def _keep_end(before: str, after: str) -> str:
    """Do not let an edit add blank lines at the end of the file."""
    stripped = after.rstrip("\n")
    ending = len(before) - len(before.rstrip("\n"))
    return stripped + "\n" * max(ending, 1) if stripped else ""


def _relocated(exc: ConfigError, tmp: str, real: str) -> ConfigError:
    details = [ErrorDetail(d.code, d.loc.replace(tmp, real), d.msg) for d in exc.details]
    return ConfigError(exc.message.replace(tmp, real), code=exc.code, details=details)


def _sync_dir(directory: Path) -> None:
    """Make the rename itself durable (best effort: not every platform opens directories)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
