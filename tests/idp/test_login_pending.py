"""The signed pending-login value: unforgeable, single-purpose and short-lived."""

from __future__ import annotations

import base64
from datetime import timedelta

from tests.idp._support import SECRET, T0
from zerogate._types import UserID
from zerogate.idp._pending import PendingLogins
from zerogate.idp._signing import derive_key

KEY = derive_key(SECRET, "pending-login")


def _value(cookie: str) -> str:
    return cookie.split(";")[0].split("=", 1)[1]


def test_pending_login_round_trips_until_it_expires() -> None:
    pending = PendingLogins(KEY, ttl_s=300)
    issued, cookie = pending.issue(UserID("usr_1"), next_path="/apps", now=T0)
    assert "Max-Age=300" in cookie
    assert "SameSite=Strict" in cookie
    assert "HttpOnly" in cookie
    read = pending.read(_value(cookie), now=T0 + timedelta(seconds=299))
    assert read is not None
    assert (read.user_id, read.next, read.nonce) == (issued.user_id, "/apps", issued.nonce)
    assert pending.read(_value(cookie), now=T0 + timedelta(seconds=300)) is None
    assert pending.read(_value(cookie), now=T0 - timedelta(seconds=5)) is None


def test_pending_login_refuses_values_signed_with_another_key() -> None:
    _, cookie = PendingLogins(derive_key(SECRET, "csrf"), ttl_s=300).issue(
        UserID("usr_1"), next_path="/", now=T0
    )
    assert PendingLogins(KEY, ttl_s=300).read(_value(cookie), now=T0) is None


def test_pending_login_refuses_a_changed_user() -> None:
    pending = PendingLogins(KEY, ttl_s=300)
    _, cookie = pending.issue(UserID("usr_1"), next_path="/", now=T0)
    version, payload, mac = _value(cookie).split(".")
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    forged = base64.urlsafe_b64encode(raw.replace(b"usr_1", b"usr_2")).rstrip(b"=").decode()
    assert pending.read(f"{version}.{forged}.{mac}", now=T0) is None


def test_pending_login_refuses_garbage() -> None:
    pending = PendingLogins(KEY, ttl_s=300)
    for value in (None, "", "v1", "v1..", "v2.abc.def", "x" * 5000, "v1.!!!.???"):
        assert pending.read(value, now=T0) is None
