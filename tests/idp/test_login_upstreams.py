"""The sign-in page offers upstream identity providers and routes their email domains there."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from tests.identity._support import CHEAP, GOOD_PASSWORD, IP, T0, make_directory, run
from tests.idp._support import PUBLIC_URL, SECRET, csrf_of
from zerogate.clock import FixedClock
from zerogate.config import Secret, UpstreamSettings
from zerogate.identity import TOTP, PasswordHasher, RecoveryCodes, Sessions
from zerogate.identity.federation import Upstreams
from zerogate.idp import create_app
from zerogate.store import open_store


@pytest.fixture
def http(make_database: Callable[..., str]) -> Iterator[TestClient]:
    store = open_store(make_database("sqlite"))
    directory = make_directory(store)
    corp = UpstreamSettings(
        issuer="https://idp.corp.example",
        client_id="zerogate",
        client_secret=Secret("s3cret"),
        display_name="Corp SSO",
        domains=("corp.example",),
    )
    upstreams = Upstreams({"corp": corp}, store=store, directory=directory)
    app = create_app(
        directory=directory,
        sessions=Sessions(store),
        totp=TOTP(store),
        recovery_codes=RecoveryCodes(store, hasher=PasswordHasher(CHEAP)),
        clock=FixedClock(at=T0),
        public_url=PUBLIC_URL,
        secret=SECRET,
        upstreams=upstreams,
    )
    run(directory.add_user("ada", "ada@example.test", password=GOOD_PASSWORD, now=T0))
    client = TestClient(app, base_url=PUBLIC_URL, client=(IP, 50000), follow_redirects=False)
    try:
        yield client
    finally:
        client.close()
        run(upstreams.aclose())
        store.close()


def test_the_login_page_offers_each_upstream(http: TestClient) -> None:
    page = http.get("/login", params={"next": "/authorize?x=1"})
    assert "Continue with Corp SSO" in page.text
    assert 'href="/login/upstream/corp?next=%2Fauthorize%3Fx%3D1"' in page.text


def test_an_email_of_an_upstream_domain_goes_to_that_upstream(http: TestClient) -> None:
    page = http.get("/login")
    form = {"csrf": csrf_of(page), "username": "Bob@Corp.Example", "password": "", "next": "/"}
    reply = http.post("/login", data=form)
    assert reply.status_code == 303
    target = urlsplit(reply.headers["location"])
    assert target.path == "/login/upstream/corp"
    assert parse_qs(target.query)["login_hint"] == ["Bob@Corp.Example"]


def test_other_addresses_still_use_the_password(http: TestClient) -> None:
    page = http.get("/login")
    form = {"csrf": csrf_of(page), "username": "ada", "password": GOOD_PASSWORD, "next": "/"}
    reply = http.post("/login", data=form)
    assert reply.status_code == 303
    assert reply.headers["location"] == "/"
