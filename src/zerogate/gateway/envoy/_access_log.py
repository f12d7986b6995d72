"""The fast path's access log: what Envoy decided by itself, for the audit log.

A GET let through on a decision token never reaches the check, so the check cannot record it.
Envoy writes one JSON line for each such request (and only those: the filter matches the
verified token's metadata that jwt_authn leaves), naming the decision it reused (`did`), the
session, the user and the policy epoch from the token's verified claims — never the token,
the cookie or the query string. `FastPathLine.parse` reads a line back; `zerogate.app` follows
the file and rotates it through Envoy's admin `/reopen_logs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from zerogate.gateway.envoy._local_decisions import JWT_FILTER, PAYLOAD_METADATA

_FILE_LOG = "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog"
_CLAIM = f"%DYNAMIC_METADATA({JWT_FILTER}:{PAYLOAD_METADATA}:{{}})%"
_MAX_FIELD = 512  # what a line may carry per field; Envoy truncates nothing by itself

# Envoy's command operators; every value is a string ("-" when absent), parsed by `parse`.
_FORMAT = {
    "time": "%START_TIME(%Y-%m-%dT%H:%M:%S.%6fZ)%",
    "route": "%ROUTE_NAME%",
    "method": "%REQ(:METHOD)%",
    "status": "%RESPONSE_CODE%",
    "flags": "%RESPONSE_FLAGS%",
    "ip": "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%",
    "request_id": "%REQ(X-REQUEST-ID)%",
    "traceparent": "%REQ(TRACEPARENT)%",
    "duration_ms": "%DURATION%",
    "did": _CLAIM.format("did"),
    "sid": _CLAIM.format("sid"),
    "user": _CLAIM.format("preferred_username"),
    "epoch": _CLAIM.format("pe"),
    "aud": _CLAIM.format("aud"),
}


def fast_path_access_log(path: str) -> dict[str, Any]:
    """The HCM `access_log` entry: JSON lines to `path`, for token-decided requests only."""
    return {
        "name": "envoy.access_loggers.file",
        "filter": {
            "metadata_filter": {
                "matcher": {
                    "filter": JWT_FILTER,
                    "path": [{"key": PAYLOAD_METADATA}],
                    "value": {"present_match": True},
                },
                "match_if_key_not_found": False,
            }
        },
        "typed_config": {
            "@type": _FILE_LOG,
            "path": path,
            "log_format": {"json_format": _FORMAT, "omit_empty_values": False},
        },
    }


@dataclass(frozen=True, slots=True)
class FastPathLine:
    """One request Envoy answered on a decision token (`status` 307: the token was on the deny
    list, so the browser was sent to ask the check again)."""

    time: str
    route: str  # Envoy's route name (`NAME.get`)
    method: str
    status: int
    ip: str
    request_id: str
    traceparent: str
    duration_ms: int | None
    decision_id: str  # the check's decision the token was minted on
    session_id: str
    user: str
    epoch: str  # the policy bundle (hash prefix) the decision was made under
    audience: str

    @property
    def revoked(self) -> bool:
        return self.status == 307

    @classmethod
    def parse(cls, line: bytes) -> FastPathLine | None:
        """The line's fields, or None for a line that is not one of ours (skipped, not fatal)."""
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(doc, dict):
            return None

        def text(key: str) -> str:
            value = doc.get(key)
            if value is None or value == "-":
                return ""
            return str(value)[:_MAX_FIELD]

        try:
            status = int(text("status") or 0)
        except ValueError:
            return None
        duration = text("duration_ms")
        return cls(
            time=text("time"),
            route=text("route"),
            method=text("method"),
            status=status,
            ip=text("ip"),
            request_id=text("request_id"),
            traceparent=text("traceparent"),
            duration_ms=int(duration) if duration.isdigit() else None,
            decision_id=text("did"),
            session_id=text("sid"),
            user=text("user"),
            epoch=text("epoch"),
            audience=text("aud"),
        )
