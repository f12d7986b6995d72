"""`zerogate session ...`: list a user's live sessions and revoke one or all (ASVS 5.0 7.4.5)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import typer
from rich.table import Table

from zerogate.cli._output import ExitCode, JsonFlag, Output, output_for
from zerogate.cli._serve import ConfigOption, settings_from
from zerogate.config import Settings
from zerogate.errors import InvalidInput
from zerogate.identity import ActiveSession, Sessions, SessionsRevoked

T = TypeVar("T")
ID_SHOWN = 12  # hex digits of the session id shown in tables: enough to name one for --id

session_app = typer.Typer(
    name="session",
    help="List and revoke users' login sessions.",
    no_args_is_help=True,
)


def with_sessions(settings: Settings, action: Callable[[Sessions], Awaitable[T]]) -> T:
    """Run one action on the configured store's Sessions (revocations become events)."""

    async def run() -> T:
        from zerogate.app import session_admin  # lazy: other commands skip the servers' imports

        async with session_admin(settings) as sessions:
            return await action(sessions)

    return asyncio.run(run())


def now() -> datetime:
    return datetime.now(UTC)


@session_app.command("list")
def list_(
    ctx: typer.Context,
    user: Annotated[
        str, typer.Argument(metavar="USER", help="Username or email address.", show_default=False)
    ],
    config: ConfigOption = None,
    json_: JsonFlag = False,
) -> None:
    """List a user's live sessions, most recently seen first."""
    out = output_for(ctx, json_)
    found = with_sessions(settings_from(config), lambda s: s.list_for(user, now=now()))
    if out.json:
        out.emit({"sessions": [session_json(a) for a in found]})
        raise typer.Exit(ExitCode.OK)
    if not found:
        out.line(f"no live sessions for {user}")
        raise typer.Exit(ExitCode.OK)
    table = Table("id", "created (UTC)", "last seen (UTC)", "ip", "amr", "expires (UTC)")
    for a in found:
        table.add_row(
            a.id[:ID_SHOWN],
            _when(a.created_at),
            _when(a.last_seen_at),
            a.ip or "",
            " ".join(a.amr),
            _when(a.expires_at),
        )
    out.out.print(table)
    raise typer.Exit(ExitCode.OK)


@session_app.command("revoke")
def revoke(
    ctx: typer.Context,
    id_: Annotated[
        str | None,
        typer.Option("--id", metavar="ID_PREFIX", help="A session id or its first 8+ hex digits."),
    ] = None,
    user: Annotated[
        str | None, typer.Option("--user", metavar="USER", help="With --all: this user.")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Revoke every session of --user.")] = False,
    reason: Annotated[
        str, typer.Option("--reason", help="Recorded with the revocation (audit).")
    ] = "revoked by an administrator",
    config: ConfigOption = None,
    json_: JsonFlag = False,
) -> None:
    """Revoke one session (--id ID_PREFIX) or all of a user's (--user USER --all)."""
    out = output_for(ctx, json_)
    if (id_ is None) == (user is None) or (user is not None) != all_:
        raise InvalidInput("say either --id ID_PREFIX or --user USER --all", code="usage_error")
    settings = settings_from(config)
    if id_ is not None:
        change = with_sessions(settings, lambda s: s.revoke(id_.lower(), reason=reason, now=now()))
    else:
        target = user or ""
        change = with_sessions(settings, lambda s: s.revoke_all(target, reason=reason, now=now()))
    report(out, change)


def report(out: Output, change: SessionsRevoked) -> None:
    if out.json:
        out.emit({"change": revocation_json(change)})
    else:
        count = len(change.session_ids)
        noun = "session" if count == 1 else "sessions"
        out.line(f"revoked {count} {noun} of {change.entity_id}", style="bold green")
    raise typer.Exit(ExitCode.OK)


def session_json(a: ActiveSession) -> dict[str, object]:
    return {
        "id": a.id,
        "user_id": a.user_id,
        "username": a.username,
        "created_at": a.created_at.isoformat(),
        "last_seen_at": a.last_seen_at.isoformat(),
        "expires_at": a.expires_at.isoformat(),
        "absolute_expires_at": a.absolute_expires_at.isoformat(),
        "auth_time": a.auth_time.isoformat(),
        "amr": list(a.amr),
        "mfa_at": a.mfa_at.isoformat() if a.mfa_at else None,
        "ip": a.ip,
        "user_agent": a.user_agent,
    }


def revocation_json(change: SessionsRevoked) -> dict[str, object]:
    return {
        "kind": change.kind,
        "type": change.entity_type,
        "id": change.entity_id,
        "user_id": change.user_id,
        "session_ids": list(change.session_ids),
        "reason": change.reason,
    }


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S")
