"""`/continue?to=URL` and `/handoff?to=URL`: after sign-in, back to an application behind the
gateway, and only there (OA-A2: the IdP must not become an open redirector)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from tests.identity._support import CHEAP, GOOD_PASSWORD, IP, T0, make_directory, run
from tests.idp._support import PUBLIC_URL, SECRET, csrf_of
from zerogate.clock import FixedClock
from zerogate.identity import TOTP, PasswordHasher, RecoveryCodes, Sessions
from zerogate.idp import ReturnOrigins, continue_path, create_app
from zerogate.store import open_store
from zerogate.tokens import open_mac

APP = "https://wiki.zerogate.test/docs?page=2"
KEY = b"h" * 32


@pytest.fixture
def http(make_database: Callable[..., str]) -> Iterator[TestClient]:
    store = open_store(make_database("sqlite"))
    directory = make_directory(store)
    app = create_app(
        directory=directory,
        sessions=Sessions(store),
        totp=TOTP(store),
        recovery_codes=RecoveryCodes(store, hasher=PasswordHasher(CHEAP)),
        clock=FixedClock(at=T0),
        public_url=PUBLIC_URL,
        secret=SECRET,
        return_origins=["https://wiki.zerogate.test"],
        handoff_key=KEY,
    )
    run(directory.add_user("ada", "ada@example.test", password=GOOD_PASSWORD, now=T0))
    client = TestClient(app, base_url=PUBLIC_URL, client=(IP, 50000), follow_redirects=False)
    try:
        yield client
    finally:
        client.close()
        store.close()


def _sign_in(http: TestClient, next_path: str) -> str:
    page = http.get("/login", params={"next": next_path})
    form = {"csrf": csrf_of(page), "username": "ada", "password": GOOD_PASSWORD, "next": next_path}
    reply = http.post("/login", data=form)
    assert reply.status_code == 303
    return str(reply.headers["location"])


def test_signed_out_goes_to_login_then_back_to_the_app(http: TestClient) -> None:
    first = http.get(continue_path(APP))
    assert first.status_code == 303
    next_path = parse_qs(urlsplit(first.headers["location"]).query)["next"][0]
    assert next_path == continue_path(APP)
    after = _sign_in(http, next_path)
    assert after == continue_path(APP)
    final = http.get(after)
    assert final.status_code == 303
    assert final.headers["location"] == APP


@pytest.mark.parametrize(
    "to",
    [
        "https://evil.test/",
        "https://wiki.zerogate.test.evil.test/",
        "http://wiki.zerogate.test/",  # scheme downgrade is another origin
        "https://wiki.zerogate.test@evil.test/",
        "https://wiki.zerogate.test\\@evil.test/",
        "javascript:alert(1)",
        "//evil.test/",
        "",
    ],
)
def test_other_origins_are_never_followed(http: TestClient, to: str) -> None:
    _sign_in(http, "/")
    reply = http.get("/continue", params={"to": to})
    assert reply.status_code == 303
    assert reply.headers["location"] == "/"


def test_signed_in_browsers_get_a_code_for_that_origin(http: TestClient) -> None:
    first = http.get("/handoff", params={"to": APP})
    next_path = parse_qs(urlsplit(first.headers["location"]).query)["next"][0]
    assert next_path.startswith("/handoff?")
    assert _sign_in(http, next_path) == next_path
    final = http.get(next_path)
    assert final.status_code == 303
    target = urlsplit(final.headers["location"])
    assert (target.scheme, target.netloc, target.path) == (
        "https",
        "wiki.zerogate.test",
        "/.zerogate/handoff",
    )
    query = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert query["to"] == "/docs?page=2"
    payload = open_mac(query["code"], key=KEY, purpose="zerogate.gateway.handoff", now=T0)
    assert payload["o"] == "https://wiki.zerogate.test"
    assert len(payload["sid"]) == 64  # the session's id, never its token
    assert http.cookies.get("__Host-zerogate_session") not in final.headers["location"]


@pytest.mark.parametrize("to", ["https://evil.test/", "https://wiki.zerogate.test.evil.test/", ""])
def test_codes_are_only_made_for_allowlisted_origins(http: TestClient, to: str) -> None:
    _sign_in(http, "/")
    reply = http.get("/handoff", params={"to": to})
    assert reply.headers["location"] == "/"


def test_continue_and_handoff_follow_a_changed_allowlist(make_database: Callable[..., str]) -> None:
    """The app reads the allowlist it was given on every request: replacing it while the app
    runs (a new route host in `zerogate up`) takes effect at once, both ways."""
    store = open_store(make_database("sqlite"))
    directory = make_directory(store)
    origins = ReturnOrigins([])
    app = create_app(
        directory=directory,
        sessions=Sessions(store),
        totp=TOTP(store),
        recovery_codes=RecoveryCodes(store, hasher=PasswordHasher(CHEAP)),
        clock=FixedClock(at=T0),
        public_url=PUBLIC_URL,
        secret=SECRET,
        return_origins=origins,
        handoff_key=KEY,
    )
    run(directory.add_user("ada", "ada@example.test", password=GOOD_PASSWORD, now=T0))
    http = TestClient(app, base_url=PUBLIC_URL, client=(IP, 50000), follow_redirects=False)
    try:
        _sign_in(http, "/")
        assert http.get(continue_path(APP)).headers["location"] == "/"  # not listed yet
        origins.replace(["https://wiki.zerogate.test"])
        assert http.get(continue_path(APP)).headers["location"] == APP
        handoff = http.get("/handoff", params={"to": APP}).headers["location"]
        assert handoff.startswith("https://wiki.zerogate.test/.zerogate/handoff?")
        origins.replace([])
        assert http.get(continue_path(APP)).headers["location"] == "/"
        assert http.get("/handoff", params={"to": APP}).headers["location"] == "/"
    finally:
        http.close()
        store.close()
