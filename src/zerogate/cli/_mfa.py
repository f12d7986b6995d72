"""`zerogate mfa ...`: list a user's second factors, remove a TOTP credential or passkey, issue recovery codes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

import typer
from rich.table import Table

from zerogate.cli._output import ExitCode, JsonFlag, output_for
from zerogate.cli._serve import ConfigOption, settings_from
from zerogate.cli._user import UserArg, YesFlag, confirm, now
from zerogate.config import Settings
from zerogate.identity import (
    RECOVERY_CODE_COUNT,
    TOTP,
    PasskeyCredential,
    Passkeys,
    RecoveryCodes,
    TOTPCredential,
)

T = TypeVar("T")

mfa_app = typer.Typer(
    name="mfa",
    help="Manage users' second factors: TOTP credentials, passkeys and recovery codes.",
    no_args_is_help=True,
)


@dataclass(frozen=True, slots=True)
class _MFA:
    totp: TOTP
    recovery: RecoveryCodes
    passkeys: Passkeys


def with_mfa(settings: Settings, action: Callable[[_MFA], Awaitable[T]]) -> T:
    """Run one action on the configured store's authenticators, passkeys and recovery codes."""

    async def run() -> T:
        from zerogate.app import mfa_admin  # lazy: other commands skip the servers' imports

        async with mfa_admin(settings) as (totp, recovery, passkeys):
            return await action(_MFA(totp, recovery, passkeys))

    return asyncio.run(run())


@mfa_app.command("list")
def list_(
    ctx: typer.Context, user: UserArg, config: ConfigOption = None, json_: JsonFlag = False
) -> None:
    """List a user's TOTP credentials and how many recovery codes are unused."""
    out = output_for(ctx, json_)

    async def read(mfa: _MFA) -> tuple[list[TOTPCredential], int]:
        return await mfa.totp.list(user), await mfa.recovery.remaining(user)

    credentials, remaining = with_mfa(settings_from(config), read)
    if out.json:
        out.emit(
            {
                "totp": [credential_json(c) for c in credentials],
                "recovery_codes_remaining": remaining,
            }
        )
        raise typer.Exit(ExitCode.OK)
    if credentials:
        table = Table("id", "label", "confirmed", "created (UTC)")
        for c in credentials:
            table.add_row(
                c.id,
                c.label or "",
                "yes" if c.confirmed else "no",
                f"{c.created_at:%Y-%m-%d %H:%M:%S}",
            )
        out.out.print(table)
    else:
        out.line("no TOTP credentials")
    out.line(f"recovery codes unused: {remaining}")
    raise typer.Exit(ExitCode.OK)


@mfa_app.command("totp-remove")
def totp_remove(
    ctx: typer.Context,
    user: UserArg,
    credential_id: Annotated[
        str,
        typer.Argument(
            metavar="CREDENTIAL_ID", help="From `zerogate mfa list`.", show_default=False
        ),
    ],
    yes: YesFlag = False,
    config: ConfigOption = None,
    json_: JsonFlag = False,
) -> None:
    """Remove one of a user's TOTP credentials (for a lost or replaced phone)."""
    out = output_for(ctx, json_)
    confirm(f"remove TOTP credential {credential_id} of {user}?", yes=yes)
    removed = with_mfa(
        settings_from(config), lambda mfa: mfa.totp.remove(user, credential_id, now=now())
    )
    if out.json:
        out.emit({"removed": credential_json(removed)})
    else:
        out.line(f"removed TOTP credential {removed.id}", style="bold green")
    raise typer.Exit(ExitCode.OK)


@mfa_app.command("passkey-list")
def passkey_list(
    ctx: typer.Context, user: UserArg, config: ConfigOption = None, json_: JsonFlag = False
) -> None:
    """List a user's passkeys (WebAuthn)."""
    out = output_for(ctx, json_)
    passkeys = with_mfa(settings_from(config), lambda mfa: mfa.passkeys.list(user))
    if out.json:
        out.emit({"passkeys": [passkey_json(p) for p in passkeys]})
        raise typer.Exit(ExitCode.OK)
    if not passkeys:
        out.line("no passkeys")
        raise typer.Exit(ExitCode.OK)
    table = Table("id", "name", "kind", "user verified", "created (UTC)", "last used (UTC)")
    for p in passkeys:
        table.add_row(
            p.id,
            p.name or "",
            "device-bound" if p.device_bound else ("synced" if p.backed_up else "syncable"),
            "yes" if p.user_verified else "no",
            f"{p.created_at:%Y-%m-%d %H:%M:%S}",
            f"{p.last_used_at:%Y-%m-%d %H:%M:%S}" if p.last_used_at else "never",
        )
    out.out.print(table)
    raise typer.Exit(ExitCode.OK)


@mfa_app.command("passkey-remove")
def passkey_remove(
    ctx: typer.Context,
    user: UserArg,
    passkey_id: Annotated[
        str,
        typer.Argument(
            metavar="PASSKEY_ID", help="From `zerogate mfa passkey-list`.", show_default=False
        ),
    ],
    yes: YesFlag = False,
    config: ConfigOption = None,
    json_: JsonFlag = False,
) -> None:
    """Remove one of a user's passkeys (a lost or replaced device)."""
    out = output_for(ctx, json_)
    confirm(f"remove passkey {passkey_id} of {user}?", yes=yes)
    removed = with_mfa(
        settings_from(config), lambda mfa: mfa.passkeys.remove(user, passkey_id, now=now())
    )
    if out.json:
        out.emit({"removed": passkey_json(removed)})
    else:
        out.line(f"removed passkey {removed.id}", style="bold green")
    raise typer.Exit(ExitCode.OK)


@mfa_app.command("recovery-codes")
def recovery_codes(
    ctx: typer.Context,
    user: UserArg,
    count: Annotated[
        int, typer.Option("--count", min=1, max=20, help="How many codes to issue.")
    ] = RECOVERY_CODE_COUNT,
    config: ConfigOption = None,
    json_: JsonFlag = False,
) -> None:
    """Issue a new set of recovery codes (printed once; every earlier code stops working)."""
    out = output_for(ctx, json_)
    codes = with_mfa(
        settings_from(config), lambda mfa: mfa.recovery.generate(user, count=count, now=now())
    )
    if out.json:
        out.emit({"recovery_codes": codes})
        raise typer.Exit(ExitCode.OK)
    out.line(f"recovery codes for {user} (shown once; each works once):", style="bold")
    for code in codes:
        out.line(f"  {code}")
    raise typer.Exit(ExitCode.OK)


def credential_json(credential: TOTPCredential) -> dict[str, object]:
    return {
        "id": credential.id,
        "label": credential.label,
        "confirmed": credential.confirmed,
        "created_at": credential.created_at.isoformat(),
        "confirmed_at": credential.confirmed_at.isoformat() if credential.confirmed_at else None,
    }


def passkey_json(passkey: PasskeyCredential) -> dict[str, object]:
    return {
        "id": passkey.id,
        "name": passkey.name,
        "aaguid": passkey.aaguid,
        "device_bound": passkey.device_bound,
        "backed_up": passkey.backed_up,
        "user_verified": passkey.user_verified,
        "transports": list(passkey.transports),
        "created_at": passkey.created_at.isoformat(),
        "last_used_at": passkey.last_used_at.isoformat() if passkey.last_used_at else None,
    }
