"""`zerogate policy ...`: validate, test, explain and format Cedar policy bundles."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from zerogate.cli._output import ExitCode, JsonFlag, output_for
from zerogate.cli._policy_admin import history, push
from zerogate.cli._policy_explain import explain
from zerogate.cli._policy_fmt import fmt
from zerogate.cli._policy_test import policy_test
from zerogate.policy import Bundle, compile_bundle

policy_app = typer.Typer(
    name="policy",
    help="Validate, test, explain, format and push Cedar policy bundles.",
    no_args_is_help=True,
)

BundleDir = Annotated[
    Path, typer.Argument(metavar="DIR", help="The policy bundle directory.", show_default=False)
]


@policy_app.command("validate")
def validate(ctx: typer.Context, bundle_dir: BundleDir, json_: JsonFlag = False) -> None:
    """Compile a bundle: parse every policy, check it against the schema, load its entities.

    Prints the bundle hash and counts, or every problem as `file:line: message [code]` (exit 1).
    """
    out = output_for(ctx, json_, base_dir=bundle_dir)
    compiled = compile_bundle(Bundle.from_dir(bundle_dir))
    sources = compiled.base.sources.values()
    templates = sum(1 for s in sources if s.is_template)
    policy_files = [name for name, _ in compiled.bundle.policy_files]
    summary = {
        "ok": True,
        "hash": compiled.hash,
        "policies": len(sources) - templates,
        "templates": templates,
        "links": len(compiled.base.links),
        "entities": len(compiled.entities),
        "policy_files": policy_files,
        "test_files": [name for name, _ in compiled.bundle.test_files],
    }
    if out.json:
        out.emit(summary)
        raise typer.Exit(ExitCode.OK)
    out.line(f"OK  {bundle_dir.as_posix()}", style="bold green")
    rows = [("hash", compiled.hash), ("policies", str(summary["policies"]))]
    if templates or compiled.base.links:
        rows.append(("templates", f"{templates} ({len(compiled.base.links)} links)"))
    rows.append(("entities", str(len(compiled.entities))))
    rows.append(("files", ", ".join(policy_files)))
    for key, value in rows:
        out.line(Text.assemble((f"  {key:<10}", "dim"), value))


policy_app.command("test")(policy_test)
policy_app.command("explain")(explain)
policy_app.command("fmt")(fmt)
policy_app.command("push")(push)
policy_app.command("history")(history)
