"""`zerogate.sdk`: an app trusts only the gateway's signed assertion (issue 4, item 4)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from tests._serve import loopback_socket, serving
from zerogate._types import DecisionID
from zerogate.gateway.check import AssertionSigner, DecisionTokens
from zerogate.gateway.check._authn import Identity
from zerogate.gateway.check._caches import Principal
from zerogate.sdk import (
    AssertionMiddleware,
    require_assertion,
    verify_assertion,
    verify_decision_token,
)
from zerogate.tokens import KeyRing, TokenError, TokenType, decision_cookie, issue

NOW = datetime.now(UTC)
ISSUER = "https://sso.example.test"


def _identity() -> Identity:
    principal = Principal("usr_1", "ada", "ada@example.test", None, ("employees",))
    return Identity(
        principal, "session", "s" * 64, ("pwd", "otp"), True, 10, 60, "urn:zerogate:acr:mfa"
    )


@pytest.fixture
def ring() -> KeyRing:
    keys = KeyRing()
    keys.ensure_active(NOW - timedelta(minutes=1))
    return keys


def test_a_gateway_assertion_verifies_for_its_route(ring: KeyRing) -> None:
    token = AssertionSigner(ring, issuer=ISSUER).assertion(_identity(), "wiki-web", now=NOW)
    who = verify_assertion(token, keys=ring, issuer=ISSUER, audience="wiki-web", now=NOW)
    assert (who.subject, who.username, who.groups, who.session_id) == (
        "usr_1",
        "ada",
        ("employees",),
        "s" * 64,
    )


@pytest.mark.parametrize(
    ("audience", "at", "code"),
    [
        ("payroll-api", NOW, "token_audience_mismatch"),  # minted for another route
        ("wiki-web", NOW + timedelta(minutes=3), "token_expired"),  # at most two minutes
    ],
)
def test_an_assertion_for_another_route_or_too_old_is_refused(
    ring: KeyRing, audience: str, at: datetime, code: str
) -> None:
    token = AssertionSigner(ring, issuer=ISSUER).assertion(_identity(), "wiki-web", now=NOW)
    with pytest.raises(TokenError) as raised:
        verify_assertion(token, keys=ring, issuer=ISSUER, audience=audience, now=at)
    assert raised.value.code == code


def test_an_access_token_is_not_an_assertion(ring: KeyRing) -> None:
    """JWT-A15: token-type confusion, from the app's side."""
    access = issue(
        {"sub": "usr_1", "client_id": "c", "scope": "openid"},
        keys=ring,
        issuer=ISSUER,
        typ=TokenType.ACCESS,
        audience="wiki-web",
        now=NOW,
    )
    with pytest.raises(TokenError) as raised:
        verify_assertion(access, keys=ring, issuer=ISSUER, audience="wiki-web", now=NOW)
    assert raised.value.code == "token_type_mismatch"


def test_assertions_are_reused_briefly_and_forgotten_with_the_session(ring: KeyRing) -> None:
    signer = AssertionSigner(ring, issuer=ISSUER)
    first = signer.assertion(_identity(), "wiki-web", now=NOW)
    assert signer.assertion(_identity(), "wiki-web", now=NOW + timedelta(seconds=30)) == first
    assert signer.assertion(_identity(), "wiki-web", now=NOW + timedelta(seconds=61)) != first
    signer.forget({"s" * 64})
    assert signer.assertion(_identity(), "wiki-web", now=NOW + timedelta(seconds=62)) != first


@pytest.fixture
def jwks_url(ring: KeyRing) -> Iterator[str]:
    async def jwks(request: Request) -> Response:
        return JSONResponse(ring.jwks(datetime.now(UTC)))

    with (
        loopback_socket() as (sock, url),
        serving(Starlette(routes=[Route("/jwks.json", jwks)]), sock),
    ):
        yield f"{url}/jwks.json"


def test_the_middleware_lets_only_verified_requests_through(ring: KeyRing, jwks_url: str) -> None:
    async def hello(request: Request) -> Response:
        return JSONResponse({"user": require_assertion(request).username})

    app = AssertionMiddleware(
        Starlette(routes=[Route("/", hello)]), jwks_url=jwks_url, issuer=ISSUER, audience="wiki-web"
    )
    token = AssertionSigner(ring, issuer=ISSUER).assertion(
        _identity(), "wiki-web", now=datetime.now(UTC)
    )
    with TestClient(app) as client:
        assert client.get("/").status_code == 401
        assert (
            client.get("/", headers={"x-zerogate-user": "admin"}).status_code == 401
        )  # plain headers prove nothing
        assert client.get("/", headers={"x-zerogate-assertion": token + "x"}).status_code == 401
        ok = client.get("/", headers={"x-zerogate-assertion": token})
        assert ok.status_code == 200
        assert ok.json() == {"user": "ada"}
    assert httpx.get(jwks_url, timeout=5).status_code == 200


def test_a_decision_token_cookie_stands_in_for_the_assertion_on_gets_only(
    ring: KeyRing, jwks_url: str
) -> None:
    """The gateway let a GET through on its own: the app verifies the route's cookie instead."""

    async def hello(request: Request) -> Response:
        found = require_assertion(request)
        return JSONResponse({"user": found.username, "groups": list(found.groups)})

    app = AssertionMiddleware(
        Starlette(routes=[Route("/", hello, methods=["GET", "POST"])]),
        jwks_url=jwks_url,
        issuer=ISSUER,
        audience="wiki-web",
    )
    tokens = DecisionTokens(ring, issuer=ISSUER)
    now = datetime.now(UTC)

    def cookie(route: str) -> str:
        header = tokens.set_cookie(
            _identity(), route, decision_id=DecisionID("d-1"), epoch="e", now=now
        )
        assert header is not None
        return header.split(";", 1)[0]

    assertion = AssertionSigner(ring, issuer=ISSUER).assertion(_identity(), "wiki-web", now=now)
    with TestClient(app) as client:
        ok = client.get("/", headers={"cookie": f"a=1; {cookie('wiki-web')}"})
        assert ok.status_code == 200
        assert ok.json() == {"user": "ada", "groups": ["employees"]}
        # Not for another route's token, not for other methods, not an assertion as a cookie.
        assert client.get("/", headers={"cookie": cookie("admin-ui")}).status_code == 401
        assert client.post("/", headers={"cookie": cookie("wiki-web")}).status_code == 401
        named = f"{decision_cookie('wiki-web')}={assertion}"
        assert client.get("/", headers={"cookie": named}).status_code == 401
    value = cookie("wiki-web").split("=", 1)[1]
    with pytest.raises(TokenError):
        verify_assertion(value, keys=ring, issuer=ISSUER, audience="wiki-web")
    assert verify_decision_token(value, keys=ring, issuer=ISSUER, audience="wiki-web").subject
