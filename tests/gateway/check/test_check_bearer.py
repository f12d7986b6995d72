"""The check with bearer access tokens from our own OP (RFC 9068), and the tokens it refuses."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.gateway.check._support import ISSUER, CheckWorld, bearer, make_world, request
from tests.identity._support import run
from zerogate.gateway.check import Verdict
from zerogate.store import Store
from zerogate.tokens import KeyRing, TokenType, VerifiedToken, issue

INVALID = 'Bearer realm="zerogate", error="invalid_token", error_description="the access token is not valid"'


def _refused(world: CheckWorld, token: str, reason: str, **kw: object) -> None:
    result = world.check(request(authorization=bearer(token), **kw))  # type: ignore[arg-type]
    assert result.status == 401, result
    assert result.verdict is Verdict.UNAUTHENTICATED
    assert result.reason == reason
    assert result.header("www-authenticate") == INVALID
    assert result.header("location") is None  # a bearer client is never redirected


def test_check_bearer_access_token_is_allowed(world: CheckWorld) -> None:
    alice = world.add_user("alice", "engineering")
    result = world.check(request(authorization=bearer(world.access_token(alice))))
    assert result.status == 200
    assert result.header("x-zerogate-user") == "alice"
    assert result.header("x-zerogate-groups") == "engineering"
    assert world.records[-1].session_id == "s" * 64


def test_check_bearer_scheme_is_case_insensitive(world: CheckWorld) -> None:
    alice = world.add_user("alice", "engineering")
    token = world.access_token(alice)
    assert world.check(request(authorization=f"bearer  {token} ")).status == 200


def test_check_bearer_id_token_is_refused(world: CheckWorld) -> None:
    """JWT-A15: an ID token, same issuer and keys, is not an access token."""
    alice = world.add_user("alice", "engineering")
    _refused(world, world.id_token(alice), "token_type_mismatch")


def test_check_bearer_expired_token_is_refused(world: CheckWorld) -> None:
    alice = world.add_user("alice", "engineering")
    token = world.access_token(alice)
    world.clock.advance(5 * 60 + 31)  # 5 min lifetime + 30 s leeway
    _refused(world, token, "token_expired")


def test_check_bearer_token_from_another_issuer_or_key_is_refused(world: CheckWorld) -> None:
    alice = world.add_user("alice", "engineering")
    now = world.clock.now()
    claims = {"sub": alice.id, "client_id": "cli", "auth_time": int(now.timestamp())}
    other = KeyRing()
    other.ensure_active(now)
    foreign = issue(
        claims, keys=other, issuer=ISSUER, typ=TokenType.ACCESS, audience=ISSUER, now=now
    )
    _refused(world, foreign, "token_key_unknown")
    wrong_iss = issue(
        claims,
        keys=world.ring,
        issuer="https://dev-idp.zerogate.test",
        typ=TokenType.ACCESS,
        audience=ISSUER,
        now=now,
    )
    _refused(world, wrong_iss, "token_issuer_mismatch")


def test_check_bearer_garbage_and_empty_tokens_are_refused(world: CheckWorld) -> None:
    _refused(world, "not-a-jwt", "token_malformed")
    _refused(world, "", "token_malformed")


def test_check_bearer_is_not_laundered_by_a_valid_cookie(world: CheckWorld) -> None:
    """RFC 6750 §3.1: a presented token that fails is a failure, whatever else rides along."""
    alice = world.add_user("alice", "engineering")
    _refused(world, world.id_token(alice), "token_type_mismatch", cookie=world.sign_in(alice))


def test_check_other_authorization_schemes_are_left_to_the_upstream(world: CheckWorld) -> None:
    alice = world.add_user("alice", "engineering")
    result = world.check(request(authorization="Basic YTpi", cookie=world.sign_in(alice)))
    assert result.status == 200


def test_check_bearer_disabled_or_deleted_user_is_refused_at_once(world: CheckWorld) -> None:
    alice = world.add_user("alice", "engineering")
    token = world.access_token(alice)
    assert world.check(request(authorization=bearer(token))).status == 200
    run(world.directory.disable_user("alice", now=world.clock.now()))
    _refused(world, token, "token_user_disabled")
    run(world.directory.delete_user("alice", now=world.clock.now()))
    _refused(world, token, "user_unknown")


def test_check_bearer_token_of_a_revoked_session_is_refused(world: CheckWorld) -> None:
    """ASVS 5.0 7.4.1: after logout the token's session (its `sid`) is unusable at once."""
    alice = world.add_user("alice", "engineering")
    token = world.access_token(alice, sid="a" * 64)
    other = world.access_token(alice, sid="b" * 64)
    world.checker.entity_changed(
        {"type": "User", "id": "alice", "change": "sessions_revoked", "session_ids": ["a" * 64]}
    )
    _refused(world, token, "token_session_revoked")
    assert world.check(request(authorization=bearer(other))).status == 200


def test_check_bearer_token_status_hook_can_refuse(sqlite_store: Store) -> None:
    seen: list[str] = []

    async def status(token: VerifiedToken, /, *, now: datetime) -> bool:
        seen.append(str(token.claims["gid"]))
        return token.claims["gid"] != "revoked-grant"

    world = make_world(sqlite_store, token_status=status)
    alice = world.add_user("alice", "engineering")
    assert world.check(request(authorization=bearer(world.access_token(alice)))).status == 200
    _refused(world, world.access_token(alice, gid="revoked-grant"), "token_inactive")
    assert seen == ["g-1", "revoked-grant"]


def test_check_bearer_token_without_auth_time_is_refused(world: CheckWorld) -> None:
    alice = world.add_user("alice", "engineering")
    now = world.clock.now()
    token = issue(
        {"sub": alice.id, "client_id": "cli"},
        keys=world.ring,
        issuer=ISSUER,
        typ=TokenType.ACCESS,
        audience=ISSUER,
        now=now,
    )
    _refused(world, token, "token_claims_invalid")


def test_check_bearer_context_uses_token_acr_and_auth_time(world: CheckWorld) -> None:
    erin = world.add_user("erin", "engineering")
    weak = world.access_token(erin)
    strong = world.access_token(
        erin,
        acr="urn:zerogate:acr:mfa",
        amr=["pwd", "otp"],
        auth_time=int((world.clock.now() - timedelta(minutes=2)).timestamp()),
    )
    assert world.check(request(method="POST", authorization=bearer(weak))).status == 401
    assert world.check(request(method="POST", authorization=bearer(strong))).status == 200
