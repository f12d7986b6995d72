"""The half-signed-in state between a correct password and the second factor: a signed cookie.

After the password step the browser gets `__Host-zerogate_pending`, an HMAC-signed record of who
passed the password check, when, where to go next, and when it expires (5 minutes). It is
single-purpose (its key and its `p` field are for this step only), never trusted unsigned, and
cleared when the sign-in completes. The second factor is still checked against the store, so a
copied cookie alone signs nobody in; the per-user MFA throttle bounds guessing with it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson

from zerogate._types import UserID
from zerogate.idp._redirects import safe_next
from zerogate.idp._signing import b64decode, b64encode, mac, mac_matches

PENDING_COOKIE_NAME = "__Host-zerogate_pending"
_VERSION = "v1"
_PURPOSE = "mfa"
_MAX_COOKIE_CHARS = 4096


@dataclass(frozen=True, slots=True)
class PendingLogin:
    """A password check that passed; the sign-in finishes when a second factor does too."""

    user_id: UserID
    password_at: datetime
    next: str
    nonce: str  # random, names this pending login (CSRF tokens of the MFA form are bound to it)
    expires_at: datetime


class PendingLogins:
    """Issues and reads pending-login cookies signed with a key kept for this purpose only."""

    def __init__(self, key: bytes, *, ttl_s: int) -> None:
        self._key = key
        self._ttl = timedelta(seconds=ttl_s)

    def issue(self, user_id: UserID, *, next_path: str, now: datetime) -> tuple[PendingLogin, str]:
        """A new pending login and its `Set-Cookie` value."""
        pending = PendingLogin(
            user_id=user_id,
            password_at=now,
            next=safe_next(next_path),
            nonce=secrets.token_urlsafe(16),
            expires_at=now + self._ttl,
        )
        payload = {
            "p": _PURPOSE,
            "u": pending.user_id,
            "a": int(now.timestamp()),
            "x": int(pending.expires_at.timestamp()),
            "n": pending.nonce,
            "r": pending.next,
        }
        body = f"{_VERSION}.{b64encode(orjson.dumps(payload))}"
        value = f"{body}.{mac(self._key, body.encode())}"
        max_age = int(self._ttl.total_seconds())
        return pending, _cookie(value, max_age)

    def read(self, value: str | None, *, now: datetime) -> PendingLogin | None:
        """The pending login in a cookie value, or None if absent, forged, stale or malformed."""
        if not value or len(value) > _MAX_COOKIE_CHARS:
            return None
        body, _, signature = value.rpartition(".")
        if not body.startswith(f"{_VERSION}.") or not mac_matches(
            self._key, body.encode(), signature
        ):
            return None
        raw = b64decode(body.removeprefix(f"{_VERSION}."))
        try:
            data = orjson.loads(raw or b"")
            if data["p"] != _PURPOSE:
                return None
            pending = PendingLogin(
                user_id=UserID(str(data["u"])),
                password_at=datetime.fromtimestamp(int(data["a"]), UTC),
                next=safe_next(str(data["r"])),
                nonce=str(data["n"]),
                expires_at=datetime.fromtimestamp(int(data["x"]), UTC),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, OverflowError):
            return None
        # Expired, or issued "in the future" (a clock step back): either way, not usable now.
        if not pending.password_at <= now < pending.expires_at:
            return None
        return pending

    @staticmethod
    def clear() -> str:
        """The `Set-Cookie` value that deletes the pending-login cookie."""
        return _cookie("", 0)


def _cookie(value: str, max_age: int) -> str:
    # SameSite=Strict: the pending step is only ever reached from our own password form.
    return (
        f"{PENDING_COOKIE_NAME}={value}; Path=/; Max-Age={max_age}; Secure; HttpOnly; "
        "SameSite=Strict"
    )


__all__ = ["PENDING_COOKIE_NAME", "PendingLogin", "PendingLogins"]
