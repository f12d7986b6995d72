"""`zerogate policy test`: run a bundle's YAML tests, show failures, coverage, and write JUnit XML."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from zerogate.cli._json import run_json
from zerogate.cli._output import ExitCode, JsonFlag, Output, output_for
from zerogate.errors import InvalidInput
from zerogate.policy import (
    Bundle,
    CaseStatus,
    Coverage,
    TestCaseResult,
    TestFileResult,
    TestRun,
    compile_bundle,
    junit_xml,
    run_tests,
)

_STYLE = {CaseStatus.PASSED: "green", CaseStatus.FAILED: "bold red", CaseStatus.ERROR: "bold red"}
_LABEL = {CaseStatus.PASSED: "PASS", CaseStatus.FAILED: "FAIL", CaseStatus.ERROR: "ERROR"}


def policy_test(
    ctx: typer.Context,
    bundle_dir: Annotated[
        Path, typer.Argument(metavar="DIR", help="The policy bundle directory.", show_default=False)
    ],
    junit: Annotated[
        Path | None,
        typer.Option("--junit", metavar="PATH", help="Also write a JUnit XML report to PATH."),
    ] = None,
    name_filter: Annotated[
        str | None,
        typer.Option(
            "--filter", "-k", metavar="TEXT", help="Run only cases whose name contains TEXT."
        ),
    ] = None,
    coverage: Annotated[
        bool, typer.Option("--coverage/--no-coverage", help="Report policy coverage.")
    ] = True,
    fail_under: Annotated[
        float | None,
        typer.Option(
            "--fail-under", metavar="PERCENT", min=0, max=100, help="Fail below this coverage."
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="List every case, not just failures.")
    ] = False,
    json_: JsonFlag = False,
) -> None:
    """Run the bundle's YAML tests (its *.yaml files, by convention tests/*.yaml).

    Exit 0 when every case passes, 1 when any fails or errors (or coverage is below
    --fail-under), 4 when there is nothing to run.
    """
    out = output_for(ctx, json_, base_dir=bundle_dir)
    compiled = compile_bundle(Bundle.from_dir(bundle_dir))
    run = run_tests(compiled, name_filter=name_filter)
    if junit is not None:
        _write(junit, junit_xml(run, path_prefix=bundle_dir.as_posix()))
    if not compiled.bundle.test_files or run.empty:
        if name_filter and compiled.bundle.test_files:
            message = f"no test case name contains {name_filter!r}"
        else:
            message = f"no test files in {bundle_dir.as_posix()} (YAML files, e.g. tests/*.yaml)"
        _no_tests(out, message)
    below = fail_under is not None and run.coverage.percent < fail_under
    if out.json:
        body = run_json(run, coverage=coverage or fail_under is not None)
        if below:
            body["ok"] = False
            body["fail_under"] = fail_under
        out.emit(body)
    else:
        _render(out, run, verbose=verbose, coverage=coverage)
        if below:
            out.line(
                f"policy coverage {run.coverage.percent:.1f}% is below --fail-under {fail_under:g}%",
                style="bold red",
            )
    raise typer.Exit(ExitCode.OK if run.ok and not below else ExitCode.ERROR)


def _no_tests(out: Output, message: str) -> None:
    if out.json:
        out.emit({"code": "no_tests", "message": message, "errors": []})
    else:
        out.err.print(Text.assemble(("no tests: ", "bold yellow"), message), soft_wrap=True)
    raise typer.Exit(ExitCode.NO_TESTS)


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(
            f"cannot write the JUnit report {path}: {exc.strerror}", code="output_unwritable"
        ) from None


def _render(out: Output, run: TestRun, *, verbose: bool, coverage: bool) -> None:
    base = out.state.base_dir.as_posix() if out.state.base_dir else "."
    out.line(
        f"{base}: {_plural(len(run.cases), 'case')} in {_plural(len(run.files), 'file')}, "
        f"bundle {run.bundle_hash[:12]}",
        style="bold",
    )
    for result in run.files:
        if result.errors:
            out.line(
                Text.assemble(("ERROR ", "bold red"), (out.where(result.file), "bold"), "  not run")
            )
            for detail in result.errors:
                out.line(out.detail_text(detail, "  "))
        for case in result.cases:
            if verbose or not case.passed:
                _render_case(out, case)
    out.line()
    out.out.print(_files_table(run, out))
    if coverage:
        _render_coverage(out, run.coverage)
    passed, failed = run.count(CaseStatus.PASSED), run.count(CaseStatus.FAILED)
    errors = run.count(CaseStatus.ERROR) + run.file_errors
    summary = (
        f"{passed} passed, {failed} failed, {_plural(errors, 'error')} in {run.duration_s:.2f}s"
    )
    if run.name_filter:
        summary += f" (filter {run.name_filter!r})"
    out.line(summary, style="bold green" if run.ok else "bold red")


def _render_case(out: Output, case: TestCaseResult) -> None:
    label = _LABEL[case.status]
    out.line(
        Text.assemble(
            (f"{label:<5} ", _STYLE[case.status]),
            (out.where(case.location), "bold"),
            f"  {case.name}",
        )
    )
    if case.status is CaseStatus.FAILED:
        for line in case.message.splitlines():
            out.line(f"  {line}")
    elif case.status is CaseStatus.ERROR:
        if case.case.request is not None and case.message:
            out.line(f"  {case.message.splitlines()[0]}")  # the `request: ...` line
        for detail in case.errors:
            out.line(out.detail_text(detail, "  "))


def _files_table(run: TestRun, out: Output) -> Table:
    table = Table(header_style="bold")
    table.add_column("Test file", no_wrap=True)
    for name in ("Passed", "Failed", "Errors", "Coverage"):
        table.add_column(name, justify="right")
    for result in run.files:
        table.add_row(
            Text(result.file),
            str(result.count(CaseStatus.PASSED)),
            _count(result.count(CaseStatus.FAILED)),
            _count(result.count(CaseStatus.ERROR) + (1 if result.errors else 0)),
            _percent(result, run.coverage),
        )
    return table


def _render_coverage(out: Output, coverage: Coverage) -> None:
    style = "green" if coverage.covered == coverage.total else "yellow"
    out.line(
        f"Policy coverage: {coverage.covered}/{coverage.total} policies "
        f"({coverage.percent:.1f}%) determined at least one case",
        style=f"bold {style}",
    )
    table = Table(header_style="bold")
    table.add_column("Policy", no_wrap=True)
    table.add_column("Effect")
    table.add_column("Location", no_wrap=True)
    table.add_column("Cases", justify="right")
    table.add_column("Covered by")
    for p in coverage.policies:
        name = Text(p.policy_id, style="" if p.covered else "bold yellow")
        if p.template:
            name.append(f" (template {p.template})", style="dim")
        table.add_row(
            name,
            p.effect,
            Text(p.location),
            Text(str(p.hits)) if p.covered else Text("0", style="bold yellow"),
            Text(", ".join(p.files)) if p.files else Text("never", style="bold yellow"),
        )
    out.out.print(table)
    for t in coverage.templates:
        links = ", ".join(t.links) or "no links: never evaluated"
        status = "covered" if t.covered else "not covered"
        out.line(f"template {t.template_id} ({t.location}): {status}; links: {links}")
    if coverage.uncovered:
        out.line(f"never determining: {', '.join(coverage.uncovered)}", style="yellow")


def _count(n: int) -> Text:
    return Text(str(n), style="bold red" if n else "")


def _percent(result: TestFileResult, coverage: Coverage) -> str:
    return f"{coverage.percent_of(result.covered):.1f}%"


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
