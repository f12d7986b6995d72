"""Key rotation as pure planning: which key signs now, and what to add, re-time or drop (OIDC-09).

Windows are derived from the keys' activation times alone: ordered by `activate_at`, each key
retires when the next one activates and leaves the JWKS `max_token_lifetime` later, so every
token it signed can still be verified (standards §4.6). A new key is announced `publish_delay`
before it signs, so relying parties that cache the JWKS already hold it when it is first used.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from zerogate.tokens._keys import KeyInfo, KeyRecord

_MAX_LIFETIME_CAP = timedelta(hours=24)

NewKey = Callable[[datetime, datetime], KeyRecord]
"""Make a key record from (created_at, activate_at)."""


@dataclass(frozen=True, slots=True)
class RotationSchedule:
    """When keys are announced, used, retired and dropped.

    `publish_delay` must exceed how long relying parties cache the JWKS and how often other
    Zerogate nodes refresh their key ring; `max_token_lifetime` bounds every token issued with
    the ring and so how long a retired key stays published.
    """

    publish_delay: timedelta = timedelta(hours=1)
    rotation_interval: timedelta = timedelta(days=7)
    max_token_lifetime: timedelta = timedelta(hours=1)

    def __post_init__(self) -> None:
        if self.publish_delay < timedelta(0):
            raise ValueError("publish_delay must not be negative")
        if self.rotation_interval <= self.publish_delay:
            raise ValueError("rotation_interval must be longer than publish_delay")
        if not timedelta(0) < self.max_token_lifetime <= _MAX_LIFETIME_CAP:
            raise ValueError("max_token_lifetime must be between 1 s and 24 h")


@dataclass(frozen=True, slots=True)
class Plan:
    """Changes to one purpose's keys: records to insert, windows to update, kids to delete."""

    new: tuple[KeyRecord, ...] = ()
    retimed: tuple[KeyInfo, ...] = ()
    dropped: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.new or self.retimed or self.dropped)


def whole_seconds(now: datetime) -> datetime:
    """`now` in UTC truncated to the second; refuses naive datetimes (STYLE 12)."""
    if now.tzinfo is None:
        raise ValueError("naive datetime: pass a timezone-aware time (Clock.now())")
    return now.astimezone(UTC).replace(microsecond=0)


def signing_info(infos: Iterable[KeyInfo], now: datetime) -> KeyInfo | None:
    """The key that signs at `now`: the latest activated one inside its window."""
    live = [i for i in infos if i.signing(now)]
    return max(live, key=_order) if live else None


def plan_ensure(
    infos: list[KeyInfo], now: datetime, schedule: RotationSchedule, make: NewKey
) -> Plan:
    """A key active at once if none signs at `now` (the first key has no one to announce to)."""
    now = whole_seconds(now)
    if signing_info(infos, now) is not None:
        return Plan()
    return _plan(infos, [make(now, now)], (), schedule, now)


def plan_rotate(
    infos: list[KeyInfo], now: datetime, schedule: RotationSchedule, make: NewKey
) -> Plan:
    """A new key, published now and signing after `publish_delay` (immediately if none signs)."""
    now = whole_seconds(now)
    activate = now if signing_info(infos, now) is None else now + schedule.publish_delay
    return _plan(infos, [make(now, activate)], (), schedule, now)


def plan_revoke(
    infos: list[KeyInfo], kid: str, now: datetime, schedule: RotationSchedule, make: NewKey
) -> Plan:
    """Drop a (compromised) key at once; if nothing would sign then, a new key active now."""
    now = whole_seconds(now)
    rest = [i for i in infos if i.kid != kid]
    if len(rest) == len(infos):
        return Plan()
    new = [] if signing_info(_reschedule(rest, schedule, now), now) else [make(now, now)]
    return _plan(infos, new, (kid,), schedule, now)


def plan_maintain(
    infos: list[KeyInfo], now: datetime, schedule: RotationSchedule, make: NewKey
) -> Plan:
    """What a periodic job does: ensure a signer, rotate when due, drop expired keys."""
    now = whole_seconds(now)
    new: list[KeyRecord] = []
    if signing_info(infos, now) is None:
        new.append(make(now, now))
    else:
        newest = max(i.created_at for i in infos)
        if newest + schedule.rotation_interval <= now:
            new.append(make(now, now + schedule.publish_delay))
    planned = _reschedule([*infos, *(r.info for r in new)], schedule, now)
    expired = tuple(i.kid for i in planned if i.expire_at is not None and i.expire_at <= now)
    return _plan(infos, new, expired, schedule, now)


def _plan(
    infos: list[KeyInfo],
    new: list[KeyRecord],
    dropped: Iterable[str],
    schedule: RotationSchedule,
    now: datetime,
) -> Plan:
    gone = set(dropped)
    kept = [i for i in infos if i.kid not in gone]
    planned = {i.kid: i for i in _reschedule([*kept, *(r.info for r in new)], schedule, now)}
    fresh = {r.info.kid for r in new}
    retimed = tuple(planned[i.kid] for i in kept if planned[i.kid] != i)
    records = tuple(dataclasses.replace(r, info=planned[r.info.kid]) for r in new)
    assert fresh.isdisjoint(i.kid for i in kept), "a new key reused an existing kid"
    return Plan(records, retimed, tuple(sorted(gone)))


def _reschedule(infos: list[KeyInfo], schedule: RotationSchedule, now: datetime) -> list[KeyInfo]:
    """Each key retires when the next activates; drops out `max_token_lifetime` later.

    A window that has closed (`retire_at` <= now) never reopens: a retired key does not sign
    again, even when the key after it is revoked. An existing `expire_at` is never shortened:
    tokens issued under a longer configured lifetime must keep verifying (OIDC-09).
    """
    ordered = sorted(infos, key=_order)
    out: list[KeyInfo] = []
    for index, info in enumerate(ordered):
        following = ordered[index + 1] if index + 1 < len(ordered) else None
        retire = None if following is None else max(following.activate_at, info.activate_at)
        if info.retire_at is not None and info.retire_at <= now:
            retire = info.retire_at
        expire = None if retire is None else retire + schedule.max_token_lifetime
        if expire is not None and info.expire_at is not None:
            expire = max(expire, info.expire_at)
        out.append(dataclasses.replace(info, retire_at=retire, expire_at=expire))
    return out


def _order(info: KeyInfo) -> tuple[datetime, datetime, str]:
    return info.activate_at, info.created_at, info.kid
