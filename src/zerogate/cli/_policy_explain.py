"""`zerogate policy explain`: decide one request against a bundle and show why (exit 0 allow, 2 deny)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
import typer
from rich.text import Text

from zerogate.cli._json import decision_json, request_json
from zerogate.cli._output import ExitCode, JsonFlag, Output, output_for
from zerogate.clock import Clock, FixedClock, SystemClock
from zerogate.errors import ErrorDetail, InvalidInput
from zerogate.policy import (
    PDP,
    Bundle,
    CompiledBundle,
    Decision,
    Entity,
    EntityUID,
    Request,
    compile_bundle,
    parse_entities,
    parse_uid,
)

MAX_INPUT_BYTES = 1024 * 1024


def explain(
    ctx: typer.Context,
    bundle_dir: Annotated[
        Path, typer.Argument(metavar="DIR", help="The policy bundle directory.", show_default=False)
    ],
    principal: Annotated[
        str, typer.Option("--principal", "-p", help='Who asks, e.g. User::"pat".')
    ],
    action: Annotated[str, typer.Option("--action", "-a", help="What they do, e.g. GET.")],
    resource: Annotated[
        str, typer.Option("--resource", "-r", help='On what, e.g. Route::"payroll-api".')
    ],
    context: Annotated[
        str | None,
        typer.Option(
            "--context", "-c", metavar="JSON|@FILE", help="The request context (a JSON object)."
        ),
    ] = None,
    entities: Annotated[
        str | None,
        typer.Option(
            "--entities", "-e", metavar="JSON|@FILE", help="Cedar-JSON entities (a JSON list)."
        ),
    ] = None,
    now: Annotated[
        str | None,
        typer.Option("--now", metavar="ISO", help="Decide at this time (default: the real clock)."),
    ] = None,
    timezone: Annotated[
        str, typer.Option("--timezone", "--tz", metavar="ZONE", help="IANA time zone for `time`.")
    ] = "UTC",
    json_: JsonFlag = False,
) -> None:
    """Decide one request and explain it: determining policies, errors, and for a deny the forbid
    that fired or the closest permits with the conditions they lack (file:line).

    Exit 0 when allowed, 2 when denied, 1 on bad input.
    """
    out = output_for(ctx, json_, base_dir=bundle_dir)
    compiled = compile_bundle(Bundle.from_dir(bundle_dir))
    request, clock = _request(principal, action, resource, context, entities, now, timezone)
    decision = PDP(compiled, clock=clock, timezone=timezone).decide(request, explain=True)
    at = clock.now().astimezone(ZoneInfo(timezone))
    if out.json:
        out.emit(
            {
                "request": request_json(request),
                "time": at.isoformat(),
                "timezone": timezone,
                **decision_json(decision),
            }
        )
    else:
        _render(out, compiled, request, decision, at, timezone)
    raise typer.Exit(ExitCode.OK if decision.allowed else ExitCode.DENY)


def _request(
    principal: str,
    action: str,
    resource: str,
    context: str | None,
    entities: str | None,
    now: str | None,
    timezone: str,
) -> tuple[Request, Clock]:
    """Every input problem at once, located by option name."""
    errors: list[ErrorDetail] = []

    def uid(option: str, value: str, default_type: str | None = None) -> EntityUID | None:
        try:
            return parse_uid(value, default_type=default_type)
        except InvalidInput as exc:
            errors.append(ErrorDetail(exc.code, option, exc.message))
            return None

    p = uid("--principal", principal)
    a = uid("--action", action, "Action")
    r = uid("--resource", resource)
    ctx_value = _json_input("--context", context, errors) if context is not None else {}
    if ctx_value is not None and not isinstance(ctx_value, dict):
        errors.append(ErrorDetail("json_invalid", "--context", "expected a JSON object"))
    found: tuple[Entity, ...] = ()
    if entities is not None:
        raw = _json_input("--entities", entities, errors)
        try:
            found = parse_entities(raw) if raw is not None else ()
        except InvalidInput as exc:
            errors.extend(ErrorDetail(d.code, f"--entities{d.loc}", d.msg) for d in exc.details)
    clock = _clock(now, timezone, errors)
    if errors or p is None or a is None or r is None or not isinstance(ctx_value, dict):
        raise InvalidInput(f"{len(errors)} problem(s) with the request", details=errors)
    return Request(p, a, r, ctx_value, found), clock


def _json_input(option: str, value: str, errors: list[ErrorDetail]) -> Any:
    text = value
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            if path.stat().st_size > MAX_INPUT_BYTES:
                errors.append(ErrorDetail("input_too_large", option, f"{path} is over 1 MiB"))
                return None
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(ErrorDetail("input_unreadable", option, f"cannot read {path}: {exc}"))
            return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        errors.append(ErrorDetail("json_invalid", option, f"line {exc.lineno}: {exc.msg}"))
        return None


def _clock(now: str | None, timezone: str, errors: list[ErrorDetail]) -> Clock:
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        errors.append(ErrorDetail("timezone_unknown", "--timezone", f"unknown zone {timezone!r}"))
        zone = ZoneInfo("UTC")
    if now is None:
        return SystemClock()
    try:
        at = datetime.fromisoformat(now)
    except ValueError:
        errors.append(ErrorDetail("time_invalid", "--now", f"not an ISO 8601 time: {now!r}"))
        return SystemClock()
    if at.tzinfo is None:
        at = at.replace(tzinfo=zone)  # a time without offset is local to --timezone
    return FixedClock(at=at.astimezone(UTC))


def _render(
    out: Output,
    compiled: CompiledBundle,
    request: Request,
    decision: Decision,
    at: datetime,
    timezone: str,
) -> None:
    verdict = ("ALLOW", "bold green") if decision.allowed else ("DENY", "bold red")
    out.line(
        Text.assemble(
            (f"{verdict[0]:<6}", verdict[1]),
            (f"{decision.outcome.value:<13}", "bold"),
            f"{request.principal} {request.action} {request.resource}",
        )
    )
    out.line(f"  at {at.isoformat()} ({timezone})", style="dim")
    for pid in decision.policy_ids:
        source = compiled.base.source_of(pid)
        reason = f": {source.reason}" if source.reason else ""
        out.line(f"  determined by {source.effect} `{pid}` ({out.where(source.location)}){reason}")
    for error in decision.errors:
        out.line(
            Text.assemble(
                "  ", ("policy error", "red"), f" in `{error.policy_id}`: {error.message}"
            )
        )
    explanation = decision.explanation
    if explanation is not None:
        out.line(Text.assemble(("why: ", "bold"), explanation.summary))
        for forbid in explanation.forbids:
            reason = f": {forbid.reason}" if forbid.reason else ""
            out.line(f"  forbid `{forbid.policy_id}` ({out.where(forbid.location)}){reason}")
            for check in forbid.failed:
                if check.error:
                    out.line(f"    error: {check.error}", style="red")
        for permit in explanation.closest_permits:
            reason = f": {permit.reason}" if permit.reason else ""
            out.line(
                f"  closest permit `{permit.policy_id}` ({out.where(permit.location)}){reason}"
            )
            for check in permit.failed:
                line = Text.assemble(
                    ("    ✗ ", "red"), (f"{check.kind.value:<10}", "dim"), check.text
                )
                if check.error:
                    line.append(f"  (error: {check.error})", style="dim")
                out.line(line)
    out.line(f"  bundle {decision.bundle_hash[:12]}  decision {decision.decision_id}", style="dim")
