"""What one audit entry says, and its canonical bytes (the Merkle leaf).

An `AuditEntry` is what a caller records; the log stamps it with a sequence number and a UTC time
into an `AuditRecord`, whose canonical JSON (sorted keys, no spaces, UTF-8) is the leaf input.
Empty fields are left out of the bytes so an entry costs only what it says. Fields follow
standards.md OBS-01 and issue 5: who, what, on which resource, the outcome, why, under which
policy revision, how fresh the device posture was, and how long the decision took.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import orjson

from zerogate.audit._errors import AuditError

MAX_ENTRY_BYTES = 64 * 1024
MAX_FIELD_CHARS = 4096
MAX_ATTRS = 64
_TRACE_ID = re.compile(r"[0-9a-f]{32}")  # W3C Trace Context trace-id
_ATTR_KEY = re.compile(r"[a-z][a-z0-9_.]{0,63}")


class EventKind(StrEnum):
    """What happened (OBS-02): a PDP decision or a security event."""

    DECISION = "decision"
    LOGIN = "login"
    MFA = "mfa"
    TOKEN = "token"  # noqa: S105 - an event kind: issuance, refresh, exchange
    REVOCATION = "revocation"
    POLICY_ACTIVATION = "policy_activation"
    ADMIN = "admin"
    ALARM = "alarm"  # e.g. a failed log verification


class Outcome(StrEnum):
    """How it ended: the decision of the PDP, or the result of a security event."""

    ALLOW = "allow"
    DENY = "deny"
    STEP_UP = "step_up"
    SUCCESS = "success"
    FAILURE = "failure"


_EMPTY: Mapping[str, str] = MappingProxyType({})


def _no_attrs() -> Mapping[str, str]:
    return _EMPTY


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One thing to record. Never put a secret or a full token here: the log refuses them."""

    kind: EventKind
    decision: Outcome
    decision_id: str = ""
    trace_id: str = ""  # W3C trace id, 32 lowercase hex: the same id as the request's trace
    principal: str = ""  # `User::"alice"`, a SPIFFE ID, an admin's name
    resource: str = ""
    action: str = ""
    policies: tuple[str, ...] = ()  # the determining policies
    reason: str = ""  # the explanation summary ("why denied")
    policy_revision: str = ""  # the active bundle hash
    posture_age_s: float | None = None  # how old the device posture report was
    latency_us: int | None = None  # how long the decision took
    attrs: Mapping[str, str] = field(default_factory=_no_attrs)  # client_id, ip, factor, ...

    def __post_init__(self) -> None:
        # Normalise what callers may pass loosely (a str kind, a list, a dict), cheaply.
        if type(self.kind) is not EventKind:
            object.__setattr__(self, "kind", EventKind(self.kind))
        if type(self.decision) is not Outcome:
            object.__setattr__(self, "decision", Outcome(self.decision))
        if type(self.policies) is not tuple:
            object.__setattr__(self, "policies", tuple(self.policies))
        frozen = MappingProxyType(dict(self.attrs)) if self.attrs else _EMPTY
        object.__setattr__(self, "attrs", frozen)

    def fields(self) -> dict[str, Any]:
        """The entry as a JSON-ready dict, empty fields left out."""
        out: dict[str, Any] = {"kind": self.kind.value, "decision": self.decision.value}
        for name in _TEXT_FIELDS:
            value = getattr(self, name)
            if value:
                out[name] = value
        if self.policies:
            out["policies"] = list(self.policies)
        if self.posture_age_s is not None:
            out["posture_age_s"] = self.posture_age_s
        if self.latency_us is not None:
            out["latency_us"] = self.latency_us
        if self.attrs:
            out["attrs"] = dict(self.attrs)
        return out

    def problems(self) -> list[tuple[str, str]]:
        """Shape errors as (field, message); the log refuses an entry that has any."""
        found: list[tuple[str, str]] = []
        if self.trace_id and (not _TRACE_ID.fullmatch(self.trace_id) or not int(self.trace_id, 16)):
            found.append(("trace_id", "a W3C trace id: 32 lowercase hex digits, not all zero"))
        for name in _TEXT_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, str) or len(value) > MAX_FIELD_CHARS:
                found.append((name, f"text of at most {MAX_FIELD_CHARS} characters"))
        if len(self.policies) > MAX_ATTRS or not all(isinstance(p, str) for p in self.policies):
            found.append(("policies", f"at most {MAX_ATTRS} policy ids"))
        if self.posture_age_s is not None and not 0 <= self.posture_age_s < 1e12:
            found.append(("posture_age_s", "a non-negative number of seconds"))
        if self.latency_us is not None and not 0 <= self.latency_us < 1 << 53:
            found.append(("latency_us", "a non-negative integer"))
        if len(self.attrs) > MAX_ATTRS:
            found.append(("attrs", f"at most {MAX_ATTRS} attributes"))
        for key, value in self.attrs.items():
            if not _ATTR_KEY.fullmatch(key):
                found.append((f"attrs.{key}", "keys are lowercase letters, digits, '_' or '.'"))
            elif not isinstance(value, str) or len(value) > MAX_FIELD_CHARS:
                found.append((f"attrs.{key}", f"text of at most {MAX_FIELD_CHARS} characters"))
        return found


_TEXT_FIELDS = (
    "decision_id",
    "trace_id",
    "principal",
    "resource",
    "action",
    "reason",
    "policy_revision",
)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """An entry as stored: its place in the log (`seq`, from 0) and when it was appended (UTC)."""

    seq: int
    time: datetime
    entry: AuditEntry

    def to_bytes(self) -> bytes:
        """The canonical bytes: the Merkle leaf input (LOG-01) and what the segment stores."""
        doc = self.entry.fields()
        doc["seq"] = self.seq
        doc["time"] = format_time(self.time)
        return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)

    def as_dict(self) -> dict[str, Any]:
        doc = self.entry.fields()
        doc["seq"] = self.seq
        doc["time"] = format_time(self.time)
        return doc

    @classmethod
    def from_bytes(cls, data: bytes) -> AuditRecord:
        """Parse stored bytes back; raises AuditError(`audit_entry_invalid`) if not an entry."""
        try:
            doc = orjson.loads(data)
            seq = doc.pop("seq")
            when = parse_time(doc.pop("time"))
            attrs = doc.pop("attrs", {})
            policies = tuple(doc.pop("policies", ()))
            entry = AuditEntry(**doc, policies=policies, attrs=attrs)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise AuditError(
                f"not an audit entry: {exc}", code="audit_entry_invalid", status=422
            ) from exc
        if not isinstance(seq, int) or isinstance(seq, bool):
            raise AuditError("seq is not an integer", code="audit_entry_invalid", status=422)
        return cls(seq, when, entry)


def format_time(when: datetime) -> str:
    """RFC 3339 UTC with microseconds: sorts as text in time order."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: object) -> datetime:
    if not isinstance(text, str) or not text.endswith("Z"):
        raise ValueError("time is RFC 3339 UTC ending in Z")
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
