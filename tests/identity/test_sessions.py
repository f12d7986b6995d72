"""Login sessions against real SQLite and PostgreSQL stores: timeouts, revocation, cookies."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import Connection, select

from zerogate.errors import InvalidInput, NotFound
from zerogate.identity import (
    SESSION_COOKIE_NAME,
    Directory,
    IdentityChange,
    SessionFailure,
    SessionInvalid,
    Sessions,
    SessionsRevoked,
    User,
    clear_session_cookie,
    parse_session_cookie,
    session_cookie,
)
from zerogate.store import Store, sessions

from ._support import IP, T0, later, make_directory, run

UA = "Mozilla/5.0 (test)"


class SessionRecorder:
    """Keeps what it saw (asserting it runs inside the transaction) and can be told to fail."""

    def __init__(self, *, fail: bool = False) -> None:
        self.changes: list[SessionsRevoked] = []
        self.fail = fail

    def __call__(self, conn: Connection, change: SessionsRevoked, /) -> None:
        assert conn.in_transaction()
        if self.fail:
            raise RuntimeError("recorder refused")
        self.changes.append(change)


def _user(directory: Directory, name: str = "ada") -> User:
    return run(directory.add_user(name, f"{name}@example.com", now=T0))


def _login(s: Sessions, user: User, *, at: float = 0) -> str:
    new = run(s.create(user, amr=["pwd"], auth_time=later(at), ip=IP, user_agent=UA, now=later(at)))
    return new.token


def _rows(store: Store) -> list[dict[str, object]]:
    with store.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(sessions))]


def _reason(s: Sessions, token: str, at: float) -> SessionFailure:
    with pytest.raises(SessionInvalid) as caught:
        run(s.resolve(token, now=later(at)))
    assert caught.value.code == "session_invalid"
    assert caught.value.message == SessionInvalid.MESSAGE
    assert caught.value.as_dict() == {"code": "session_invalid", "message": SessionInvalid.MESSAGE}
    return caught.value.reason


def test_sessions_create_then_resolve(store: Store) -> None:
    ada = _user(make_directory(store))
    s = Sessions(store)
    new = run(s.create(ada, amr=["pwd"], auth_time=T0, ip=IP, user_agent=UA, now=T0))
    assert new.token not in repr(new)
    assert len(new.token) == 43
    active = run(s.resolve(new.token, now=later(10)))
    assert active == new.session
    assert (active.user_id, active.username, active.amr, active.mfa_at) == (
        ada.id,
        "ada",
        ("pwd",),
        None,
    )
    assert active.id == hashlib.sha256(new.token.encode()).hexdigest()
    assert active.absolute_expires_at == T0 + timedelta(hours=12)
    assert active.expires_at == T0 + timedelta(minutes=30)
    assert active.auth_age_s(later(90)) == 90
    assert active.mfa_age_s(later(90)) is None


def test_sessions_store_only_the_hash_of_the_token(store: Store) -> None:
    s = Sessions(store)
    token = _login(s, _user(make_directory(store)))
    [row] = _rows(store)
    assert row["id_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert all(token not in str(value) for value in row.values())


def test_sessions_idle_timeout(store: Store) -> None:
    s = Sessions(store, idle_timeout_s=600, absolute_timeout_s=3600)
    token = _login(s, _user(make_directory(store)))
    run(s.resolve(token, now=later(599)))  # touches last_seen: the idle clock restarts
    run(s.resolve(token, now=later(1198)))
    assert _reason(s, token, 1198 + 600) is SessionFailure.IDLE_TIMEOUT


def test_sessions_absolute_timeout_despite_activity(store: Store) -> None:
    s = Sessions(store, idle_timeout_s=600, absolute_timeout_s=1000)
    token = _login(s, _user(make_directory(store)))
    for at in (300, 600, 900):
        run(s.resolve(token, now=later(at)))
    assert _reason(s, token, 1000) is SessionFailure.ABSOLUTE_TIMEOUT


def test_sessions_touch_last_seen_at_most_once_a_minute(store: Store) -> None:
    s = Sessions(store)
    token = _login(s, _user(make_directory(store)))
    run(s.resolve(token, now=later(30)))
    assert _rows(store)[0]["last_seen_at"] == T0  # within a minute: no write
    run(s.resolve(token, now=later(61)))
    assert _rows(store)[0]["last_seen_at"] == later(61)
    run(s.resolve(token, now=later(100)))
    assert _rows(store)[0]["last_seen_at"] == later(61)


def test_sessions_unknown_revoked_expired_malformed_look_the_same(store: Store) -> None:
    s = Sessions(store, idle_timeout_s=600, absolute_timeout_s=3600)
    ada = _user(make_directory(store))
    revoked, expired = _login(s, ada), _login(s, ada)
    run(s.revoke(revoked, reason="logout", now=later(1)))
    assert _reason(s, revoked, 2) is SessionFailure.REVOKED
    assert _reason(s, expired, 601) is SessionFailure.IDLE_TIMEOUT
    assert _reason(s, "A" * 43, 2) is SessionFailure.UNKNOWN
    assert _reason(s, "not a token", 2) is SessionFailure.MALFORMED


def test_sessions_of_a_disabled_or_locked_user_do_not_resolve(store: Store) -> None:
    directory = make_directory(store)
    s = Sessions(store)
    token = _login(s, _user(directory))
    run(directory.disable_user("ada", now=later(1)))
    assert _reason(s, token, 2) is SessionFailure.USER_DISABLED
    with pytest.raises(SessionInvalid):
        run(
            s.create(
                run(directory.get_user("ada")),
                amr=["pwd"],
                auth_time=T0,
                ip=IP,
                user_agent=UA,
                now=later(3),
            )
        )


def test_sessions_revoke_on_change_in_the_disabling_transaction(store: Store) -> None:
    s = Sessions(store)
    seen: list[IdentityChange] = []

    def record(conn: Connection, change: IdentityChange, /) -> None:
        seen.append(change)
        s.revoke_on_change(conn, change)

    directory = make_directory(store, on_change=record)
    ada = _user(directory)
    token = _login(s, ada)
    run(directory.disable_user("ada", now=later(5)))
    run(directory.enable_user("ada", now=later(6)))
    assert _reason(s, token, 7) is SessionFailure.REVOKED  # re-enabling does not revive it
    assert _rows(store)[0]["revoked_reason"] == "user_disabled"
    run(directory.delete_user("ada", now=later(8)))
    assert _reason(s, token, 9) is SessionFailure.UNKNOWN  # rows go with the user (FK cascade)


def test_sessions_step_up_records_mfa_and_rotates_the_token(store: Store) -> None:
    """ASVS 7.2.4: re-authentication gives a new token; the one seen before no longer works."""
    recorder = SessionRecorder()
    s = Sessions(store, on_change=recorder)
    token = _login(s, _user(make_directory(store)))
    before = run(s.resolve(token, now=later(60)))
    stepped = run(s.step_up(token, amr=["otp", "pwd"], now=later(120)))
    active = stepped.session
    assert stepped.token != token
    assert active.id != before.id
    assert active.amr == ("pwd", "otp")
    assert active.mfa_at == later(120)
    assert active.mfa_age_s(later(150)) == 30
    assert active.auth_age_s(later(150)) == 150  # step-up does not reset the first sign-in
    assert active.absolute_expires_at == before.absolute_expires_at  # nor extend the session
    assert run(s.resolve(stepped.token, now=later(121))).amr == ("pwd", "otp")
    assert _reason(s, token, 122) is SessionFailure.REVOKED
    assert [c.session_ids for c in recorder.changes] == [(before.id,)]
    with pytest.raises(InvalidInput):
        run(s.step_up(stepped.token, amr=["OTP!"], now=later(130)))


def test_sessions_list_and_revoke_one_and_all(store: Store) -> None:
    recorder = SessionRecorder()
    s = Sessions(store, on_change=recorder)
    directory = make_directory(store)
    ada, bob = _user(directory), _user(directory, "bob")
    first, second, third = _login(s, ada), _login(s, ada, at=1), _login(s, ada, at=2)
    bobs = _login(s, bob)
    assert [a.created_at for a in run(s.list_for("ada@example.com", now=later(3)))] == [
        later(2),
        later(1),
        T0,
    ]
    one = run(s.revoke(run(s.resolve(first, now=later(3))).id[:12], reason="admin", now=later(4)))
    assert (one.entity_type, one.entity_id, one.user_id, one.kind) == (
        "User",
        "ada",
        ada.id,
        "sessions_revoked",
    )
    assert recorder.changes == [one]
    with pytest.raises(NotFound):
        run(s.revoke(first, reason="logout", now=later(5)))
    every = run(s.revoke_all("ada", reason="compromised", now=later(6)))
    assert len(every.session_ids) == 2
    assert recorder.changes == [one, every]
    for token in (first, second, third):
        assert _reason(s, token, 7) is SessionFailure.REVOKED
    assert run(s.list_for("ada", now=later(7))) == []
    run(s.resolve(bobs, now=later(7)))


def test_sessions_revocation_rolls_back_when_the_recorder_fails(store: Store) -> None:
    s = Sessions(store, on_change=SessionRecorder(fail=True))
    ada = _user(make_directory(store))
    token = _login(s, ada)
    with pytest.raises(RuntimeError):
        run(s.revoke(token, reason="logout", now=later(1)))
    with pytest.raises(RuntimeError):
        run(s.revoke_all("ada", reason="admin", now=later(1)))
    run(s.resolve(token, now=later(2)))
    assert _rows(store)[0]["revoked_at"] is None


@pytest.mark.parametrize(
    ("idle", "absolute"),
    [(0, 60), (-1, 60), (61, 60), (60, 0), (60, 31 * 24 * 3600), (float("nan"), 60)],
)
def test_sessions_reject_bad_timeouts(store: Store, idle: float, absolute: float) -> None:
    with pytest.raises(InvalidInput) as caught:
        Sessions(store, idle_timeout_s=idle, absolute_timeout_s=absolute)
    assert caught.value.code == "session_timeout_invalid"


# Cookies: pure functions, no store.

TOKEN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123-_x"


def test_session_cookie_has_exactly_the_asvs_attributes() -> None:
    value = session_cookie(TOKEN, max_age=3600)
    name_value, *attributes = value.split("; ")
    assert name_value == f"__Host-zerogate_session={TOKEN}"
    assert sorted(attributes) == sorted(
        ["Path=/", "Max-Age=3600", "Secure", "HttpOnly", "SameSite=Lax"]
    )
    assert "domain" not in value.lower()
    assert clear_session_cookie().startswith(f"{SESSION_COOKIE_NAME}=; Path=/; Max-Age=0; Secure")
    for bad_token in ("", "a b", TOKEN + "x", "é" * 43):
        with pytest.raises(InvalidInput):
            session_cookie(bad_token, max_age=60)
    with pytest.raises(InvalidInput):
        session_cookie(TOKEN, max_age=0)


def test_parse_session_cookie_is_strict() -> None:
    assert parse_session_cookie(f"theme=dark; {SESSION_COOKIE_NAME}={TOKEN}; x=1") == TOKEN
    assert parse_session_cookie(f"{SESSION_COOKIE_NAME}={TOKEN}") == TOKEN
    padded = f"pad={'a' * 8200}; {SESSION_COOKIE_NAME}={TOKEN}"
    for header in (
        None,
        "",
        padded,
        f"zerogate_session={TOKEN}",
        f"{SESSION_COOKIE_NAME}={TOKEN}; {SESSION_COOKIE_NAME}={TOKEN}",
        f"{SESSION_COOKIE_NAME}={TOKEN[:-1]}",
        f"{SESSION_COOKIE_NAME}={TOKEN}=",
        f'{SESSION_COOKIE_NAME}="{TOKEN}"',
        f"{SESSION_COOKIE_NAME}={TOKEN[:-1]}%",
    ):
        assert parse_session_cookie(header) is None, header
