"""Routes through the gateway, as configured: `[routes.NAME]` tables (docs/gateway.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

from zerogate.config._secret import Secret
from zerogate.config._upstreams import Problem

_FAIL_MODES = ("closed", "stale")
WEBHOOK_SECRET_MIN_CHARS = 32  # an HMAC-SHA256 key: 32 random characters or more (RFC 2104 §3)
MAX_WEBHOOK_TOLERANCE_S = 3600
MAX_STALE_S = 300.0  # the check service's own bound (zerogate.gateway.check.RouteSettings)
_HEADER_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


class FailMode(StrEnum):
    CLOSED = "closed"  # PDP or store unavailable: deny (the default)
    STALE = "stale"  # reuse the last allow for up to `stale_max_s`, then deny


@dataclass(frozen=True, slots=True)
class RouteSettings:
    """One application behind the gateway."""

    # Where requests come in: `https://app.example.com/`, `http://wiki.localhost:8080/docs`, or
    # a host and optional path without a scheme. `*.example.com` matches any one subdomain.
    from_: str = field(default="", metadata={"key": "from"})
    to: str = ""  # the upstream: `http://127.0.0.1:3000`
    policy: str = ""  # the Cedar `Route` id policies name; empty: the route's name
    allow_public: bool = False  # no identity needed at all (explicit, never a default)
    websockets: bool = False
    timeout_s: float = 30.0
    fail_mode: str = FailMode.CLOSED.value
    stale_max_s: float = 60.0  # with fail_mode = "stale": how old a reused allow may be
    mfa_max_age_s: int = 0  # > 0: a second factor at most this old, else step up
    pass_headers: tuple[str, ...] = ()  # request headers (besides the standard ones) to pass on
    # Set: a webhook route (docs/gateway.md "Webhook routes"). Requests carry an HMAC signature
    # instead of a sign-in; several secrets, comma-separated, all verify (for rotation).
    webhook_secret: Secret = Secret("")  # noqa: RUF009 - an immutable str, safe to share
    webhook_tolerance_s: int = 300  # how far the signed timestamp may be from our clock
    webhook_signature_header: str = "zerogate-signature"
    webhook_timestamp_header: str = "zerogate-timestamp"

    @property
    def webhook_secrets(self) -> tuple[str, ...]:
        """The webhook secrets, current first; empty for a route that is not a webhook route."""
        return tuple(part.strip() for part in self.webhook_secret.split(",") if part.strip())

    def problems(self) -> list[Problem]:
        found: list[Problem] = []
        host, path = split_from(self.from_)
        if not host:
            found.append(("from", "a host (and optional path): https://app.example.com/path"))
        elif not path.startswith("/"):
            found.append(("from", "the path must start with /"))
        to = urlsplit(self.to) if self.to else None
        if to is None or to.scheme not in ("http", "https") or not to.hostname:
            found.append(("to", "an http(s) URL of the upstream: http://127.0.0.1:3000"))
        elif to.path not in ("", "/") or to.query or to.fragment:
            found.append(("to", "only scheme, host and port (paths are passed through)"))
        if self.policy and (len(self.policy) > 128 or any(c in self.policy for c in '"\\')):
            found.append(("policy", "a Cedar Route id of at most 128 characters, no quotes"))
        if not 0 < self.timeout_s <= 3600:
            found.append(("timeout_s", "between 0 and 3600 seconds"))
        if self.fail_mode not in _FAIL_MODES:
            found.append(("fail_mode", f"one of: {', '.join(_FAIL_MODES)}"))
        elif self.fail_mode == FailMode.STALE and not 0 < self.stale_max_s <= MAX_STALE_S:
            msg = f"with fail_mode = stale: between 0 and {MAX_STALE_S:g} seconds"
            found.append(("stale_max_s", msg))
        if self.mfa_max_age_s < 0:
            found.append(("mfa_max_age_s", "0 (no requirement) or more"))
        if self.allow_public and self.mfa_max_age_s:
            found.append(("mfa_max_age_s", "a public route has no identity to step up"))
        for i, name in enumerate(self.pass_headers):
            if not name or not all(c.isalnum() or c == "-" for c in name):
                found.append((f"pass_headers[{i}]", "an HTTP header name"))
        if self.webhook_secret.strip():
            found += self._webhook_problems()
        return found

    def _webhook_problems(self) -> list[Problem]:
        # Messages never quote a secret: they reach logs and the CLI.
        found: list[Problem] = []
        secrets = self.webhook_secret.split(",")
        if any(len(s.strip()) < WEBHOOK_SECRET_MIN_CHARS for s in secrets):
            msg = f"each secret (comma-separated) at least {WEBHOOK_SECRET_MIN_CHARS} characters"
            found.append(("webhook_secret", msg))
        if self.allow_public:
            found.append(("allow_public", "a webhook route is checked: it cannot be public"))
        if self.mfa_max_age_s:
            found.append(("mfa_max_age_s", "a webhook route has no user to step up"))
        if not 1 <= self.webhook_tolerance_s <= MAX_WEBHOOK_TOLERANCE_S:
            msg = f"between 1 and {MAX_WEBHOOK_TOLERANCE_S} seconds"
            found.append(("webhook_tolerance_s", msg))
        names = (
            ("webhook_signature_header", self.webhook_signature_header),
            ("webhook_timestamp_header", self.webhook_timestamp_header),
        )
        for key, name in names:
            if not _HEADER_NAME.fullmatch(name):
                found.append((key, "a lower-case HTTP header name"))
            elif name.startswith("x-zerogate-"):
                # The gateway removes every inbound x-zerogate-* header: it would never arrive.
                found.append((key, "x-zerogate-* headers are removed from every request"))
        if self.webhook_signature_header == self.webhook_timestamp_header:
            found.append(("webhook_timestamp_header", "must differ from the signature header"))
        return found


def split_from(value: str) -> tuple[str, str]:
    """`from` as (host with optional port, path prefix); ("", "") if there is no host."""
    text = value.strip()
    if "://" in text:
        scheme, _, text = text.partition("://")
        if scheme not in ("http", "https"):
            return "", ""
    host, slash, rest = text.partition("/")
    if not host or any(c.isspace() for c in host) or "@" in host:
        return "", ""
    return host.lower(), slash + rest if slash else "/"
