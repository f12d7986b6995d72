"""Revocation to deny, measured through the gateway: how long after a session is revoked in the
store does Envoy stop letting its cookie through?

A fresh session is used until the check serves it from its session cache, then revoked with
`Sessions.revoke` (which publishes `entity.changed` in the same transaction, as the admin API
does). The clock starts before the revoke call and stops at the first 401 (or, with local
decisions, the first 307 that drops the listed decision token), probing every `poll_s` on one
keep-alive connection like a browser that keeps the cookies it is given.
"""

from __future__ import annotations

import asyncio
import http.client
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from _common import percentile
from _gateway_fleet import HOST, new_session
from _servers import BrokenSetup
from zerogate.identity import SESSION_COOKIE_NAME, Sessions, User
from zerogate.tokens import DECISION_COOKIE_PREFIX

LIMIT_S = 5.0  # a revocation not enforced by then is a failure, not a sample


class _Browser:
    """Keeps the decision-token cookie a gateway with local decisions hands out, as a browser
    would: sent back on the next requests, dropped when a 307 deletes it."""

    def __init__(self, cookie: str) -> None:
        self.cookie = cookie
        self.token: str | None = None

    def send(self, conn: http.client.HTTPConnection) -> int:
        cookie = self.cookie if self.token is None else f"{self.cookie}; {self.token}"
        conn.request("GET", "/", headers={"Host": HOST, "Cookie": cookie})
        answer = conn.getresponse()
        answer.read()
        for value in answer.headers.get_all("set-cookie") or ():
            pair = value.split(";", 1)[0]
            if pair.startswith(DECISION_COOKIE_PREFIX):
                self.token = None if "Max-Age=0" in value else pair
        return answer.status


def _probe(conn: http.client.HTTPConnection, browser: _Browser) -> int:
    return browser.send(conn)


def _use_for(
    conn: http.client.HTTPConnection, cookie: _Browser, seconds: float, poll_s: float
) -> None:
    """Use the session (at least 3 requests, then until `seconds` have passed): all must be 200."""
    end, count = time.perf_counter() + seconds, 0
    while count < 3 or time.perf_counter() < end:
        status = _probe(conn, cookie)
        if status != 200:
            raise BrokenSetup(f"revocation probe: a live session got {status}")
        count += 1
        time.sleep(poll_s)


def _until_denied(
    conn: http.client.HTTPConnection, cookie: _Browser, *, t0: float, poll_s: float
) -> float:
    while True:
        status = _probe(conn, cookie)
        if status in (401, 307):  # 307: Envoy refused a listed decision token (local decisions)
            return time.perf_counter() - t0
        if status != 200:
            raise BrokenSetup(f"revocation probe: expected 200, 307 or 401, got {status}")
        if time.perf_counter() - t0 > LIMIT_S:
            raise BrokenSetup(f"revocation not enforced within {LIMIT_S:g} s")
        time.sleep(poll_s)


async def revocation_to_deny(
    sessions: Sessions,
    user: User,
    port: int,
    *,
    repeats: int,
    use_s: Callable[[], float],
    poll_s: float,
) -> dict[str, Any]:
    """`repeats` sessions revoked while in use through the gateway on `port`: seconds to a 401.

    `use_s()` says how long each session is used before its revocation (after 3 requests).
    """
    samples: list[float] = []
    writes: list[float] = []
    for _ in range(repeats):
        token = await new_session(sessions, user)
        cookie = _Browser(f"{SESSION_COOKIE_NAME}={token}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            await asyncio.to_thread(_use_for, conn, cookie, use_s(), poll_s)
            t0 = time.perf_counter()
            await sessions.revoke(token, reason="bench", now=datetime.now(UTC))
            writes.append(time.perf_counter() - t0)
            samples.append(
                await asyncio.to_thread(_until_denied, conn, cookie, t0=t0, poll_s=poll_s)
            )
        finally:
            conn.close()
    ordered = sorted(int(s * 1e6) for s in samples)
    return {
        "n": len(samples),
        "p50_ms": round(percentile(ordered, 50) / 1000, 1),
        "p99_ms": round(percentile(ordered, 99) / 1000, 1),
        "max_ms": round(ordered[-1] / 1000, 1),
        "revoke_call_ms_median": round(statistics.median(writes) * 1000, 1),
        "samples_ms": [round(s * 1000, 1) for s in samples],
    }
