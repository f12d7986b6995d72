"""Audit entries as OCSF 1.1 events, for SIEMs that speak the Open Cybersecurity Schema Framework.

Which class an entry becomes (docs/audit.md "OCSF export" has the field table):

- `login`, `mfa` -> **Authentication** (class_uid 3002, category 3 Identity & Access Management),
  activity 1 Logon; `is_mfa` for `mfa`.
- `decision` -> **Web Resources Activity** (class_uid 6001, category 6 Application Activity) with
  the Security Control profile: `action_id` 1 Allowed / 2 Denied and the determining `policy`.
  OCSF's "Authorize Session" (3003) describes privileges granted to a new session at logon, not
  a per-request allow/deny, so decisions are not put there.
- every other kind -> **Base Event** (class_uid 0), activity 99 Other, with the kind named.

What has no OCSF attribute (policy revision, posture age, latency, extra attributes) goes under
`unmapped`, as OCSF prescribes.
"""

from __future__ import annotations

from typing import Any

from zerogate._version import __version__
from zerogate.audit._entry import AuditRecord, EventKind, Outcome

OCSF_VERSION = "1.1.0"
AUTHENTICATION = 3002
WEB_RESOURCES_ACTIVITY = 6001
BASE_EVENT = 0
_HTTP_ACTIVITY = {"GET": 2, "HEAD": 2, "POST": 1, "PUT": 3, "PATCH": 3, "DELETE": 4}
_ACTIVITY_NAMES = {1: "Create", 2: "Read", 3: "Update", 4: "Delete", 99: "Other"}
_SUCCESS = frozenset({Outcome.ALLOW, Outcome.SUCCESS})


def to_ocsf(record: AuditRecord) -> dict[str, Any]:
    """One OCSF event (a JSON-ready dict) for one audit record."""
    entry = record.entry
    ok = entry.decision in _SUCCESS
    event: dict[str, Any] = {
        "time": int(record.time.timestamp() * 1000),
        "severity_id": 4 if entry.kind is EventKind.ALARM else 1,
        "severity": "High" if entry.kind is EventKind.ALARM else "Informational",
        "status_id": 1 if ok else 2,
        "status": "Success" if ok else "Failure",
        "metadata": _metadata(record),
    }
    if entry.reason:
        event["message"] = entry.reason
    if entry.kind in (EventKind.LOGIN, EventKind.MFA):
        event.update(_authentication(record))
    elif entry.kind is EventKind.DECISION:
        event.update(_decision(record))
    else:
        event.update(
            {
                "category_uid": 0,
                "class_uid": BASE_EVENT,
                "class_name": "Base Event",
                "activity_id": 99,
                "activity_name": entry.kind.value,
            }
        )
        if entry.principal:
            event["actor"] = {"user": {"name": entry.principal}}
    event["type_uid"] = event["class_uid"] * 100 + event["activity_id"]
    unmapped = _unmapped(record)
    if unmapped:
        event["unmapped"] = unmapped
    return event


def _metadata(record: AuditRecord) -> dict[str, Any]:
    entry = record.entry
    meta: dict[str, Any] = {
        "version": OCSF_VERSION,
        "product": {"name": "Zerogate", "vendor_name": "Zerogate", "version": __version__},
        "log_name": "audit",
        "sequence": record.seq,
        "uid": entry.decision_id or f"seq-{record.seq}",
    }
    if entry.trace_id:
        meta["correlation_uid"] = entry.trace_id
    if entry.kind is EventKind.DECISION:
        meta["profiles"] = ["security_control"]
    return meta


def _authentication(record: AuditRecord) -> dict[str, Any]:
    entry = record.entry
    event: dict[str, Any] = {
        "category_uid": 3,
        "class_uid": AUTHENTICATION,
        "class_name": "Authentication",
        "activity_id": 1,
        "activity_name": "Logon",
        "user": {"name": entry.principal or "unknown"},
        "service": {"name": entry.resource or "zerogate"},
        "is_mfa": entry.kind is EventKind.MFA,
    }
    if entry.reason:
        event["status_detail"] = entry.reason
    if ip := entry.attrs.get("ip"):
        event["src_endpoint"] = {"ip": ip}
    return event


def _decision(record: AuditRecord) -> dict[str, Any]:
    entry = record.entry
    activity = _HTTP_ACTIVITY.get(entry.action.upper(), 99)
    allowed = entry.decision is Outcome.ALLOW
    event: dict[str, Any] = {
        "category_uid": 6,
        "class_uid": WEB_RESOURCES_ACTIVITY,
        "class_name": "Web Resources Activity",
        "activity_id": activity,
        "activity_name": _ACTIVITY_NAMES[activity],
        "web_resources": [{"name": entry.resource or "unknown"}],
        "action_id": 1 if allowed else 2,
        "action": "Allowed" if allowed else "Denied",
        "disposition_id": 1 if allowed else 2,
        "disposition": "Allowed" if allowed else "Blocked",
    }
    if entry.principal:
        event["actor"] = {"user": {"name": entry.principal}}
    if entry.action.upper() in _HTTP_ACTIVITY:
        event["http_request"] = {"http_method": entry.action.upper()}
    if entry.policies or entry.policy_revision:
        policy: dict[str, Any] = {"name": ", ".join(entry.policies) or "default deny"}
        if entry.policy_revision:
            policy["uid"] = entry.policy_revision
        event["policy"] = policy
    if ip := entry.attrs.get("ip"):
        event["src_endpoint"] = {"ip": ip}
    return event


def _unmapped(record: AuditRecord) -> dict[str, Any]:
    entry = record.entry
    out: dict[str, Any] = {
        "zerogate_kind": entry.kind.value,
        "zerogate_decision": entry.decision.value,
    }
    if entry.posture_age_s is not None:
        out["posture_age_s"] = entry.posture_age_s
    if entry.latency_us is not None:
        out["latency_us"] = entry.latency_us
    if entry.policy_revision and entry.kind is not EventKind.DECISION:
        out["policy_revision"] = entry.policy_revision
    if entry.action and entry.kind is not EventKind.DECISION:
        out["action"] = entry.action
    if entry.policies and entry.kind is not EventKind.DECISION:
        out["policies"] = list(entry.policies)
    ip_mapped = entry.kind in (EventKind.LOGIN, EventKind.MFA, EventKind.DECISION)
    attrs = {k: v for k, v in entry.attrs.items() if k != "ip" or not ip_mapped}
    if attrs:
        out["attrs"] = attrs
    return out
