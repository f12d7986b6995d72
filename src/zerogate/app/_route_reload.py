"""Routes follow zerogate.toml while `zerogate up` runs: a changed file reconfigures Envoy in place
(no connection dropped) and gives the check its new per-route settings; a file that does not
load, or that Envoy refuses, is reported and the routes that run keep running."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from typing import Any

from zerogate.app._config_watch import SettingsSource
from zerogate.config import RouteSettings, Settings
from zerogate.errors import ConfigError, ZerogateError
from zerogate.gateway.check import Checker
from zerogate.gateway.check import RouteSettings as CheckRoute
from zerogate.gateway.envoy import EnvoyProcess, Route
from zerogate.idp import ReturnOrigins

log = logging.getLogger("zerogate.app")

# Settings -> (the Envoy routes, the check's settings per route id); raises ConfigError.
Translate = Callable[[Settings], tuple[tuple[Route, ...], Mapping[str, CheckRoute]]]


class LiveRoutes:
    """The routes of a running gateway, replaced whenever the settings file changes.

    `fallback` runs when no route is configured (the demo app, if it was started). `origins`
    lists where the IdP may send signed-in people back for given settings; once new routes run,
    `return_origins` (the IdP's allowlist) is replaced by their list, so sign-in returns to a new
    route host at once, and no longer to a removed one.
    """

    def __init__(
        self,
        settings: Settings,
        envoy: EnvoyProcess,
        checker: Checker,
        *,
        translate: Translate,
        fallback: tuple[Route, ...],
        origins: Callable[[Settings], list[str]],
        return_origins: ReturnOrigins | None = None,
    ) -> None:
        self._started = settings
        self._running = settings
        self._envoy = envoy
        self._checker = checker
        self._translate = translate
        self._fallback = fallback
        self._origins = origins
        self._return_origins = return_origins

    @property
    def settings(self) -> Settings:
        """The settings whose routes run now (other sections: as at start)."""
        return self._running

    async def follow(self, source: SettingsSource) -> None:
        """Apply each change of `source` until cancelled."""
        async for loaded in source.watch():
            if isinstance(loaded, ConfigError):
                log.error(
                    "%s not applied, the running routes stay: %s",
                    source.path,
                    _problems(loaded),
                    extra={"code": loaded.code},
                )
                continue
            await self.apply(loaded)

    async def apply(self, new: Settings) -> bool:
        """Run the routes of `new`; False (and the running routes stay) if they cannot run."""
        restart = [
            f.name
            for f in dataclasses.fields(Settings)
            if f.name != "routes" and getattr(new, f.name) != getattr(self._started, f.name)
        ]
        if restart:
            log.warning("settings changed in [%s]: restart zerogate to apply", ", ".join(restart))
        if dict(new.routes) == dict(self._running.routes):
            return True
        if _webhook_view(new.routes) != _webhook_view(self._running.routes):
            # The check's faces learn the signed headers at start: apply all of it, or nothing.
            log.error("webhook routes changed: restart zerogate to apply; the running routes stay")
            return False
        try:
            routes, checks = self._translate(new)
            gateway = dataclasses.replace(self._envoy.gateway, routes=routes or self._fallback)
        except ConfigError as exc:
            log.error("routes not applied, the running routes stay: %s", _problems(exc))
            return False
        old = self._translate(self._running)[1]
        # Make before break: while Envoy switches, a route id keeps the stricter requirement.
        self._checker.replace_routes(_stricter(old, checks))
        try:
            await self._envoy.apply(gateway)
        except ZerogateError as exc:
            self._checker.replace_routes(old)
            log.error("routes not applied, the running routes stay: %s", _problems(exc))
            return False
        self._checker.replace_routes(checks)
        if self._return_origins is not None:
            self._return_origins.replace(self._origins(new))
        self._running = new
        log.info("routes reloaded", extra={"routes": sorted(new.routes)})
        return True


def _problems(exc: ZerogateError) -> str:
    return "; ".join(str(d) for d in exc.details) or f"{exc.message} [{exc.code}]"


def _webhook_view(routes: Mapping[str, RouteSettings]) -> dict[str, tuple[Any, ...]]:
    return {
        name: (
            r.policy or name,
            r.webhook_secrets,
            r.webhook_tolerance_s,
            r.webhook_signature_header,
            r.webhook_timestamp_header,
        )
        for name, r in routes.items()
        if r.webhook_secrets
    }


def _stricter(
    old: Mapping[str, CheckRoute], new: Mapping[str, CheckRoute]
) -> dict[str, CheckRoute]:
    """Per route id, the stricter of the two: the fresher second factor, the shorter (or no)
    stale bound, so that a switch never loosens a route even for a moment."""
    merged = dict(old)
    for route_id, route in new.items():
        before = merged.get(route_id)
        if before is None:
            merged[route_id] = route
            continue
        merged[route_id] = CheckRoute(
            mfa_max_age_s=_looser_none(min, before.mfa_max_age_s, route.mfa_max_age_s),
            stale_max_s=None
            if before.stale_max_s is None or route.stale_max_s is None
            else min(before.stale_max_s, route.stale_max_s),
        )
    return merged


def _looser_none(pick: Callable[[int, int], int], a: int | None, b: int | None) -> int | None:
    """`pick` of two bounds where None means "no bound": a bound always beats none."""
    if a is None or b is None:
        return a if b is None else b
    return pick(a, b)
