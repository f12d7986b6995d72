"""The check: authenticate, build the Cedar request, ask the PDP, answer; fail closed on any error.

Framework-free: the HTTP faces translate to `CheckRequest` and back. One check costs a store
read for the session (or the user, for a bearer token) unless the session cache holds it, the
user's groups at most once per principal TTL, and a PDP call (a dict lookup when cached).
"""

from __future__ import annotations

import itertools
import logging
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from opentelemetry.trace import Span, Tracer

from zerogate._types import DecisionID
from zerogate.clock import Clock
from zerogate.errors import ConfigError, ErrorDetail
from zerogate.gateway.check import _responses as respond
from zerogate.gateway.check._assertion import ASSERTION_HEADER, AssertionSigner
from zerogate.gateway.check._authn import (
    Authenticator,
    CredentialsRejected,
    Identity,
    TokenStatus,
    peer_identity,
)
from zerogate.gateway.check._caches import Principal, RevokedSessions, SessionCache, TTLCache
from zerogate.gateway.check._decision_tokens import DecisionTokens
from zerogate.gateway.check._handoff import HANDOFF_PATH, HostSessions
from zerogate.gateway.check._limits import problem_with
from zerogate.gateway.check._model import (
    CheckRecord,
    CheckRequest,
    CheckResult,
    DecisionRecorder,
    RouteSettings,
    Verdict,
)
from zerogate.gateway.check._own_cookies import upstream_cookie
from zerogate.gateway.check._policy_request import human_reason, policy_request, principal_uid
from zerogate.gateway.check._spans import (
    current,
    decide_span,
    describe_decision,
    end_check,
    parent_of,
    process_tracer,
    start_check,
    traceparent_of,
    unsampled,
)
from zerogate.gateway.check._stale import STALE_HEADER, STALE_REASON, StaleDecisions, log_stale
from zerogate.gateway.check._stepup import step_up_for_decision, step_up_for_route
from zerogate.gateway.check._webhooks import WebhookRejected, WebhookVerifier
from zerogate.gateway.check._webhooks import allowed as webhook_allowed
from zerogate.gateway.check._webhooks import refused as webhook_refused
from zerogate.identity import Directory, Sessions
from zerogate.identity.oidc import MAX_ACCESS_TOKEN_LIFETIME_S
from zerogate.policy import PDP, Decision
from zerogate.policy import Request as PolicyRequest
from zerogate.tokens import VerificationKeys

# HTTP methods as Cedar actions (the shipped schema); anything else is refused with 405.
ACTIONS: Mapping[str, str] = {
    **{m: m for m in ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")},
    "CONNECT": "connect",
}
_ALLOW = ", ".join(ACTIONS)
_log = logging.getLogger("zerogate.gateway.check")


@dataclass(slots=True)
class _Trace:
    """What one check learnt on its way, for the record (mutable, lives for one check)."""

    identity: Identity | None = None
    decision: Decision | None = None
    session_id: str | None = None
    stage: str = "validate"
    error: str | None = None
    undo: Callable[[], None] | None = None  # if the access is refused after all (audit down)
    stale: bool = False  # served from an earlier allow (fail_mode = "stale")
    span: Span | None = None  # `zerogate.check`, when tracing


class Checker:
    """Answers `check(request)` for the proxies. Every path out of an error is a deny.

    `routes` holds gateway-side settings per Cedar route id. Principals (names and groups) are
    cached for `principal_ttl_s`, at most the decision cache's TTL; wire `entity_changed` to the
    `entity.changed` events so changes apply at once. `on_decision` receives a `CheckRecord` for
    every check; if it raises, an allow becomes a 503 (an unrecorded access is not granted).
    `webhooks` maps the route ids of webhook routes to their verifiers: those requests are
    signed, not signed in, and the PDP is not asked (docs/check.md "Webhook routes").
    `tracer` makes the `zerogate.check` and `zerogate.pdp.decide` spans; None takes the
    process's if OpenTelemetry is configured by then (`zerogate.telemetry`), else no spans.
    """

    def __init__(
        self,
        pdp: PDP,
        sessions: Sessions,
        directory: Directory,
        keys: VerificationKeys,
        *,
        issuer: str,
        clock: Clock,
        login_url: str,
        step_up_url: str | None = None,
        routes: Mapping[str, RouteSettings] | None = None,
        session_cache: SessionCache | None = None,
        principal_ttl_s: float | None = None,
        principal_cache_size: int = 10_000,
        token_status: TokenStatus | None = None,
        revoked_session_keep_s: float = MAX_ACCESS_TOKEN_LIFETIME_S,
        on_decision: DecisionRecorder | None = None,
        assertions: AssertionSigner | None = None,
        webhooks: Mapping[str, WebhookVerifier] | None = None,
        host_sessions: HostSessions | None = None,
        decision_tokens: DecisionTokens | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        decision_ttl = pdp.cache.ttl_s if pdp.cache is not None else 15.0
        ttl = min(5.0, decision_ttl) if principal_ttl_s is None else principal_ttl_s
        if not 0 < ttl <= decision_ttl or principal_cache_size < 1:
            msg = f"must be > 0 and <= the decision TTL ({decision_ttl} s); size >= 1"
            raise ConfigError(
                "invalid principal cache settings",
                details=[ErrorDetail("config_invalid", "principal_ttl_s", msg)],
            )
        self._pdp = pdp
        self._clock = clock
        self._assertions = assertions
        self._urls = respond.SignInURLs(login_url, step_up_url, handoff=host_sessions is not None)
        self._routes = dict(routes or {})
        self._webhooks = dict(webhooks or {})
        self._principals: TTLCache[str, Principal] = TTLCache(
            clock=clock, ttl_s=ttl, max_entries=principal_cache_size
        )
        self._session_cache = session_cache
        self._revoked = RevokedSessions(clock=clock, keep_s=revoked_session_keep_s)
        self._authn = Authenticator(
            sessions,
            directory,
            keys,
            issuer=issuer,
            principals=self._principals,
            session_cache=session_cache,
            revoked=self._revoked,
            token_status=token_status,
            host_sessions=host_sessions,
        )
        self._host_sessions = host_sessions
        self._decision_tokens = decision_tokens
        self._stale = StaleDecisions(clock=clock, routes=self._routes, host_sessions=host_sessions)
        self._on_decision = on_decision
        self._prefix = secrets.token_hex(6)
        self._counter = itertools.count(1)
        self._tracer = tracer or process_tracer()

    async def check(self, req: CheckRequest) -> CheckResult:
        """Decide one proxied request. Never raises: a failure is a 503 deny with a decision id."""
        tracer = self._tracer
        parent = None if tracer is None else parent_of(req)
        if tracer is None or unsampled(parent):  # not even a no-op span
            return await self._checked(req, _Trace())
        span = start_check(tracer, parent)
        trace = _Trace(span=span)
        result: CheckResult | None = None
        try:
            with current(span):
                result = await self._checked(req, trace)
        finally:
            cached = trace.decision is not None and trace.decision.cached
            end_check(span, req, result, cached=cached)
        return result

    async def _checked(self, req: CheckRequest, trace: _Trace) -> CheckResult:
        started = self._clock.monotonic()
        try:
            result = await self._check(req, trace)
        except Exception as exc:
            result = self._served_stale(req, trace, exc) or self._failed(req, trace, exc)
        result = self._record(req, trace, result, started)
        if result.allowed and not trace.stale:
            self._stale.remember(req, trace.identity, trace.decision, started=started)
        return result

    @property
    def webhook_headers(self) -> frozenset[str]:
        """The signature and timestamp headers of the webhook routes: the faces pass them on."""
        return frozenset(
            name
            for verifier in self._webhooks.values()
            for name in (verifier.signature_header, verifier.timestamp_header)
        )

    def replace_routes(self, routes: Mapping[str, RouteSettings]) -> None:
        """New per-route settings (the settings file changed); the next check uses them.

        Remembered stale allows are dropped: they were kept under the old bounds.
        """
        self._routes = dict(routes)
        self._stale = StaleDecisions(
            clock=self._clock, routes=self._routes, host_sessions=self._host_sessions
        )

    # Invalidation, wired by the composition root to events

    def drop_sessions(self, session_ids: Iterable[str]) -> None:
        """Sessions ended (ids are SHA-256 hashes): forget them and refuse tokens naming them."""
        ids = tuple(session_ids)
        self._revoked.add(ids)
        self._stale.drop_sessions(ids)
        if self._session_cache is not None:
            self._session_cache.drop(ids)
        if self._assertions is not None:
            self._assertions.forget(set(ids))

    def drop_users(self, usernames: Iterable[str]) -> None:
        """These users changed (groups, email, disabled): reload them on their next request."""
        names = tuple(usernames)
        self._principals.drop(names)
        self._stale.drop_users(names)
        if self._session_cache is not None:
            self._session_cache.drop_users(names)

    def entity_changed(self, payload: Mapping[str, Any]) -> None:
        """Apply an `entity.changed` event payload: `{"type", "id", "session_ids"?}`.

        The PDP's own decision cache is kept by `PolicySync`; this drops what the check holds.
        """
        ids = payload.get("session_ids")
        if isinstance(ids, list):
            self.drop_sessions(str(i) for i in ids)
        if payload.get("type") == "User":
            self.drop_users((str(payload.get("id")),))
        elif payload.get("type") == "Group":
            self._principals.clear()  # a group went away: who was in it is not in the payload
            self._stale.clear()

    # The check itself

    async def _check(self, req: CheckRequest, trace: _Trace) -> CheckResult:
        decision_id = self._new_id()
        problem = problem_with(req)
        if problem is not None:
            return respond.refusal(
                req, problem.status, problem.message, decision_id, Verdict.BAD_REQUEST, problem.code
            )
        if req.route is None:
            _log.warning("check.route_missing", extra={"decision_id": decision_id})
            message = "The gateway has no route for this address."
            return respond.refusal(req, 403, message, decision_id, Verdict.DENY, "route_missing")
        action = ACTIONS.get(req.method)
        if action is None:
            message = "This request method is not allowed here."
            allow = (("allow", _ALLOW),)
            return respond.refusal(
                req, 405, message, decision_id, Verdict.DENY, "method_not_allowed", allow
            )
        webhook = self._webhooks.get(req.route)
        if webhook is not None:
            trace.stage = "webhook"
            return await self._verify_webhook(req, webhook, decision_id, trace)
        trace.stage = "authenticate"
        now = self._clock.now()
        if self._host_sessions is not None and req.path == HANDOFF_PATH and req.method == "GET":
            return self._host_sessions.redeem(req, decision_id=decision_id, now=now)
        try:
            identity = await self._authn.authenticate(
                req.cookie, req.authorization, now=now, host=req.host
            )
        except CredentialsRejected as exc:
            trace.session_id = exc.session_id
            _log.info(
                "check.credentials_rejected",
                extra={
                    "decision_id": decision_id,
                    "reason": exc.reason,
                    "session_id": exc.session_id,
                },
            )
            return respond.unauthenticated(
                req, self._urls, decision_id, exc.reason, bearer_error=exc.bearer
            )
        if identity is None and req.peer_spiffe_id is not None:
            identity = peer_identity(req.peer_spiffe_id)  # a workload, by its certificate
        if identity is None:
            return respond.unauthenticated(req, self._urls, decision_id, "no_credentials")
        trace.identity = identity
        trace.session_id = identity.session_id
        trace.stage = "decide"
        decision = self._decide(policy_request(req, req.route, action, identity), trace.span)
        trace.decision = decision
        trace.stage = "respond"
        decision_id = decision.decision_id  # one id from the PDP to the audit log and the user
        bearer = identity.via == "bearer"
        if not decision.allowed:
            step = step_up_for_decision(decision)
            if step is not None:
                return respond.step_up(req, self._urls, step, decision_id, bearer=bearer)
            message = human_reason(decision)
            return respond.refusal(
                req, 403, message, decision_id, Verdict.DENY, str(decision.outcome)
            )
        step = step_up_for_route(self._routes.get(req.route), identity)
        if step is not None:
            return respond.step_up(req, self._urls, step, decision_id, bearer=bearer)
        extra: tuple[tuple[str, str], ...] = ()
        if self._assertions is not None:
            token = self._assertions.assertion(identity, req.route or "", now=self._clock.now())
            extra = ((ASSERTION_HEADER, token),)
        if self._decision_tokens is not None and req.method == "GET" and req.route:
            cookie = self._decision_tokens.set_cookie(
                identity,
                req.route,
                decision_id=decision_id,
                epoch=decision.bundle_hash,
                now=self._clock.now(),
            )
            if cookie is not None:  # to the browser (Envoy: allowed_client_headers_on_success)
                extra += (("set-cookie", cookie),)
        extra += upstream_cookie(req.cookie, req.route)  # our cookies stop here
        return respond.allow(identity, decision_id, extra=extra)

    def _decide(self, request: PolicyRequest, parent: Span | None) -> Decision:
        if self._tracer is None or parent is None or not parent.is_recording():
            return self._pdp.decide(request)  # an unsampled check has no PDP span either
        with decide_span(self._tracer) as span:
            decision = self._pdp.decide(request)
            describe_decision(span, decision)
            return decision

    async def _verify_webhook(
        self, req: CheckRequest, verifier: WebhookVerifier, decision_id: DecisionID, trace: _Trace
    ) -> CheckResult:
        try:
            verified = await verifier.check(req)
        except WebhookRejected as exc:
            # Never the signature or the body: the reason and where it came from.
            _log.warning(
                "check.webhook_rejected",
                extra={
                    "decision_id": decision_id,
                    "route": req.route,
                    "reason": exc.reason,
                    "client_ip": req.client_ip,
                    "request_id": req.request_id,
                },
            )
            return webhook_refused(req, exc, decision_id)
        trace.undo = lambda: verifier.forget(verified)
        return webhook_allowed(decision_id)

    def _served_stale(self, req: CheckRequest, trace: _Trace, exc: Exception) -> CheckResult | None:
        """A `fail_mode = "stale"` route reuses this credential's last allow (docs/check.md)."""
        found = self._stale.recall(
            req, stage=trace.stage, error=exc, bundle_hash=self._pdp.bundle_hash
        )
        if found is None:
            return None
        trace.identity, trace.decision, trace.stale = found.identity, found.decision, True
        trace.session_id, trace.error = found.identity.session_id, type(exc).__name__
        decision_id = self._new_id()
        log_stale(req, found, exc, decision_id)
        extra: tuple[tuple[str, str], ...] = ((STALE_HEADER, "1"),)
        if self._assertions is not None:
            token = self._assertions.assertion(
                found.identity, req.route or "", now=self._clock.now()
            )
            extra = ((ASSERTION_HEADER, token), *extra)
        return replace(respond.allow(found.identity, decision_id, extra=extra), reason=STALE_REASON)

    def _failed(self, req: CheckRequest, trace: _Trace, exc: Exception) -> CheckResult:
        """Fail closed (PEP-01): the store, the PDP or our own code broke; deny and say so."""
        decision_id = self._new_id()
        reason = {"authenticate": "authentication_unavailable", "decide": "decision_unavailable"}
        code = reason.get(trace.stage, "internal_error")
        _log.error(
            "check.failed_closed",
            exc_info=exc,
            extra={
                "decision_id": decision_id,
                "stage": trace.stage,
                "route": req.route,
                "request_id": req.request_id,
                "error": type(exc).__name__,
            },
        )
        message = "Access could not be checked right now, so it was not granted. Try again shortly."
        trace.error = type(exc).__name__
        return respond.refusal(req, 503, message, decision_id, Verdict.ERROR, code)

    def _record(
        self, req: CheckRequest, trace: _Trace, result: CheckResult, started: float
    ) -> CheckResult:
        if self._on_decision is None:
            return result
        decision = trace.decision
        identity = trace.identity
        record = CheckRecord(
            decision_id=result.decision_id,
            verdict=result.verdict,
            reason=result.reason,
            status=result.status,
            route=req.route,
            action=req.method,
            principal=None if identity is None else str(principal_uid(identity)),
            session_id=trace.session_id,
            client_ip=req.client_ip,
            request_id=req.request_id,
            # When tracing, the check's own span: the same trace as the proxy's (its parent),
            # or the new one the check started without a usable parent.
            traceparent=req.traceparent if trace.span is None else traceparent_of(trace.span),
            policy_ids=() if decision is None else decision.policy_ids,
            bundle_hash=None if decision is None else decision.bundle_hash,
            cached=False if decision is None else decision.cached,
            latency_s=self._clock.monotonic() - started,
            error=trace.error,
            stale=trace.stale,
            explanation=None
            if decision is None or decision.explanation is None
            else decision.explanation.summary,
        )
        try:
            self._on_decision(record)
        except Exception as exc:
            _log.error(
                "check.record_failed",
                exc_info=exc,
                extra={"decision_id": result.decision_id, "error": type(exc).__name__},
            )
            if result.allowed:
                if trace.undo is not None:
                    trace.undo()
                message = "Access could not be recorded, so it was not granted. Try again shortly."
                return respond.refusal(
                    req, 503, message, result.decision_id, Verdict.ERROR, "audit_unavailable"
                )
        return result

    def _new_id(self) -> DecisionID:
        # Like the PDP's ids: a random per-process prefix and a counter (unique, cheap, sortable).
        return DecisionID(f"{self._prefix}{next(self._counter):010x}")


__all__ = ["ACTIONS", "Checker"]
