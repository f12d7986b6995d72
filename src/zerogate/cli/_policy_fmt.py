"""`zerogate policy fmt`: format `.cedar` files in place, or `--check` that they are formatted."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from zerogate.cli._output import ExitCode, JsonFlag, Output, output_for
from zerogate.errors import ErrorDetail, InvalidInput, PolicyError
from zerogate.policy import format_policy_text

MAX_FILES = 2000


def fmt(
    ctx: typer.Context,
    target: Annotated[
        Path,
        typer.Argument(
            metavar="DIR|FILE", help="A bundle directory or one .cedar file.", show_default=False
        ),
    ],
    check: Annotated[
        bool, typer.Option("--check", help="Change nothing; exit 1 if any file would change.")
    ] = False,
    line_width: Annotated[
        int, typer.Option("--line-width", min=40, max=400, help="Maximum line length.")
    ] = 80,
    json_: JsonFlag = False,
) -> None:
    """Format Cedar policy files with Cedar's formatter.

    Comments are kept: a file whose comments the formatter would drop or alter, or whose
    policies would change meaning, is left untouched and reported (exit 1).
    """
    out = output_for(ctx, json_)
    files = _cedar_files(target)
    changed: list[str] = []
    unchanged: list[str] = []
    errors: list[ErrorDetail] = []
    for path in files:
        name = path.as_posix()
        try:
            text = path.read_text(encoding="utf-8")
            formatted = format_policy_text(text, file=name, line_width=line_width)
        except PolicyError as exc:
            errors.extend(exc.details or [ErrorDetail(exc.code, name, exc.message)])
            continue
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(ErrorDetail("input_unreadable", name, str(exc)))
            continue
        if formatted == text:
            unchanged.append(name)
            continue
        changed.append(name)
        if not check:
            _replace(path, formatted)
    failed = bool(errors) or (check and bool(changed))
    _report(out, check=check, changed=changed, unchanged=unchanged, errors=errors)
    raise typer.Exit(ExitCode.ERROR if failed else ExitCode.OK)


def _cedar_files(target: Path) -> list[Path]:
    if target.is_file():
        if target.suffix != ".cedar":
            raise InvalidInput(f"{target} is not a .cedar file", code="input_not_cedar")
        return [target]
    if not target.is_dir():
        raise InvalidInput(f"no such file or directory: {target}", code="path_not_found")
    files = [
        p
        for p in sorted(target.rglob("*.cedar"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(target).parts)
    ]
    if len(files) > MAX_FILES:
        raise InvalidInput(f"over {MAX_FILES} .cedar files under {target}", code="input_too_large")
    return files


def _replace(path: Path, text: str) -> None:
    """Write atomically (a crash leaves the old or the new file, never half of one)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        shutil.copymode(path, tmp)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _report(
    out: Output,
    *,
    check: bool,
    changed: list[str],
    unchanged: list[str],
    errors: list[ErrorDetail],
) -> None:
    if out.json:
        body: dict[str, object] = {"check": check, "changed": changed, "unchanged": unchanged}
        if errors:
            out.fail(
                PolicyError(
                    f"{len(errors)} problem(s) formatting policies",
                    code="policy_fmt_failed",
                    details=errors,
                ),
                **body,
            )
        else:
            out.emit({"ok": not (check and changed), **body, "errors": []})
        return
    verb = "would reformat" if check else "reformatted"
    done_verb = "would be reformatted" if check else "reformatted"
    for name in changed:
        out.line(Text.assemble((f"{verb} ", "bold yellow" if check else "bold"), name))
    if errors:
        out.fail(
            PolicyError(
                f"{len(errors)} problem(s) formatting policies",
                code="policy_fmt_failed",
                details=errors,
            )
        )
    done = f"{len(changed)} file(s) {done_verb}, {len(unchanged)} already formatted"
    if errors:
        done += f", {len(errors)} problem(s)"
    out.line(done, style="bold red" if errors or (check and changed) else "bold green")
