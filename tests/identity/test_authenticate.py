"""Password sign-in on real SQLite and PostgreSQL: reasons, non-enumeration, lockout, throttling."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import delete as sql_delete
from sqlalchemy import update

from zerogate.errors import InvalidInput
from zerogate.identity import AuthenticationFailed, Directory, FailureReason, LoginLimits
from zerogate.identity._throttle import SlidingWindow, ip_key
from zerogate.store import Store, users

from ._support import GOOD_PASSWORD, IP, T0, CountingHasher, later, make_directory, run

WRONG = "not the right password"


async def _fail(
    d: Directory, who: str, password: str = WRONG, **kw: object
) -> AuthenticationFailed:
    options: dict[str, object] = {"ip": IP, "now": T0, **kw}
    with pytest.raises(AuthenticationFailed) as info:
        await d.authenticate(who, password, **options)  # type: ignore[arg-type]
    return info.value


async def _seed(d: Directory) -> None:
    await d.add_user("alice", "alice@example.com", password=GOOD_PASSWORD, now=T0)
    await d.add_user("nopass", "nopass@example.com", now=T0)
    await d.add_user("dis", "dis@example.com", password=GOOD_PASSWORD, now=T0)
    await d.disable_user("dis", now=T0)


def test_authenticate_by_username_or_email(store: Store) -> None:
    async def scenario() -> None:
        d = make_directory(store)
        await _seed(d)
        for who in ("alice", "ALICE", "alice@example.com", "Alice@Example.COM"):
            verified = await d.authenticate(who, GOOD_PASSWORD, ip=IP, now=later(5))
            assert verified.user.username == "alice"
            assert verified.authenticated_at == later(5)
            assert verified.amr == ("pwd",)
            assert not verified.rehashed

    run(scenario())


def test_every_failure_is_the_same_opaque_error_with_a_private_reason(store: Store) -> None:
    async def scenario() -> None:
        hasher = CountingHasher()
        d = make_directory(store, hasher=hasher, limits=LoginLimits(max_failures=1))
        await _seed(d)
        await d.add_user("locky", "locky@example.com", password=GOOD_PASSWORD, now=T0)
        await _fail(d, "locky")  # max_failures=1: locked from now on
        alice = await d.get_user("alice")
        cases = {
            FailureReason.UNKNOWN_USER: ("ghost", WRONG),
            FailureReason.BAD_PASSWORD: ("alice", WRONG),
            FailureReason.NO_PASSWORD: ("nopass", WRONG),
            FailureReason.DISABLED: ("dis", GOOD_PASSWORD),
            FailureReason.LOCKED: ("locky", GOOD_PASSWORD),
        }
        seen = []
        for reason, (who, password) in cases.items():
            hasher.verifications = 0
            error = await _fail(d, who, password)
            assert error.reason == reason
            # Timing equalisation: one argon2 verification whatever the reason.
            assert hasher.verifications == 1, reason
            seen.append(error)
        assert {e.code for e in seen} == {"authentication_failed"}
        assert {e.status for e in seen} == {401}
        assert len({str(e) for e in seen}) == 1
        assert len({repr(e.as_dict()) for e in seen}) == 1
        for error in seen:
            assert error.reason not in str(error)
            assert error.reason not in repr(error.as_dict())
        assert seen[0].user_id is None
        assert seen[1].user_id == alice.id

    run(scenario())


def test_disabled_user_with_the_right_password_is_rejected_and_not_counted(store: Store) -> None:
    async def scenario() -> None:
        d = make_directory(store)
        await _seed(d)
        for _ in range(7):
            assert (await _fail(d, "dis", GOOD_PASSWORD)).reason == FailureReason.DISABLED
        user = await d.get_user("dis")
        assert (user.failed_logins, user.locked_until) == (0, None)
        await d.enable_user("dis", now=later(1))
        await d.authenticate("dis", GOOD_PASSWORD, ip=IP, now=later(1))

    run(scenario())


def test_lockout_after_consecutive_failures_and_unlock_after_the_period(store: Store) -> None:
    async def scenario() -> None:
        d = make_directory(store)  # defaults: 5 failures -> 15 minutes
        await _seed(d)
        for i in range(4):
            assert (await _fail(d, "alice", now=later(i))).reason == FailureReason.BAD_PASSWORD
        assert (await d.get_user("alice")).failed_logins == 4
        await _fail(d, "alice", now=later(4))  # the fifth locks
        user = await d.get_user("alice")
        assert user.locked_until == later(4) + timedelta(minutes=15)
        assert user.locked(now=later(5))
        locked = await _fail(d, "alice", GOOD_PASSWORD, now=later(5))
        assert locked.reason == FailureReason.LOCKED
        just_before = later(4) + timedelta(minutes=15) - timedelta(seconds=1)
        assert (await _fail(d, "alice", GOOD_PASSWORD, now=just_before)).reason == "locked"
        after = later(4) + timedelta(minutes=15)
        verified = await d.authenticate("alice", GOOD_PASSWORD, ip=IP, now=after)
        assert (verified.user.failed_logins, verified.user.locked_until) == (0, None)

    run(scenario())


def test_a_success_resets_the_failure_count(store: Store) -> None:
    async def scenario() -> None:
        d = make_directory(store)
        await _seed(d)
        for i in range(4):
            await _fail(d, "alice", now=later(i))
        await d.authenticate("alice", GOOD_PASSWORD, ip=IP, now=later(5))
        for i in range(4):
            await _fail(d, "alice", now=later(6 + i))
        user = await d.get_user("alice")
        assert (user.failed_logins, user.locked_until) == (4, None)

    run(scenario())


def test_an_admin_can_lift_a_lockout(store: Store) -> None:
    async def scenario() -> None:
        d = make_directory(store, limits=LoginLimits(max_failures=1))
        await _seed(d)
        for lift in (d.enable_user, lambda u, now: d.set_password(u, GOOD_PASSWORD, now=now)):
            await _fail(d, "alice")
            assert (await d.get_user("alice")).locked(now=later(1))
            await lift("alice", now=later(1))
            await d.authenticate("alice", GOOD_PASSWORD, ip=IP, now=later(2))

    run(scenario())


def test_per_ip_throttle(store: Store) -> None:
    async def scenario() -> None:
        limits = LoginLimits(per_ip_attempts=3, per_user_attempts=100, max_failures=100)
        hasher = CountingHasher()
        d = make_directory(store, hasher=hasher, limits=limits)
        await _seed(d)
        for who in ("ghost1", "ghost2", "alice"):
            await _fail(d, who, now=later(1))
        hasher.verifications = 0
        throttled = await _fail(d, "alice", GOOD_PASSWORD, now=later(2))
        assert throttled.reason == FailureReason.THROTTLED
        assert throttled.code == "authentication_failed"
        assert hasher.verifications == 0  # answered without spending a hash
        # Another address is not affected; the first one recovers once the window has passed.
        await d.authenticate("alice", GOOD_PASSWORD, ip="203.0.113.9", now=later(2))
        await d.authenticate("alice", GOOD_PASSWORD, ip=IP, now=later(62))

    run(scenario())


def test_per_user_throttle_applies_to_unknown_names_too(store: Store) -> None:
    async def scenario() -> None:
        limits = LoginLimits(per_user_attempts=3, per_ip_attempts=100, max_failures=100)
        d = make_directory(store, limits=limits)
        await _seed(d)
        for i, who in enumerate(["ghost", "GHOST", "ghost"]):
            await _fail(d, who, ip=f"198.51.100.{i + 1}")
        assert (await _fail(d, "ghost", ip="203.0.113.1")).reason == FailureReason.THROTTLED
        for i in range(3):
            await _fail(d, "alice", ip=f"192.0.2.{i + 1}")
        assert (await _fail(d, "alice", GOOD_PASSWORD)).reason == FailureReason.THROTTLED
        verified = await d.authenticate("alice", GOOD_PASSWORD, ip=IP, now=later(61))
        assert verified.user.failed_logins == 0

    run(scenario())


def test_successes_do_not_use_up_the_throttle(store: Store) -> None:
    async def scenario() -> None:
        d = make_directory(store, limits=LoginLimits(per_user_attempts=2, per_ip_attempts=2))
        await _seed(d)
        for _ in range(5):
            await d.authenticate("alice", GOOD_PASSWORD, ip=IP, now=T0)

    run(scenario())


def test_oversized_passwords_fail_without_hashing(store: Store) -> None:
    async def scenario() -> None:
        hasher = CountingHasher()
        d = make_directory(store, hasher=hasher)
        await _seed(d)
        huge = "x" * 10_000
        assert (await _fail(d, "alice", huge)).reason == FailureReason.BAD_PASSWORD
        assert (await _fail(d, "ghost", huge)).reason == FailureReason.UNKNOWN_USER
        assert hasher.verifications == 0

    run(scenario())


def test_ip_must_be_an_address(store: Store) -> None:
    async def scenario() -> None:
        d = make_directory(store)
        with pytest.raises(InvalidInput) as info:
            await d.authenticate("alice", GOOD_PASSWORD, ip="not-an-ip", now=T0)
        assert info.value.code == "ip_invalid"

    run(scenario())


def test_ip_keys_group_ipv6_by_64() -> None:
    assert ip_key("2001:db8::1") == ip_key("2001:db8::ffff") == "2001:db8::/64"
    assert ip_key("2001:db8:0:1::1") != ip_key("2001:db8::1")
    assert ip_key("::ffff:198.51.100.7") == "198.51.100.7"
    assert ip_key("198.51.100.7") == "198.51.100.7"


def test_sliding_window_forgets_the_stalest_keys() -> None:
    window = SlidingWindow(limit=1, window=timedelta(minutes=1), max_keys=3)
    for i in range(10):
        assert window.hit(f"k{i}", now=T0)
    assert len(window) == 3
    assert not window.hit("k9", now=T0)
    assert window.hit("k0", now=T0)  # forgotten, so it starts afresh
    window.undo("k0")
    assert window.hit("k0", now=T0)


def test_login_limits_must_be_positive() -> None:
    with pytest.raises(InvalidInput) as info:
        LoginLimits(max_failures=0)
    assert info.value.code == "login_limits_invalid"


class _RacingHasher(CountingHasher):
    """Runs `during` while the password is being checked (after the account was read)."""

    __slots__ = ("during",)

    def __init__(self) -> None:
        super().__init__()
        self.during: Callable[[], None] = lambda: None

    def verify(self, encoded: str, password: str) -> bool:
        self.during()
        return super().verify(encoded, password)


def test_a_lock_or_disable_racing_with_a_correct_password_wins(store: Store) -> None:
    async def scenario() -> None:
        hasher = _RacingHasher()
        d = make_directory(store, hasher=hasher)
        await _seed(d)

        def lock() -> None:
            with store.begin() as conn:
                conn.execute(update(users).values(locked_until=later(3600)))

        def disable() -> None:
            with store.begin() as conn:
                conn.execute(update(users).values(disabled=True))

        def delete() -> None:
            with store.begin() as conn:
                conn.execute(sql_delete(users).where(users.c.username == "alice"))

        for during, reason in [
            (lock, FailureReason.LOCKED),
            (disable, FailureReason.DISABLED),
            (delete, FailureReason.UNKNOWN_USER),
        ]:
            hasher.during = during
            assert (await _fail(d, "alice", GOOD_PASSWORD)).reason == reason
            hasher.during = lambda: None
            with store.begin() as conn:
                conn.execute(update(users).values(locked_until=None, disabled=False))

    run(scenario())
