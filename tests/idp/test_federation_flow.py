"""Federation end to end: Zerogate's login UI on a real uvicorn server signs users in through real
oidc-provider upstreams (tests/peers, docs/peers.md), driven with plain HTTP as the browser.

Reference ids are from /work/shared/reference/standards.md: OIDC-20 (ID token validation),
OIDC-22 (identify by issuer + sub, never email), OA-A2 (our own `next` is same-origin only),
OA-A3 (state / login CSRF), OA-A4 (nonce), OA-A5 (code injection), OA-A6 (mix-up), OA-A7 (token
leakage). OIDC-21 (UserInfo `sub`) is covered in tests/identity/federation/test_flow.py.
"""

from __future__ import annotations

import base64
import contextlib
import logging
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from tests.identity._support import run
from tests.identity.federation._world import (
    CLIENT_ID,
    SECRET,
    Browser,
    Zerogate,
    account,
    loopback_socket,
    op_client,
    refusal_reasons,
    refused_without_session,
    upstream,
    zerogate,
)
from tests.idp._support import error_code_of
from tests.peers._node import UpstreamOP, login_upstream, run_rp, upstream_op
from zerogate.clock import SystemClock
from zerogate.identity import SESSION_COOKIE_NAME
from zerogate.identity.federation import STATE_TTL
from zerogate.identity.federation._flow import new_state
from zerogate.idp._federation_routes import FEDERATION_COOKIE_NAME, FederationCookie
from zerogate.idp._signing import derive_key
from zerogate.store import Store, open_store
from zerogate.tokens import Algorithm, KeyRing, TokenType, issue

ALICE = account("alice@corp.test", "Engineering", "Staff", preferred_username="Alice.Liddell")
BOB = account("bob@corp.test", "Ops", name="Bob B")


@pytest.fixture(autouse=True)
def _audit_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="zerogate")


@pytest.fixture
def db(make_database: Callable[..., str]) -> Iterator[Store]:
    store = open_store(make_database("sqlite"))
    try:
        yield store
    finally:
        store.close()


@contextlib.contextmanager
def corp(
    db: Store, accounts: dict[str, dict[str, Any]] | None = None, **settings: Any
) -> Iterator[tuple[Zerogate, UpstreamOP]]:
    """Zerogate with one upstream "corp": a fresh oidc-provider with Alice and Bob."""
    with (
        loopback_socket() as (sock, url),
        upstream_op(
            clients=[op_client(url, "corp")], accounts=accounts or {"alice": ALICE, "bob": BOB}
        ) as op,
        zerogate(db, sock, url, {"corp": upstream(op.issuer, **settings)}) as zg,
    ):
        yield zg, op


@contextlib.contextmanager
def browsing(zg: Zerogate) -> Iterator[Browser]:
    browser = zg.browser()
    try:
        yield browser
    finally:
        browser.close()


def test_federation_first_login_provisions_a_user_with_mapped_groups(db: Store) -> None:
    """JIT: the first sign-in creates a local user linked by (upstream, sub) (OIDC-22), with the
    groups the rules map ("Staff" has no rule), and a session whose amr says "fed"."""
    with corp(db) as (zg, _), browsing(zg) as browser:
        landed = browser.sign_in("corp", "alice", query="?next=/apps/wiki")
        assert landed.status_code == 303, landed.text
        assert landed.headers["location"] == "/apps/wiki"
        assert FEDERATION_COOKIE_NAME not in browser.cookies
        session = run(zg.session_of(browser))
        assert session.username == "alice.liddell"
        assert session.amr == ("fed",)
        assert session.mfa_at is None
        user = run(zg.directory.get_user("alice@corp.test"))
        assert (user.username, user.has_password) == ("alice.liddell", False)
        assert run(zg.group_names("alice.liddell")) == {"engineering"}
        links = run(zg.upstreams.links_of("alice.liddell"))
        assert [(link.upstream, link.subject) for link in links] == [("corp", "alice")]


def test_federation_sign_in_replaces_the_browsers_session(db: Store) -> None:
    """A new sign-in is a new session token (ASVS 7.2.4); the one the browser had is revoked
    and reported, so the OpenID provider can tell its relying parties."""
    with corp(db) as (zg, _), browsing(zg) as browser:
        assert browser.sign_in("corp", "alice").status_code == 303
        first = run(zg.session_of(browser))
        # The upstream remembers Alice (its own session): no prompt this time, a new code.
        assert browser.sign_in("corp", "alice").status_code == 303
        second = run(zg.session_of(browser))
        assert (second.user_id, second.id != first.id) == (first.user_id, True)
        assert zg.signed_out == [first.id]


def test_federation_second_login_reuses_the_link_and_syncs_groups(db: Store) -> None:
    """The second sign-in finds the link (same user id, not a new account) and brings the
    managed groups in line with the upstream's new claims; unmanaged memberships stay."""
    with corp(db) as (zg, _), browsing(zg) as browser:
        assert browser.sign_in("corp", "alice").status_code == 303
        first = run(zg.directory.get_user("alice.liddell"))
        now = SystemClock().now()
        run(zg.directory.add_group("local-admins", now=now))
        run(zg.directory.add_member("local-admins", "alice.liddell", now=now))
    # The upstream now says Alice moved from Engineering to Ops (a new upstream process with the
    # new directory data, configured under the same name "corp").
    moved = {"alice": account("alice@corp.test", "Ops", preferred_username="Alice.Liddell")}
    with corp(db, moved) as (zg, _), browsing(zg) as browser:
        assert browser.sign_in("corp", "alice").status_code == 303
        again = run(zg.directory.get_user("alice.liddell"))
        assert again.id == first.id
        assert len(run(zg.directory.list_users())) == 1
        assert run(zg.group_names("alice.liddell")) == {"ops", "local-admins"}
        assert run(zg.session_of(browser)).user_id == first.id


def test_federation_tampered_state_is_refused(db: Store, caplog: pytest.LogCaptureFixture) -> None:
    """OA-A3: a wrong `state`, a state from another browser (the attacker's complete callback
    planted in the victim's browser: login CSRF) and a reused state are all refused, no session."""
    with corp(db) as (zg, _), browsing(zg) as browser:
        back = httpx.URL(
            login_upstream(browser.op, browser.start("corp").headers["location"], "alice")
        )
        forged = back.copy_set_param("state", "A" * 43)
        refused = browser.get(str(forged))
        refused_without_session(refused, browser)
        assert error_code_of(refused) == "federation_state_mismatch"
        back = login_upstream(browser.op, browser.start("corp").headers["location"], "alice")
        assert browser.get(back).status_code == 303
        del browser.cookies[SESSION_COOKIE_NAME]
        replayed = browser.get(back)  # the state was spent with its cookie
        refused_without_session(replayed, browser)
    with corp(db) as (zg, _), browsing(zg) as victim, browsing(zg) as attacker:
        # The attacker's own, complete callback, replayed in the victim's browser.
        to_op = attacker.start("corp").headers["location"]
        planted = victim.get(login_upstream(attacker.op, to_op, "bob"))
        refused_without_session(planted, victim)
        assert error_code_of(planted) == "federation_state_mismatch"
        assert [u.username for u in run(zg.directory.list_users())] == ["alice.liddell"]
    assert refusal_reasons(caplog.records) == ["state_mismatch", "state_missing", "state_missing"]


def test_federation_wrong_iss_is_refused(db: Store, caplog: pytest.LogCaptureFixture) -> None:
    """OA-A6 (RFC 9207): a response naming another issuer is a mix-up; one without `iss` from an
    upstream that promises to send it is refused too."""
    with corp(db) as (zg, _), browsing(zg) as browser:
        back = httpx.URL(
            login_upstream(browser.op, browser.start("corp").headers["location"], "alice")
        )
        refused = browser.get(str(back.copy_set_param("iss", "https://evil.example")))
        refused_without_session(refused, browser)
        assert error_code_of(refused) == "federation_issuer_mismatch"
        back = httpx.URL(
            login_upstream(browser.op, browser.start("corp").headers["location"], "alice")
        )
        refused = browser.get(str(back.copy_remove_param("iss")))
        assert error_code_of(refused) == "federation_issuer_mismatch"
    assert refusal_reasons(caplog.records) == ["iss_mismatch", "iss_missing"]


def test_federation_id_token_of_another_login_is_refused(
    db: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """Code injection (OA-A5) carrying the victim's state and PKCE challenge (read from the
    signed, unencrypted cookie) but the attacker's own authorization request: the ID token's
    nonce is not this login's, so it is refused (OA-A4, OIDC-20)."""
    with corp(db) as (zg, _), browsing(zg) as browser:
        ours = httpx.URL(browser.start("corp").headers["location"])
        cookie = browser.state_cookie()
        injected = ours.copy_merge_params(
            {
                "state": cookie["s"],
                "code_challenge": create_s256_code_challenge(cookie["v"]),
                "nonce": "attacker-chosen-nonce",
            }
        )
        refused = browser.get(login_upstream(browser.op, str(injected), "alice"))
        refused_without_session(refused, browser)
        assert error_code_of(refused) == "federation_token_invalid"
    assert refusal_reasons(caplog.records) == ["nonce_mismatch"]


def _forged(answer: dict[str, Any], *, issuer: str) -> dict[str, Any]:
    """The real answer with its ID token replaced by one signed with a key the upstream never
    published: every claim right (iss, aud, sub, nonce), only the signature is not theirs."""
    real = answer["id_token"].split(".")[1]
    claims = httpx.Response(200, content=_b64(real)).json()
    ring = KeyRing(alg=Algorithm.RS256)
    now = SystemClock().now()
    ring.ensure_active(now)
    kept = {k: v for k, v in claims.items() if k not in ("iss", "aud", "exp", "iat", "nbf", "jti")}
    token = issue(kept, keys=ring, issuer=issuer, typ=TokenType.ID, audience=CLIENT_ID, now=now)
    return {**answer, "id_token": token}


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def test_federation_forged_id_tokens_are_refused(
    db: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """An attacker on the wire swaps the ID token (OIDC-20): one signed with their own key, and
    a genuine one from a second upstream OP for the same client and subject. Both refused."""
    with corp(db) as (zg, op), browsing(zg) as browser:
        zg.transport.swap = lambda answer: _forged(answer, issuer=op.issuer)
        refused = browser.sign_in("corp", "alice")
        refused_without_session(refused, browser)
        assert error_code_of(refused) == "federation_token_invalid"
        other_redirect = "http://127.0.0.1:9/cb"
        with upstream_op(
            clients=[{**op_client("http://127.0.0.1:9", "x"), "redirect_uris": [other_redirect]}],
            accounts={"alice": ALICE},
        ) as second:
            rp = {
                "issuer": second.issuer,
                "client_id": CLIENT_ID,
                "client_secret": op_client("", "")["client_secret"],
                "redirect_uri": other_redirect,
                "insecure_http": True,
            }
            request = run_rp("authorize-url", {**rp, "scope": "openid email"})
            tokens = run_rp(
                "callback",
                {
                    **rp,
                    "callback_url": second.login(request["url"], "alice"),
                    **{k: request[k] for k in ("state", "nonce", "code_verifier")},
                },
            )
        zg.transport.swap = lambda answer: {**answer, "id_token": tokens["id_token"]}
        refused = browser.sign_in("corp", "alice")
        refused_without_session(refused, browser)
        assert error_code_of(refused) == "federation_token_invalid"
        assert run(zg.directory.list_users()) == []
    details = [r.__dict__["detail"] for r in caplog.records if "detail" in r.__dict__]
    assert refusal_reasons(caplog.records) == ["id_token_invalid", "id_token_invalid"]
    assert [d.split(":")[0] for d in details] == ["token_key_unknown", "token_key_unknown"]


def test_federation_two_upstreams_at_once(db: Store) -> None:
    """Two upstreams side by side, each with its own redirect URI (OA-A6): each signs its own
    users in. The same `sub` at two upstreams is two people, and an address already taken is
    never linked by email (OIDC-22)."""
    with (
        loopback_socket() as (sock, url),
        upstream_op(clients=[op_client(url, "corp")], accounts={"alice": ALICE}) as op1,
        upstream_op(
            clients=[op_client(url, "partner")],
            accounts={
                "alice": account("alice@partner.test", "Ops"),
                "mallory": account("alice@corp.test", "Engineering"),
            },
        ) as op2,
        zerogate(
            db,
            sock,
            url,
            {"corp": upstream(op1.issuer), "partner": upstream(op2.issuer, display_name="Partner")},
        ) as zg,
    ):
        assert [(c.name, c.display_name) for c in zg.upstreams.choices()] == [
            ("corp", "corp"),
            ("partner", "Partner"),
        ]
        with browsing(zg) as browser:
            assert browser.sign_in("corp", "alice").status_code == 303
            assert run(zg.session_of(browser)).username == "alice.liddell"
        with browsing(zg) as browser:
            assert browser.sign_in("partner", "alice").status_code == 303
            partner_user = run(zg.session_of(browser)).username
        assert partner_user != "alice.liddell"
        assert run(zg.group_names(partner_user)) == {"ops"}
        with browsing(zg) as browser:
            # Mallory's upstream claims Alice's address: no account is adopted by email.
            refused = browser.sign_in("partner", "mallory")
            refused_without_session(refused, browser)
            assert error_code_of(refused) == "federation_account_conflict"
        assert len(run(zg.directory.list_users())) == 2


def test_federation_upstream_tokens_are_never_stored_or_passed_on(
    db: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """OA-A7: the upstream's access, ID and refresh tokens, and the code, end with `finish`: they
    are in no table, no cookie, no redirect and none of Zerogate's log lines, and nothing there
    looks like a JWT (`eyJ`). (The ASGI
    server's access log records the callback URL with its code, as for any OAuth client: the
    code is spent by then and useless without the PKCE verifier and the client secret.)"""
    caplog.set_level(logging.DEBUG)
    with corp(db) as (zg, _), browsing(zg) as browser:
        back = login_upstream(browser.op, browser.start("corp").headers["location"], "alice")
        landed = browser.get(back)
        assert landed.status_code == 303
        secrets = zg.transport.secrets() | {httpx.URL(back).params["code"]}
        assert len(secrets) >= 3
        seen = "\n".join(
            [
                zg.table_text(),
                landed.headers["location"],
                *landed.headers.get_list("set-cookie"),
                *(
                    f"{r.getMessage()} {r.__dict__}"
                    for r in caplog.records
                    if r.name.startswith("zerogate")
                ),
            ]
        )
        leaked = [s[:12] for s in secrets if s in seen]
        assert leaked == []
        assert "eyJ" not in seen
        assert SESSION_COOKIE_NAME in browser.cookies


def test_federation_disabled_user_is_refused(db: Store) -> None:
    """A disabled local user stays disabled however the upstream vouches for them."""
    with corp(db) as (zg, _):
        with browsing(zg) as browser:
            assert browser.sign_in("corp", "bob").status_code == 303
        run(zg.directory.disable_user("bob", now=SystemClock().now()))
        with browsing(zg) as browser:
            refused = browser.sign_in("corp", "bob")
            refused_without_session(refused, browser)
            assert refused.status_code == 403
            assert error_code_of(refused) == "federation_user_disabled"


def test_federation_cancelled_login_and_unknown_upstream(db: Store) -> None:
    """The user cancels at the upstream (`error=access_denied`); an unknown upstream is a 404;
    `next` never leaves our origin (OA-A2)."""
    with corp(db) as (zg, _), browsing(zg) as browser:
        to_op = browser.start("corp").headers["location"]
        refused = browser.get(login_upstream(browser.op, to_op, "alice", approve=False))
        refused_without_session(refused, browser)
        assert error_code_of(refused) == "federation_denied"
        unknown = browser.get("/login/upstream/nope")
        assert unknown.status_code == 404
        assert error_code_of(unknown) == "federation_upstream_unknown"
        landed = browser.sign_in("corp", "alice", query="?next=https://evil.example/")
        assert landed.headers["location"] == "/"


def test_federation_home_realm_and_login_hint(db: Store) -> None:
    """With `domains` the login page can route an address to its upstream, and `login_hint`
    travels to the upstream."""
    with corp(db, domains=("corp.test",)) as (zg, _), browsing(zg) as browser:
        assert zg.upstreams.home_realm("Alice@Corp.Test") == "corp"
        assert zg.upstreams.home_realm("alice@elsewhere.test") is None
        to_op = httpx.URL(
            browser.start("corp", "?login_hint=alice%40corp.test").headers["location"]
        )
        assert to_op.params["login_hint"] == "alice@corp.test"
        assert to_op.params["code_challenge_method"] == "S256"


def test_federation_cookie_is_signed_single_purpose_and_short_lived() -> None:
    """The state cookie (OA-A3): only our key makes one, only for this purpose, for 5 minutes;
    `next` stays a same-origin path even if someone signed a foreign one (OA-A2)."""
    key, other = derive_key(SECRET, "federation-login"), derive_key(SECRET, "pending-login")
    now = SystemClock().now().replace(microsecond=0)  # the cookie keeps whole seconds
    flow = new_state("corp", redirect_uri="https://zg.test/cb", now=now)
    value = FederationCookie(key).issue(flow, next_path="/apps/wiki").split(";")[0].split("=", 1)[1]
    read = FederationCookie(key).read(value, redirect_uri="https://zg.test/cb", now=now)
    assert read == (flow, "/apps/wiki")
    body, _, mac_part = value.rpartition(".")
    tampered = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1] + "." + mac_part
    for bad, at in [
        (tampered, now),
        (value, now + STATE_TTL),
        (value, now - timedelta(seconds=1)),
        (value + "x", now),
        ("v1." + "A" * 5000, now),
        ("", now),
    ]:
        assert FederationCookie(key).read(bad, redirect_uri="https://zg.test/cb", now=at) is None
    assert FederationCookie(other).read(value, redirect_uri="https://zg.test/cb", now=now) is None
    header = FederationCookie(key).issue(flow, next_path="//evil.example/")
    assert "Max-Age=300; Secure; HttpOnly; SameSite=Lax" in header
    assert header.startswith("__Host-zerogate_federation=")
    foreign = header.split(";")[0].split("=", 1)[1]
    assert FederationCookie(key).read(foreign, redirect_uri="x", now=now)[1] == "/"  # type: ignore[index]
