"""Masking rules and the secret guard: what never reaches the audit log (OBS-03, ASVS 16.2.5).

Masks are configured by field name (`principal`, `reason`, `attrs.ip`): a redacted field keeps
only `[masked]`; a hashed field keeps `sha256:` and 32 hex digits of its SHA-256, which still
lets entries about the same value be correlated (a pseudonym, not secrecy: a low-entropy value
such as an IP address can be guessed back). After masking, the guard refuses any entry whose
fields still look like a credential: a JWT/JWS/JWE, a bearer credential, a PEM private key, an
opaque session token (a run of 40+ base64url characters mixing upper and lower case, like
`secrets.token_urlsafe(32)`), or a base32 TOTP seed. Log a token's `jti` or a hash instead.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from zerogate.audit._entry import AuditEntry
from zerogate.audit._errors import AuditError

REDACTED = "[masked]"
MASKABLE = ("action", "decision_id", "principal", "policy_revision", "reason", "resource")

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.")
_BEARER = re.compile(r"(?i)\b(?:bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")
_PEM_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
_OPAQUE = re.compile(r"[A-Za-z0-9_-]{40,}")
_BASE32 = re.compile(r"[A-Z2-7]{32,}={0,6}")
_SHORTEST = len("Basic ") + 8  # no pattern above matches fewer characters


def secret_kind(value: str) -> str | None:
    """What credential `value` looks like, or None if it looks like none.

    Cheap substring and length tests guard each pattern: this runs on every field of every
    entry, and most fields are too short to hold any credential at all.
    """
    if len(value) < _SHORTEST:
        return None
    if "eyJ" in value and _JWT.search(value):
        return "a JWT"
    lowered = value.lower()
    if ("bearer" in lowered or "basic" in lowered) and _BEARER.search(value):
        return "an Authorization credential"
    if "-----BEGIN" in value and _PEM_KEY.search(value):
        return "a private key"
    if len(value) < 32 or lowered == value:  # both need upper-case letters
        return None
    for run in _OPAQUE.findall(value):
        if _mixed(run):
            return "an opaque token"
    for run in _BASE32.findall(value):
        if any(c.isdigit() for c in run) and any(c.isalpha() for c in run):
            return "a base32 secret (TOTP seed)"
    return None


def _mixed(run: str) -> bool:
    # Both cases: random base64url has them (a 43-character token lacks one with odds ~1e-10);
    # hex digests, UUIDs and trace ids never do.
    return any(c.isupper() for c in run) and any(c.islower() for c in run)


@dataclass(frozen=True, slots=True)
class Masks:
    """Which fields to redact and which to hash before an entry is stored."""

    redact: frozenset[str] = frozenset()
    hash: frozenset[str] = frozenset()

    @classmethod
    def of(cls, *, redact: Iterable[str] = (), hash: Iterable[str] = ()) -> Masks:
        made = cls(frozenset(redact), frozenset(hash))
        bad = [name for name in made.redact | made.hash if not is_maskable(name)]
        if bad:
            raise AuditError(
                f"cannot mask {', '.join(sorted(bad))}: mask one of {', '.join(MASKABLE)} or attrs.NAME",
                code="audit_mask_invalid",
                status=400,
            )
        return made

    def apply(self, entry: AuditEntry) -> AuditEntry:
        if not self.redact and not self.hash:
            return entry
        changes: dict[str, object] = {}
        for name in MASKABLE:
            value = getattr(entry, name)
            if value and (masked := self._mask(name, value)) is not None:
                changes[name] = masked
        attrs = {k: self._mask(f"attrs.{k}", v) or v for k, v in entry.attrs.items()}
        if attrs != dict(entry.attrs):
            changes["attrs"] = attrs
        return replace(entry, **changes) if changes else entry  # type: ignore[arg-type]

    def _mask(self, name: str, value: str) -> str | None:
        if name in self.redact:
            return REDACTED
        if name in self.hash:
            return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:32]
        return None


def is_maskable(name: str) -> bool:
    return name in MASKABLE or (name.startswith("attrs.") and len(name) > len("attrs."))


def refuse_secrets(entry: AuditEntry) -> None:
    """Raise AuditError(`audit_secret_refused`) if any field looks like a credential (OBS-03).

    The message names the field, never the value: the value is what must not be written down.
    """
    for name, value in _texts(entry):
        kind = secret_kind(value)
        if kind is not None:
            raise AuditError(
                f"audit entry field {name} holds what looks like {kind}; "
                "record a hash or the token's jti instead",
                code="audit_secret_refused",
                loc=name,
                status=400,
            )


def _texts(entry: AuditEntry) -> Iterable[tuple[str, str]]:
    for name in MASKABLE:  # trace_id is not here: it can only be 32 hex digits (checked)
        yield name, getattr(entry, name)
    for index, policy in enumerate(entry.policies):
        yield f"policies[{index}]", policy
    attrs: Mapping[str, str] = entry.attrs
    for key, value in attrs.items():
        yield f"attrs.{key}", key
        yield f"attrs.{key}", value
