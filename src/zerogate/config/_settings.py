"""The typed, frozen Settings tree: one section per part, every default in one place."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from zerogate.config._secret import Secret
from zerogate.config._upstreams import Problem, UpstreamSettings, domain_owners


@dataclass(frozen=True, slots=True)
class StoreSettings:
    # SQLite (WAL) in the data dir by default; `postgresql+psycopg://...` for multi-node.
    url: Secret = Secret("")  # noqa: RUF009 - an immutable str, safe to share
    echo: bool = False


@dataclass(frozen=True, slots=True)
class EventSettings:
    # How often SQLite subscribers poll the change feed; PostgreSQL uses LISTEN/NOTIFY instead.
    poll_interval_s: float = 0.2


@dataclass(frozen=True, slots=True)
class PolicySettings:
    bundle_dir: Path | None = None
    decision_ttl_s: float = 15.0
    decision_ttl_jitter: float = 0.1
    cache_size: int = 100_000
    timezone: str = "UTC"
    max_request_bytes: int = 64 * 1024


@dataclass(frozen=True, slots=True)
class IdentitySettings:
    # ASVS 5.0 6.2.1 floor is 8; 15 is recommended where a password is the only factor.
    password_min_length: int = 8
    # Consecutive wrong passwords that lock an account, and for how long (ASVS 6.3.1).
    lockout_failures: int = 5
    lockout_minutes: float = 15.0
    # Unsuccessful sign-ins allowed per identifier and per client address in any minute.
    per_user_attempts_per_min: int = 10
    per_ip_attempts_per_min: int = 20


@dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8181
    # The PDP identifier published in AuthZEN metadata; empty derives it from each request.
    public_url: str = ""


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path(".zerogate")
    store: StoreSettings = field(default_factory=StoreSettings)
    events: EventSettings = field(default_factory=EventSettings)
    policy: PolicySettings = field(default_factory=PolicySettings)
    identity: IdentitySettings = field(default_factory=IdentitySettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    # Upstream OpenID providers by name (docs/federation.md); none by default.
    upstreams: Mapping[str, UpstreamSettings] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def store_url(self) -> str:
        """The effective store URL: the configured one, or SQLite inside `data_dir`."""
        return str(self.store.url) or f"sqlite:///{self.data_dir / 'zerogate.db'}"

    def problems(self) -> list[Problem]:
        """Checks across sections (the loader reports them with the other errors)."""
        return [(f"upstreams.{key}", msg) for key, msg in domain_owners(dict(self.upstreams))]
