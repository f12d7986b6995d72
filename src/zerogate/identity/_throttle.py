"""Brute-force limits on sign-in: in-memory sliding windows per account and per IP, and lockout."""

from __future__ import annotations

import ipaddress
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from zerogate.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """Brute-force controls for password sign-in (ASVS 5.0 6.1.1, 6.3.1). Defaults:

    - lockout: `max_failures` (5) consecutive wrong passwords lock the account for `lockout`
      (15 min), stored in the `users` row so every node enforces it; a success resets the count.
    - throttle: at most `per_user_attempts` (10) unsuccessful attempts per sign-in identifier and
      `per_ip_attempts` (20) per client address (an IPv6 /64) in any `window` (1 min), in memory
      per node; at most `max_tracked` (100,000) identifiers and addresses are remembered.
    """

    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=15)
    per_user_attempts: int = 10
    per_ip_attempts: int = 20
    window: timedelta = timedelta(minutes=1)
    max_tracked: int = 100_000

    def __post_init__(self) -> None:
        numbers = (
            self.max_failures,
            self.per_user_attempts,
            self.per_ip_attempts,
            self.max_tracked,
        )
        if min(numbers) < 1 or self.lockout <= timedelta(0) or self.window <= timedelta(0):
            raise InvalidInput("login limits must be positive", code="login_limits_invalid")


class SlidingWindow:
    """At most `limit` hits per key in any `window`; the oldest keys are forgotten past `max_keys`.

    Times are wall-clock seconds from the injected `now`. Thread-safe.
    """

    __slots__ = ("_hits", "_limit", "_lock", "_max_keys", "_window_s")

    def __init__(self, *, limit: int, window: timedelta, max_keys: int) -> None:
        self._limit = limit
        self._window_s = window.total_seconds()
        self._max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str, *, now: datetime) -> bool:
        """Record one attempt and return True, or return False (recording nothing) if over limit."""
        t = now.timestamp()
        with self._lock:
            hits = self._hits.get(key)
            if hits is None:
                hits = self._hits[key] = deque(maxlen=self._limit)
                if len(self._hits) > self._max_keys:
                    self._hits.popitem(last=False)  # bounded memory: forget the stalest key
            else:
                self._hits.move_to_end(key)
            while hits and hits[0] <= t - self._window_s:
                hits.popleft()
            if len(hits) >= self._limit:
                return False
            hits.append(t)
            return True

    def undo(self, key: str) -> None:
        """Take back the latest hit of `key` (the attempt succeeded)."""
        with self._lock:
            hits = self._hits.get(key)
            if hits:
                hits.pop()

    def reset(self, key: str) -> None:
        with self._lock:
            self._hits.pop(key, None)

    def __len__(self) -> int:
        return len(self._hits)


class LoginThrottle:
    """Throttles sign-in per identifier and per client address; only failures use up the budget.

    Every attempt takes a slot before the password is checked (so parallel guesses cannot
    overshoot the limit); a success gives the slots back and clears the identifier's window.
    Identifiers are throttled whether or not the account exists, which reveals nothing.
    """

    __slots__ = ("_ips", "_users")

    def __init__(self, limits: LoginLimits) -> None:
        self._users = SlidingWindow(
            limit=limits.per_user_attempts, window=limits.window, max_keys=limits.max_tracked
        )
        self._ips = SlidingWindow(
            limit=limits.per_ip_attempts, window=limits.window, max_keys=limits.max_tracked
        )

    def acquire(self, identifier: str, address: str, *, now: datetime) -> bool:
        """Take one slot for both keys; False (taking none) if either is used up.

        `address` is the client's `ip_key()`.
        """
        if not self._ips.hit(address, now=now):
            return False
        if not self._users.hit(identifier, now=now):
            self._ips.undo(address)
            return False
        return True

    def succeeded(self, identifier: str, address: str) -> None:
        self._users.reset(identifier)
        self._ips.undo(address)


def ip_key(ip: str) -> str:
    """The throttling key of a client address: the address itself, or its /64 for IPv6.

    Anyone with IPv6 gets a whole /64, so throttling single addresses would not slow them down.
    Raises InvalidInput(ip_invalid): the caller (a PEP) always knows the peer address.
    """
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        raise InvalidInput("not an IP address", code="ip_invalid") from None
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped
        if mapped is not None:
            return str(mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


__all__ = ["LoginLimits", "LoginThrottle", "SlidingWindow", "ip_key"]
