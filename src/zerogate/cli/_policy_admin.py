"""`zerogate policy push` and `zerogate policy history`: change and inspect the active bundle."""

from __future__ import annotations

import asyncio
import getpass
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from zerogate.cli._output import ExitCode, JsonFlag, output_for
from zerogate.cli._serve import ConfigOption, settings_from
from zerogate.control import Activation
from zerogate.policy import Bundle


def push(
    ctx: typer.Context,
    bundle_dir: Annotated[
        Path, typer.Argument(metavar="DIR", help="The policy bundle directory.", show_default=False)
    ],
    config: ConfigOption = None,
    actor: Annotated[
        str | None, typer.Option("--actor", help="Who to record as activating it (default: $USER).")
    ] = None,
    json_: JsonFlag = False,
) -> None:
    """Validate a bundle, store it and make it active on every PDP that shares the store.

    An invalid bundle is rejected with every error (exit 1) and the active one stays active.
    """
    out = output_for(ctx, json_, base_dir=bundle_dir)
    settings = settings_from(config)
    bundle = Bundle.from_dir(bundle_dir)
    who = actor or _user()

    async def run() -> Activation:
        from zerogate.app import policy_admin

        async with policy_admin(settings) as admin:
            return await admin.publish(bundle, actor=who)

    activation = asyncio.run(run())
    if out.json:
        out.emit(_as_json(activation))
    else:
        out.line(f"ACTIVE  {activation.bundle_hash}", style="bold green")
        out.line(f"  activation #{activation.id} by {activation.activated_by}")
    raise typer.Exit(ExitCode.OK)


def history(
    ctx: typer.Context,
    config: ConfigOption = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="How many to show.")] = 20,
    json_: JsonFlag = False,
) -> None:
    """List recent activations, newest (the active bundle) first."""
    out = output_for(ctx, json_)
    settings = settings_from(config)

    async def run() -> list[Activation]:
        from zerogate.app import policy_admin

        async with policy_admin(settings) as admin:
            return await admin.history(limit=limit)

    activations = asyncio.run(run())
    if out.json:
        out.emit({"activations": [_as_json(a) for a in activations]})
        raise typer.Exit(ExitCode.OK)
    if not activations:
        out.line("no policy bundle has been activated yet")
        raise typer.Exit(ExitCode.OK)
    table = Table("#", "bundle", "activated at (UTC)", "by", "")
    for i, a in enumerate(activations):
        when = a.activated_at.strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(
            str(a.id), a.bundle_hash[:12], when, a.activated_by or "", "active" if i == 0 else ""
        )
    out.out.print(table)
    raise typer.Exit(ExitCode.OK)


def _as_json(a: Activation) -> dict[str, object]:
    return {
        "id": a.id,
        "bundle": a.bundle_hash,
        "activated_at": a.activated_at.isoformat(),
        "activated_by": a.activated_by,
    }


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
