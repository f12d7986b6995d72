"""`zerogate up`: everything on one machine with embedded defaults (SQLite, example policies).

One listener serves the PDP's AuthZEN face and the sign-in pages (`zerogate.idp`): the AuthZEN
paths go to the PDP app, every other path to the login UI.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path
from typing import TextIO

from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from zerogate.admin import ADMIN_PATH, ADMIN_ROUTE, DecisionFeed, admin_mount
from zerogate.app._admin_service import admin_service
from zerogate.app._audit_service import (
    AUDIT_CURSOR_FILE,
    AuditRecorder,
    SecurityAuditor,
    audit_changes,
    audit_service,
)
from zerogate.app._config_watch import SettingsSource
from zerogate.app._first_admin import FirstAdmin, ensure_first_admin
from zerogate.app._gateway_service import (
    RunningGateway,
    gateway_origins,
    gateway_service,
)
from zerogate.app._idp_service import idp_service
from zerogate.app._pdp_service import DEFAULT_EXAMPLES, PDPService, pdp_service
from zerogate.app._serve import cancel_task, free_port, serve, stop_on_sigterm
from zerogate.app._terminal_log import log_to_terminal
from zerogate.app._witnessing import witnessing
from zerogate.clock import SystemClock
from zerogate.config import Settings
from zerogate.errors import ConfigError, ZerogateError
from zerogate.idp import ReturnOrigins
from zerogate.telemetry import METRICS_PATH, configure_tracing, metrics_app, process_metrics

# Hosts whose pages a browser on this machine reaches as http://localhost (Secure cookies work
# there without TLS); any other host needs `server.public_url` with https.
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0", "::", ""})  # noqa: S104


def run_all_in_one(
    settings: Settings, *, out: TextIO = sys.stdout, source: SettingsSource | None = None
) -> None:
    """Start the PDP with its AuthZEN face and the sign-in pages; blocks until interrupted.
    With `source` (where `settings` came from), the gateway follows its route changes.
    Zerogate's own log lines (INFO and up: routes reloaded, Envoy started) go to stderr."""
    stop_on_sigterm()
    log_to_terminal(sys.stderr)
    asyncio.run(_main(settings, out, source))


async def _main(settings: Settings, out: TextIO, source: SettingsSource | None = None) -> None:
    clock = SystemClock()
    # The login pages must know their own URL before they serve (Origin checks), so an
    # ephemeral port (0) is chosen here rather than by the server.
    port = settings.server.port or free_port(settings.server.host)
    login_url = settings.server.public_url or _local_url(settings.server.host, port)
    gateway_port = settings.gateway.port or free_port()
    # Where sign-in may send people back: the gateway's route hosts, kept current by its live
    # routes (a route added while running gets sign-in without a restart).
    return_origins = ReturnOrigins(gateway_origins(settings, gateway_port))
    async with pdp_service(settings, clock=clock, default_bundle=DEFAULT_EXAMPLES) as svc:
        app, login_off = svc.app, "set server.public_url to the https URL people sign in at"
        admin = await ensure_first_admin(svc.store, settings, clock=clock) if login_url else None
        gateway: RunningGateway | None = None
        gateway_off = "off ([gateway] enabled = false)"
        async with contextlib.AsyncExitStack() as stack:
            # Spans to [telemetry] otlp_endpoint, if set: before the check exists, flushed last.
            stack.callback(configure_tracing(settings.telemetry))
            # Every decision and security event, tamper-evident (docs/audit.md).
            audit = await stack.enter_async_context(audit_service(settings, clock=clock))
            # Checkpoints cosigned by [audit] witnesses, off the log host (LOG-25).
            witnessed = await stack.enter_async_context(witnessing(settings, audit))
            if witnessed is not None:
                process_metrics().watch_witnessing(lambda: witnessed.stats)
            process_metrics().watch_audit(audit)  # telemetry completeness (docs/telemetry.md)
            changes = asyncio.create_task(
                audit_changes(svc.bus, audit, settings.data_dir / AUDIT_CURSOR_FILE)
            )
            stack.push_async_callback(cancel_task, changes)
            if login_url:
                try:
                    login = await stack.enter_async_context(
                        idp_service(
                            svc.store,
                            settings,
                            clock=clock,
                            public_url=login_url,
                            return_origins=return_origins,
                            security_events=SecurityAuditor(audit),
                        )
                    )
                    app, login_off = _front(svc.app, login), ""
                except ConfigError as exc:
                    login_off = "; ".join(str(d) for d in exc.details) or exc.message
            # The console's live feed of the check's decisions (the console's own allows left out).
            feed = DecisionFeed(clock=clock, quiet_routes=(ADMIN_ROUTE,))
            if settings.gateway.enabled and not login_off:
                try:
                    gateway = await stack.enter_async_context(
                        gateway_service(
                            settings,
                            svc,
                            clock=clock,
                            idp_url=login_url.rstrip("/"),
                            port=gateway_port,
                            workdir=settings.data_dir / "envoy",
                            source=source,
                            return_origins=return_origins,
                            recorders=(feed, AuditRecorder(audit)),  # the feed never raises
                            audit=audit,
                        )
                    )
                except (ZerogateError, OSError) as exc:
                    gateway_off = f"off: {exc}"
            # The admin console, decided by the gateway's own check (docs/admin.md).
            console_off = "off: it needs the gateway's check (gateway off)"
            if gateway is not None and gateway.checker is not None:
                console = await stack.enter_async_context(
                    admin_service(
                        settings,
                        svc,
                        clock=clock,
                        audit=audit,
                        feed=feed,
                        checker=gateway.checker,
                        origin=login_url,
                    )
                )
                app, console_off = _front(svc.app, login, console), ""

            def started(base: str) -> None:
                shown = None if login_off else login_url.rstrip("/")
                text = banner(
                    svc,
                    base,
                    login_url=shown,
                    login_off=login_off,
                    gateway=gateway,
                    gateway_off=gateway_off,
                    admin=admin if not login_off else None,
                    console_off=console_off,
                )
                print(text, file=out, flush=True)

            await serve(app, host=settings.server.host, port=port, on_started=started)


def _front(pdp: Starlette, login: Starlette, console: ASGIApp | None = None) -> Starlette:
    """The PDP's own paths to the PDP app, `/metrics` to the process's metrics (docs/telemetry.md),
    `/admin` to the admin console (docs/admin.md), everything else to the login pages."""
    pdp_routes = [Route(r.path, pdp) for r in pdp.routes if isinstance(r, Route)]
    metrics = Route(METRICS_PATH, metrics_app(process_metrics()))
    admin = admin_mount(console) if console is not None else []
    return Starlette(routes=[*pdp_routes, metrics, *admin, Mount("", app=login)])


def _local_url(host: str, port: int) -> str:
    return f"http://localhost:{port}" if host in _LOCAL_HOSTS else ""


def banner(
    svc: PDPService,
    base: str,
    *,
    login_url: str | None = None,
    login_off: str = "",
    gateway: RunningGateway | None = None,
    gateway_off: str = "off",
    admin: FirstAdmin | None = None,
    console_off: str = "off",
) -> str:
    """What a person needs to try the running service right away."""
    bundle = svc.pdp.bundle
    example = (
        '{"subject": {"type": "User", "id": "pat", "properties": {"attrs": {"email": '
        '"pat@example.test"}, "parents": [{"type": "Group", "id": "employees"}]}}, '
        '"action": {"name": "GET"}, "resource": {"type": "Route", "id": "wiki-web"}, '
        '"context": {"authn": {"mfa": true, "amr": ["pwd", "otp"], "auth_age_s": 60, '
        '"idp": "zerogate"}, "network": {"ip": "198.51.100.7", "tls": true}, '
        '"risk": {"score": 5, "signals": []}}}'
    )
    lines = [
        "Zerogate is up.",
        f"  store          {svc.store.redacted}",
        f"  policy bundle  {bundle.hash[:12]} ({len(bundle.base.sources)} policies)",
        f"  PDP (AuthZEN)  {base}/access/v1/evaluation",
        f"  sign in        {login_url}/login"
        if login_url
        else f"  sign in        off: {login_off}",
        *([f"  OIDC issuer    {login_url}"] if login_url else []),
        *(
            [
                f"  admin login    {admin.username} / {admin.password}"
                f"   (shown once: zerogate user passwd {admin.username})"
            ]
            if admin
            else []
        ),
        f"  gateway        {gateway.url}/" if gateway else f"  gateway        {gateway_off}",
        f"  admin console  {login_url}{ADMIN_PATH}/   (group admins, with a second factor)"
        if login_url and not console_off
        else f"  admin console  {console_off}",
        *([f"  local CA       {gateway.ca_file}"] if gateway and gateway.ca_file else []),
        f"  health         {base}/healthz",
        "",
    ]
    if login_url:
        lines += [
            "Create someone to sign in as (same directory, another terminal):",
            "  zerogate user add ada --email ada@example.com     # asks for a password",
            f"Sign in at {login_url}/login, then set up an authenticator app on the account page.",
            *(
                [
                    f"The admin console ({login_url}{ADMIN_PATH}/) lets in the admins group once"
                    " they have set one up: sign in as admin and do that first."
                ]
                if not console_off
                else []
            ),
            "  zerogate mfa list ada                # the user's second factors",
            "  zerogate mfa recovery-codes ada      # a new set of recovery codes",
            *(_demo_steps(gateway) if gateway is not None and gateway.demo else []),
            "Let an app sign people in with OpenID Connect (discovery at the issuer URL):",
            "  zerogate client add MyApp --redirect-uri https://app.example.com/callback",
            "",
        ]
    if gateway is not None and gateway.ca_file is not None:
        lines += _trust_steps(gateway.ca_file, gateway.url)
    return "\n".join(
        [
            *lines,
            "Ask it a question:",
            f"  curl -s {base}/access/v1/evaluation -H 'content-type: application/json' \\",
            f"    -d '{example}'",
            "",
            "Press Ctrl+C to stop.",
        ]
    )


def _trust_steps(ca_file: Path, url: str) -> list[str]:
    """How to trust the local CA once (it can only vouch for localhost names)."""
    return [
        "The gateway serves https with a certificate from a local CA. Trust it once:",
        f"  Debian/Ubuntu:    sudo cp {ca_file} /usr/local/share/ca-certificates/"
        "zerogate-local-ca.crt && sudo update-ca-certificates",
        "  Firefox/Chromium: Settings > Certificates > Authorities > Import (for websites)",
        f"  curl:             curl --cacert {ca_file} {url}/",
        "",
    ]


def _demo_steps(gateway: RunningGateway) -> list[str]:
    return [
        f"The demo app is behind the gateway at {gateway.url}/ (policy: employees may read it):",
        "  zerogate group add employees && zerogate group add-member employees admin",
        "Put your own app behind it (picked up within a second, no restart; docs/gateway.md):",
        f"  zerogate route add myapp --from {_host_port(gateway.url)}/myapp"
        " --to http://127.0.0.1:3000 --policy wiki-web",
    ]


def _host_port(url: str) -> str:
    """`https://localhost:8080` -> `localhost:8080`."""
    return url.split("://", 1)[-1].rstrip("/")
