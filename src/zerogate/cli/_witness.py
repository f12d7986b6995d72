"""`zerogate witness init|serve`: run a transparency-log witness (c2sp.org/tlog-witness).

A witness cosigns a log's checkpoints only when each new one is consistent with the last one it
cosigned, so a log host that rewrites its history is caught (docs/audit.md "Witnesses"). Run it
on another host, under another operator, than the log it witnesses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zerogate.audit import AuditError, NoteVerifier, create_witness_key
from zerogate.cli._output import ExitCode, JsonFlag, output_for
from zerogate.errors import ConfigError, ErrorDetail

witness_app = typer.Typer(
    name="witness",
    help="Run a witness that cosigns other logs' checkpoints (c2sp.org/tlog-witness).",
    no_args_is_help=True,
)

KeyFileOption = Annotated[
    Path,
    typer.Option("--key", metavar="FILE", help="The witness's private key file (mode 0600)."),
]


@witness_app.command("init")
def init(
    ctx: typer.Context,
    name: Annotated[
        str,
        typer.Option(
            "--name", metavar="NAME", help="The witness's name, e.g. witness.example.com/w1."
        ),
    ],
    key: KeyFileOption,
    json_: JsonFlag = False,
) -> None:
    """Create a witness key and print its public key (vkey) for the logs to pin."""
    out = output_for(ctx, json_)
    signer = create_witness_key(key, name)
    vkey = signer.verifier().vkey
    if out.json:
        out.emit({"name": signer.name, "key_file": str(key), "vkey": vkey})
    else:
        out.line(vkey)
        out.err.print(
            f"wrote {key} (mode 0600); pin the key above in each log's [audit] witnesses",
            markup=False,
            soft_wrap=True,
        )
    raise typer.Exit(ExitCode.OK)


@witness_app.command("serve")
def serve(
    ctx: typer.Context,
    key: KeyFileOption,
    logs: Annotated[
        list[str],
        typer.Option(
            "--log",
            metavar="ORIGIN=VKEY",
            help="A log to witness and its checkpoint key (repeatable).",
        ),
    ],
    state: Annotated[
        Path,
        typer.Option("--state", metavar="DIR", help="Where the latest cosigned checkpoints live."),
    ],
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port.")] = 7380,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    json_: JsonFlag = False,
) -> None:
    """Serve POST /add-checkpoint until interrupted."""
    output_for(ctx, json_)
    pinned = _parse_logs(logs)
    from zerogate.app import run_witness  # lazy: `witness init` starts no server

    run_witness(key_file=key, logs=pinned, state_dir=state, host=host, port=port)


def _parse_logs(values: list[str]) -> dict[str, list[NoteVerifier]]:
    """`ORIGIN=VKEY` options; every bad one is reported at once."""
    found: dict[str, list[NoteVerifier]] = {}
    errors: list[ErrorDetail] = []
    for index, value in enumerate(values):
        origin, sep, vkey = value.partition("=")
        where = f"--log[{index}]"
        if not sep or not origin or not vkey:
            errors.append(ErrorDetail("witness_log_invalid", where, "expected ORIGIN=VKEY"))
            continue
        try:
            found.setdefault(origin, []).append(NoteVerifier.from_vkey(vkey))
        except AuditError as exc:  # a bad key: reported with the others
            errors.append(ErrorDetail("witness_log_invalid", where, exc.message))
    if not found and not errors:
        errors.append(ErrorDetail("witness_log_invalid", "--log", "name at least one log"))
    if errors:
        raise ConfigError("invalid --log option(s)", details=errors)
    return found
