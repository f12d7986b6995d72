"""`LiveRoutes`: what a changed settings file does to a running gateway, decided without Envoy.

The Envoy here is a fake that records what it is asked to apply (and can refuse); the check is
the real `Checker` over a real store. Envoy itself reloading is tested in
tests/e2e/test_route_reload.py and tests/gateway/envoy/test_envoy_e2e.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.check._support import CheckWorld, make_world, request
from zerogate.app._config_watch import SettingsSource
from zerogate.app._gateway_service import gateway_origins, gateway_routes
from zerogate.app._route_reload import LiveRoutes
from zerogate.clock import SystemClock
from zerogate.config import Settings, load_settings
from zerogate.errors import ConfigError, ErrorDetail
from zerogate.gateway.envoy import Gateway, Route
from zerogate.idp import ReturnOrigins
from zerogate.store import open_store

WIKI = (
    '[routes.wiki]\nfrom = "wiki.localhost/"\nto = "http://127.0.0.1:3000"\npolicy = "wiki-web"\n'
)
STEP_UP = WIKI + "mfa_max_age_s = 300\n"


class FakeEnvoy:
    """Stands in for EnvoyProcess: holds a Gateway, records applies, refuses when told to."""

    def __init__(self, routes: tuple[Route, ...]) -> None:
        self.gateway = Gateway(
            listen_port=8080, admin_port=9901, authz_url="http://127.0.0.1:9000", routes=routes
        )
        self.applied: list[Gateway] = []
        self.refuse = False
        self.during: Callable[[], None] = lambda: None

    async def apply(self, gateway: Gateway) -> None:
        self.during()
        if self.refuse:
            detail = ErrorDetail("envoy_config_rejected", "rds", "no")
            raise ConfigError("envoy refused", code="envoy_config_rejected", details=[detail])
        self.applied.append(gateway)
        self.gateway = gateway


def _settings(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "zerogate.toml"
    path.write_text(text)
    return load_settings(path, environ={})


@pytest.fixture
def world(make_database: Callable[..., str]) -> Iterator[CheckWorld]:
    store = open_store(make_database("sqlite"))
    try:
        yield make_world(store)
    finally:
        store.close()


def _live(world: CheckWorld, settings: Settings, envoy: FakeEnvoy, **options: Any) -> LiveRoutes:
    _, checks = gateway_routes(settings, clock=SystemClock())
    world.checker.replace_routes(checks)
    return LiveRoutes(
        settings,
        envoy,  # type: ignore[arg-type]
        world.checker,
        translate=lambda s: gateway_routes(s, clock=SystemClock()),
        fallback=options.get("fallback", ()),
        origins=lambda s: gateway_origins(s, 8443),
        return_origins=options.get("return_origins"),
    )


def _status_with_old_mfa(world: CheckWorld) -> int:
    user = world.add_user(f"u{len(world.records)}", "employees")
    cookie = world.sign_in(user, amr=("pwd", "otp"), mfa_ago_s=3600)
    return int(world.check(request(cookie=cookie)).status)


def test_live_routes_apply_new_routes_and_the_checks_settings(
    tmp_path: Path, world: CheckWorld
) -> None:
    old = _settings(tmp_path, WIKI)
    envoy = FakeEnvoy(gateway_routes(old, clock=SystemClock())[0])
    live = _live(world, old, envoy)
    assert _status_with_old_mfa(world) == 200  # no MFA age asked for yet

    new = _settings(tmp_path, STEP_UP.replace("3000", "3001"))
    assert asyncio.run(live.apply(new)) is True
    (applied,) = envoy.applied
    assert [r.upstream for r in applied.routes] == ["http://127.0.0.1:3001"]
    assert _status_with_old_mfa(world) == 302  # the check's settings were replaced too
    assert live.settings is new


def test_live_routes_keep_the_stricter_setting_while_envoy_switches(
    tmp_path: Path, world: CheckWorld
) -> None:
    old = _settings(tmp_path, STEP_UP)
    envoy = FakeEnvoy(gateway_routes(old, clock=SystemClock())[0])
    live = _live(world, old, envoy)
    seen: list[int] = []
    envoy.during = lambda: seen.append(world.checker._routes["wiki-web"].mfa_max_age_s or 0)
    assert asyncio.run(live.apply(_settings(tmp_path, WIKI))) is True
    assert seen == [300]  # during the switch, still the old, stricter requirement
    assert _status_with_old_mfa(world) == 200  # and after it, the new one


def test_live_routes_refused_by_envoy_keep_everything_as_it_was(
    tmp_path: Path, world: CheckWorld
) -> None:
    old = _settings(tmp_path, STEP_UP)
    envoy = FakeEnvoy(gateway_routes(old, clock=SystemClock())[0])
    live = _live(world, old, envoy)
    envoy.refuse = True
    assert asyncio.run(live.apply(_settings(tmp_path, WIKI))) is False
    assert _status_with_old_mfa(world) == 302  # the old check settings are back
    assert live.settings is old


def test_live_routes_invalid_routes_change_nothing(tmp_path: Path, world: CheckWorld) -> None:
    old = _settings(tmp_path, WIKI)
    envoy = FakeEnvoy(gateway_routes(old, clock=SystemClock())[0])
    live = _live(world, old, envoy)
    clash = WIKI + '[routes.copy]\nfrom = "wiki.localhost/"\nto = "http://127.0.0.1:4000"\n'
    assert asyncio.run(live.apply(_settings(tmp_path, clash))) is False
    assert envoy.applied == []
    assert live.settings is old


def test_live_routes_webhook_changes_wait_for_a_restart(
    tmp_path: Path, world: CheckWorld, caplog: pytest.LogCaptureFixture
) -> None:
    old = _settings(tmp_path, WIKI)
    envoy = FakeEnvoy(gateway_routes(old, clock=SystemClock())[0])
    live = _live(world, old, envoy)
    hooks = WIKI + (
        '[routes.hooks]\nfrom = "hooks.localhost/"\nto = "http://127.0.0.1:4000"\n'
        'webhook_secret = "whsec-0123456789abcdefghijklmnopqrstuvwxyz"\n'
    )
    with caplog.at_level(logging.ERROR, logger="zerogate.app"):
        assert asyncio.run(live.apply(_settings(tmp_path, hooks))) is False
    assert envoy.applied == []
    assert "webhook routes changed: restart zerogate" in caplog.text
    assert "whsec" not in caplog.text


def test_live_routes_without_routes_run_the_fallback(tmp_path: Path, world: CheckWorld) -> None:
    demo = Route("demo", hosts=("localhost",), upstream="http://127.0.0.1:5000")
    old = _settings(tmp_path, WIKI)
    envoy = FakeEnvoy(gateway_routes(old, clock=SystemClock())[0])
    live = _live(world, old, envoy, fallback=(demo,))
    assert asyncio.run(live.apply(_settings(tmp_path, "# nothing routed\n"))) is True
    assert envoy.gateway.routes == (demo,)


def test_live_routes_other_sections_are_reported_not_applied(
    tmp_path: Path, world: CheckWorld, caplog: pytest.LogCaptureFixture
) -> None:
    old = _settings(tmp_path, WIKI)
    envoy = FakeEnvoy(gateway_routes(old, clock=SystemClock())[0])
    live = _live(world, old, envoy)
    changed = dataclasses.replace(old, data_dir=Path("elsewhere"))
    with caplog.at_level(logging.WARNING, logger="zerogate.app"):
        assert asyncio.run(live.apply(changed)) is True
    assert "[data_dir]: restart zerogate to apply" in caplog.text
    assert envoy.applied == []  # the routes did not change


def test_live_routes_let_sign_in_return_to_new_route_hosts(
    tmp_path: Path, world: CheckWorld, caplog: pytest.LogCaptureFixture
) -> None:
    old = _settings(tmp_path, WIKI)
    origins = ReturnOrigins(gateway_origins(old, 8443))  # as `zerogate up` hands it to the IdP
    envoy = FakeEnvoy(gateway_routes(old, clock=SystemClock())[0])
    live = _live(world, old, envoy, return_origins=origins)
    app = "https://app.localhost:8443/docs"
    assert origins.allows(app) is None
    added = WIKI + '[routes.app]\nfrom = "app.localhost/"\nto = "http://127.0.0.1:4000"\n'

    envoy.refuse = True  # routes Envoy refuses: the allowlist stays as it was
    assert asyncio.run(live.apply(_settings(tmp_path, added))) is False
    assert origins.allows(app) is None

    envoy.refuse = False
    with caplog.at_level(logging.INFO, logger="zerogate.app"):
        assert asyncio.run(live.apply(_settings(tmp_path, added))) is True
    assert origins.allows(app) == "https://app.localhost:8443"  # no restart needed
    assert origins.allows("https://wiki.localhost:8443/") == "https://wiki.localhost:8443"
    assert "restart" not in caplog.text
    assert "routes reloaded" in caplog.text

    assert asyncio.run(live.apply(_settings(tmp_path, WIKI))) is True  # the route removed
    assert origins.allows(app) is None


def _replace(path: Path, text: str) -> None:
    """Write the whole file at once (as `zerogate route add` does), so no poll sees half."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def test_settings_source_reports_each_change_once_and_every_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "zerogate.toml"
    path.write_text(WIKI)
    source = SettingsSource(path, environ={})

    async def scenario() -> list[Settings | ConfigError]:
        seen: list[Settings | ConfigError] = []
        changes = source.watch(interval_s=0.01)
        first = await anext(changes)  # the file as it is at the first poll
        assert isinstance(first, Settings)
        assert first.routes["wiki"].mfa_max_age_s == 0
        for text in (STEP_UP, "[routes.wiki\n", WIKI):
            _replace(path, text)
            seen.append(await anext(changes))
        path.touch()  # same bytes: not a change; the next one is
        _replace(path, WIKI + "# a comment\n")
        seen.append(await anext(changes))
        await changes.aclose()
        return seen

    seen = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert isinstance(seen[0], Settings)
    assert seen[0].routes["wiki"].mfa_max_age_s == 300
    assert isinstance(seen[1], ConfigError)
    assert seen[1].details[0].code == "config_syntax"
    assert isinstance(seen[2], Settings)
    assert seen[2].routes["wiki"].mfa_max_age_s == 0
    assert isinstance(seen[3], Settings)
    assert len(seen) == 4
