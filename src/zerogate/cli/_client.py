"""`zerogate client ...`: register and manage OpenID Connect relying parties."""

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
from zerogate.identity.oidc import SCOPES, Client, ClientRegistry

T = TypeVar("T")

client_app = typer.Typer(
    name="client",
    help="Register and manage OpenID Connect clients (relying parties).",
    no_args_is_help=True,
)


def with_clients(settings: Settings, action: Callable[[ClientRegistry], Awaitable[T]]) -> T:
    async def run() -> T:
        from zerogate.app import client_admin  # lazy: other commands skip the servers' imports

        async with client_admin(settings) as clients:
            return await action(clients)

    return asyncio.run(run())


ClientID = Annotated[str, typer.Argument(metavar="CLIENT_ID", show_default=False)]


@client_app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="Shown to users.", show_default=False)
    ],
    redirect_uri: Annotated[
        list[str],
        typer.Option("--redirect-uri", help="Exact callback URL; repeat for several."),
    ],
    public: Annotated[
        bool, typer.Option("--public", help="No secret (browser or native app): PKCE only.")
    ] = False,
    client_id: Annotated[
        str | None, typer.Option("--id", help="Choose the client id (default: generated).")
    ] = None,
    post_logout_redirect_uri: Annotated[
        list[str] | None,
        typer.Option("--post-logout-redirect-uri", help="Where RP-initiated logout may return."),
    ] = None,
    backchannel_logout_uri: Annotated[
        str | None, typer.Option("--backchannel-logout-uri", help="Receives logout tokens.")
    ] = None,
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", help=f"Allowed scopes (default: {' '.join(SCOPES)})."),
    ] = None,
    consent: Annotated[
        bool, typer.Option("--consent", help="Third-party client: users approve its scopes.")
    ] = False,
    config: ConfigOption = None,
    json_: JsonFlag = False,
) -> None:
    """Register a client; a confidential client's secret is printed once, now."""
    out = output_for(ctx, json_)
    added = with_clients(
        settings_from(config),
        lambda c: c.add(
            name,
            redirect_uris=redirect_uri,
            public=public,
            client_id=client_id,
            post_logout_redirect_uris=post_logout_redirect_uri or (),
            backchannel_logout_uri=backchannel_logout_uri,
            scopes=scope or SCOPES,
            consent_required=consent,
            now=datetime.now(UTC),
        ),
    )
    if out.json:
        out.emit({"client": client_json(added.client), "client_secret": added.secret})
        raise typer.Exit(ExitCode.OK)
    out.line(f"registered client {added.client.client_id}", style="bold green")
    if added.secret is not None:
        out.line(f"client secret (shown once, store it now): {added.secret}")
    raise typer.Exit(ExitCode.OK)


@client_app.command("list")
def list_(ctx: typer.Context, config: ConfigOption = None, json_: JsonFlag = False) -> None:
    """List registered clients."""
    out = output_for(ctx, json_)
    found = with_clients(settings_from(config), lambda c: c.list())
    if out.json:
        out.emit({"clients": [client_json(c) for c in found]})
        raise typer.Exit(ExitCode.OK)
    table = Table("client id", "name", "type", "redirect URIs", "status")
    for c in found:
        kind = "public" if c.public else "confidential"
        status = "disabled" if c.disabled else "active"
        table.add_row(c.client_id, c.name, kind, "\n".join(c.redirect_uris), status)
    out.out.print(table)
    raise typer.Exit(ExitCode.OK)


@client_app.command("disable")
def disable(
    ctx: typer.Context, client_id: ClientID, config: ConfigOption = None, json_: JsonFlag = False
) -> None:
    """Refuse a client from now on and revoke every token it holds."""
    out = output_for(ctx, json_)
    with_clients(settings_from(config), lambda c: c.disable(client_id, now=datetime.now(UTC)))
    _done(out, "disabled", client_id)


@client_app.command("enable")
def enable(
    ctx: typer.Context, client_id: ClientID, config: ConfigOption = None, json_: JsonFlag = False
) -> None:
    """Accept a disabled client again (its old tokens stay revoked)."""
    out = output_for(ctx, json_)
    with_clients(settings_from(config), lambda c: c.enable(client_id))
    _done(out, "enabled", client_id)


@client_app.command("delete")
def delete(
    ctx: typer.Context, client_id: ClientID, config: ConfigOption = None, json_: JsonFlag = False
) -> None:
    """Delete a client and everything issued to it."""
    out = output_for(ctx, json_)
    with_clients(settings_from(config), lambda c: c.delete(client_id))
    _done(out, "deleted", client_id)


@client_app.command("rotate-secret")
def rotate_secret(
    ctx: typer.Context, client_id: ClientID, config: ConfigOption = None, json_: JsonFlag = False
) -> None:
    """Give a confidential client a new secret; the old one stops working at once."""
    out = output_for(ctx, json_)
    secret = with_clients(settings_from(config), lambda c: c.rotate_secret(client_id))
    if out.json:
        out.emit({"client_id": client_id, "client_secret": secret})
    else:
        out.line(f"new client secret (shown once, store it now): {secret}")
    raise typer.Exit(ExitCode.OK)


def _done(out: Output, verb: str, client_id: str) -> None:
    if out.json:
        out.emit({"client_id": client_id, "result": verb})
    else:
        out.line(f"{verb} client {client_id}", style="bold green")
    raise typer.Exit(ExitCode.OK)


def client_json(c: Client) -> dict[str, object]:
    return {
        "client_id": c.client_id,
        "name": c.name,
        "public": c.public,
        "token_endpoint_auth_method": c.auth_method,
        "redirect_uris": list(c.redirect_uris),
        "post_logout_redirect_uris": list(c.post_logout_redirect_uris),
        "backchannel_logout_uri": c.backchannel_logout_uri,
        "scopes": list(c.scopes),
        "consent_required": c.consent_required,
        "created_at": c.created_at.isoformat(),
        "disabled": c.disabled,
    }
