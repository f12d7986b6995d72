"""`zerogate route add|list|remove`: the `[routes.NAME]` tables of zerogate.toml, edited in place.

The file keeps its comments and layout. A change is checked the way the gateway checks it at
start (the settings loader, then the Envoy route model) before the file is replaced, atomically;
a running `zerogate up` picks the new file up within a second (docs/gateway.md "Routes").
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from zerogate.cli._output import ExitCode, JsonFlag, Output, output_for
from zerogate.cli._serve import DEFAULT_CONFIG, ConfigOption, settings_from
from zerogate.clock import SystemClock
from zerogate.config import RouteSettings, Settings, add_route, remove_route, write_settings
from zerogate.errors import ConfigError, ErrorDetail

route_app = typer.Typer(
    name="route",
    help="Put applications behind the gateway: the routes.NAME tables of zerogate.toml.",
    no_args_is_help=True,
)

RouteName = Annotated[
    str,
    typer.Argument(
        metavar="NAME",
        help="1-32 lowercase letters, digits, '-' or '_', starting with a letter.",
        show_default=False,
    ),
]
_APPLIES = "a running `zerogate up` applies it within a second"
_DEFAULTS = RouteSettings()


@route_app.command("add")
def add(
    ctx: typer.Context,
    name: RouteName,
    from_: Annotated[
        str,
        typer.Option(
            "--from",
            metavar="HOST[/PATH]",
            help="Where requests come in: app.example.com, wiki.localhost:8080/docs.",
            show_default=False,
        ),
    ],
    to: Annotated[
        str,
        typer.Option(
            "--to", metavar="URL", help="The app: http://127.0.0.1:3000.", show_default=False
        ),
    ],
    policy: Annotated[
        str | None,
        typer.Option("--policy", metavar="ID", help="The Cedar Route id (default: NAME)."),
    ] = None,
    public: Annotated[
        bool, typer.Option("--public", help="No sign-in at all: anyone may reach it.")
    ] = False,
    websockets: Annotated[
        bool, typer.Option("--websockets", help="Allow websocket upgrades.")
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", metavar="S", help="Upstream timeout in seconds (default 30)."),
    ] = None,
    mfa_max_age: Annotated[
        int | None,
        typer.Option(
            "--mfa-max-age",
            metavar="S",
            help="Ask for a second factor again when the last one is older than S seconds.",
        ),
    ] = None,
    pass_header: Annotated[
        list[str] | None,
        typer.Option(
            "--pass-header", metavar="H", help="A request header the check may see; repeat."
        ),
    ] = None,
    config: ConfigOption = None,
    json_: JsonFlag = False,
) -> None:
    """Add a route to zerogate.toml (created if missing)."""
    out = output_for(ctx, json_)
    values: dict[str, Any] = {"from": from_, "to": to}
    optional: dict[str, Any] = {
        "policy": policy,
        "allow_public": public or None,
        "websockets": websockets or None,
        "timeout_s": timeout,
        "mfa_max_age_s": mfa_max_age,
        "pass_headers": list(pass_header) if pass_header else None,
    }
    values.update({k: v for k, v in optional.items() if v is not None})
    path = _path(config)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    settings = _write(path, add_route(text, name, values, source=str(path)))
    added = settings.routes[name]
    if out.json:
        out.emit({"config": str(path), "route": route_json(name, added)})
    else:
        out.line(f"added route {name}: {added.from_} -> {added.to}", style="bold green")
        out.line(f"{path} saved; {_APPLIES}.")
    raise typer.Exit(ExitCode.OK)


@route_app.command("list")
def list_(ctx: typer.Context, config: ConfigOption = None, json_: JsonFlag = False) -> None:
    """List the routes (with ZEROGATE_* overrides applied, as the gateway sees them)."""
    out = output_for(ctx, json_)
    routes = sorted(settings_from(config).routes.items())
    if out.json:
        out.emit({"routes": [route_json(name, conf) for name, conf in routes]})
        raise typer.Exit(ExitCode.OK)
    if not routes:
        out.line("no routes: `zerogate up` runs the demo app (add one: zerogate route add)")
        raise typer.Exit(ExitCode.OK)
    table = Table("name", "from", "to", "policy", "options")
    for name, conf in routes:
        table.add_row(name, conf.from_, conf.to, conf.policy or name, ", ".join(_flags(conf)))
    out.out.print(table)
    raise typer.Exit(ExitCode.OK)


@route_app.command("remove")
def remove(
    ctx: typer.Context, name: RouteName, config: ConfigOption = None, json_: JsonFlag = False
) -> None:
    """Remove a route from zerogate.toml."""
    out = output_for(ctx, json_)
    path = _path(config)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    _write(path, remove_route(text, name, source=str(path)))
    _done(out, name, path)


def _done(out: Output, name: str, path: Path) -> None:
    if out.json:
        out.emit({"config": str(path), "route": name, "result": "removed"})
    else:
        out.line(f"removed route {name}", style="bold green")
        out.line(f"{path} saved; {_APPLIES}.")
    raise typer.Exit(ExitCode.OK)


def _path(config: Path | None) -> Path:
    if config is not None:
        settings_from(config)  # an explicit file must exist (config_not_found)
    return config or DEFAULT_CONFIG


def _write(path: Path, text: str) -> Settings:
    """Save `text` as `path` only if the gateway would run it."""
    # The CLI is the one edge that reads the process environment (STYLE.md §12).
    return write_settings(path, text, environ=os.environ, check=lambda s: _check(s, path))


def _check(settings: Settings, path: Path) -> None:
    from zerogate.app import gateway_routes  # lazy: other commands skip the servers' imports

    try:
        gateway_routes(settings, clock=SystemClock())
    except ConfigError as exc:
        details = [ErrorDetail(d.code, f"{path}:{d.loc}", d.msg) for d in exc.details]
        raise ConfigError(exc.message, code=exc.code, details=details) from None


def _flags(conf: RouteSettings) -> list[str]:
    flags = ["public"] if conf.allow_public else []
    flags += ["websockets"] if conf.websockets else []
    flags += ["webhook"] if conf.webhook_secrets else []
    flags += [f"mfa ≤ {conf.mfa_max_age_s} s"] if conf.mfa_max_age_s else []
    flags += [f"timeout {conf.timeout_s:g} s"] if conf.timeout_s != _DEFAULTS.timeout_s else []
    flags += [f"fail {conf.fail_mode}"] if conf.fail_mode != _DEFAULTS.fail_mode else []
    return flags


def route_json(name: str, conf: RouteSettings) -> dict[str, object]:
    """A route as `route list --json` shows it; a webhook secret never appears."""
    return {
        "name": name,
        "from": conf.from_,
        "to": conf.to,
        "policy": conf.policy or name,
        "allow_public": conf.allow_public,
        "websockets": conf.websockets,
        "timeout_s": conf.timeout_s,
        "mfa_max_age_s": conf.mfa_max_age_s,
        "fail_mode": conf.fail_mode,
        "pass_headers": list(conf.pass_headers),
        "webhook": bool(conf.webhook_secrets),
    }
