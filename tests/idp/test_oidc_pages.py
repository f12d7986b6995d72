"""The OpenID Connect endpoints inside the login app: sign-in detours, consent, logout confirm.

Driven like a browser (cookie jar, CSRF tokens read from the pages) against `create_app(oidc=...)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from tests.identity._support import CHEAP, GOOD_PASSWORD, IP, T0, make_directory, run
from tests.identity.oidc._op import Flow, pkce
from tests.idp._support import PUBLIC_URL, SECRET, csrf_of, error_code_of
from zerogate.clock import FixedClock
from zerogate.identity import TOTP, PasswordHasher, RecoveryCodes, Sessions
from zerogate.identity.oidc import (
    Client,
    ClientRegistry,
    OIDCProvider,
    ProviderSettings,
    revoke_grants_for_sessions,
)
from zerogate.idp import create_app
from zerogate.store import open_store
from zerogate.tokens import KeyRing

RP = "https://rp.example.test/cb"


class World:
    def __init__(self, store_url: str) -> None:
        self.store = open_store(store_url)
        self.clock = FixedClock(at=T0)
        keys_ring = KeyRing()
        keys_ring.ensure_active(T0)
        self.directory = make_directory(self.store)
        self.clients = ClientRegistry(self.store)
        app = create_app(
            directory=self.directory,
            sessions=Sessions(self.store, on_change=revoke_grants_for_sessions),
            totp=TOTP(self.store),
            recovery_codes=RecoveryCodes(self.store, hasher=PasswordHasher(CHEAP)),
            clock=self.clock,
            public_url=PUBLIC_URL,
            secret=SECRET,
            oidc=OIDCProvider(self.store, keys_ring, ProviderSettings(issuer=PUBLIC_URL)),
        )
        self.http = TestClient(app, base_url=PUBLIC_URL, client=(IP, 50000), follow_redirects=False)
        run(self.directory.add_user("ada", "ada@example.test", password=GOOD_PASSWORD, now=T0))

    def client(self, **options: object) -> Client:
        return run(self.clients.add("Third Party", redirect_uris=[RP], now=T0, **options)).client  # type: ignore[arg-type]

    def authorize(self, client: Client, **extra: str) -> object:
        flow = Flow(*pkce())
        params = {
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": RP,
            "scope": "openid email",
            "state": flow.state,
            "code_challenge": flow.challenge,
            "code_challenge_method": "S256",
            **extra,
        }
        return self.http.get("/authorize", params=params)

    def sign_in(self, next_path: str) -> None:
        page = self.http.get("/login", params={"next": next_path})
        form = {
            "csrf": csrf_of(page),
            "username": "ada",
            "password": GOOD_PASSWORD,
            "next": next_path,
        }
        reply = self.http.post("/login", data=form)
        assert reply.status_code == 303, reply.text


@pytest.fixture
def world(make_database: Callable[..., str]) -> Iterator[World]:
    w = World(make_database("sqlite"))
    try:
        yield w
    finally:
        w.http.close()
        w.store.close()


def _next(location: str) -> str:
    return parse_qs(urlsplit(location).query)["next"][0]


def test_sign_in_on_the_login_page_then_back_to_the_client(world: World) -> None:
    client = world.client()
    first = world.authorize(client)
    assert first.status_code == 303
    world.sign_in(_next(first.headers["location"]))
    again = world.http.get(_next(first.headers["location"]))
    assert again.status_code == 302
    assert "code" in parse_qs(urlsplit(again.headers["location"]).query)


def test_oa_a12_consent_is_asked_once_and_again_for_new_scopes(world: World) -> None:
    client = world.client(consent_required=True)
    first = world.authorize(client)
    world.sign_in(_next(first.headers["location"]))
    page = world.http.get(_next(first.headers["location"]))
    assert page.status_code == 200
    assert "Allow Third Party?" in page.text
    assert "your email address" in page.text
    assert page.headers["x-frame-options"] == "DENY"  # OA-A8: no clickjacking the approval
    form = {"csrf": csrf_of(page), "return_to": _return_to(page.text), "decision": "allow"}
    approved = world.http.post("/authorize/consent", data=form)
    assert approved.status_code == 302
    assert "code" in parse_qs(urlsplit(approved.headers["location"]).query)
    # Same scopes again: no page. More scopes: asked again.
    assert world.authorize(client).status_code == 302
    wider = world.authorize(client, scope="openid email groups")
    assert wider.status_code == 200
    assert "the groups you belong to" in wider.text


def test_declining_consent_tells_the_client_access_denied(world: World) -> None:
    client = world.client(consent_required=True)
    first = world.authorize(client)
    world.sign_in(_next(first.headers["location"]))
    page = world.http.get(_next(first.headers["location"]))
    form = {"csrf": csrf_of(page), "return_to": _return_to(page.text), "decision": "deny"}
    denied = world.http.post("/authorize/consent", data=form)
    assert parse_qs(urlsplit(denied.headers["location"]).query)["error"] == ["access_denied"]
    assert world.authorize(client).status_code == 200  # nothing was remembered


def test_consent_needs_the_csrf_token(world: World) -> None:
    client = world.client(consent_required=True)
    first = world.authorize(client)
    world.sign_in(_next(first.headers["location"]))
    page = world.http.get(_next(first.headers["location"]))
    forged = world.http.post(
        "/authorize/consent",
        data={"csrf": "x" * 43, "return_to": _return_to(page.text), "decision": "allow"},
    )
    assert forged.status_code == 403
    assert error_code_of(forged) == "csrf_failed"


def test_consent_cannot_be_pointed_elsewhere(world: World) -> None:
    client = world.client(consent_required=True)
    first = world.authorize(client)
    world.sign_in(_next(first.headers["location"]))
    page = world.http.get(_next(first.headers["location"]))
    reply = world.http.post(
        "/authorize/consent",
        data={
            "csrf": csrf_of(page),
            "return_to": "https://evil.test/authorize",
            "decision": "allow",
        },
    )
    assert reply.status_code == 400
    assert error_code_of(reply) == "consent_invalid"


def test_unknown_client_shows_the_error_page(world: World) -> None:
    reply = world.http.get(
        "/authorize",
        params={
            "response_type": "code",
            "client_id": "ghost",
            "redirect_uri": RP,
            "scope": "openid",
        },
    )
    assert reply.status_code == 400
    assert error_code_of(reply) == "oidc_invalid_client"
    assert "location" not in reply.headers


def test_logout_without_hint_shows_a_confirmation_and_needs_csrf(world: World) -> None:
    world.sign_in("/")
    shown = world.http.get("/end-session")
    assert shown.status_code == 200
    assert "Sign out?" in shown.text
    refused = world.http.post("/end-session", data={"csrf": "x" * 43})
    assert refused.status_code == 403
    assert world.http.get("/").status_code == 200  # still signed in
    done = world.http.post("/end-session", data={"csrf": csrf_of(shown)})
    assert done.status_code == 303
    assert world.http.get("/").status_code == 303  # signed out


def _return_to(html: str) -> str:
    raw = html.split('name="return_to" value="')[1].split('"')[0]
    return raw.replace("&amp;", "&")
