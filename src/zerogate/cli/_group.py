"""`zerogate group ...`: create, list and delete groups, and add or remove their members."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from zerogate.cli._output import ExitCode, JsonFlag, output_for
from zerogate.cli._serve import ConfigOption, settings_from
from zerogate.cli._user import (
    UserArg,
    YesFlag,
    change_json,
    confirm,
    now,
    report,
    with_directory,
)
from zerogate.identity import Directory, Group, User

group_app = typer.Typer(
    name="group",
    help="Manage groups and their members.",
    no_args_is_help=True,
)

GroupArg = Annotated[
    str, typer.Argument(metavar="GROUP", help="The group's name.", show_default=False)
]


@group_app.command("add")
def add(
    ctx: typer.Context,
    name: GroupArg,
    description: Annotated[
        str | None, typer.Option("--description", help="What the group is for.")
    ] = None,
    config: ConfigOption = None,
    json_: JsonFlag = False,
) -> None:
    """Create a group; its name is its Cedar id (`Group::"NAME"`)."""
    out = output_for(ctx, json_)
    group = with_directory(
        settings_from(config), lambda d: d.add_group(name, description=description, now=now())
    )
    if out.json:
        out.emit({"group": group_json(group)})
    else:
        out.line(f"CREATED  {group.name}", style="bold green")
    raise typer.Exit(ExitCode.OK)


@group_app.command("list")
def list_(ctx: typer.Context, config: ConfigOption = None, json_: JsonFlag = False) -> None:
    """List every group with its members."""
    out = output_for(ctx, json_)

    async def read(d: Directory) -> list[tuple[Group, list[User]]]:
        return [(g, await d.members_of(g.name)) for g in await d.list_groups()]

    groups = with_directory(settings_from(config), read)
    if out.json:
        out.emit({"groups": [group_json(g, members) for g, members in groups]})
        raise typer.Exit(ExitCode.OK)
    if not groups:
        out.line("no groups yet: add one with `zerogate group add NAME`")
        raise typer.Exit(ExitCode.OK)
    table = Table("group", "description", "members")
    for g, members in groups:
        table.add_row(g.name, g.description or "", ", ".join(m.username for m in members))
    out.out.print(table)
    raise typer.Exit(ExitCode.OK)


@group_app.command("delete")
def delete(
    ctx: typer.Context,
    name: GroupArg,
    yes: YesFlag = False,
    config: ConfigOption = None,
    json_: JsonFlag = False,
) -> None:
    """Delete a group (its members stay; they only leave it)."""
    out = output_for(ctx, json_)
    confirm(f"delete group {name}?", yes=yes)
    changes = with_directory(settings_from(config), lambda d: d.delete_group(name, now=now()))
    if out.json:
        out.emit({"changes": [change_json(c) for c in changes]})
    else:
        out.line(f"deleted {changes[0].entity_id}", style="bold green")
    raise typer.Exit(ExitCode.OK)


@group_app.command("add-member")
def add_member(
    ctx: typer.Context,
    group: GroupArg,
    user: UserArg,
    config: ConfigOption = None,
    json_: JsonFlag = False,
) -> None:
    """Add a user to a group."""
    out = output_for(ctx, json_)
    change = with_directory(settings_from(config), lambda d: d.add_member(group, user, now=now()))
    report(out, change, f"added to {group.lower()}:")


@group_app.command("remove-member")
def remove_member(
    ctx: typer.Context,
    group: GroupArg,
    user: UserArg,
    config: ConfigOption = None,
    json_: JsonFlag = False,
) -> None:
    """Remove a user from a group."""
    out = output_for(ctx, json_)
    change = with_directory(
        settings_from(config), lambda d: d.remove_member(group, user, now=now())
    )
    report(out, change, f"removed from {group.lower()}:")


def group_json(group: Group, members: list[User] | None = None) -> dict[str, object]:
    body: dict[str, object] = {
        "id": group.id,
        "name": group.name,
        "description": group.description,
        "created_at": group.created_at.isoformat(),
    }
    if members is not None:
        body["members"] = [m.username for m in members]
    return body
