"""Webhook routes: HMAC-signed requests with a timestamp window and a replay cache, no sign-in.

A sender signs `f"{timestamp}.{METHOD}.{path_and_query}.".encode() + body` with HMAC-SHA256 and
sends `<signature header>: v1=<hex>` (several `v1=` values, comma-separated, while secrets
rotate) and `<timestamp header>: <unix seconds>`. The timestamp bounds how long a captured
request could be replayed; the replay cache refuses it inside that window (docs/gateway.md).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import orjson

from zerogate._types import DecisionID
from zerogate.clock import Clock
from zerogate.errors import ConfigError, ErrorDetail, ZerogateError
from zerogate.gateway.check._model import CheckRequest, CheckResult, Verdict
from zerogate.gateway.check._responses import DECISION_ID_HEADER

WEBHOOK_HEADER = "x-zerogate-webhook"  # `verified`, for the upstream, on every allowed webhook
MAX_WEBHOOK_BODY_BYTES = 1 << 20  # what Envoy buffers for the check; larger bodies get 413
MIN_SECRET_CHARS = 32
MAX_SIGNATURES = 8  # `v1=` values in one header: two during a rotation; bound the HMAC work
_MAX_SIGNATURE_CHARS = 1024
_SIGNATURE = re.compile(r"v1=([0-9a-fA-F]{64})")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class WebhookRejected(ZerogateError):
    """A webhook request we refuse; `reason` is for the audit log, the sender sees one error."""

    code = "webhook_rejected"
    status = 401

    def __init__(self, reason: str, *, status: int = 401) -> None:
        super().__init__("the webhook signature could not be verified", status=status)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class VerifiedWebhook:
    """A webhook request whose signature, timestamp and freshness all checked out."""

    timestamp: int
    secret_index: int  # which configured secret verified it: 0 is the current one
    replay_key: bytes = field(repr=False)  # what the replay cache now holds for it


class ReplayCache:
    """Messages already accepted, kept until their timestamp could no longer verify.

    Keyed by the message's HMAC under its route's current secret (never a raw signature: a
    sender signing with two secrets must not get two chances). Bounded: past `max_entries` the
    oldest entry goes first, so size it above the peak webhook rate times the keep time. The
    cache lives in this process; with several check replicas it fronts the shared one in the
    store (`WebhookVerifier(shared=...)`), which catches a replay sent to another replica.
    """

    def __init__(self, *, clock: Clock, max_entries: int = 100_000) -> None:
        if max_entries < 1:
            raise ConfigError(
                "invalid replay cache settings",
                details=[ErrorDetail("config_invalid", "max_entries", "1 or more")],
            )
        self._clock = clock
        self._max = max_entries
        self._expiry: OrderedDict[bytes, float] = OrderedDict()
        self.evicted = 0  # entries dropped before they expired: a replay could then pass

    def seen(self, key: bytes, *, keep_s: float) -> bool:
        """True if `key` is held and unexpired; otherwise hold it for `keep_s` and say False."""
        now = self._clock.monotonic()
        expires = self._expiry.get(key)
        if expires is not None and expires > now:
            return True
        self._expiry[key] = now + keep_s
        self._expiry.move_to_end(key)
        while self._expiry:
            oldest, until = next(iter(self._expiry.items()))
            if until > now and len(self._expiry) <= self._max:
                break
            del self._expiry[oldest]
            if until > now:
                self.evicted += 1
        return False

    def forget(self, key: bytes) -> None:
        """Let `key` through once more: its request was accepted but could not be served."""
        self._expiry.pop(key, None)

    def __len__(self) -> int:
        return len(self._expiry)


class SharedReplays(Protocol):
    """Replay records every check replica sees (`StoreReplayCache.route(...)`)."""

    async def claim(self, digest: bytes, *, keep_s: float) -> bool: ...

    def release(self, digest: bytes) -> None: ...


class WebhookVerifier:
    """Verifies one webhook route's requests: signature, timestamp window, then replays.

    `secrets` are tried in order (the current one first); any of them verifies, so a sender can
    move to a new secret before the old one is removed. Header names are lower-case.
    """

    def __init__(
        self,
        secrets: Sequence[str],
        *,
        tolerance_s: int,
        signature_header: str,
        timestamp_header: str,
        clock: Clock,
        replay_cache: ReplayCache,
        shared: SharedReplays | None = None,
    ) -> None:
        problems = []
        if not secrets or any(len(s) < MIN_SECRET_CHARS for s in secrets):
            msg = f"one or more secrets of at least {MIN_SECRET_CHARS} characters"
            problems.append(ErrorDetail("config_invalid", "secrets", msg))
        if not 1 <= tolerance_s <= 3600:
            problems.append(ErrorDetail("config_invalid", "tolerance_s", "between 1 and 3600"))
        if not signature_header or signature_header == timestamp_header:
            msg = "two different header names"
            problems.append(ErrorDetail("config_invalid", "signature_header", msg))
        if problems:
            raise ConfigError("invalid webhook settings", details=problems)
        self._keys = tuple(s.encode("utf-8") for s in secrets)
        self.tolerance_s = tolerance_s
        self.signature_header = signature_header.lower()
        self.timestamp_header = timestamp_header.lower()
        self._clock = clock
        self._replays = replay_cache
        self._shared = shared

    def __repr__(self) -> str:  # never the secrets
        return f"WebhookVerifier(secrets=<{len(self._keys)}>, tolerance_s={self.tolerance_s})"

    def verify(self, req: CheckRequest) -> VerifiedWebhook:
        """Check `req` or raise `WebhookRejected` with a stable reason (docs/check.md)."""
        if req.body is None:  # a face that does not forward bodies (forward auth): cannot tell
            raise WebhookRejected("webhook_body_unavailable", status=503)
        if len(req.body) > MAX_WEBHOOK_BODY_BYTES:
            raise WebhookRejected("request_body_too_large", status=413)
        signatures = _signatures(req.header(self.signature_header))
        timestamp = _timestamp(req.header(self.timestamp_header))
        now = int(self._clock.now().timestamp())
        if abs(now - timestamp) > self.tolerance_s:
            raise WebhookRejected("webhook_timestamp_out_of_window")
        target = f"{req.path}?{req.query}" if req.query else req.path
        signed = f"{timestamp}.{req.method}.{target}.".encode("latin-1")
        expected = [_mac(key, signed, req.body) for key in self._keys]
        index = _matching(expected, signatures)
        if index is None:
            raise WebhookRejected("webhook_signature_invalid")
        # Only a verified message enters the cache, so only real traffic can fill it. A message
        # older than the window is refused above, so 2x the tolerance covers any timestamp.
        if self._replays.seen(expected[0], keep_s=2.0 * self.tolerance_s):
            raise WebhookRejected("webhook_replayed")
        return VerifiedWebhook(timestamp=timestamp, secret_index=index, replay_key=expected[0])

    async def check(self, req: CheckRequest) -> VerifiedWebhook:
        """`verify`, then claim the message in the `shared` replay cache if there is one, so a
        replay sent to another check replica is refused too. Raises `WebhookRejected`."""
        verified = self.verify(req)  # a replay this process accepted ends here, without I/O
        if self._shared is None:
            return verified
        try:
            fresh = await self._shared.claim(verified.replay_key, keep_s=2.0 * self.tolerance_s)
        except Exception as exc:  # the store is down: we cannot tell a replay, so refuse
            self._replays.forget(verified.replay_key)
            raise WebhookRejected("webhook_replay_check_unavailable", status=503) from exc
        if not fresh:
            raise WebhookRejected("webhook_replayed")
        return verified

    def forget(self, verified: VerifiedWebhook) -> None:
        """Undo the replay record of a verified request that was refused after all (audit down),
        so the sender's retry of the same signed request is not taken for a replay."""
        self._replays.forget(verified.replay_key)
        if self._shared is not None:
            self._shared.release(verified.replay_key)


def _signatures(value: str | None) -> tuple[bytes, ...]:
    if value is None or not value.strip():
        raise WebhookRejected("webhook_signature_missing")
    if len(value) > _MAX_SIGNATURE_CHARS:
        raise WebhookRejected("webhook_signature_invalid")
    found = []
    for part in value.split(","):
        match = _SIGNATURE.fullmatch(part.strip())
        if match is not None:  # other schemes (`v0=`, a future `v2=`) are not ours to check
            found.append(bytes.fromhex(match.group(1)))
    if not found or len(found) > MAX_SIGNATURES:
        raise WebhookRejected("webhook_signature_invalid")
    return tuple(found)


def _timestamp(value: str | None) -> int:
    if value is None or _TIMESTAMP.fullmatch(value.strip()) is None:
        raise WebhookRejected("webhook_timestamp_invalid")
    return int(value)


def _mac(key: bytes, signed: bytes, body: bytes) -> bytes:
    mac = hmac.new(key, signed, hashlib.sha256)
    mac.update(body)
    return mac.digest()


def _matching(expected: Sequence[bytes], presented: Sequence[bytes]) -> int | None:
    for index, digest in enumerate(expected):
        # Constant-time per comparison: the timing says nothing about how much of a guess matched.
        if any(hmac.compare_digest(digest, sig) for sig in presented):
            return index
    return None


def allowed(decision_id: DecisionID) -> CheckResult:
    """200: the upstream gets `x-zerogate-webhook: verified` and the decision id, no user."""
    headers = ((WEBHOOK_HEADER, "verified"), (DECISION_ID_HEADER, decision_id))
    return CheckResult(200, headers, b"", decision_id, Verdict.ALLOW, "webhook_verified")


_VERDICTS = {401: Verdict.UNAUTHENTICATED, 413: Verdict.BAD_REQUEST, 503: Verdict.ERROR}
_MESSAGES = {
    401: "The webhook signature could not be verified.",
    413: "The request body is too large.",
    503: "The webhook could not be checked, so it was not accepted.",
}


def refused(req: CheckRequest, rejected: WebhookRejected, decision_id: DecisionID) -> CheckResult:
    """The same opaque answer for every signature problem (STYLE 9); the reason is recorded."""
    status = rejected.status
    error = {401: "invalid_signature", 413: "request_too_large"}.get(status, "unavailable")
    body = {"error": error, "error_description": _MESSAGES[status], "decision_id": decision_id}
    headers = (
        ("content-type", "application/json"),
        ("cache-control", "no-store"),
        (DECISION_ID_HEADER, decision_id),
    )
    payload = b"" if req.method == "HEAD" else orjson.dumps(body)
    verdict = _VERDICTS[status]
    return CheckResult(status, headers, payload, decision_id, verdict, rejected.reason)


__all__ = [
    "MAX_WEBHOOK_BODY_BYTES",
    "WEBHOOK_HEADER",
    "ReplayCache",
    "SharedReplays",
    "VerifiedWebhook",
    "WebhookRejected",
    "WebhookVerifier",
    "allowed",
    "refused",
]
