"""The gateway as a service: the check service, Envoy in front of the configured routes (or the
demo app), and the change feed keeping the check's caches honest."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route as HTTPRoute

from zerogate.app._audit_service import fan_out
from zerogate.app._config_watch import SettingsSource
from zerogate.app._demo import demo_app
from zerogate.app._denials import enforce_denials
from zerogate.app._fast_path_audit import FastPathAudit
from zerogate.app._pdp_service import PDPService
from zerogate.app._route_reload import LiveRoutes
from zerogate.app._serve import background_server, cancel_task, free_port, loopback_socket
from zerogate.app.admin import directory, record_session_change
from zerogate.audit import AuditLog
from zerogate.clock import Clock
from zerogate.config import RouteSettings, Settings, split_from
from zerogate.control import TOPIC_ENTITY_CHANGED
from zerogate.errors import ConfigError, ErrorDetail
from zerogate.gateway.check import (
    MAX_WEBHOOK_BODY_BYTES,
    AssertionSigner,
    Checker,
    DecisionRecorder,
    DecisionTokens,
    HostSessions,
    ReplayCache,
    SessionCache,
    StoreReplayCache,
    WebhookVerifier,
    start_grpc_check_server,
)
from zerogate.gateway.check import RouteSettings as CheckRoute
from zerogate.gateway.check import create_app as create_check_app
from zerogate.gateway.envoy import (
    EnvoyProcess,
    Gateway,
    LocalDecisions,
    Route,
    TlsFiles,
    gateway_stats,
    write_sds,
)
from zerogate.gateway.tls import LocalCA, ServingCertificate
from zerogate.identity import Sessions
from zerogate.identity.oidc import GrantStatus
from zerogate.idp import ReturnOrigins
from zerogate.telemetry import CheckMetrics, RevocationTimer, gateway_tracing, process_metrics
from zerogate.tokens import StoreKeyRing

HANDOFF_KEY_PURPOSE = "zerogate.gateway.handoff"  # the IdP derives the same key
DEMO_ROUTE = "demo"
FAST_PATH_LOG = "fast-path.log"  # in the Envoy work directory
DEMO_POLICY = "wiki-web"  # a Route of the example policies: employees may read it
KEY_REFRESH_S = 300.0  # new signing keys are announced an hour before they sign
LOCAL_CLOCK_SKEW_S = 5  # Envoy's leeway on a decision token's expiry (its default is 60 s)
TLS_RENEW_CHECK_S = 3600.0  # a 30-day leaf is renewed with 10 days left: hourly is plenty
TLS_HOSTS_CHECK_S = 1.0  # a route's new host gets a certificate naming it this soon
log = logging.getLogger("zerogate.app")


@dataclass(frozen=True, slots=True)
class RunningGateway:
    url: str  # where people reach the routes
    routes: tuple[Route, ...]
    demo: bool  # the demo app is the (only) route
    ca_file: Path | None = None  # the local CA to trust (tls = "local")
    checker: Checker | None = None  # the check service's core (the admin console reuses it)


@contextlib.asynccontextmanager
async def gateway_service(
    settings: Settings,
    svc: PDPService,
    *,
    clock: Clock,
    idp_url: str,
    port: int,
    workdir: Path,
    source: SettingsSource | None = None,
    return_origins: ReturnOrigins | None = None,
    recorders: Sequence[DecisionRecorder] = (),
    audit: AuditLog | None = None,
) -> AsyncIterator[RunningGateway]:
    """Start the check service and Envoy on `port`; stop both (and the demo app) on exit.
    With `source`, a change of its file applies the new routes while running, and
    `return_origins` (the IdP's) follows their hosts. Every decision goes to the metrics and
    to each of `recorders` (the audit log, the console's live feed); with `audit`, the GETs Envoy
    lets through on decision tokens are recorded there too."""
    conf = settings.gateway
    admin_port = conf.admin_port or free_port()
    async with contextlib.AsyncExitStack() as stack:
        routes, demo = _routes(settings, port)
        if demo:
            demo_sock = loopback_socket()
            stack.callback(demo_sock.close)  # after the server has stopped (LIFO)
            sample = demo_app(issuer=idp_url, audience=DEMO_POLICY)
            await stack.enter_async_context(background_server(sample, demo_sock))
            upstream = f"http://127.0.0.1:{demo_sock.getsockname()[1]}"
            routes = (
                Route(DEMO_ROUTE, hosts=("localhost",), upstream=upstream, resource_id=DEMO_POLICY),
            )
        # Signs assertions with the IdP's active key (the IdP creates and rotates it).
        keys = StoreKeyRing(svc.store)
        await keys.refresh()
        replays = StoreReplayCache(svc.store, clock=clock)  # webhook replays, across replicas
        stack.push_async_callback(cancel_task, asyncio.create_task(replays.run_cleanup()))
        tokens = _decision_tokens(settings, keys, idp_url)
        metrics = process_metrics()  # served at the main server's /metrics (all_in_one._front)
        if svc.pdp.cache is not None:
            metrics.watch_decision_cache(svc.pdp.cache.stats)
        checker = Checker(
            svc.pdp,
            Sessions(svc.store, on_change=record_session_change),
            directory(svc.store, settings),
            keys,
            issuer=idp_url,
            clock=clock,
            login_url=f"{idp_url}/login",
            routes=check_routes(settings),
            token_status=GrantStatus(svc.store),
            # Sessions are re-read at most once a second; revocations arrive sooner through the
            # change feed (`_follow` drops them): the 4x difference is measured in bench/gateway.py.
            session_cache=SessionCache(clock=clock),
            assertions=AssertionSigner(keys, issuer=idp_url),
            webhooks=_webhooks(settings, clock, store_replays=replays),
            host_sessions=HostSessions(svc.store.sealer.derive(HANDOFF_KEY_PURPOSE)),
            decision_tokens=tokens,
            on_decision=fan_out(CheckMetrics(metrics), *recorders),
        )
        follow = _follow(svc, checker, RevocationTimer(metrics, "check", clock=clock))
        stack.push_async_callback(cancel_task, asyncio.create_task(follow))
        stack.push_async_callback(cancel_task, asyncio.create_task(_refresh(keys)))
        if conf.check_protocol == "grpc":  # ext_authz's gRPC face (docs/gateway.md)
            grpc_check = await start_grpc_check_server(
                checker, port=conf.check_port, public_port=port
            )
            stack.push_async_callback(grpc_check.aclose)
            authz_url = grpc_check.url
        else:
            check_sock = loopback_socket(conf.check_port)
            stack.callback(check_sock.close)
            check_app = create_check_app(checker, public_port=port)
            await stack.enter_async_context(background_server(check_app, check_sock))
            authz_url = f"http://127.0.0.1:{check_sock.getsockname()[1]}"
        keys_sock = loopback_socket()
        stack.callback(keys_sock.close)
        await stack.enter_async_context(background_server(_keys_app(keys, clock), keys_sock))
        keys_url = f"http://127.0.0.1:{keys_sock.getsockname()[1]}/jwks.json"
        hosts = tuple(h for r in routes for h in r.hosts)
        # What Envoy decides on its own goes to the audit log too (docs/audit.md "The fast path").
        fast_path_log = workdir / FAST_PATH_LOG if audit is not None else None
        ca, tls = (
            _local_tls(settings, workdir, clock, hosts) if conf.tls == "local" else (None, None)
        )
        gateway = Gateway(
            listen_host=conf.host,
            listen_port=port,
            admin_port=admin_port,
            authz_url=authz_url,
            routes=routes,
            concurrency=conf.concurrency,
            check_protocol=conf.check_protocol,
            tls=tls,
            local_decisions=_local_decisions(
                tokens,
                idp_url,
                keys_url,
                fast_path_log,
                log_allows=settings.audit.fast_path == "all",
            ),
            tracing=gateway_tracing(settings.telemetry),  # docs/telemetry.md "Tracing"
        )
        envoy = EnvoyProcess(gateway, workdir=workdir)
        await envoy.start()
        stack.push_async_callback(envoy.aclose)
        if audit is not None and fast_path_log is not None and tokens is not None:
            fast_path = FastPathAudit(fast_path_log, envoy, audit)
            stack.push_async_callback(cancel_task, asyncio.create_task(fast_path.run()))
        metrics.watch_gateway(lambda: gateway_stats(envoy.admin_url))  # TLS, local decisions
        if tokens is not None:
            denials = enforce_denials(
                svc.bus,
                envoy,
                tokens,
                clock=clock,
                epoch=lambda: svc.pdp.bundle_hash,
                clock_skew_s=LOCAL_CLOCK_SKEW_S,
                on_revoked=RevocationTimer(metrics, "envoy", clock=clock),
            )
            stack.push_async_callback(cancel_task, asyncio.create_task(denials))
        if ca is not None and tls is not None:
            renewal = asyncio.create_task(
                _renew_serving(
                    ca, tls, clock, lambda: tuple(h for r in envoy.gateway.routes for h in r.hosts)
                )
            )
            stack.push_async_callback(cancel_task, renewal)
        if source is not None:
            live = LiveRoutes(
                settings,
                envoy,
                checker,
                translate=lambda s: gateway_routes(s, clock=clock),
                fallback=routes if demo else (),
                origins=lambda s: gateway_origins(s, port),
                return_origins=return_origins,
            )
            stack.push_async_callback(cancel_task, asyncio.create_task(live.follow(source)))
        url = _origin(settings, "localhost", port)
        ca_file = ca.cert_path.absolute() if ca is not None else None
        yield RunningGateway(url=url, routes=routes, demo=demo, ca_file=ca_file, checker=checker)


def _decision_tokens(settings: Settings, keys: StoreKeyRing, idp_url: str) -> DecisionTokens | None:
    """Local decisions (docs/gateway.md): a token lives as long as a cached decision may."""
    if not settings.gateway.local_decisions:
        return None
    ttl = min(max(settings.policy.decision_ttl_s, 1.0), 60.0)
    return DecisionTokens(keys, issuer=idp_url, ttl=timedelta(seconds=ttl))


def _local_decisions(
    tokens: DecisionTokens | None,
    idp_url: str,
    keys_url: str,
    access_log: Path | None,
    *,
    log_allows: bool,
) -> LocalDecisions | None:
    if tokens is None:
        return None
    # Keys are announced an hour before they sign: Envoy's 5-minute cache keeps up.
    return LocalDecisions(
        issuer=idp_url,
        jwks_url=keys_url,
        clock_skew_s=LOCAL_CLOCK_SKEW_S,
        access_log=str(access_log.absolute()) if access_log is not None else "",
        access_log_allows=log_allows,
    )


def _keys_app(keys: StoreKeyRing, clock: Clock) -> Starlette:
    """The signing keys' JWKS for Envoy, on loopback beside the check: up before Envoy starts
    (the IdP's own /jwks.json may not be yet) and in every gateway replica."""

    async def jwks(request: Request) -> JSONResponse:
        return JSONResponse(keys.jwks(clock.now()), headers={"cache-control": "no-store"})

    return Starlette(routes=[HTTPRoute("/jwks.json", jwks, methods=["GET"])])


def _routes(settings: Settings, port: int) -> tuple[tuple[Route, ...], bool]:
    """The configured routes as Envoy routes; none configured: the demo app (filled in later)."""
    if not settings.routes:
        return (), True
    return tuple(envoy_route(name, r) for name, r in sorted(settings.routes.items())), False


def check_routes(settings: Settings) -> dict[str, CheckRoute]:
    """The check's settings per Cedar route id; routes sharing an id must agree on them."""
    found: dict[str, CheckRoute] = {}
    clashes = []
    for name, conf in sorted(settings.routes.items()):
        route = CheckRoute(
            mfa_max_age_s=conf.mfa_max_age_s or None,
            stale_max_s=conf.stale_max_s if conf.fail_mode == "stale" else None,
        )
        route_id = conf.policy or name
        if found.setdefault(route_id, route) != route:
            # The check knows a route by its id only: one of them would get the other's settings.
            msg = f"routes sharing the policy id {route_id!r} need the same fail_mode, "
            msg += "stale_max_s and mfa_max_age_s"
            clashes.append(ErrorDetail("config_invalid", f"routes.{name}.policy", msg))
    if clashes:
        raise ConfigError("invalid routes", details=clashes)
    return found


def gateway_routes(
    settings: Settings, *, clock: Clock
) -> tuple[tuple[Route, ...], dict[str, CheckRoute]]:
    """The configured routes for Envoy and for the check, validated as at start: one ConfigError
    lists every problem (`zerogate route add` and live reloads check with this)."""
    routes = tuple(envoy_route(name, r) for name, r in sorted(settings.routes.items()))
    problems: list[ErrorDetail] = []
    checks: dict[str, CheckRoute] = {}
    try:  # the route model, with stand-in ports: only the routes are in question here
        Gateway(listen_port=1, admin_port=2, authz_url="http://127.0.0.1:3", routes=routes)
    except ConfigError as exc:
        problems += exc.details
    try:
        checks = check_routes(settings)
    except ConfigError as exc:
        problems += exc.details
    try:
        _webhooks(settings, clock)
    except ConfigError as exc:
        problems += exc.details
    if problems:
        raise ConfigError(f"{len(problems)} route error(s)", details=problems)
    return routes, checks


def _webhooks(
    settings: Settings, clock: Clock, *, store_replays: StoreReplayCache | None = None
) -> dict[str, WebhookVerifier]:
    """A verifier per webhook route, by Cedar route id, sharing one replay cache (in front of
    `store_replays`, the store's, which every check replica on that store sees)."""
    replays = ReplayCache(clock=clock)
    verifiers: dict[str, WebhookVerifier] = {}
    owners: dict[str, list[str]] = {}
    for name, conf in sorted(settings.routes.items()):
        owners.setdefault(conf.policy or name, []).append(name)
    shared = []
    for name, conf in sorted(settings.routes.items()):
        if not conf.webhook_secrets:
            continue
        route_id = conf.policy or name
        if len(owners[route_id]) > 1:
            # The check knows a route by its id only: a shared id would make the other routes
            # webhook routes too (or this one not).
            msg = f"a webhook route needs a policy id of its own; {route_id!r} is shared"
            shared.append(ErrorDetail("config_invalid", f"routes.{name}.policy", msg))
            continue
        verifiers[route_id] = WebhookVerifier(
            conf.webhook_secrets,
            tolerance_s=conf.webhook_tolerance_s,
            signature_header=conf.webhook_signature_header,
            timestamp_header=conf.webhook_timestamp_header,
            clock=clock,
            replay_cache=replays,
            shared=None if store_replays is None else store_replays.route(route_id),
        )
    if shared:
        raise ConfigError("invalid webhook routes", details=shared)
    return verifiers


def envoy_route(name: str, conf: RouteSettings) -> Route:
    """A configured route as the Envoy route the gateway runs (`zerogate doctor` validates it)."""
    host, path = split_from(conf.from_)
    webhook = bool(conf.webhook_secrets)
    signed = (conf.webhook_signature_header, conf.webhook_timestamp_header) if webhook else ()
    return Route(
        name,
        hosts=(_without_port(host),),
        upstream=conf.to,
        path_prefix=path,
        resource_id=conf.policy or name,
        allow_public=conf.allow_public,
        timeout_s=conf.timeout_s,
        websockets=conf.websockets,
        pass_headers=(*conf.pass_headers, *signed),
        check_body_max_bytes=MAX_WEBHOOK_BODY_BYTES if webhook else 0,
    )


async def _follow(svc: PDPService, checker: Checker, revoked: RevocationTimer) -> None:
    """Drop cached sessions and principals that an `entity.changed` event invalidates."""
    after = await svc.bus.last_seq()
    async for event in svc.bus.subscribe(topics=[TOPIC_ENTITY_CHANGED], after_seq=after):
        checker.entity_changed(event.payload)
        revoked(event)  # time to revoke, at the check


async def _refresh(keys: StoreKeyRing) -> None:
    while True:
        await asyncio.sleep(KEY_REFRESH_S)
        try:
            await keys.refresh()
        except Exception:  # the next round retries; verification keeps the keys it has
            log.exception("refreshing verification keys failed")


def gateway_origins(settings: Settings, port: int) -> list[str]:
    """The origins people reach routes at: where the IdP may send a signed-in browser back."""
    hosts = {"localhost"}
    for conf in settings.routes.values():
        host, _ = split_from(conf.from_)
        name = _without_port(host)
        if name and not name.startswith("*."):
            hosts.add(name)
    return sorted(_origin(settings, h, port) for h in hosts)


def _origin(settings: Settings, host: str, port: int) -> str:
    """`https://host:port` with TLS on (the default), `http://host:port` without."""
    scheme, default = ("http", 80) if settings.gateway.tls == "off" else ("https", 443)
    return f"{scheme}://{host}" + ("" if port == default else f":{port}")


def _local_tls(
    settings: Settings, workdir: Path, clock: Clock, hosts: tuple[str, ...] = ()
) -> tuple[LocalCA, TlsFiles]:
    """The local CA (created on first start) and the SDS file naming a fresh serving leaf that
    names the routes' `x.localhost` hosts."""
    ca = LocalCA.load_or_create(settings.data_dir / "tls", now=clock.now())
    client_ca = Path(settings.gateway.client_ca) if settings.gateway.client_ca else None
    tls = TlsFiles(workdir / "sds", client_ca=client_ca)
    _serve_leaf(tls, ca.serving_certificate(now=clock.now(), hosts=hosts))
    return ca, tls


def _serve_leaf(tls: TlsFiles, leaf: ServingCertificate) -> None:
    write_sds(tls, certificate_chain=leaf.certificate_chain, private_key=leaf.private_key)


async def _renew_serving(
    ca: LocalCA,
    tls: TlsFiles,
    clock: Clock,
    hosts: Callable[[], tuple[str, ...]] = tuple,
) -> None:
    """Renew the serving leaf when a third of its life is left, or at once when a route brings
    a host it does not name; Envoy swaps it in via SDS."""
    served: int | None = None  # unknown at first: the first round re-points (to the same leaf)
    named = frozenset(hosts())
    waited = 0.0
    while True:
        await asyncio.sleep(min(TLS_RENEW_CHECK_S, TLS_HOSTS_CHECK_S))
        waited += min(TLS_RENEW_CHECK_S, TLS_HOSTS_CHECK_S)
        current = frozenset(hosts())
        if waited < TLS_RENEW_CHECK_S and current == named:
            continue
        waited, named = 0.0, current
        try:
            leaf = ca.serving_certificate(now=clock.now(), hosts=tuple(sorted(current)))
            if leaf.serial != served:
                _serve_leaf(tls, leaf)  # the same files again change nothing for Envoy
                served = leaf.serial
                log.info("serving certificate renewed", extra={"not_after": str(leaf.not_after)})
        except Exception:  # the next round retries; Envoy keeps serving the current leaf
            log.exception("renewing the serving certificate failed")


def _without_port(host: str) -> str:
    """`app.localhost:8080` -> `app.localhost` (Envoy matches hosts without their port)."""
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
