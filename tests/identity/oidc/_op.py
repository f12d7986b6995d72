"""A Zerogate OpenID provider for tests: store, keys, a user with a session, and HTTP helpers.

Login is done by creating a session directly (the login pages have their own tests), so these
tests exercise exactly the protocol: the browser side is plain HTTP with the session cookie.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.testclient import TestClient

from tests.identity._support import CHEAP, GOOD_PASSWORD, T0, run
from zerogate.clock import Clock, FixedClock
from zerogate.identity import (
    Directory,
    NewSession,
    PasswordHasher,
    Sessions,
    User,
)
from zerogate.identity.oidc import (
    Client,
    ClientRegistry,
    OIDCProvider,
    ProviderSettings,
    revoke_grants_for_sessions,
)
from zerogate.idp._oidc_routes import OIDCRoutes
from zerogate.store import Store
from zerogate.tokens import KeyRing

ISSUER = "https://op.example.test"
RP = "https://rp.example.test/callback"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class Flow:
    """One authorization request's client-side state."""

    verifier: str
    challenge: str
    state: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(16))


class OP:
    """The provider mounted on a Starlette app, driven with Starlette's TestClient."""

    def __init__(
        self,
        store: Store,
        *,
        settings: ProviderSettings | None = None,
        clock: Clock | None = None,
    ) -> None:
        store.migrate()
        self.store = store
        self.clock: Any = clock or FixedClock(at=T0)
        self.keys = KeyRing()
        self.keys.ensure_active(self.clock.now())
        self.settings = settings or ProviderSettings(issuer=ISSUER)
        self.provider = OIDCProvider(store, self.keys, self.settings)
        self.sessions = Sessions(store, on_change=revoke_grants_for_sessions)
        self.directory = Directory(store, hasher=PasswordHasher(CHEAP))
        self.clients = ClientRegistry(store)
        self.routes = OIDCRoutes(
            self.provider,
            self.sessions,
            clock=self.clock,
            public_url=self.settings.issuer,
            error_page=_error_page,
        )
        self.app = Starlette(routes=self.routes.routes())
        self.http = TestClient(self.app, base_url=self.settings.issuer, follow_redirects=False)

    def user(self, name: str = "alice") -> User:
        return run(
            self.directory.add_user(name, f"{name}@example.test", password=GOOD_PASSWORD, now=T0)
        )

    def login(
        self, user: User, *, amr: tuple[str, ...] = ("pwd",), mfa: bool = False
    ) -> NewSession:
        now = self.clock.now()
        return run(
            self.sessions.create(
                user,
                amr=amr,
                auth_time=now,
                mfa_at=now if mfa else None,
                ip=None,
                user_agent=None,
                now=now,
            )
        )

    def client(self, *, public: bool = False, **options: Any) -> tuple[Client, str | None]:
        options.setdefault("redirect_uris", [RP])
        added = run(self.clients.add("Test RP", public=public, now=T0, **options))
        return added.client, added.secret

    def authorize(
        self, client: Client, flow: Flow, session: NewSession | None, **params: str
    ) -> Any:
        query = {
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": RP,
            "scope": "openid profile email groups",
            "state": flow.state,
            "nonce": flow.nonce,
            "code_challenge": flow.challenge,
            "code_challenge_method": "S256",
        }
        query.update(params)
        query = {k: v for k, v in query.items() if v != ""}
        return self.http.get("/authorize", params=query, headers=cookie(session))

    def code_for(
        self, client: Client, session: NewSession, flow: Flow | None = None, **params: str
    ) -> tuple[str, Flow]:
        flow = flow or Flow(*pkce())
        reply = self.authorize(client, flow, session, **params)
        assert reply.status_code == 302, reply.text
        got = callback_params(reply.headers["location"])
        assert got["state"] == flow.state
        assert got["iss"] == ISSUER
        return got["code"], flow

    def token(self, client: Client, secret: str | None, **form: str) -> Any:
        auth = None if secret is None else (client.client_id, secret)
        if secret is None:
            form.setdefault("client_id", client.client_id)
        return self.http.post("/token", data=form, auth=auth)

    def redeem(self, client: Client, secret: str | None, code: str, flow: Flow) -> Any:
        return self.token(
            client,
            secret,
            grant_type="authorization_code",
            code=code,
            redirect_uri=RP,
            code_verifier=flow.verifier,
        )

    def tokens(self, client: Client, secret: str | None, session: NewSession) -> dict[str, Any]:
        code, flow = self.code_for(client, session)
        reply = self.redeem(client, secret, code, flow)
        assert reply.status_code == 200, reply.text
        return dict(reply.json())


def cookie(session: NewSession | None) -> dict[str, str]:
    """The browser's session cookie as a request header (tests keep no cookie jar)."""
    return {} if session is None else {"Cookie": f"__Host-zerogate_session={session.token}"}


def callback_params(location: str) -> dict[str, str]:
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == RP, location
    return {k: v[0] for k, v in parse_qs(parts.query).items()}


async def _error_page(request: Request, code: str, message: str, status: int) -> Response:
    return PlainTextResponse(f"{code}: {message}", status_code=status)


def op_for(store: Store) -> Iterator[OP]:
    op = OP(store)
    try:
        yield op
    finally:
        op.http.close()
