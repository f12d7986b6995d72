"""A login UI over a real store for tests: the identity objects, a fixed clock, a test client."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser

import httpx
import pyotp
from starlette.routing import BaseRoute
from starlette.testclient import TestClient

from tests.identity._support import CHEAP, GOOD_PASSWORD, IP, T0, make_directory, run
from zerogate.clock import FixedClock
from zerogate.identity import (
    SESSION_COOKIE_NAME,
    TOTP,
    Directory,
    PasswordHasher,
    RecoveryCodes,
    Sessions,
    User,
)
from zerogate.idp import LoginConfig, SecurityEvents, create_app
from zerogate.store import Store

PUBLIC_URL = "https://login.zerogate.test"
SECRET = b"tests-only signing secret, 32+ bytes long"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_CREDENTIAL = re.compile(r'name="credential" value="([^"]+)"')
_SECRET_TEXT = re.compile(r'<code id="secret" class="secret">([A-Z2-7 ]+)</code>')


@dataclass
class LoginWorld:
    """Everything one test drives: identity objects on `store`, the app and a browser-like client."""

    store: Store
    clock: FixedClock
    directory: Directory
    sessions: Sessions
    totp: TOTP
    recovery: RecoveryCodes
    client: TestClient

    def add_user(self, username: str = "ada", *, password: str = GOOD_PASSWORD) -> User:
        return run(
            self.directory.add_user(
                username, f"{username}@example.test", password=password, now=self.clock.now()
            )
        )

    def enrol_totp(self, user: User) -> str:
        """A confirmed TOTP credential; the confirming code is from a minute ago, so every code
        from now on is still unspent."""
        earlier = self.clock.now() - timedelta(seconds=60)
        enrolment = run(self.totp.begin_enrolment(user, label="phone", now=earlier))
        code = pyotp.TOTP(enrolment.secret).at(earlier)
        run(self.totp.confirm_enrolment(user, enrolment.credential.id, code, now=earlier))
        return enrolment.secret

    def code(self, secret: str) -> str:
        return str(pyotp.TOTP(secret).at(self.clock.now()))

    def wrong_code(self, secret: str) -> str:
        """Six digits that no step within the accepted drift would produce."""
        now, totp = self.clock.now(), pyotp.TOTP(secret)
        valid = {totp.at(now, counter_offset=k) for k in (-1, 0, 1)}
        return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)

    def login_page(self, path: str = "/login") -> httpx.Response:
        response = self.client.get(path)
        assert response.status_code == 200, response.text
        return response

    def sign_in(
        self,
        username: str = "ada",
        password: str = GOOD_PASSWORD,
        *,
        next_path: str | None = None,
        path: str = "/login",
    ) -> httpx.Response:
        """GET the form (for its CSRF token), then POST it the way a browser would."""
        form = {"csrf": csrf_of(self.login_page(path)), "username": username, "password": password}
        if next_path is not None:
            form["next"] = next_path
        if "prompt=login" in path:
            form["prompt"] = "login"
        return self.client.post("/login", data=form)

    def submit_code(
        self, code: str, *, method: str = "totp", page: str = "/login/mfa"
    ) -> httpx.Response:
        shown = self.client.get(page)
        assert shown.status_code == 200, shown.text
        return self.client.post(
            "/login/mfa", data={"csrf": csrf_of(shown), "method": method, "code": code}
        )

    def session_token(self) -> str | None:
        return self.client.cookies.get(SESSION_COOKIE_NAME)


def make_world(
    store: Store,
    *,
    config: LoginConfig | None = None,
    extra_routes: Sequence[BaseRoute] = (),
    raise_server_exceptions: bool = True,
    security_events: SecurityEvents | None = None,
) -> Iterator[LoginWorld]:
    clock = FixedClock(at=T0)
    directory = make_directory(store)
    sessions = Sessions(store)
    totp = TOTP(store)
    recovery = RecoveryCodes(store, hasher=PasswordHasher(CHEAP))
    app = create_app(
        directory=directory,
        sessions=sessions,
        totp=totp,
        recovery_codes=recovery,
        clock=clock,
        public_url=PUBLIC_URL,
        secret=SECRET,
        config=config,
        extra_routes=extra_routes,
        security_events=security_events,
    )
    client = TestClient(
        app,
        base_url=PUBLIC_URL,
        client=(IP, 50000),
        follow_redirects=False,
        raise_server_exceptions=raise_server_exceptions,
    )
    try:
        yield LoginWorld(store, clock, directory, sessions, totp, recovery, client)
    finally:
        client.close()


def csrf_of(response: httpx.Response) -> str:
    found = _CSRF.search(response.text)
    assert found, f"no CSRF field in:\n{response.text}"
    return found.group(1)


def credential_of(response: httpx.Response) -> str:
    found = _CREDENTIAL.search(response.text)
    assert found, response.text
    return found.group(1)


def secret_of(response: httpx.Response) -> str:
    found = _SECRET_TEXT.search(response.text)
    assert found, response.text
    return found.group(1).replace(" ", "")


def error_code_of(response: httpx.Response) -> str:
    found = re.search(r'<code class="code">([a-z_]+)</code>', response.text)
    assert found, response.text
    return found.group(1)


@dataclass
class Field:
    tag: str
    attrs: dict[str, str | None]


class FormAudit(HTMLParser):
    """Collects what an accessibility check needs: the lang, labels, visible fields, autofocus."""

    def __init__(self) -> None:
        super().__init__()
        self.lang: str | None = None
        self.labels: set[str] = set()
        self.fields: list[Field] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(str(found["id"]))
        if tag == "html":
            self.lang = found.get("lang")
        elif tag == "label" and found.get("for"):
            self.labels.add(str(found["for"]))
        elif tag in ("input", "select", "textarea") and found.get("type") != "hidden":
            self.fields.append(Field(tag, found))


def audit(html: str) -> FormAudit:
    parser = FormAudit()
    parser.feed(html)
    return parser


__all__ = [
    "GOOD_PASSWORD",
    "IP",
    "PUBLIC_URL",
    "SECRET",
    "T0",
    "LoginWorld",
    "audit",
    "credential_of",
    "csrf_of",
    "error_code_of",
    "make_world",
    "run",
    "secret_of",
]
