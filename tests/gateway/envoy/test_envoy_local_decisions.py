"""Local decisions through a real Envoy and the real check service.

An allowed GET from a signed-in browser leaves a decision-token cookie; Envoy then lets that
route's GETs through on its own (jwt_authn with its cache) and the check is not called. Every
other case falls through to the check: other methods, other routes, forged, expired or foreign
tokens. A deny list in the route table (by session, user or policy epoch) sends a listed token's
browser back through the check with a 307 that deletes the cookie. The configuration traps that
would fail open are guarded at the end (reference/envoy-local-decisions.md "Fail-open traps").
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from envoy_support import Upstream, make_gateway, run
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route as HTTPRoute

from tests._serve import loopback_socket, serving
from tests.gateway.check._support import ISSUER, CheckWorld, make_world
from zerogate.app import free_port
from zerogate.clock import SystemClock
from zerogate.gateway.check import create_app as create_check_app
from zerogate.gateway.envoy import (
    Denials,
    EnvoyProcess,
    Gateway,
    LocalDecisions,
    Route,
    build_listener,
    build_route_config,
)
from zerogate.store import Store, open_store
from zerogate.tokens import KeyRing, TokenType, decision_audience, decision_cookie, issue

HOST = "wiki.localhost"
WIKI = "wiki-web"  # the example policies let engineering read it
OTHER = "wiki-api"  # the example policies: also a Route; a wiki-web token must not open it
BROWSER = {"accept": "text/html"}


@pytest.fixture
def world(make_database: Any) -> Iterator[CheckWorld]:
    store: Store = open_store(make_database("sqlite"))
    try:
        yield make_world(store, clock=SystemClock(), decision_tokens=True)  # type: ignore[arg-type]
    finally:
        store.close()


@pytest.fixture
def services(world: CheckWorld) -> Iterator[tuple[str, str]]:
    """The check service's ext_authz face, and the key ring's JWKS (the IdP's /jwks.json)."""

    async def jwks(request: Request) -> JSONResponse:
        return JSONResponse(world.ring.jwks(datetime.now(UTC)))

    keys = Starlette(routes=[HTTPRoute("/jwks.json", jwks)])
    with contextlib.ExitStack() as stack:
        check_sock, check_url = stack.enter_context(loopback_socket())
        stack.enter_context(serving(create_check_app(world.checker), check_sock))
        keys_sock, keys_url = stack.enter_context(loopback_socket())
        stack.enter_context(serving(keys, keys_sock))
        yield check_url, f"{keys_url}/jwks.json"


def gateway_for(services: tuple[str, str], upstream_url: str) -> Gateway:
    check_url, jwks_url = services
    return make_gateway(
        check_url,
        Route("wiki", hosts=(HOST,), upstream=upstream_url, resource_id=WIKI),
        Route("api", hosts=(HOST,), upstream=upstream_url, path_prefix="/api", resource_id=OTHER),
        local_decisions=LocalDecisions(issuer=ISSUER, jwks_url=jwks_url),
    )


@contextlib.asynccontextmanager
async def running(gateway: Gateway, tmp_path: Path) -> AsyncIterator[EnvoyProcess]:
    async with EnvoyProcess(gateway, workdir=tmp_path / "envoy") as envoy:
        yield envoy


def client(envoy: EnvoyProcess) -> httpx.AsyncClient:
    url = f"http://127.0.0.1:{envoy.gateway.listen_port}"
    return httpx.AsyncClient(base_url=url, headers={"host": HOST}, follow_redirects=False)


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


async def first_allow(http: httpx.AsyncClient, session: str) -> str:
    """The first GET goes through the check and comes back with the route's decision token."""
    response = await http.get("/page", headers={**BROWSER, "cookie": session})
    assert response.status_code == 200, response.text
    cookie = response.headers["set-cookie"]
    name, _, rest = cookie.partition("=")
    assert name == decision_cookie(WIKI)
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    return rest.split(";", 1)[0]


async def until_keys(http: httpx.AsyncClient, cookies: str, world: CheckWorld) -> None:
    """Envoy fetches the keys in the background: until then a token falls through to the check."""
    while True:
        before = len(world.records)
        response = await http.get("/page", headers={**BROWSER, "cookie": cookies})
        assert response.status_code == 200
        if len(world.records) == before:
            return


async def on_the_fast_path(
    http: httpx.AsyncClient, world: CheckWorld, session: str
) -> tuple[str, str]:
    """Sign in through the check, then wait until Envoy decides by itself: (token, cookies)."""
    token = await first_allow(http, session)
    cookies = f"{session}; {decision_cookie(WIKI)}={token}"
    await until_keys(http, cookies, world)
    return token, cookies


def test_a_decision_token_lets_the_routes_gets_through_without_the_check(
    world: CheckWorld,
    services: tuple[str, str],
    upstream: Upstream,
    upstream_url: str,
    tmp_path: Path,
) -> None:
    alice = world.add_user("alice", "engineering")
    session = world.sign_in(alice)
    gateway = gateway_for(services, upstream_url)

    async def scenario() -> None:
        async with running(gateway, tmp_path) as envoy, client(envoy) as http:
            token = await first_allow(http, session)
            # Through the check, Zerogate's own cookies stop at the gateway; the app's stay.
            assert upstream.seen[-1].all("cookie") == ["theme=dark"]
            only_ours = session.split("; ", 1)[1]
            response = await http.get("/page", headers={**BROWSER, "cookie": only_ours})
            assert response.status_code == 200
            assert upstream.seen[-1].all("cookie") == []  # removed, not sent empty
            claims = claims_of(token)
            assert claims["aud"] == decision_audience(WIKI)
            assert claims["exp"] - claims["iat"] == 15
            cookies = f"{session}; {decision_cookie(WIKI)}={token}"
            await until_keys(http, cookies, world)
            checks = len(world.records)
            upstream.reset()
            for path in ("/page", "/page?x=1", "/other"):
                response = await http.get(path, headers={**BROWSER, "cookie": cookies})
                assert response.status_code == 200
                assert "set-cookie" not in response.headers
            assert len(world.records) == checks  # Envoy decided these itself
            seen = upstream.seen[-1]
            assert seen.one("x-zerogate-user") == "alice"
            assert seen.all("x-zerogate-groups") == []  # in the token, not a header
            assert seen.one("x-zerogate-route") == WIKI
            assert seen.all("x-zerogate-assertion") == []  # the app verifies the cookie instead
            for key in ("x-zerogate-dt-sid", "x-zerogate-dt-epoch", "x-zerogate-dt-cookie"):
                assert seen.all(key) == [], key  # the deny list's keys stay in Envoy
            assert f"{decision_cookie(WIKI)}={token}" in (seen.one("cookie") or "")
            assert seen.one("x-zerogate-decision-id") == claims["did"]
            # Any other method, and any other route, is checked every time.
            posted = await http.post("/page", headers={**BROWSER, "cookie": cookies})
            assert posted.status_code == 401  # a POST is not a navigation: a challenge
            assert len(world.records) == checks + 1
            other = await http.get("/api/x", headers={**BROWSER, "cookie": cookies})
            assert other.status_code in (200, 403)
            assert len(world.records) == checks + 2

    run(scenario())


def test_tokens_envoy_cannot_trust_fall_through_to_the_check(
    world: CheckWorld,
    services: tuple[str, str],
    upstream: Upstream,
    upstream_url: str,
    tmp_path: Path,
) -> None:
    alice = world.add_user("alice", "engineering")
    gateway = gateway_for(services, upstream_url)
    now = datetime.now(UTC)
    foreign = KeyRing()
    foreign.ensure_active(now - timedelta(minutes=5))

    def forged(*, keys: KeyRing, audience: str, at: datetime, issuer: str = ISSUER) -> str:
        claims = {"sub": alice.id, "sid": "s" * 64, "preferred_username": "mallory", "pe": ""}
        claims |= {"ck": decision_cookie(WIKI), "did": "forged"}
        return issue(
            claims,
            keys=keys,
            issuer=issuer,
            typ=TokenType.DECISION,
            audience=audience,
            now=at,
            lifetime=timedelta(seconds=15),
        )

    bad = {
        "another key": forged(keys=foreign, audience=decision_audience(WIKI), at=now),
        "expired": forged(
            keys=world.ring, audience=decision_audience(WIKI), at=now - timedelta(minutes=2)
        ),
        "the route's own id (an assertion's audience)": forged(
            keys=world.ring, audience=WIKI, at=now
        ),
        "another route": forged(keys=world.ring, audience=decision_audience(OTHER), at=now),
        "another issuer": forged(
            keys=world.ring, audience=decision_audience(WIKI), at=now, issuer="https://evil.test"
        ),
    }

    session = world.sign_in(alice)

    async def scenario() -> None:
        async with running(gateway, tmp_path) as envoy, client(envoy) as http:
            token = await first_allow(http, session)
            await until_keys(http, f"{decision_cookie(WIKI)}={token}", world)
            for why, value in bad.items():
                before = len(world.records)
                cookie = f"{decision_cookie(WIKI)}={value}"
                response = await http.get("/page", headers={**BROWSER, "cookie": cookie})
                assert len(world.records) == before + 1, why  # the check answered
                assert response.status_code == 302, why  # no session: sign in
                assert all(s.one("x-zerogate-user") != "mallory" for s in upstream.seen), why

    run(scenario())


@pytest.mark.parametrize("kind", ["session", "user", "epoch"])
def test_a_denied_token_is_sent_back_through_the_check_without_its_cookie(
    kind: str,
    world: CheckWorld,
    services: tuple[str, str],
    upstream: Upstream,
    upstream_url: str,
    tmp_path: Path,
) -> None:
    alice = world.add_user("alice", "engineering")
    bob = world.add_user("bob", "engineering")
    gateway = gateway_for(services, upstream_url)

    session = world.sign_in(alice)
    bystander = world.sign_in(bob)

    async def scenario() -> None:
        async with running(gateway, tmp_path) as envoy, client(envoy) as http:
            token = await first_allow(http, session)
            bob_token = await first_allow(http, bystander)
            cookies = f"{session}; {decision_cookie(WIKI)}={token}"
            bob_cookies = f"{bystander}; {decision_cookie(WIKI)}={bob_token}"
            await until_keys(http, cookies, world)
            claims = claims_of(token)
            denials = {
                "session": Denials(sessions=frozenset({claims["sid"]})),
                "user": Denials(users=frozenset({"alice"})),
                "epoch": Denials(epochs=frozenset({claims["pe"]})),
            }[kind]
            await envoy.deny(denials)
            # A client's own copy of the claim headers changes nothing (stripped, then set).
            spoof = {"x-zerogate-dt-sid": "someone-else", "x-zerogate-user": "bob"}
            before = len(world.records)
            response = await http.get("/page?q=1", headers={**BROWSER, **spoof, "cookie": cookies})
            assert response.status_code == 307
            assert response.headers["location"] == "/page?q=1"
            cleared = response.headers["set-cookie"]
            assert cleared.startswith(f"{decision_cookie(WIKI)}=;")
            assert "Max-Age=0" in cleared
            assert len(world.records) == before  # Envoy answered it
            # The browser follows without the token: the check decides again.
            again = await http.get("/page?q=1", headers={**BROWSER, "cookie": session})
            assert len(world.records) == before + 1
            assert again.status_code == 200
            if kind != "user":  # bob's token is neither alice's session nor alice
                if kind == "epoch":  # ... but the epoch is everyone's
                    assert (
                        await http.get("/page", headers={**BROWSER, "cookie": bob_cookies})
                    ).status_code == 307
                else:
                    assert (
                        await http.get("/page", headers={**BROWSER, "cookie": bob_cookies})
                    ).status_code == 200
            await envoy.deny(Denials())
            assert (
                await http.get("/page", headers={**BROWSER, "cookie": cookies})
            ).status_code == 200

    run(scenario())


def test_a_revoked_session_ends_at_the_gateway_when_envoy_has_the_deny_list(
    world: CheckWorld,
    services: tuple[str, str],
    upstream: Upstream,
    upstream_url: str,
    tmp_path: Path,
) -> None:
    """Sign-out: the session is revoked and listed; the browser is sent to sign in again."""
    alice = world.add_user("alice", "engineering")
    gateway = gateway_for(services, upstream_url)

    session = world.sign_in(alice)

    async def scenario() -> None:
        async with running(gateway, tmp_path) as envoy, client(envoy) as http:
            token, cookies = await on_the_fast_path(http, world, session)
            sid = claims_of(token)["sid"]
            await world.sessions.revoke(sid, reason="logout", now=world.clock.now())
            world.checker.drop_sessions([sid])  # what the change feed does in a service
            await envoy.deny(Denials(sessions=frozenset({sid})))
            response = await http.get("/page", headers={**BROWSER, "cookie": cookies})
            assert response.status_code == 307
            # Followed without the token, with the (dropped) session: sign in again.
            again = await http.get("/page", headers={**BROWSER, "cookie": session})
            assert again.status_code == 302
            assert again.headers["location"].startswith(f"{ISSUER}/login")

    run(scenario())


# Fail-open traps: each validates cleanly in Envoy and would let a revoked token through.


def _filters(gateway: Gateway) -> list[dict[str, Any]]:
    hcm = build_listener(gateway)["filter_chains"][0]["filters"][0]["typed_config"]
    return list(hcm["http_filters"])


def _gateway() -> Gateway:
    return gateway_for(
        ("http://127.0.0.1:9", f"http://127.0.0.1:{free_port()}/jwks.json"), "http://127.0.0.1:10"
    )


def test_config_rbac_runs_after_jwt_authn_and_before_ext_authz() -> None:
    names = [f["name"] for f in _filters(_gateway())]
    jwt, rbac, authz = (
        names.index(n)
        for n in (
            "envoy.filters.http.jwt_authn",
            "envoy.filters.http.rbac",
            "envoy.filters.http.ext_authz",
        )
    )
    assert jwt < rbac < authz


def test_config_ext_authz_is_skipped_only_when_a_token_verified() -> None:
    (authz,) = [f for f in _filters(_gateway()) if f["name"] == "envoy.filters.http.ext_authz"]
    config = authz["typed_config"]
    assert config["failure_mode_allow"] is False
    assert config["filter_enabled_metadata"] == {
        "filter": "envoy.filters.http.jwt_authn",
        "path": [{"key": "decision"}],
        "value": {"present_match": True},
        "invert": True,
    }
    assert "deny_at_disable" not in config


def test_config_every_provider_sets_the_deny_list_headers_from_verified_claims() -> None:
    (jwt,) = [f for f in _filters(_gateway()) if f["name"] == "envoy.filters.http.jwt_authn"]
    providers = jwt["typed_config"]["providers"]
    assert len(providers) == 2
    for provider in providers.values():
        claims = {c["header_name"]: c["claim_name"] for c in provider["claim_to_headers"]}
        assert claims["x-zerogate-dt-sid"] == "sid"
        assert claims["x-zerogate-user"] == "preferred_username"
        assert claims["x-zerogate-dt-epoch"] == "pe"
        assert claims["x-zerogate-dt-cookie"] == "ck"
        assert provider["clock_skew_seconds"] == 5  # never Envoy's 60 s default
        assert (
            provider["jwt_cache_config"]["jwt_cache_size"] > 0
        )  # without it: slower than ext_authz
        assert provider["payload_in_metadata"] == "decision"
        assert len(provider["audiences"]) == 1
    for requirement in jwt["typed_config"]["requirement_map"].values():
        # allow_missing would answer an expired token with 401 instead of asking the check
        assert {"allow_missing_or_failed": {}} in requirement["requires_any"]["requirements"]
        assert {"allow_missing": {}} not in requirement["requires_any"]["requirements"]


def test_config_deny_list_reads_request_headers_never_dynamic_metadata() -> None:
    denials = Denials(frozenset({"s1"}), frozenset({"alice"}), frozenset({"e1"}))
    config = build_route_config(_gateway(), denials)
    text = json.dumps(config)
    assert "DynamicMetadataInput" not in text
    assert "envoy.matching.inputs.dynamic_metadata" not in text
    fast = [
        r
        for vh in config["virtual_hosts"]
        for r in vh["routes"]
        if "envoy.filters.http.rbac" in r.get("typed_per_filter_config", {})
    ]
    assert {r["name"] for r in fast} == {"wiki.get", "api.get"}
    inputs = []
    matcher = fast[0]["typed_per_filter_config"]["envoy.filters.http.rbac"]["rbac"]["matcher"]
    while matcher:
        tree = matcher["matcher_tree"]
        inputs.append(tree["input"]["typed_config"])
        assert all(
            v["action"]["typed_config"]["action"] == "DENY"
            for v in tree["exact_match_map"]["map"].values()
        )
        matcher = matcher["on_no_match"].get("matcher")
    assert [i["header_name"] for i in inputs] == [
        "x-zerogate-dt-sid",
        "x-zerogate-user",
        "x-zerogate-dt-epoch",
    ]
    assert all(i["@type"].endswith("HttpRequestHeaderMatchInput") for i in inputs)
    # Only GET routes take tokens; the other methods' twins always call the check.
    for vh in config["virtual_hosts"]:
        for route in vh["routes"]:
            jwt = route["typed_per_filter_config"]["envoy.filters.http.jwt_authn"]
            if route["name"].endswith(".get"):
                assert route["match"]["headers"] == [
                    {"name": ":method", "string_match": {"exact": "GET"}}
                ]
                assert "requirement_name" in jwt
            else:
                assert jwt["disabled"] is True
