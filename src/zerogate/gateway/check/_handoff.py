"""Signing in on hosts other than the sign-in host: a one-time hand-off, then a per-host cookie.

The IdP's session cookie is host-only (`__Host-`), so an app at `https://wiki.example.com` never
sees it. A browser without a session there is sent to the IdP's `/handoff?to=<its URL>`; once
signed in, the IdP sends it back to `https://wiki.example.com/.zerogate/handoff?code=…&to=/path`.
Envoy asks the check service about that request like any other; the check redeems the code
(MAC-sealed by the IdP, one minute, bound to this origin, single use) and answers with a 302
to `to` that sets `__Host-zerogate_gw` on this host: a sealed reference to the IdP session (never
its token), checked against the live session on every request, so signing out or revoking the
session at the IdP ends access on every host at once.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from datetime import datetime
from threading import Lock
from urllib.parse import parse_qs

from zerogate._types import DecisionID
from zerogate.gateway.check._model import CheckRequest, CheckResult, Verdict
from zerogate.tokens import TokenError, open_mac, seal_mac

HANDOFF_PATH = "/.zerogate/handoff"  # on every gateway host; the IdP's code arrives here
HANDOFF_PURPOSE = "zerogate.gateway.handoff"  # the IdP seals codes for this purpose
HOST_COOKIE = "__Host-zerogate_gw"
_HOST_PURPOSE = "zerogate.gateway.host-session"
_USED_KEEP = 256_000  # codes remembered (a minute's worth at a high sign-in rate)


class HostSessions:
    """Redeems hand-off codes and reads the per-host cookie they become."""

    def __init__(self, key: bytes, *, cookie_lifetime_s: int = 12 * 3600) -> None:
        if len(key) < 32:
            raise ValueError("the hand-off key must be at least 32 bytes")
        self._key = key
        self._lifetime = cookie_lifetime_s
        self._used: OrderedDict[str, int] = OrderedDict()
        self._lock = Lock()

    def redeem(self, req: CheckRequest, *, decision_id: DecisionID, now: datetime) -> CheckResult:
        """The answer to `GET /.zerogate/handoff`: a 302 that sets the host cookie, or a 403."""
        query = {k: v[0] for k, v in parse_qs(req.query).items() if len(v) == 1}
        code, to = query.get("code", ""), query.get("to", "/")
        try:
            payload = open_mac(code, key=self._key, purpose=HANDOFF_PURPOSE, now=now)
        except TokenError:
            return _refused(decision_id, "handoff_invalid")
        origin = f"{req.proto}://{req.host}".lower()
        sid, nonce = payload.get("sid"), payload.get("n")
        if payload.get("o") != origin or not isinstance(sid, str) or not isinstance(nonce, str):
            return _refused(decision_id, "handoff_invalid")
        if not self._first_use(nonce, int(payload["exp"]), now):
            return _refused(decision_id, "handoff_replayed")
        cookie = seal_mac(
            {"sid": sid, "h": req.host.lower(), "exp": int(now.timestamp()) + self._lifetime},
            key=self._key,
            purpose=_HOST_PURPOSE,
        )
        target = to if to.startswith("/") and not to.startswith("//") and "\\" not in to else "/"
        headers = (
            ("location", target),
            ("set-cookie", f"{HOST_COOKIE}={cookie}; Path=/; Secure; HttpOnly; SameSite=Lax"),
            ("cache-control", "no-store"),
            ("x-zerogate-decision-id", decision_id),
        )
        return CheckResult(302, headers, b"", decision_id, Verdict.UNAUTHENTICATED, "handoff")

    def session_id(self, cookie: str | None, *, host: str, now: datetime) -> str | None:
        """The IdP session a valid host cookie names (for this host only), else None."""
        value = _cookie(cookie, HOST_COOKIE)
        if value is None:
            return None
        try:
            payload = open_mac(value, key=self._key, purpose=_HOST_PURPOSE, now=now)
        except TokenError:
            return None
        sid = payload.get("sid")
        if payload.get("h") != host.lower() or not isinstance(sid, str):
            return None  # a cookie copied from another host
        return sid

    def _first_use(self, nonce: str, exp: int, now: datetime) -> bool:
        with self._lock:
            cutoff = int(now.timestamp())
            while self._used and next(iter(self._used.values())) < cutoff:
                self._used.popitem(last=False)
            if nonce in self._used:
                return False
            self._used[nonce] = exp
            while len(self._used) > _USED_KEEP:
                self._used.popitem(last=False)
            return True


def new_handoff_code(*, key: bytes, session_id: str, origin: str, now: datetime) -> str:
    """What the IdP hands out (here so both sides share one definition of the code)."""
    payload = {
        "sid": session_id,
        "o": origin.lower(),
        "n": secrets.token_urlsafe(12),
        "exp": int(now.timestamp()) + 60,
    }
    return seal_mac(payload, key=key, purpose=HANDOFF_PURPOSE)


def _cookie(header: str | None, name: str) -> str | None:
    if header is None or len(header) > 8192:
        return None
    found = [v for n, _, v in (p.strip().partition("=") for p in header.split(";")) if n == name]
    return found[0] if len(found) == 1 else None


def _refused(decision_id: DecisionID, reason: str) -> CheckResult:
    body = b"This sign-in link is not valid any more. Go back and try again."
    headers = (
        ("content-type", "text/plain; charset=utf-8"),
        ("cache-control", "no-store"),
        ("x-zerogate-decision-id", decision_id),
    )
    return CheckResult(403, headers, body, decision_id, Verdict.DENY, reason)
