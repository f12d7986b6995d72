"""The gateway as a service: the check service, Envoy in front of the configured routes (or the
demo app), and the change feed keeping the check's caches honest."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from zerogate.app._demo import demo_app
from zerogate.app._pdp_service import PDPService
from zerogate.app._serve import background_server, free_port, loopback_socket
from zerogate.app.admin import directory, record_session_change
from zerogate.clock import Clock
from zerogate.config import RouteSettings, Settings, split_from
from zerogate.control import TOPIC_ENTITY_CHANGED
from zerogate.errors import ConfigError, ErrorDetail
from zerogate.gateway.check import (
    MAX_WEBHOOK_BODY_BYTES,
    AssertionSigner,
    Checker,
    HostSessions,
    ReplayCache,
    SessionCache,
    WebhookVerifier,
)
from zerogate.gateway.check import RouteSettings as CheckRoute
from zerogate.gateway.check import create_app as create_check_app
from zerogate.gateway.envoy import EnvoyProcess, Gateway, Route
from zerogate.identity import Sessions
from zerogate.identity.oidc import GrantStatus
from zerogate.tokens import StoreKeyRing

HANDOFF_KEY_PURPOSE = "zerogate.gateway.handoff"  # the IdP derives the same key
DEMO_ROUTE = "demo"
DEMO_POLICY = "wiki-web"  # a Route of the example policies: employees may read it
KEY_REFRESH_S = 300.0  # new signing keys are announced an hour before they sign
log = logging.getLogger("zerogate.app")


@dataclass(frozen=True, slots=True)
class RunningGateway:
    url: str  # where people reach the routes
    routes: tuple[Route, ...]
    demo: bool  # the demo app is the (only) route


@contextlib.asynccontextmanager
async def gateway_service(
    settings: Settings,
    svc: PDPService,
    *,
    clock: Clock,
    idp_url: str,
    port: int,
    workdir: Path,
) -> AsyncIterator[RunningGateway]:
    """Start the check service and Envoy on `port`; stop both (and the demo app) on exit."""
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
        checker = Checker(
            svc.pdp,
            Sessions(svc.store, on_change=record_session_change),
            directory(svc.store, settings),
            keys,
            issuer=idp_url,
            clock=clock,
            login_url=f"{idp_url}/login",
            routes={
                (r.policy or name): CheckRoute(mfa_max_age_s=r.mfa_max_age_s or None)
                for name, r in settings.routes.items()
            },
            token_status=GrantStatus(svc.store),
            # Sessions are re-read at most once a second; revocations arrive sooner through the
            # change feed (`_follow` drops them): the 4x difference is measured in bench/gateway.py.
            session_cache=SessionCache(clock=clock),
            assertions=AssertionSigner(keys, issuer=idp_url),
            webhooks=_webhooks(settings, clock),
            host_sessions=HostSessions(svc.store.sealer.derive(HANDOFF_KEY_PURPOSE)),
        )
        stack.push_async_callback(_cancel, asyncio.create_task(_follow(svc, checker)))
        stack.push_async_callback(_cancel, asyncio.create_task(_refresh(keys)))
        check_sock = loopback_socket(conf.check_port)
        stack.callback(check_sock.close)
        check_app = create_check_app(checker, public_port=port)
        await stack.enter_async_context(background_server(check_app, check_sock))
        gateway = Gateway(
            listen_host=conf.host,
            listen_port=port,
            admin_port=admin_port,
            authz_url=f"http://127.0.0.1:{check_sock.getsockname()[1]}",
            routes=routes,
            concurrency=conf.concurrency,
        )
        envoy = EnvoyProcess(gateway, workdir=workdir)
        await envoy.start()
        stack.push_async_callback(envoy.aclose)
        yield RunningGateway(url=f"http://localhost:{port}", routes=routes, demo=demo)


def _routes(settings: Settings, port: int) -> tuple[tuple[Route, ...], bool]:
    """The configured routes as Envoy routes; none configured: the demo app (filled in later)."""
    if not settings.routes:
        return (), True
    return tuple(envoy_route(name, r) for name, r in sorted(settings.routes.items())), False


def _webhooks(settings: Settings, clock: Clock) -> dict[str, WebhookVerifier]:
    """A verifier per webhook route, by Cedar route id, sharing one replay cache."""
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


async def _follow(svc: PDPService, checker: Checker) -> None:
    """Drop cached sessions and principals that an `entity.changed` event invalidates."""
    after = await svc.bus.last_seq()
    async for event in svc.bus.subscribe(topics=[TOPIC_ENTITY_CHANGED], after_seq=after):
        checker.entity_changed(event.payload)


async def _refresh(keys: StoreKeyRing) -> None:
    while True:
        await asyncio.sleep(KEY_REFRESH_S)
        try:
            await keys.refresh()
        except Exception:  # the next round retries; verification keeps the keys it has
            log.exception("refreshing verification keys failed")


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def gateway_origins(settings: Settings, port: int) -> list[str]:
    """The origins people reach routes at: where the IdP may send a signed-in browser back."""
    hosts = {"localhost"}
    for conf in settings.routes.values():
        host, _ = split_from(conf.from_)
        name = _without_port(host)
        if name and not name.startswith("*."):
            hosts.add(name)
    suffix = "" if port == 80 else f":{port}"
    return sorted(f"http://{h}{suffix}" for h in hosts)


def _without_port(host: str) -> str:
    """`app.localhost:8080` -> `app.localhost` (Envoy matches hosts without their port)."""
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
