"""How soon to restart an Envoy that died: exponential, capped and jittered backoff."""

from __future__ import annotations

import random
from dataclasses import dataclass

from zerogate.errors import ConfigError, ErrorDetail

_MAX_EXPONENT = 64  # beyond this the delay is max_delay_s anyway; keeps the float finite


@dataclass(frozen=True, slots=True, kw_only=True)
class RestartPolicy:
    """Delay before restart number `attempt` (0-based): initial * multiplier**attempt, at most
    `max_delay_s`, spread by ±`jitter` so a fleet that crashed together does not restart together.
    An Envoy that stayed up `stable_after_s` starts the sequence again from `initial_delay_s`."""

    initial_delay_s: float = 0.1
    max_delay_s: float = 10.0
    multiplier: float = 2.0
    jitter: float = 0.2
    stable_after_s: float = 30.0

    def __post_init__(self) -> None:
        found = []
        if not 0 <= self.initial_delay_s <= self.max_delay_s:
            found.append(("initial_delay_s", "between 0 and max_delay_s"))
        if not 0 < self.max_delay_s <= 3600:
            found.append(("max_delay_s", "between 0 and 3600 seconds"))
        if not 1 <= self.multiplier <= 10:
            found.append(("multiplier", "between 1 and 10"))
        if not 0 <= self.jitter < 1:
            found.append(("jitter", "a fraction in [0, 1)"))
        if self.stable_after_s < 0:
            found.append(("stable_after_s", "0 or more seconds"))
        if found:
            details = [ErrorDetail("restart_policy_invalid", loc, msg) for loc, msg in found]
            raise ConfigError("invalid restart policy", details=details)

    def delay(self, attempt: int, rng: random.Random) -> float:
        exponent = min(max(attempt, 0), _MAX_EXPONENT)
        base = min(self.max_delay_s, self.initial_delay_s * self.multiplier**exponent)
        spread = base * self.jitter * (2 * rng.random() - 1)
        return min(self.max_delay_s, max(0.0, base + spread))

    def schedule(self, attempt: int, *, uptime_s: float, rng: random.Random) -> tuple[float, int]:
        """For an Envoy that died after `uptime_s` on restart number `attempt`: the delay before
        the next start, and the attempt number that start will have."""
        if uptime_s >= self.stable_after_s:
            attempt = 0
        return self.delay(attempt, rng), attempt + 1
