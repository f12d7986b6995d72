"""The check's metrics: a `DecisionRecorder` that counts each `CheckRecord` (the SLIs' source)."""

from __future__ import annotations

from zerogate.gateway.check import CheckRecord, Verdict
from zerogate.telemetry._labels import reason_label
from zerogate.telemetry._metrics import Metrics

# Refused before any credential was looked at: not an authentication failure.
_NOT_AUTHENTICATION = frozenset({"no_credentials", "handoff"})


class CheckMetrics:
    """Pass as the `Checker`'s `on_decision`: updates `metrics` from every check it made.

    Only closed label sets are used (route ids capped, reason codes from a fixed list), and the
    record's identities (principal, session, client address) never become labels.
    """

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def __call__(self, record: CheckRecord) -> None:
        m = self._metrics
        route = m.routes(record.route)
        verdict = record.verdict.value
        m.check_decisions.labels(route, verdict, reason_label(record.reason)).inc()
        m.check_duration.labels(route, verdict).observe(record.latency_s)
        if record.bundle_hash is not None:  # the PDP was asked
            m.check_pdp_decisions.labels("true" if record.cached else "false").inc()
        for policy in record.policy_ids:
            m.check_policy_decisions.labels(m.policies(policy), route, verdict).inc()
        if record.principal is not None:
            m.authentications.labels("success").inc()
        elif (
            record.verdict is Verdict.UNAUTHENTICATED
            and record.reason not in _NOT_AUTHENTICATION
            and not record.reason.startswith("webhook_")
        ):
            m.authentications.labels("failure").inc()
