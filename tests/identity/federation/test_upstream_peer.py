"""An upstream's discovery document, keys and ID tokens, from a real oidc-provider (tests/peers).

OA-A6: the discovered issuer must be the configured one, exactly. OIDC-20: ID tokens are checked
by `zerogate.tokens.verify`, which needs `external=True` for a real provider's header.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.identity._support import make_directory, run
from tests.identity.federation._world import CLIENT_ID, CLIENT_SECRET, op_client, upstream
from tests.peers._node import UpstreamOP, run_rp
from tests.peers.fixtures import StartUpstreamOP
from zerogate.clock import SystemClock
from zerogate.identity.federation import (
    KEY_REFRESH_INTERVAL,
    FederationFailed,
    Upstreams,
)
from zerogate.identity.federation._metadata import parse_discovery, parse_jwks
from zerogate.store import Store, open_store
from zerogate.tokens import TokenError, TokenType, verify

REDIRECT = "http://127.0.0.1:9/cb"


class CountingTransport(httpx.AsyncBaseTransport):
    """httpx's real transport, counting requests by path."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_keepalive_connections=0))
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return await self._inner.handle_async_request(request)


@pytest.fixture
def op(start_upstream_op: StartUpstreamOP) -> UpstreamOP:
    return start_upstream_op(
        clients=[{**op_client("", "x"), "redirect_uris": [REDIRECT]}],
        accounts={"alice": {"email": "alice@corp.test", "email_verified": True}},
    )


@pytest.fixture
def db(make_database: Callable[..., str]) -> Iterator[Store]:
    store = open_store(make_database("sqlite"))
    try:
        yield store
    finally:
        store.close()


def _registry(db: Store, transport: httpx.AsyncBaseTransport, **settings: Any) -> Upstreams:
    http = httpx.AsyncClient(transport=transport, trust_env=False)
    return Upstreams(settings, store=db, directory=make_directory(db), http=http)


def test_discovery_and_keys_are_cached_for_their_ttl(op: UpstreamOP, db: Store) -> None:
    transport = CountingTransport()
    upstreams = _registry(db, transport, corp=upstream(op.issuer, cache_ttl_s=600))
    corp = upstreams._get("corp")  # the per-upstream cache under test
    now = SystemClock().now()

    async def scenario() -> None:
        for _ in range(3):
            await upstreams.begin("corp", redirect_uri=REDIRECT, now=now)
        await corp.keys(upstreams._http, now=now)
        await corp.keys(upstreams._http, now=now, refresh=True)  # fetched just now: not again
        later = now + KEY_REFRESH_INTERVAL
        await corp.keys(upstreams._http, now=later, refresh=True)  # rotation check allowed
        await upstreams.begin("corp", redirect_uri=REDIRECT, now=now + timedelta(seconds=601))

    run(scenario())
    discovery = "/.well-known/openid-configuration"
    assert transport.paths == [discovery, "/jwks", "/jwks", discovery]


def test_begin_makes_a_request_the_upstream_accepts(op: UpstreamOP, db: Store) -> None:
    upstreams = _registry(db, CountingTransport(), corp=upstream(op.issuer))
    url, state = run(upstreams.begin("corp", redirect_uri=REDIRECT, now=SystemClock().now()))
    back = httpx.URL(op.login(url, "alice"))
    assert back.params["state"] == state.state
    assert back.params["iss"] == op.issuer
    assert back.params["code"]


def test_issuer_must_match_the_discovered_one_exactly(op: UpstreamOP, db: Store) -> None:
    """A trailing slash is another issuer (OA-A6): refused before any redirect to it."""
    upstreams = _registry(db, CountingTransport(), corp=upstream(op.issuer + "/"))
    with pytest.raises(FederationFailed) as caught:
        run(upstreams.begin("corp", redirect_uri=REDIRECT, now=SystemClock().now()))
    assert (caught.value.code, caught.value.status) == ("federation_issuer_mismatch", 502)
    assert str(caught.value.reason) == "discovery_issuer_mismatch"


def test_unreachable_upstream(db: Store) -> None:
    with socket.socket() as sock:  # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dead = upstream(f"http://127.0.0.1:{port}", timeout_s=2)
    upstreams = _registry(db, CountingTransport(), corp=dead)
    with pytest.raises(FederationFailed) as caught:
        run(upstreams.begin("corp", redirect_uri=REDIRECT, now=SystemClock().now()))
    assert (caught.value.code, caught.value.status) == ("federation_upstream_unavailable", 502)
    assert "ConnectError" in caught.value.detail


def test_real_id_tokens_need_the_external_profile(op: UpstreamOP) -> None:
    """oidc-provider's ID tokens carry no `typ` (OIDC Core defines none): our own strict profile
    refuses them, `external=True` accepts them with every other check intact (OIDC-20)."""
    rp = {
        "issuer": op.issuer,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uri": REDIRECT,
        "insecure_http": True,
    }
    request = run_rp("authorize-url", {**rp, "scope": "openid email"})
    tokens = run_rp(
        "callback",
        {
            **rp,
            "callback_url": op.login(request["url"], "alice"),
            **{k: request[k] for k in ("state", "nonce", "code_verifier")},
        },
    )
    document = httpx.get(op.issuer + "/.well-known/openid-configuration").json()
    metadata = parse_discovery(document, expected_issuer=op.issuer, upstream="corp")
    keys = parse_jwks(httpx.get(metadata.jwks_uri).json(), metadata=metadata, upstream="corp")
    common: dict[str, Any] = {
        "keys": keys,
        "expected_type": TokenType.ID,
        "expected_issuer": op.issuer,
        "expected_audience": CLIENT_ID,
        "now": SystemClock().now(),
    }
    with pytest.raises(TokenError) as caught:
        verify(tokens["id_token"], **common)
    assert caught.value.code == "token_type_mismatch"
    verified = verify(tokens["id_token"], **common, external=True)
    assert verified.claims["nonce"] == request["nonce"]
    with pytest.raises(TokenError) as caught:
        verify(
            tokens["id_token"], **{**common, "expected_audience": "another-client"}, external=True
        )
    assert caught.value.code == "token_audience_mismatch"
