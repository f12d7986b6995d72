"""The check service's own values: what a proxy asks (`CheckRequest`), what it gets back, the record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from zerogate._types import BundleHash, DecisionID, PolicyID
from zerogate.errors import ConfigError, ErrorDetail

# The longest a route may serve an earlier allow while the PDP or the store is down.
MAX_STALE_S = 300.0


class Verdict(StrEnum):
    """What the check concluded; one per `CheckResult`, stable for audit and metrics."""

    ALLOW = "allow"
    DENY = "deny"  # the PDP (or a gateway rule such as an unknown method) said no
    UNAUTHENTICATED = "unauthenticated"  # no credentials, or ones we refuse
    STEP_UP = "step_up"  # authenticated, but the route wants a fresher or stronger sign-in
    BAD_REQUEST = "bad_request"  # a malformed or oversized request from the proxy
    ERROR = "error"  # something failed while checking: fail closed


@dataclass(frozen=True, slots=True)
class CheckRequest:
    """One request a proxy asks about, as the edge translated it (STYLE 13).

    `path` is the original path as sent (percent-encoded, starting with "/") and `query` the raw
    query string without "?". `route` is the Cedar `Route` id the proxy matched; `client_ip` is
    the client's address as the proxy saw it. Header values are passed through unparsed; `defect`
    names what made the request ambiguous at the edge (a repeated header), and the check refuses it.
    `body` is the request body when the proxy sends one (Envoy, on webhook routes; None: this
    face never gets bodies) and `extra_headers` the headers webhook routes are signed with.
    """

    method: str
    host: str
    path: str
    query: str
    route: str | None
    client_ip: str | None
    proto: str
    cookie: str | None = None
    authorization: str | None = None
    accept: str | None = None
    request_id: str | None = None
    traceparent: str | None = None
    defect: str | None = None  # set by the edge when it could not translate faithfully: refused
    body: bytes | None = None
    extra_headers: tuple[tuple[str, str], ...] = ()  # (lower-case name, value)
    # The SPIFFE ID of the client certificate Envoy verified (mutual TLS), if any.
    peer_spiffe_id: str | None = None

    def header(self, name: str) -> str | None:
        """One of `extra_headers` by its lower-case name."""
        return next((v for k, v in self.extra_headers if k == name), None)

    @property
    def url(self) -> str:
        """The original URL, for sending the browser back after signing in."""
        base = f"{self.proto}://{self.host}{self.path}"
        return f"{base}?{self.query}" if self.query else base

    @property
    def wants_html(self) -> bool:
        """A browser navigation: GET or HEAD that accepts HTML. Others are API calls."""
        return self.method in ("GET", "HEAD") and "text/html" in (self.accept or "")


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The answer for the proxy: 200 with `headers` for the upstream, or a response for the client."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    decision_id: DecisionID
    verdict: Verdict
    reason: str  # a stable snake_case code: `allowed`, `no_permit`, `session_invalid`, ...

    @property
    def allowed(self) -> bool:
        return self.verdict is Verdict.ALLOW

    @classmethod
    def allow(cls, headers: tuple[tuple[str, str], ...], decision_id: DecisionID) -> CheckResult:
        return cls(200, headers, b"", decision_id, Verdict.ALLOW, "allowed")

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers if k == wanted), None)


@dataclass(frozen=True, slots=True)
class CheckRecord:
    """What one check decided, for the audit log and metrics (never a token or cookie).

    `principal` is the Cedar principal (`User::"alice"`) once authenticated; `session_id` is the
    session's SHA-256 id (safe to log); `latency_s` covers the whole check, PDP included.
    `traceparent` is the check span's own when tracing is on (its trace id is Envoy's, or a new
    one), else the request's as received (docs/telemetry.md "Tracing").
    """

    decision_id: DecisionID
    verdict: Verdict
    reason: str
    status: int
    route: str | None
    action: str
    principal: str | None
    session_id: str | None
    client_ip: str | None
    request_id: str | None
    traceparent: str | None
    policy_ids: tuple[PolicyID, ...]
    bundle_hash: BundleHash | None
    cached: bool
    latency_s: float
    error: str | None = None  # the exception class when the check failed closed
    stale: bool = False  # allowed from an earlier decision while the PDP or store failed
    explanation: str | None = None  # the PDP's "why denied" summary, for a policy's deny


DecisionRecorder = Callable[[CheckRecord], None]


@dataclass(frozen=True, slots=True)
class RouteSettings:
    """Gateway-side requirements of one route, beside what its policies say.

    `mfa_max_age_s`: the session's last second factor must be at most this old, or the user is
    sent to step up (a browser to the second-factor page, an API client a 401 per RFC 9470).
    `stale_max_s`: None fails closed when the PDP or the store fails (the default); a number
    opts the route into reusing an earlier allow at most that old (docs/check.md "Fail modes").
    """

    mfa_max_age_s: int | None = None
    stale_max_s: float | None = None

    def __post_init__(self) -> None:
        bound = self.stale_max_s
        if bound is not None and not 0 < bound <= MAX_STALE_S:
            msg = f"None (fail closed) or between 0 and {MAX_STALE_S:g} seconds"
            raise ConfigError(
                "invalid route settings",
                details=[ErrorDetail("config_invalid", "stale_max_s", msg)],
            )


__all__ = [
    "MAX_STALE_S",
    "CheckRecord",
    "CheckRequest",
    "CheckResult",
    "DecisionRecorder",
    "RouteSettings",
    "Verdict",
]
