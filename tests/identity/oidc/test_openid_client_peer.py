"""The OpenID-certified relying party `openid-client` (npm) against our provider over real HTTP.

openid-client does the full RP-side validation (discovery issuer match, RFC 9207 `iss`, state,
PKCE, nonce, ID token signature/claims, userinfo `sub` match), so a pass here means a standard
client accepts us. The user's login is a session cookie (the login pages are tested apart).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from tests._serve import loopback_socket, serving
from tests.identity.oidc._op import OP
from tests.peers._node import PeerError, run_rp
from tests.peers.fixtures import node_peers
from zerogate.clock import SystemClock
from zerogate.identity.oidc import ProviderSettings
from zerogate.store import open_store

__all__ = ["node_peers"]

REDIRECT = "http://127.0.0.1:9/rp/callback"  # never contacted: we read the Location header
LOGGED_OUT = "http://127.0.0.1:9/rp/logged-out"


@pytest.fixture
def live(node_peers: None, make_database: Callable[..., str]) -> Iterator[OP]:
    store = open_store(make_database("sqlite"))
    with loopback_socket() as (sock, url):
        op = OP(store, settings=ProviderSettings(issuer=url), clock=SystemClock())
        with serving(op.app, sock):
            try:
                yield op
            finally:
                op.http.close()
                store.close()


def _rp(op: OP, client_id: str, secret: str | None, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "issuer": op.settings.issuer,
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "insecure_http": True,
        "client_metadata": {"id_token_signed_response_alg": "ES256"},
    }
    if secret is not None:
        base["client_secret"] = secret
    else:
        base["token_endpoint_auth_method"] = "none"
    return {**base, **extra}


def _browser_to_callback(op: OP, url: str, token: str) -> str:
    with httpx.Client(timeout=10) as browser:
        reply = browser.get(url, headers={"Cookie": f"__Host-zerogate_session={token}"})
    assert reply.status_code == 302, reply.text
    return reply.headers["location"]


def test_openid_client_full_flow_confidential(live: OP) -> None:
    op = live
    alice = op.user()
    client, secret = op.client(redirect_uris=[REDIRECT], post_logout_redirect_uris=[LOGGED_OUT])
    cfg = _rp(op, client.client_id, secret)
    assert run_rp("discover", cfg)["issuer"] == op.settings.issuer
    start = run_rp("authorize-url", {**cfg, "scope": "openid profile email groups"})
    session = op.login(alice)
    callback = _browser_to_callback(op, start["url"], session.token)
    tokens = run_rp(
        "callback",
        {
            **cfg,
            **{k: start[k] for k in ("state", "nonce", "code_verifier")},
            "callback_url": callback,
        },
    )
    assert tokens["claims"]["sub"] == alice.id
    assert tokens["claims"]["preferred_username"] == "alice"
    info = run_rp(
        "userinfo", {**cfg, "access_token": tokens["access_token"], "expected_sub": alice.id}
    )
    assert info["email"] == "alice@example.test"
    refreshed = run_rp("refresh", {**cfg, "refresh_token": tokens["refresh_token"]})
    assert refreshed["refresh_token"] != tokens["refresh_token"]
    assert refreshed["claims"]["sub"] == alice.id
    active = run_rp("introspect", {**cfg, "token": refreshed["access_token"]})
    assert active["active"] is True
    assert active["client_id"] == client.client_id
    assert run_rp(
        "revoke", {**cfg, "token": refreshed["refresh_token"], "token_type_hint": "refresh_token"}
    ) == {"revoked": True}
    assert run_rp("introspect", {**cfg, "token": refreshed["access_token"]})["active"] is False
    logout = run_rp(
        "end-session-url",
        {
            **cfg,
            "id_token_hint": refreshed["id_token"],
            "post_logout_redirect_uri": LOGGED_OUT,
            "state": "bye",
        },
    )
    with httpx.Client(timeout=10) as browser:
        out = browser.get(
            logout["url"], headers={"Cookie": f"__Host-zerogate_session={session.token}"}
        )
    assert out.status_code == 303
    assert out.headers["location"] == f"{LOGGED_OUT}?state=bye"


def test_openid_client_public_client_with_pkce_only(live: OP) -> None:
    op = live
    alice = op.user()
    client, _ = op.client(public=True, redirect_uris=[REDIRECT])
    cfg = _rp(op, client.client_id, None)
    start = run_rp("authorize-url", {**cfg, "scope": "openid"})
    callback = _browser_to_callback(op, start["url"], op.login(alice).token)
    tokens = run_rp(
        "callback",
        {
            **cfg,
            **{k: start[k] for k in ("state", "nonce", "code_verifier")},
            "callback_url": callback,
        },
    )
    assert tokens["claims"]["sub"] == alice.id
    assert run_rp("refresh", {**cfg, "refresh_token": tokens["refresh_token"]})["access_token"]


def test_openid_client_rejects_a_response_from_another_issuer(live: OP) -> None:
    """OA-A6 mix-up, seen from a certified client: our `iss` parameter is what it checks."""
    op = live
    client, secret = op.client(redirect_uris=[REDIRECT])
    cfg = _rp(op, client.client_id, secret)
    start = run_rp("authorize-url", cfg)
    callback = _browser_to_callback(op, start["url"], op.login(op.user()).token)
    parts = urlsplit(callback)
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    params["iss"] = "http://127.0.0.1:1/other-as"
    forged = urlunsplit(parts._replace(query=urlencode(params)))
    with pytest.raises(PeerError) as raised:
        run_rp(
            "callback",
            {
                **cfg,
                **{k: start[k] for k in ("state", "nonce", "code_verifier")},
                "callback_url": forged,
            },
        )
    assert raised.value.code.startswith("OAUTH_")
