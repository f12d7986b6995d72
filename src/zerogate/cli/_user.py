"""`zerogate user ...`: create, list, show, disable, enable and delete users, and set passwords."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import typer
from rich.table import Table
from rich.text import Text

from zerogate.cli._output import ExitCode, JsonFlag, Output, output_for
from zerogate.cli._serve import ConfigOption, settings_from
from zerogate.config import Settings
from zerogate.errors import InvalidInput
from zerogate.identity import (
    Directory,
    Group,
    IdentityChange,
    User,
    normalise_email,
    normalise_username,
)

T = TypeVar("T")

user_app = typer.Typer(
    name="user",
    help="Manage users: add, list, show, disable, enable, delete, set passwords.",
    no_args_is_help=True,
)

UserArg = Annotated[
    str,
    typer.Argument(metavar="USER", help="Username or email address.", show_default=False),
]
PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the password from the first line of stdin (never pass it as an argument).",
    ),
]
YesFlag = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def with_directory(settings: Settings, action: Callable[[Directory], Awaitable[T]]) -> T:
    """Run one action on the configured store's Directory (changes become events)."""

    async def run() -> T:
        from zerogate.app import identity_admin  # lazy: other commands skip the app's imports

        async with identity_admin(settings) as directory:
            return await action(directory)

    return asyncio.run(run())


def now() -> datetime:
    return datetime.now(UTC)


@user_app.command("add")
def add(
    ctx: typer.Context,
    username: Annotated[
        str,
        typer.Argument(
            metavar="USERNAME",
            help="ASCII letters, digits, '.', '_', '-' (stored lowercase).",
            show_default=False,
        ),
    ],
    email: Annotated[str, typer.Option("--email", help="Email address (unique).")],
    display_name: Annotated[
        str | None, typer.Option("--display-name", help="Name shown to people.")
    ] = None,
    groups: Annotated[
        list[str] | None, typer.Option("--group", help="Add to this group (repeatable).")
    ] = None,
    password_stdin: PasswordStdin = False,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="Create the user without a password.")
    ] = False,
    config: ConfigOption = None,
    json_: JsonFlag = False,
) -> None:
    """Create a user. The password is prompted for (twice) on a terminal, or read from stdin.

    Without a terminal, say --password-stdin or --no-password.
    """
    out = output_for(ctx, json_)
    settings = settings_from(config)
    if no_password and password_stdin:
        raise InvalidInput(
            "--no-password and --password-stdin exclude each other", code="usage_error"
        )
    normalise_username(username)  # fail before asking for a password
    normalise_email(email)
    password = None if no_password else read_password(password_stdin)
    user = with_directory(
        settings,
        lambda d: d.add_user(
            username,
            email,
            display_name=display_name,
            password=password,
            groups=groups or (),
            now=now(),
        ),
    )
    if out.json:
        out.emit({"user": user_json(user)})
    else:
        out.line(f"CREATED  {user.username}", style="bold green")
        out.line(f"  id {user.id}")
    raise typer.Exit(ExitCode.OK)


@user_app.command("list")
def list_(ctx: typer.Context, config: ConfigOption = None, json_: JsonFlag = False) -> None:
    """List every user, by username."""
    out = output_for(ctx, json_)
    users = with_directory(settings_from(config), lambda d: d.list_users())
    if out.json:
        out.emit({"users": [user_json(u) for u in users]})
        raise typer.Exit(ExitCode.OK)
    if not users:
        out.line("no users yet: add one with `zerogate user add USERNAME --email EMAIL`")
        raise typer.Exit(ExitCode.OK)
    table = Table("username", "email", "name", "status", "password", "created (UTC)")
    at = now()
    for u in users:
        password = "set" if u.has_password else "none"
        table.add_row(
            u.username, u.email, u.display_name or "", status(u, at), password, _when(u.created_at)
        )
    out.out.print(table)
    raise typer.Exit(ExitCode.OK)


@user_app.command("show")
def show(
    ctx: typer.Context, user: UserArg, config: ConfigOption = None, json_: JsonFlag = False
) -> None:
    """Show one user and its groups."""
    out = output_for(ctx, json_)

    async def read(d: Directory) -> tuple[User, list[Group]]:
        return await d.get_user(user), await d.groups_of(user)

    found, groups = with_directory(settings_from(config), read)
    if out.json:
        out.emit({"user": user_json(found, groups)})
        raise typer.Exit(ExitCode.OK)
    rows = [
        ("username", found.username),
        ("id", found.id),
        ("email", found.email),
        ("name", found.display_name or ""),
        ("status", status(found, now())),
        ("password", "set" if found.has_password else "none"),
        ("groups", ", ".join(g.name for g in groups) or "(none)"),
        ("created", _when(found.created_at)),
        ("updated", _when(found.updated_at)),
    ]
    for key, value in rows:
        out.line(Text.assemble((f"  {key:<10}", "dim"), value))
    raise typer.Exit(ExitCode.OK)


@user_app.command("disable")
def disable(
    ctx: typer.Context, user: UserArg, config: ConfigOption = None, json_: JsonFlag = False
) -> None:
    """Stop a user signing in; their sessions are revoked."""
    out = output_for(ctx, json_)
    change = with_directory(settings_from(config), lambda d: d.disable_user(user, now=now()))
    report(out, change, "disabled")


@user_app.command("enable")
def enable(
    ctx: typer.Context, user: UserArg, config: ConfigOption = None, json_: JsonFlag = False
) -> None:
    """Let a disabled or locked-out user sign in again."""
    out = output_for(ctx, json_)
    change = with_directory(settings_from(config), lambda d: d.enable_user(user, now=now()))
    report(out, change, "enabled")


@user_app.command("delete")
def delete(
    ctx: typer.Context,
    user: UserArg,
    yes: YesFlag = False,
    config: ConfigOption = None,
    json_: JsonFlag = False,
) -> None:
    """Delete a user and their group memberships; their sessions are revoked."""
    out = output_for(ctx, json_)
    confirm(f"delete user {user}?", yes=yes)
    change = with_directory(settings_from(config), lambda d: d.delete_user(user, now=now()))
    report(out, change, "deleted")


@user_app.command("passwd")
def passwd(
    ctx: typer.Context,
    user: UserArg,
    password_stdin: PasswordStdin = False,
    config: ConfigOption = None,
    json_: JsonFlag = False,
) -> None:
    """Set a user's password (prompted twice, or read from stdin); also lifts a lockout."""
    out = output_for(ctx, json_)
    settings = settings_from(config)
    password = read_password(password_stdin)
    change = with_directory(settings, lambda d: d.set_password(user, password, now=now()))
    report(out, change, "password set for")


def read_password(from_stdin: bool) -> str:
    """The new password: stdin's first line, or a hidden prompt with confirmation on a terminal.

    Never an argument: argv is visible to every user on the machine (`ps`) and kept in shell
    history.
    """
    if from_stdin:
        line = typer.get_text_stream("stdin").readline()
        password = line.removesuffix("\n").removesuffix("\r")
        if not password:
            raise InvalidInput("no password on stdin", code="password_missing")
        return password
    if not sys.stdin.isatty():
        raise InvalidInput(
            "no terminal to prompt for a password: use --password-stdin (or --no-password)",
            code="password_missing",
        )
    prompted: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return prompted


def confirm(question: str, *, yes: bool) -> None:
    """Ask before destroying something; without a terminal, --yes is required."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise InvalidInput(
            "refusing to delete without confirmation: add --yes", code="confirmation_required"
        )
    typer.confirm(question, abort=True)


def report(out: Output, change: IdentityChange, verb: str) -> None:
    if out.json:
        out.emit({"change": change_json(change)})
    else:
        out.line(f"{verb} {change.entity_id}", style="bold green")
    raise typer.Exit(ExitCode.OK)


def status(user: User, at: datetime) -> str:
    if user.disabled:
        return "disabled"
    if user.locked(now=at) and user.locked_until is not None:
        return f"locked until {_when(user.locked_until)}"
    return "active"


def user_json(user: User, groups: list[Group] | None = None) -> dict[str, object]:
    body: dict[str, object] = {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "display_name": user.display_name,
        "disabled": user.disabled,
        "has_password": user.has_password,
        "failed_logins": user.failed_logins,
        "locked_until": user.locked_until.isoformat() if user.locked_until else None,
        "created_at": user.created_at.isoformat(),
        "updated_at": user.updated_at.isoformat(),
    }
    if groups is not None:
        body["groups"] = [g.name for g in groups]
    return body


def change_json(change: IdentityChange) -> dict[str, object]:
    return {
        "kind": str(change.kind),
        "type": change.entity_type,
        "id": change.entity_id,
        "user_id": change.user_id,
        "revokes_sessions": change.revokes_sessions,
    }


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S")
