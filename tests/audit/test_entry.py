"""Audit entries: canonical bytes, round trips, masking, and the secret guard (OBS-01, OBS-03)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.audit._support import entry
from zerogate.audit import (
    AuditEntry,
    AuditError,
    AuditRecord,
    EventKind,
    Masks,
    Outcome,
    secret_kind,
)
from zerogate.audit._log import _check

WHEN = datetime(2026, 1, 5, 10, 0, 0, 123456, tzinfo=UTC)


def test_entry_canonical_bytes_are_sorted_compact_json_without_empty_fields() -> None:
    record = AuditRecord(7, WHEN, AuditEntry(EventKind.LOGIN, Outcome.SUCCESS, principal="alice"))
    assert record.to_bytes() == (
        b'{"decision":"success","kind":"login","principal":"alice",'
        b'"seq":7,"time":"2026-01-05T10:00:00.123456Z"}'
    )


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@given(
    n=st.integers(0, 10**6),
    reason=_text,
    principal=_text,
    kind=st.sampled_from(EventKind),
    decision=st.sampled_from(Outcome),
    attrs=st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True), _text, max_size=4),
)
def test_entry_bytes_round_trip(
    n: int, reason: str, principal: str, kind: EventKind, decision: Outcome, attrs: dict[str, str]
) -> None:
    made = entry(n, reason=reason, principal=principal, kind=kind, decision=decision, attrs=attrs)
    record = AuditRecord(n, WHEN, made)
    again = AuditRecord.from_bytes(record.to_bytes())
    assert again == record
    assert again.to_bytes() == record.to_bytes()


def test_entry_shape_problems_are_refused() -> None:
    with pytest.raises(AuditError) as bad:
        _check(entry(trace_id="not-a-trace", latency_us=-1, attrs={"Bad Key": "x"}))
    assert bad.value.code == "audit_entry_invalid"
    assert {d.loc for d in bad.value.details} == {"trace_id", "latency_us", "attrs.Bad Key"}
    with pytest.raises(AuditError):
        _check(entry(trace_id="0" * 32))  # the all-zero trace id is invalid (W3C)
    with pytest.raises(ValueError, match="verdict"):
        AuditEntry(EventKind.DECISION, "verdict")  # type: ignore[arg-type]


JWT = (
    "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6MTcwMDAwMDAwMH0."
    "c2lnbmF0dXJlLWJ5dGVzLWdvLWhlcmU"
)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (JWT, "a JWT"),
        (f"cookie was {JWT}", "a JWT"),
        ("Bearer abcdefgh12345678", "an Authorization credential"),
        ("-----BEGIN PRIVATE KEY-----", "a private key"),
        ("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "a base32 secret (TOTP seed)"),
    ],
)
def test_entry_secret_guard_recognises_credentials(value: str, kind: str) -> None:
    assert secret_kind(value) == kind


def test_entry_secret_guard_recognises_session_tokens() -> None:
    """Our session tokens are `secrets.token_urlsafe(32)`: 43 mixed base64url characters."""
    tokens = [secrets.token_urlsafe(32) for _ in range(200)]
    caught = [t for t in tokens if secret_kind(t) == "an opaque token"]
    # A 43-character token without both letter cases: odds of about 1e-10.
    assert len(caught) == len(tokens)


@pytest.mark.parametrize(
    "value",
    [
        "sha256:" + "0123456789abcdef" * 4,  # bundle hashes
        "0af7651916cd43dd8448eb211c80319c",  # trace ids
        "usr_" + "9f" * 16,  # uuid-based ids
        'User::"alice@example.com"',
        "spiffe://example.org/ns/prod/sa/payments",
        "no matching permit for GET /admin",
        "AKIA is not a secret by itself",
    ],
)
def test_entry_secret_guard_lets_ordinary_values_through(value: str) -> None:
    assert secret_kind(value) is None


@pytest.mark.parametrize(
    "overrides",
    [
        {"reason": f"token {JWT} rejected"},
        {"principal": secrets.token_urlsafe(32)},
        {"attrs": {"cookie": secrets.token_urlsafe(32)}},
        {"policies": (JWT,)},
        {"attrs": {"authorization": "Bearer abcdefgh12345678"}},
    ],
)
def test_entry_with_a_secret_is_refused_without_echoing_it(overrides: dict[str, object]) -> None:
    """OBS-03: never store a full token; the error names the field, not the value."""
    with pytest.raises(AuditError) as refused:
        _check(entry(**overrides))  # type: ignore[arg-type]
    assert refused.value.code == "audit_secret_refused"
    text = orjson.dumps(refused.value.as_dict()).decode()
    assert "eyJ" not in text
    assert "Bearer" not in text
    assert str(overrides) not in text


def test_entry_masks_redact_and_hash_fields() -> None:
    masks = Masks.of(redact=["reason", "attrs.ip"], hash=["principal"])
    masked = masks.apply(entry(1))
    assert masked.reason == "[masked]"
    assert masked.attrs["ip"] == "[masked]"
    assert masked.attrs["n"] == "1"
    assert masked.principal.startswith("sha256:")
    assert len(masked.principal) == 7 + 32
    assert masks.apply(entry(1)).principal == masked.principal  # stable: entries correlate
    assert masked.resource == entry(1).resource
    with pytest.raises(AuditError) as bad:
        Masks.of(redact=["kind"])
    assert bad.value.code == "audit_mask_invalid"


def test_entry_a_masked_secret_is_stored_masked() -> None:
    masked = Masks.of(redact=["attrs.cookie"]).apply(
        entry(attrs={"cookie": secrets.token_urlsafe(32)})
    )
    _check(masked)
    assert masked.attrs["cookie"] == "[masked]"
