"""How the CLI speaks: exit codes, one JSON document on stdout, rich text for people, errors on stderr."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.text import Text

from zerogate.errors import ErrorDetail, ZerogateError


class ExitCode(IntEnum):
    """Process exit codes; documented in docs/reference/exit-codes.md, never renumbered."""

    OK = 0
    ERROR = 1  # invalid input or bundle, failed or erroring tests, usage errors
    DENY = 2  # `policy explain`: the request was denied (only ever a deny)
    NO_TESTS = 4  # `policy test`: nothing to run (no test files, or --filter matched nothing)
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)


@dataclass(slots=True)
class State:
    """Per-invocation options shared by the root callback and the commands (`ctx.obj`)."""

    json: bool = False
    base_dir: Path | None = None  # the bundle a command works on: error locations are inside it


_LOC_FILE = re.compile(r"^(?P<file>[^:\[\s]+)(?P<rest>.*)$", re.S)


class Output:
    """Writes results either as JSON (machines) or as rich text (people)."""

    def __init__(self, state: State) -> None:
        self.state = state

    @property
    def json(self) -> bool:
        return self.state.json

    @property
    def out(self) -> Console:
        # Created per use: Console() binds to sys.stdout when printing, which tests redirect.
        return Console(highlight=False)

    @property
    def err(self) -> Console:
        return Console(stderr=True, highlight=False)

    def emit(self, payload: Mapping[str, Any]) -> None:
        """The one JSON document this invocation prints."""
        typer.echo(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode())

    def line(self, text: str | Text = "", *, style: str | None = None) -> None:
        """One line to stdout, never wrapped, brackets printed as they are (no rich markup)."""
        self.out.print(text, style=style, markup=False, soft_wrap=True)

    def where(self, loc: str) -> str:
        """`payroll.cedar:3` -> `examples/policies/payroll.cedar:3`, so terminals can open it."""
        base = self.state.base_dir
        match = _LOC_FILE.match(loc)
        if base is None or match is None or not (base / match["file"]).is_file():
            return loc
        return f"{(base / match['file']).as_posix()}{match['rest']}"

    def fail(self, exc: ZerogateError, **extra: Any) -> None:
        """Report an error: `{code, message, errors}` on stdout in JSON mode, else on stderr."""
        details = exc.details  # already in natural location order (errors.py)
        if self.json:
            payload: dict[str, Any] = {
                "code": exc.code,
                "message": exc.message,
                "errors": [d.as_dict() for d in details],
            }
            payload.update(extra)
            self.emit(payload)
            return
        err = self.err
        head = Text.assemble(("error: ", "bold red"), exc.message, (f" [{exc.code}]", "dim"))
        err.print(head, soft_wrap=True)
        for detail in details:
            err.print(self.detail_text(detail), soft_wrap=True)

    def detail_text(self, detail: ErrorDetail, indent: str = "  ") -> Text:
        loc = f"{self.where(detail.loc)}: " if detail.loc else ""
        return Text.assemble(indent, (loc, "bold"), detail.msg, (f" [{detail.code}]", "dim"))


JsonFlag = Annotated[
    bool, typer.Option("--json", help="Machine-readable output: one JSON document on stdout.")
]


def output_for(ctx: typer.Context, json_: bool, *, base_dir: Path | None = None) -> Output:
    """The Output for a command: its own `--json` or the global one, whichever is given."""
    state = ctx.find_object(State)
    if state is None:
        state = ctx.ensure_object(State)
    state.json = state.json or json_
    if base_dir is not None:
        state.base_dir = base_dir
    return Output(state)
