"""`zerogate up` and `zerogate serve ROLE`: load settings, then hand over to the composition root."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from zerogate.cli._output import JsonFlag, output_for
from zerogate.config import Settings, load_settings
from zerogate.errors import ConfigError, ErrorDetail

DEFAULT_CONFIG = Path("zerogate.toml")

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        metavar="PATH",
        help="Settings file (default: ./zerogate.toml if present); ZEROGATE_* env overrides it.",
    ),
]


def up(ctx: typer.Context, config: ConfigOption = None, json_: JsonFlag = False) -> None:
    """Run every Zerogate service in one process (SQLite, example policies by default)."""
    output_for(ctx, json_)
    settings = settings_from(config)
    from zerogate.app import SettingsSource, run_all_in_one  # lazy: `policy` skips the servers

    # The routes follow the file while it runs (docs/gateway.md "Routes").
    run_all_in_one(settings, source=SettingsSource(config or DEFAULT_CONFIG, os.environ))


def serve(
    ctx: typer.Context,
    role: Annotated[
        str, typer.Argument(metavar="ROLE", help="The service to run.", show_default=False)
    ],
    config: ConfigOption = None,
    json_: JsonFlag = False,
) -> None:
    """Run one Zerogate service (ROLE) in this process."""
    output_for(ctx, json_)
    settings = settings_from(config)
    from zerogate.app import run_role

    run_role(role, settings)


def settings_from(config: Path | None) -> Settings:
    """Settings for a command: `--config` (must exist) or ./zerogate.toml, then ZEROGATE_* env."""
    if config is not None and not config.is_file():
        raise ConfigError(
            f"settings file not found: {config}",
            code="config_not_found",
            details=[ErrorDetail("config_not_found", str(config), "no such file")],
        )
    # The CLI is the one edge that reads the process environment (STYLE.md §12).
    return load_settings(config or DEFAULT_CONFIG, environ=os.environ)
