"""The `zerogate` command: global options, error handling and exit codes, and its command groups."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from zerogate._version import __version__
from zerogate.cli._audit import audit_app
from zerogate.cli._client import client_app
from zerogate.cli._doctor import doctor
from zerogate.cli._group import group_app
from zerogate.cli._mfa import mfa_app
from zerogate.cli._output import ExitCode, Output, State
from zerogate.cli._policy import policy_app
from zerogate.cli._route import route_app
from zerogate.cli._serve import serve, up
from zerogate.cli._session import session_app
from zerogate.cli._user import user_app
from zerogate.cli._witness import witness_app
from zerogate.errors import ZerogateError

_ARGS_KEY = "zerogate.args"
_CLICK_USAGE_EXIT = 2


class ZerogateGroup(TyperGroup):
    """The root group: turns every ZerogateError into a report and exit 1, wherever it is raised.

    Usage errors exit 1, not click's 2: exit 2 means "denied" (`policy explain`), and a script
    checking for a deny must never mistake a typo for one. (Typed `Any`: typer vendors click and
    keeps its Context and UsageError types private; usage errors are the exceptions with code 2.)
    """

    def make_context(
        self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any
    ) -> Any:
        try:
            ctx = super().make_context(info_name, args, parent, **extra)
        except typer.TyperException as exc:
            _usage_error(exc, args, None)
            raise
        ctx.meta[_ARGS_KEY] = list(args)
        return ctx

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except typer.TyperException as exc:
            _usage_error(exc, ctx.meta.get(_ARGS_KEY, ()), ctx.find_object(State))
            raise
        except ZerogateError as exc:
            Output(ctx.find_object(State) or State()).fail(exc)
            raise typer.Exit(ExitCode.ERROR) from None
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(ExitCode.INTERRUPTED) from None


def _usage_error(exc: typer.TyperException, args: Sequence[str], state: State | None) -> None:
    """Exit 1 for usage errors; in JSON mode report them as a JSON error document."""
    if getattr(exc, "exit_code", None) != _CLICK_USAGE_EXIT:
        return
    object.__setattr__(exc, "exit_code", int(ExitCode.ERROR))
    words = list(args)
    before_dashes = words[: words.index("--")] if "--" in words else words
    if (state is not None and state.json) or "--json" in before_dashes:
        payload = {"code": "usage_error", "message": exc.format_message(), "errors": []}
        Output(State(json=True)).emit(payload)
        raise typer.Exit(ExitCode.ERROR) from None


app = typer.Typer(
    name="zerogate",
    cls=ZerogateGroup,
    help="Zerogate: zero-trust access, verified per request.",
    add_completion=False,
    no_args_is_help=False,
    pretty_exceptions_enable=False,  # never print locals (settings, secrets) in a traceback
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(policy_app, name="policy")
app.add_typer(user_app, name="user")
app.add_typer(group_app, name="group")
app.add_typer(mfa_app, name="mfa")
app.add_typer(session_app, name="session")
app.add_typer(client_app, name="client")
app.add_typer(route_app, name="route")
app.add_typer(audit_app, name="audit")
app.add_typer(witness_app, name="witness")
app.command("up")(up)
app.command("serve")(serve)
app.command("doctor")(doctor)


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    json_: Annotated[
        bool,
        typer.Option("--json", help="Machine-readable output: one JSON document on stdout."),
    ] = False,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    """Zerogate: zero-trust access, verified per request."""
    state = State(json=json_)
    ctx.obj = state
    if version:
        out = Output(state)
        if out.json:
            out.emit({"version": __version__})
        else:
            out.line(f"zerogate {__version__}")
        raise typer.Exit(ExitCode.OK)
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(ExitCode.OK)


def main() -> None:
    """The console-script entry point (`zerogate`)."""
    app(prog_name="zerogate")
