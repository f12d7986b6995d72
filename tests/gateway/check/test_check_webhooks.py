"""Webhook routes: HMAC-signed requests, the timestamp window and the replay cache, refused
requests audited; through the `Checker` core and through the ext_authz face."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from tests.gateway.check._support import CLIENT_IP, CheckWorld, request
from tests.identity._support import run
from zerogate.clock import FixedClock
from zerogate.errors import ConfigError
from zerogate.gateway.check import (
    DECISION_ID_HEADER,
    MAX_WEBHOOK_BODY_BYTES,
    ROUTE_HEADER,
    WEBHOOK_HEADER,
    Checker,
    CheckRequest,
    CheckResult,
    ReplayCache,
    Verdict,
    WebhookRejected,
    WebhookVerifier,
    create_app,
)

ROUTE = "payments-hooks"
SECRET = "whsec-current-0123456789abcdefghijklmnop"
OLD_SECRET = "whsec-previous-0123456789abcdefghijklmno"
SIG = "zerogate-signature"
TS = "zerogate-timestamp"
TOLERANCE = 300
BODY = b'{"type":"payment.succeeded","id":"evt_1","amount":4200}'
PATH = "/hooks/payments"


def signature(secret: str, *, timestamp: int, method: str, target: str, body: bytes) -> str:
    """What a sender computes (docs/gateway.md): our own scheme, written out independently."""
    message = f"{timestamp}.{method}.{target}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


@dataclass
class Hooks:
    world: CheckWorld
    checker: Checker
    cache: ReplayCache

    @property
    def now(self) -> int:
        return int(self.world.clock.now().timestamp())

    def signed(
        self,
        *,
        secret: str = SECRET,
        body: bytes = BODY,
        method: str = "POST",
        path: str = PATH,
        query: str = "",
        timestamp: int | None = None,
        header: str | None = None,
    ) -> CheckRequest:
        """A request signed for exactly these values (or sent with `header` as its signature)."""
        ts = self.now if timestamp is None else timestamp
        target = f"{path}?{query}" if query else path
        sent = header or "v1=" + signature(
            secret, timestamp=ts, method=method, target=target, body=body
        )
        return request(
            ROUTE,
            method=method,
            path=path,
            query=query,
            accept="application/json",
            body=body,
            extra_headers=((SIG, sent), (TS, str(ts))),
        )

    def check(self, req: CheckRequest) -> CheckResult:
        return run(self.checker.check(req))


def _checker(world: CheckWorld, cache: ReplayCache, *secrets: str) -> Checker:
    verifier = WebhookVerifier(
        secrets or (SECRET,),
        tolerance_s=TOLERANCE,
        signature_header=SIG,
        timestamp_header=TS,
        clock=world.clock,
        replay_cache=cache,
    )
    return world.checker_with(
        webhooks={ROUTE: verifier},
    )


@pytest.fixture
def hooks(world: CheckWorld) -> Hooks:
    cache = ReplayCache(clock=world.clock)
    return Hooks(world, _checker(world, cache, SECRET, OLD_SECRET), cache)


# Allowed


def test_webhook_signed_request_is_allowed_without_a_sign_in(hooks: Hooks) -> None:
    result = hooks.check(hooks.signed())
    assert result.status == 200
    assert result.verdict is Verdict.ALLOW
    assert result.reason == "webhook_verified"
    assert result.header(WEBHOOK_HEADER) == "verified"
    assert result.header(DECISION_ID_HEADER) == result.decision_id
    assert result.header("x-zerogate-user") is None  # no user: nothing claims one
    record = hooks.world.records[-1]
    assert (record.verdict, record.reason, record.route) == (
        Verdict.ALLOW,
        "webhook_verified",
        ROUTE,
    )
    assert record.principal is None
    assert record.policy_ids == ()  # the PDP was not asked


def test_webhook_query_string_is_signed_too(hooks: Hooks) -> None:
    assert hooks.check(hooks.signed(query="attempt=2&x=%20y")).allowed


def test_webhook_empty_body_is_signed_as_empty(hooks: Hooks) -> None:
    assert hooks.check(hooks.signed(body=b"", method="PUT")).allowed


def test_webhook_timestamp_at_the_edge_of_the_window_is_allowed(hooks: Hooks) -> None:
    assert hooks.check(hooks.signed(timestamp=hooks.now - TOLERANCE)).allowed
    assert hooks.check(hooks.signed(timestamp=hooks.now + TOLERANCE)).allowed


def test_webhook_rotation_accepts_the_old_and_the_new_secret(hooks: Hooks) -> None:
    assert hooks.check(hooks.signed(secret=OLD_SECRET)).allowed
    assert hooks.check(hooks.signed(secret=SECRET, body=b"{}")).allowed


def test_webhook_rotation_accepts_a_header_with_several_signatures(hooks: Hooks) -> None:
    ts = hooks.now
    good = signature(OLD_SECRET, timestamp=ts, method="POST", target=PATH, body=BODY)
    header = f"v1={'0' * 64}, v0=legacy, v1={good}"
    assert hooks.check(hooks.signed(timestamp=ts, header=header)).allowed


def test_webhook_signature_in_upper_case_hex_is_accepted(hooks: Hooks) -> None:
    ts = hooks.now
    good = signature(SECRET, timestamp=ts, method="POST", target=PATH, body=BODY)
    assert hooks.check(hooks.signed(timestamp=ts, header=f"v1={good.upper()}")).allowed


# Refused


def _refused(hooks: Hooks, req: CheckRequest, reason: str, status: int = 401) -> CheckResult:
    result = hooks.check(req)
    assert (result.status, result.reason) == (status, reason)
    record = hooks.world.records[-1]
    assert (record.reason, record.status, record.route) == (reason, status, ROUTE)
    assert record.decision_id == result.decision_id
    return result


def test_webhook_wrong_secret_is_refused_with_an_opaque_answer(hooks: Hooks) -> None:
    wrong = "whsec-attacker-0123456789abcdefghijklmnop"
    result = _refused(hooks, hooks.signed(secret=wrong), "webhook_signature_invalid")
    assert result.verdict is Verdict.UNAUTHENTICATED
    body = orjson.loads(result.body)
    assert body["error"] == "invalid_signature"  # the detailed reason is for the audit log only
    assert "webhook_signature_invalid" not in result.body.decode()
    assert result.header("cache-control") == "no-store"
    assert result.header(WEBHOOK_HEADER) is None


@pytest.mark.parametrize(
    "changes",
    [
        {"body": BODY.replace(b"4200", b"9999")},
        {"body": BODY + b" "},
        {"body": b""},
        {"path": "/hooks/refunds"},
        {"query": "x=1"},
        {"method": "PUT"},
    ],
    ids=["amount", "trailing-space", "emptied", "path", "query", "method"],
)
def test_webhook_tampered_request_is_refused(hooks: Hooks, changes: dict[str, Any]) -> None:
    tampered = replace(hooks.signed(), **changes)
    _refused(hooks, tampered, "webhook_signature_invalid")


def test_webhook_missing_signature_is_refused(hooks: Hooks) -> None:
    req = replace(hooks.signed(), extra_headers=((TS, str(hooks.now)),))
    _refused(hooks, req, "webhook_signature_missing")
    _refused(hooks, hooks.signed(header=" "), "webhook_signature_missing")


def test_webhook_missing_or_malformed_timestamp_is_refused(hooks: Hooks) -> None:
    good = hooks.signed()
    without = replace(good, extra_headers=good.extra_headers[:1])
    _refused(hooks, without, "webhook_timestamp_invalid")
    for bad in ("", "-5", "1.5e9", "1700000000.0", "9" * 13, "abc"):
        req = replace(good, extra_headers=(good.extra_headers[0], (TS, bad)))
        _refused(hooks, req, "webhook_timestamp_invalid")


@pytest.mark.parametrize(
    "header",
    ["sha256=abc", "v1=" + "0" * 63, "v1=" + "g" * 64, ",".join(["v1=" + "0" * 64] * 9)],
    ids=["other-scheme", "short", "not-hex", "too-many"],
)
def test_webhook_malformed_signature_is_refused(hooks: Hooks, header: str) -> None:
    _refused(hooks, hooks.signed(header=header), "webhook_signature_invalid")


@pytest.mark.parametrize("offset", [TOLERANCE + 1, -(TOLERANCE + 1), 86_400])
def test_webhook_stale_or_future_timestamp_is_refused(hooks: Hooks, offset: int) -> None:
    req = hooks.signed(timestamp=hooks.now - offset)  # correctly signed, wrong time
    _refused(hooks, req, "webhook_timestamp_out_of_window")


def test_webhook_replay_is_refused_recorded_and_logged(
    hooks: Hooks, caplog: pytest.LogCaptureFixture
) -> None:
    req = hooks.signed()
    assert hooks.check(req).allowed
    caplog.set_level(logging.WARNING, logger="zerogate.gateway.check")
    result = _refused(hooks, req, "webhook_replayed")
    assert result.verdict is Verdict.UNAUTHENTICATED
    assert hooks.world.records[-1].client_ip == CLIENT_IP
    [line] = [r for r in caplog.records if r.getMessage() == "check.webhook_rejected"]
    assert line.levelno == logging.WARNING
    assert getattr(line, "reason", None) == "webhook_replayed"
    assert getattr(line, "route", None) == ROUTE
    logged = repr(line.__dict__)
    sent = req.header(SIG) or ""
    assert sent.startswith("v1=")
    assert sent[3:] not in logged
    assert "payment.succeeded" not in logged


def test_webhook_replay_with_one_of_two_signatures_is_still_a_replay(hooks: Hooks) -> None:
    ts = hooks.now
    new = signature(SECRET, timestamp=ts, method="POST", target=PATH, body=BODY)
    old = signature(OLD_SECRET, timestamp=ts, method="POST", target=PATH, body=BODY)
    assert hooks.check(hooks.signed(timestamp=ts, header=f"v1={new},v1={old}")).allowed
    _refused(hooks, hooks.signed(timestamp=ts, header=f"v1={old}"), "webhook_replayed")
    _refused(hooks, hooks.signed(timestamp=ts, header=f"v1={new}"), "webhook_replayed")


def test_webhook_replay_after_the_window_fails_on_the_timestamp(hooks: Hooks) -> None:
    req = hooks.signed()
    assert hooks.check(req).allowed
    hooks.world.clock.advance(2 * TOLERANCE + 1)  # the cache has let go, the window has too
    _refused(hooks, req, "webhook_timestamp_out_of_window")
    assert len(hooks.cache) <= 1


def test_webhook_refused_signature_does_not_enter_the_replay_cache(hooks: Hooks) -> None:
    wrong = "whsec-attacker-0123456789abcdefghijklmnop"
    _refused(hooks, hooks.signed(secret=wrong), "webhook_signature_invalid")
    assert len(hooks.cache) == 0
    assert hooks.check(hooks.signed()).allowed


def test_webhook_oversized_body_is_refused(hooks: Hooks) -> None:
    big = b"x" * (MAX_WEBHOOK_BODY_BYTES + 1)
    result = _refused(hooks, hooks.signed(body=big), "request_body_too_large", 413)
    assert result.verdict is Verdict.BAD_REQUEST
    assert hooks.check(hooks.signed(body=big[:-1])).allowed  # exactly the cap is fine


def test_webhook_without_a_body_from_the_face_fails_closed(hooks: Hooks) -> None:
    # The forward-auth face never gets a body: verifying "no body" would prove nothing.
    req = replace(hooks.signed(body=b""), body=None)
    result = _refused(hooks, req, "webhook_body_unavailable", 503)
    assert result.verdict is Verdict.ERROR


def test_webhook_unknown_method_is_still_405(hooks: Hooks) -> None:
    result = hooks.check(hooks.signed(method="PROPFIND"))
    assert (result.status, result.reason) == (405, "method_not_allowed")


def test_webhook_signature_does_not_open_other_routes(hooks: Hooks) -> None:
    req = replace(hooks.signed(), route="wiki-web")
    result = hooks.check(req)
    assert result.status == 401
    assert result.reason == "no_credentials"


def test_webhook_route_ignores_sessions(hooks: Hooks) -> None:
    alice = hooks.world.add_user("alice", "employees")
    req = replace(hooks.signed(), extra_headers=(), cookie=hooks.world.sign_in(alice))
    _refused(hooks, req, "webhook_signature_missing")


def test_webhook_failed_audit_refuses_a_verified_request(world: CheckWorld) -> None:
    cache = ReplayCache(clock=world.clock)
    checker = _checker(world, cache)

    def broken(_: object) -> None:
        raise RuntimeError("audit sink down")

    checker._on_decision = broken
    hooks = Hooks(world, checker, cache)
    req = hooks.signed()
    result = hooks.check(req)
    assert (result.status, result.reason) == (503, "audit_unavailable")
    # Not served, so not spent: the sender's retry of the same request is no replay.
    assert len(cache) == 0
    checker._on_decision = world.records.append
    assert hooks.check(req).allowed
    assert (hooks.check(req).reason, len(cache)) == ("webhook_replayed", 1)


@settings(max_examples=50, deadline=None)
@given(
    body=st.binary(max_size=512),
    path=st.from_regex(r"/[a-z0-9/._~-]{0,40}", fullmatch=True),
    flip=st.integers(min_value=0),
)
def test_webhook_any_change_to_the_body_is_detected(body: bytes, path: str, flip: int) -> None:
    clock = FixedClock()
    verifier = WebhookVerifier(
        [SECRET],
        tolerance_s=TOLERANCE,
        signature_header=SIG,
        timestamp_header=TS,
        clock=clock,
        replay_cache=ReplayCache(clock=clock),
    )
    ts = int(clock.now().timestamp())
    sig = signature(SECRET, timestamp=ts, method="POST", target=path, body=body)
    headers = ((SIG, f"v1={sig}"), (TS, str(ts)))

    def req(content: bytes) -> CheckRequest:
        return request(ROUTE, method="POST", path=path, body=content, extra_headers=headers)

    tampered = bytearray(body or b"\x00")
    tampered[flip % len(tampered)] ^= 0x01
    with pytest.raises(WebhookRejected) as raised:
        verifier.verify(req(bytes(tampered)))
    assert raised.value.reason == "webhook_signature_invalid"
    assert verifier.verify(req(body)).secret_index == 0


# The parts


def test_replay_cache_is_bounded_and_counts_early_evictions() -> None:
    clock = FixedClock()
    cache = ReplayCache(clock=clock, max_entries=2)
    assert not cache.seen(b"a", keep_s=10)
    assert not cache.seen(b"b", keep_s=10)
    assert cache.seen(b"a", keep_s=10)
    assert not cache.seen(b"c", keep_s=10)  # "a" was stored first: it goes
    assert len(cache) == 2
    assert cache.evicted == 1
    assert not cache.seen(b"a", keep_s=10)
    clock.advance(10)
    assert not cache.seen(b"b", keep_s=10)  # expired, so new again
    assert len(cache) == 1  # the expired ones went without counting as evictions
    assert cache.evicted == 2


def test_webhook_verifier_refuses_weak_settings_and_hides_its_secrets() -> None:
    clock = FixedClock()
    cache = ReplayCache(clock=clock)
    with pytest.raises(ConfigError) as raised:
        WebhookVerifier(
            ["short"],
            tolerance_s=0,
            signature_header=SIG,
            timestamp_header=SIG,
            clock=clock,
            replay_cache=cache,
        )
    assert {d.loc for d in raised.value.details} == {"secrets", "tolerance_s", "signature_header"}
    assert "short" not in str(raised.value)
    with pytest.raises(ConfigError):
        ReplayCache(clock=clock, max_entries=0)
    verifier = WebhookVerifier(
        [SECRET, OLD_SECRET],
        tolerance_s=TOLERANCE,
        signature_header=SIG.upper(),
        timestamp_header=TS,
        clock=clock,
        replay_cache=cache,
    )
    assert SECRET not in repr(verifier)
    assert verifier.signature_header == SIG


# The ext_authz face


@pytest.fixture
def face(hooks: Hooks) -> Iterator[TestClient]:
    with TestClient(create_app(hooks.checker), base_url="http://zerogate-check") as c:
        yield c


def _envoy(hooks: Hooks, body: bytes, **extra: str) -> dict[str, str]:
    ts = hooks.now
    sig = signature(SECRET, timestamp=ts, method="POST", target=PATH, body=body)
    return {
        "host": "pay.example.test",
        "x-forwarded-proto": "https",
        "x-forwarded-for": CLIENT_IP,
        "x-request-id": "hook-req",
        ROUTE_HEADER: ROUTE,
        SIG: f"v1={sig}",
        TS: str(ts),
        **extra,
    }


def test_ext_authz_face_reads_the_body_and_the_signed_headers(
    hooks: Hooks, face: TestClient
) -> None:
    body = BODY + b"\xff\x00 binary"
    r = face.post(f"/check{PATH}", content=body, headers=_envoy(hooks, body))
    assert r.status_code == 200
    assert r.headers[WEBHOOK_HEADER] == "verified"
    r = face.post(f"/check{PATH}", content=body, headers=_envoy(hooks, body))
    assert r.status_code == 401
    assert hooks.world.records[-1].reason == "webhook_replayed"


def test_ext_authz_face_refuses_a_partial_body(hooks: Hooks, face: TestClient) -> None:
    headers = _envoy(hooks, BODY, **{"x-envoy-auth-partial-body": "true"})
    r = face.post(f"/check{PATH}", content=BODY, headers=headers)
    assert r.status_code == 400
    assert hooks.world.records[-1].reason == "request_invalid"


def test_ext_authz_face_refuses_a_repeated_signature_header(hooks: Hooks, face: TestClient) -> None:
    headers = [*_envoy(hooks, BODY).items(), (SIG, "v1=" + "0" * 64)]
    r = face.post(f"/check{PATH}", content=BODY, headers=headers)
    assert r.status_code == 400


def test_ext_authz_face_cuts_an_oversized_body_and_refuses_it(
    hooks: Hooks, face: TestClient
) -> None:
    body = b"y" * (MAX_WEBHOOK_BODY_BYTES + 10)
    r = face.post(f"/check{PATH}", content=body, headers=_envoy(hooks, body))
    assert r.status_code == 413
    assert r.json()["error"] == "request_too_large"
