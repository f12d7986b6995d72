"""`zerogate audit verify|prove|tail|search|export`: read and check the audit log (docs/audit.md).

Every command reads the log's files and never writes them, so it is safe beside a running
Zerogate. `verify` and `prove` check signatures with a pinned key: `--key`, else
`[audit] public_key`, else — with a warning, since a key read from the log's own directory
proves nothing against whoever controls that directory (LOG-20) — `checkpoint.vkey` there.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TextIO

import orjson
import typer
from rich.table import Table

from zerogate.audit import (
    VKEY_FILE,
    WITNESSED_DIR,
    AuditError,
    AuditRecord,
    CosignatureVerifier,
    EventKind,
    NoteVerifier,
    Outcome,
    Search,
    WitnessedCheckpoint,
    latest_witnessed,
    open_checkpoint,
    prove,
    read_records,
    search,
    tail,
    to_ocsf,
    verify_log,
)
from zerogate.cli._output import ExitCode, JsonFlag, Output, output_for
from zerogate.cli._serve import ConfigOption, settings_from
from zerogate.config import Settings

audit_app = typer.Typer(
    name="audit",
    help="Check, read and export the tamper-evident audit log.",
    no_args_is_help=True,
)

DirOption = Annotated[
    Path | None,
    typer.Option(
        "--dir",
        metavar="DIR",
        help="The audit directory (default: the audit.dir setting, DATA_DIR/audit).",
    ),
]
KeyOption = Annotated[
    str | None,
    typer.Option(
        "--key",
        metavar="VKEY|FILE",
        help="The pinned checkpoint key (NAME+ID+BASE64), or a file holding it.",
    ),
]
SinceOption = Annotated[
    datetime | None, typer.Option("--since", help="Only entries at or after this time (UTC).")
]
UntilOption = Annotated[
    datetime | None, typer.Option("--until", help="Only entries at or before this time (UTC).")
]


def _where(settings: Settings, directory: Path | None) -> Path:
    return directory or settings.audit_dir


def _verifier(out: Output, settings: Settings, directory: Path, key: str | None) -> NoteVerifier:
    text = key or settings.audit.public_key
    if text and not text.strip().count("+") >= 2 and Path(text).is_file():
        text = Path(text).read_text(encoding="utf-8")
    if not text:
        fallback = directory / VKEY_FILE
        if not fallback.is_file():
            raise AuditError(
                "no checkpoint key: pass --key or set [audit] public_key",
                code="audit_key_missing",
                loc=str(fallback),
            )
        out.err.print(
            f"warning: using {fallback} from the log's own directory; pin the key with --key "
            "or [audit] public_key for a verification that means something (LOG-20)",
            markup=False,
            soft_wrap=True,
        )
        text = fallback.read_text(encoding="utf-8")
    return NoteVerifier.from_vkey(text)


@audit_app.command("verify")
def verify(
    ctx: typer.Context,
    directory: DirOption = None,
    key: KeyOption = None,
    trusted: Annotated[
        Path | None,
        typer.Option(
            "--trusted",
            metavar="FILE",
            help="A checkpoint kept elsewhere: the log must still contain and extend it.",
        ),
    ] = None,
    witness: Annotated[
        list[str] | None,
        typer.Option(
            "--witness",
            metavar="VKEY|FILE",
            help="A witness key (repeatable): the newest checkpoint it cosigned must be in the log.",
        ),
    ] = None,
    config: ConfigOption = None,
    json_: JsonFlag = False,
) -> None:
    """Recompute the whole log and check every signed checkpoint (exit 1 on any alarm)."""
    out = output_for(ctx, json_)
    settings = settings_from(config)
    where = _where(settings, directory)
    verifier = _verifier(out, settings, where, key)
    origin = verifier.name if key else settings.audit.origin
    seen = None
    if trusted is not None:
        seen = open_checkpoint(trusted.read_bytes(), [verifier], origin=origin)
    witnessed = _witnessed(where, verifier, origin, witness or [])
    anchor = witnessed.cosigned.checkpoint if witnessed is not None else None
    if seen is not None and anchor is not None:
        verify_log(where, verifier, origin=origin, trusted=seen)  # both anchors, one at a time
    result = verify_log(where, verifier, origin=origin, trusted=anchor or seen)
    if out.json:
        doc = {"result": "ok", **result.as_dict()}
        if witnessed is not None:
            cosigned = witnessed.cosigned
            doc["witnessed"] = {
                "size": cosigned.checkpoint.size,
                "cosigners": list(cosigned.cosigners),
                "times": list(cosigned.times),
                "unwitnessed": result.size - cosigned.checkpoint.size,
            }
        out.emit(doc)
        raise typer.Exit(ExitCode.OK)
    latest = result.latest
    signed = f"checkpoint at {latest.size}" if latest else "no checkpoint yet"
    out.line(
        f"ok: {result.size - result.start} entries from {result.start}, {signed}, "
        f"{result.checkpoints} checkpoint(s) consistent",
        style="bold green",
    )
    if result.unsigned:
        out.line(f"{result.unsigned} newer entries are not covered by a checkpoint yet")
    if result.torn_tail_bytes:
        out.line(f"a torn tail of {result.torn_tail_bytes} bytes (a crash); reopening repairs it")
    if witnessed is not None:
        cosigned = witnessed.cosigned
        size = cosigned.checkpoint.size
        out.line(
            f"witnessed: checkpoint at {size} cosigned by {', '.join(cosigned.cosigners)}, "
            "and the log contains and extends it",
            style="bold green",
        )
        if result.size > size:
            out.line(f"{result.size - size} newer entries are not witnessed yet")
    raise typer.Exit(ExitCode.OK)


def _witnessed(
    directory: Path, verifier: NoteVerifier, origin: str, keys: list[str]
) -> WitnessedCheckpoint | None:
    """The newest checkpoint every `--witness` cosigned; none is an alarm (LOG-25)."""
    if not keys:
        return None
    witnesses = [CosignatureVerifier.from_vkey(_key_text(k)) for k in keys]
    found = latest_witnessed(directory, verifier, witnesses, origin=origin)
    if found is None:
        names = ", ".join(w.name for w in witnesses)
        raise AuditError(
            f"no checkpoint cosigned by every pinned witness ({names}) is kept with the log: "
            "its history is not anchored outside its host and may have been rewritten (LOG-25)",
            code="audit_not_witnessed",
            loc=str(directory / WITNESSED_DIR),
        )
    return found


def _key_text(value: str) -> str:
    """A key given inline (NAME+ID+BASE64) or as a file holding one."""
    if value.strip().count("+") < 2 and Path(value).is_file():
        return Path(value).read_text(encoding="utf-8")
    return value


@audit_app.command("prove")
def prove_(
    ctx: typer.Context,
    entry_id: Annotated[
        str,
        typer.Argument(metavar="ID", help="An entry's seq number, or a decision id."),
    ],
    directory: DirOption = None,
    key: KeyOption = None,
    config: ConfigOption = None,
    json_: JsonFlag = False,
) -> None:
    """Print one entry with its inclusion proof against the latest signed checkpoint."""
    out = output_for(ctx, json_)
    settings = settings_from(config)
    where = _where(settings, directory)
    verifier = _verifier(out, settings, where, key)
    seq = _seq_of(where, entry_id)
    proof = prove(where, seq, verifier, origin=verifier.name if key else settings.audit.origin)
    proof.verify(verifier)
    if out.json:
        out.emit(proof.as_dict())
        raise typer.Exit(ExitCode.OK)
    doc = proof.as_dict()
    out.line(f"entry {seq} is in the log of checkpoint {doc['tree_size']} (proof verified)")
    out.line(orjson.dumps(doc["entry"], option=orjson.OPT_SORT_KEYS).decode())
    out.line(f"leaf hash {doc['leaf_hash']}")
    for index, node in enumerate(doc["proof"]):
        out.line(f"  proof[{index}] {node}")
    out.line(doc["checkpoint"].rstrip("\n"))
    raise typer.Exit(ExitCode.OK)


def _seq_of(directory: Path, entry_id: str) -> int:
    if entry_id.isdigit():
        return int(entry_id)
    found = search(directory, Search(decision_id=entry_id), limit=1)
    if not found:
        raise AuditError(
            f"no audit entry with decision id {entry_id!r}",
            code="audit_entry_not_found",
            status=404,
        )
    return found[0].seq


@audit_app.command("tail")
def tail_(
    ctx: typer.Context,
    count: Annotated[int, typer.Option("-n", "--count", min=1, help="How many entries.")] = 20,
    directory: DirOption = None,
    config: ConfigOption = None,
    json_: JsonFlag = False,
) -> None:
    """Show the newest entries."""
    out = output_for(ctx, json_)
    _show(out, tail(_where(settings_from(config), directory), count))


@audit_app.command("search")
def search_(
    ctx: typer.Context,
    kind: Annotated[EventKind | None, typer.Option("--kind", help="Event kind.")] = None,
    decision: Annotated[Outcome | None, typer.Option("--decision", help="Outcome.")] = None,
    principal: Annotated[str | None, typer.Option("--principal", help="Exactly this.")] = None,
    resource: Annotated[str | None, typer.Option("--resource", help="Exactly this.")] = None,
    decision_id: Annotated[str | None, typer.Option("--decision-id")] = None,
    trace_id: Annotated[str | None, typer.Option("--trace-id")] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 100,
    directory: DirOption = None,
    config: ConfigOption = None,
    json_: JsonFlag = False,
) -> None:
    """Find entries by exact field values and a time window, oldest first."""
    out = output_for(ctx, json_)
    query = Search(
        kind=kind,
        decision=decision,
        principal=principal,
        resource=resource,
        decision_id=decision_id,
        trace_id=trace_id,
        since=_utc(since),
        until=_utc(until),
    )
    _show(out, search(_where(settings_from(config), directory), query, limit=limit))


@audit_app.command("export")
def export(
    format_: Annotated[
        str, typer.Option("--format", metavar="jsonl|ocsf", help="Entries as stored, or OCSF.")
    ] = "jsonl",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", metavar="FILE", help="Default: stdout.")
    ] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    directory: DirOption = None,
    config: ConfigOption = None,
) -> None:
    """Write entries as JSON lines: as stored (jsonl) or as OCSF 1.1 events (ocsf)."""
    if format_ not in ("jsonl", "ocsf"):
        raise AuditError(
            f"unknown export format {format_!r}: jsonl or ocsf",
            code="audit_export_format",
            loc="--format",
            status=400,
        )
    where = _where(settings_from(config), directory)
    query = Search(since=_utc(since), until=_utc(until))
    records = (r for r in read_records(where) if query.matches(r))
    if output is None:
        _write_lines(sys.stdout, records, format_)
    else:
        with output.open("w", encoding="utf-8") as sink:
            _write_lines(sink, records, format_)
    raise typer.Exit(ExitCode.OK)


def _write_lines(sink: TextIO, records: Iterator[AuditRecord], format_: str) -> None:
    for record in records:
        doc = to_ocsf(record) if format_ == "ocsf" else record.as_dict()
        sink.write(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS).decode() + "\n")


def _utc(when: datetime | None) -> datetime | None:
    if when is None:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _show(out: Output, records: list[AuditRecord]) -> None:
    if out.json:
        out.emit({"records": [r.as_dict() for r in records]})
        raise typer.Exit(ExitCode.OK)
    if not records:
        out.line("no entries")
        raise typer.Exit(ExitCode.OK)
    table = Table("seq", "time", "kind", "decision", "principal", "resource", "action", "reason")
    for record in records:
        e = record.entry
        when = record.time.strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(
            str(record.seq), when, e.kind, e.decision, e.principal, e.resource, e.action, e.reason
        )
    out.out.print(table)
    raise typer.Exit(ExitCode.OK)
