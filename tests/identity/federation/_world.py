"""A Zerogate login UI with federation on a real uvicorn server, real oidc-provider upstreams
(tests/peers), and a plain-HTTP browser: the pieces the federation tests share.

Nothing here imitates a peer. `RecordingTransport` is httpx's real transport that also notes
what the upstream's token endpoint answered (so a test can look for those tokens where they must
never be), and can swap the ID token in transit to play a network attacker.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select

from tests._serve import loopback_socket, serving
from tests.identity._support import CHEAP, make_directory
from tests.peers._node import login_upstream
from zerogate.clock import SystemClock
from zerogate.config import GroupRuleSettings, Secret, UpstreamSettings
from zerogate.identity import (
    SESSION_COOKIE_NAME,
    TOTP,
    ActiveSession,
    Directory,
    PasswordHasher,
    RecoveryCodes,
    Sessions,
)
from zerogate.identity.federation import Upstreams
from zerogate.idp import create_app
from zerogate.idp._federation_routes import FEDERATION_COOKIE_NAME, federation_routes
from zerogate.idp._signing import b64decode
from zerogate.store import Store, metadata

CLIENT_ID = "zerogate"
CLIENT_SECRET = "corp-client-secret-0123456789abcdef"
SECRET = b"tests-only federation secret, 32+ bytes"
SCOPES = ("openid", "email", "profile", "groups")
RULES = (
    GroupRuleSettings(value="Engineering", group="engineering"),
    GroupRuleSettings(value="Ops", group="ops"),
)


def callback_path(name: str) -> str:
    return f"/login/upstream/{name}/callback"


def op_client(base_url: str, name: str) -> dict[str, Any]:
    """oidc-provider metadata of Zerogate's client at an upstream."""
    return {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uris": [base_url + callback_path(name)],
    }


def account(email: str, *groups: str, **claims: Any) -> dict[str, Any]:
    return {"email": email, "email_verified": True, "groups": list(groups), **claims}


def upstream(issuer: str, **overrides: Any) -> UpstreamSettings:
    """Zerogate's settings for an upstream at `issuer`, with our client there."""
    settings: dict[str, Any] = {
        "issuer": issuer,
        "client_id": CLIENT_ID,
        "client_secret": Secret(CLIENT_SECRET),
        "scopes": SCOPES,
        "group_rules": RULES,
    }
    return UpstreamSettings(**{**settings, **overrides})


TokenSwap = Callable[[dict[str, Any]], dict[str, Any]]


class RecordingTransport(httpx.AsyncBaseTransport):
    """httpx's transport, noting every token-endpoint answer; `swap` may rewrite one in transit."""

    def __init__(self) -> None:
        # No pooled connections: they would outlive the server's event loop at teardown.
        self._inner = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_keepalive_connections=0))
        self.token_answers: list[dict[str, Any]] = []
        self.swap: TokenSwap | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if not request.url.path.endswith("/token"):
            return response
        body = await response.aread()
        await response.aclose()
        answer = json.loads(body)
        self.token_answers.append(answer)
        if self.swap is not None and response.status_code == 200:
            body = json.dumps(self.swap(answer)).encode()
        headers = {"content-type": response.headers.get("content-type", "application/json")}
        return httpx.Response(response.status_code, headers=headers, content=body)

    def secrets(self) -> set[str]:
        """Every upstream token seen (access, ID, refresh): none may be kept or passed on."""
        names = ("access_token", "id_token", "refresh_token")
        return {str(a[n]) for a in self.token_answers for n in names if a.get(n)}


@dataclass
class Browser:
    """A browser over plain HTTP. Our cookies are `Secure` `__Host-` cookies, which
    http.cookiejar will not send over http (loopback included), so this jar keeps them by hand;
    the upstreams' cookies live in `op`, an ordinary client (cookies per host)."""

    http: httpx.Client
    op: httpx.Client = field(default_factory=lambda: httpx.Client(trust_env=False, timeout=10))
    cookies: dict[str, str] = field(default_factory=dict)

    def get(self, url: str) -> httpx.Response:
        header = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = self.http.get(url, headers={"cookie": header} if header else {})
        for line in response.headers.get_list("set-cookie"):
            pair, _, attributes = line.partition(";")
            name, _, value = pair.partition("=")
            if "max-age=0" in attributes.lower().replace(" ", ""):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return response

    def start(self, name: str, query: str = "") -> httpx.Response:
        response = self.get(f"/login/upstream/{name}{query}")
        assert response.status_code == 303, response.text
        return response

    def sign_in(self, name: str, account_id: str, *, query: str = "") -> httpx.Response:
        """Our start, the upstream's login, our callback: the callback's response."""
        to_upstream = self.start(name, query).headers["location"]
        back = login_upstream(self.op, to_upstream, account_id)
        return self.get(back)

    def state_cookie(self) -> dict[str, Any]:
        """The payload of our (signed, not encrypted) federation cookie, as an attacker reads it."""
        body = self.cookies[FEDERATION_COOKIE_NAME].rpartition(".")[0]
        payload = b64decode(body.removeprefix("v1."))
        assert payload is not None
        decoded: dict[str, Any] = json.loads(payload)
        return decoded

    def close(self) -> None:
        self.http.close()
        self.op.close()


@dataclass
class Zerogate:
    """The login UI with federation, serving at `url`."""

    url: str
    store: Store
    directory: Directory
    sessions: Sessions
    upstreams: Upstreams
    transport: RecordingTransport
    signed_out: list[str]  # session ids the routes reported as ended (replaced)

    def browser(self) -> Browser:
        return Browser(httpx.Client(base_url=self.url, trust_env=False, timeout=10))

    async def session_of(self, browser: Browser) -> ActiveSession:
        return await self.sessions.resolve(
            browser.cookies[SESSION_COOKIE_NAME], now=SystemClock().now()
        )

    async def group_names(self, username: str) -> set[str]:
        return {g.name for g in await self.directory.groups_of(username)}

    def table_text(self) -> str:
        """Every value of every table, as one string to search for leaked secrets."""
        rows = []
        with self.store.connect() as conn:
            for table in metadata.sorted_tables:
                rows.extend(repr(tuple(row)) for row in conn.execute(select(table)))
        return "\n".join(rows)


@contextlib.contextmanager
def zerogate(
    store: Store, sock: socket.socket, url: str, settings: Mapping[str, UpstreamSettings]
) -> Iterator[Zerogate]:
    """Serve the login UI on `sock` (bound first with `loopback_socket`, so the upstreams could
    be told our callback URL before this starts)."""
    clock = SystemClock()  # the upstreams stamp their tokens with real time
    directory = make_directory(store)
    sessions = Sessions(store)
    transport = RecordingTransport()
    http = httpx.AsyncClient(transport=transport, trust_env=False)
    upstreams = Upstreams(settings, store=store, directory=directory, http=http)
    signed_out: list[str] = []

    async def record_signed_out(session_ids: list[str]) -> None:
        signed_out.extend(session_ids)

    routes = federation_routes(
        upstreams,
        sessions,
        clock=clock,
        public_url=url,
        secret=SECRET,
        signed_out=record_signed_out,
    )
    app = create_app(
        directory=directory,
        sessions=sessions,
        totp=TOTP(store),
        recovery_codes=RecoveryCodes(store, hasher=PasswordHasher(CHEAP)),
        clock=clock,
        public_url=url,
        secret=SECRET,
        extra_routes=routes,
    )
    with serving(app, sock):
        yield Zerogate(url, store, directory, sessions, upstreams, transport, signed_out)


def refusal_reasons(records: list[logging.LogRecord]) -> list[str]:
    """The audit reasons of refused federated sign-ins, in order (never shown to users)."""
    return [
        str(r.__dict__["reason"]) for r in records if r.getMessage() == "federated sign-in refused"
    ]


def refused_without_session(response: httpx.Response, browser: Browser) -> None:
    """A refusal: an error page, no session cookie, and the federation cookie gone."""
    assert response.status_code >= 400, response.text
    assert SESSION_COOKIE_NAME not in browser.cookies
    assert FEDERATION_COOKIE_NAME not in browser.cookies


__all__ = [
    "CLIENT_ID",
    "CLIENT_SECRET",
    "RULES",
    "SCOPES",
    "Browser",
    "RecordingTransport",
    "Zerogate",
    "account",
    "callback_path",
    "loopback_socket",
    "op_client",
    "refusal_reasons",
    "refused_without_session",
    "upstream",
    "zerogate",
]
