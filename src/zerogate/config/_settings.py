"""The typed, frozen Settings tree: one section per part, every default in one place."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from urllib.parse import urlsplit

from zerogate.config._routes import RouteSettings
from zerogate.config._secret import Secret
from zerogate.config._upstreams import Problem, UpstreamSettings, domain_owners


@dataclass(frozen=True, slots=True)
class StoreSettings:
    # SQLite (WAL) in the data dir by default; `postgresql+psycopg://...` for multi-node.
    url: Secret = Secret("")  # noqa: RUF009 - an immutable str, safe to share
    echo: bool = False
    # Master key(s) sealing secrets at rest, `kid:base64url-32-bytes[,older...]`; the first seals.
    # Empty: a key file in `data_dir` (one machine). Every node sharing a PostgreSQL needs the same.
    secret_key: Secret = Secret("")  # noqa: RUF009 - an immutable str, safe to share


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
class OIDCSettings:
    """Token lifetimes of the OpenID Connect provider (docs/oidc.md)."""

    access_token_lifetime_s: int = 300  # at most 600 (issue: access tokens are short)
    id_token_lifetime_s: int = 300
    code_lifetime_s: int = 60
    refresh_token_lifetime_s: int = 86_400  # unused for this long, a refresh token expires
    grant_lifetime_s: int = 7 * 86_400  # no refresh family outlives this (or its login session)
    refresh_jitter: float = 0.2

    def problems(self) -> list[Problem]:
        found: list[Problem] = []
        if not 0 < self.access_token_lifetime_s <= 600:
            found.append(("access_token_lifetime_s", "between 1 and 600 seconds"))
        if not 0 < self.id_token_lifetime_s <= 3600:
            found.append(("id_token_lifetime_s", "between 1 and 3600 seconds"))
        if not 0 < self.code_lifetime_s <= 600:
            found.append(("code_lifetime_s", "between 1 and 600 seconds (RFC 6749 §4.1.2)"))
        if not 0 < self.refresh_token_lifetime_s <= self.grant_lifetime_s:
            found.append(("refresh_token_lifetime_s", "positive and at most grant_lifetime_s"))
        if not 0 <= self.refresh_jitter < 1:
            found.append(("refresh_jitter", "a fraction in [0, 1)"))
        return found


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    """The Envoy gateway `zerogate up` runs in front of the configured routes."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8080  # where people reach the routes
    admin_port: int = 0  # Envoy's admin API, on loopback only; 0 picks a free port
    check_port: int = 0  # the check service Envoy asks; 0 picks a free port
    concurrency: int = 1  # Envoy worker threads
    # How Envoy's ext_authz asks the check service: "http" (measured faster) or "grpc"
    check_protocol: str = "http"
    # "local": https with a certificate from a generated local CA in `data_dir/tls`; "off": http
    tls: str = "local"
    # Envoy lets a route's repeat GETs through on a decision token, without the check call
    local_decisions: bool = True
    # A PEM bundle of CAs whose client certificates (workload SVIDs) Envoy verifies: mutual TLS
    client_ca: str = ""

    def problems(self) -> list[Problem]:
        found: list[Problem] = []
        for key, port in (
            ("port", self.port),
            ("admin_port", self.admin_port),
            ("check_port", self.check_port),
        ):
            if not 0 <= port <= 65535:
                found.append((key, "a TCP port (0 picks a free one)"))
        if not 1 <= self.concurrency <= 64:
            found.append(("concurrency", "between 1 and 64"))
        if self.check_protocol not in ("http", "grpc"):
            found.append(("check_protocol", '"http" (the default) or "grpc"'))
        if self.tls not in ("local", "off"):
            found.append(("tls", '"local" (https from a generated local CA) or "off" (plain http)'))
        if self.client_ca and self.tls == "off":
            found.append(("client_ca", 'client certificates need TLS: tls = "local"'))
        elif self.client_ca and not Path(self.client_ca).is_file():
            found.append(("client_ca", f"no such file: {self.client_ca}"))
        return found


_AUDIT_MASKABLE = ("action", "decision_id", "principal", "policy_revision", "reason", "resource")
# A signed-note key name: printable, without spaces or '+'.
_AUDIT_ORIGIN = re.compile(r"[!-*,-~]{1,200}")
_AUDIT_ATTR = re.compile(r"attrs\.[a-z][a-z0-9_.]*")
_VKEY = re.compile(r"[!-*,-~]{1,200}\+[0-9a-f]{8}\+[A-Za-z0-9+/]{43}[A-Za-z0-9+/=]")


@dataclass(frozen=True, slots=True)
class AuditWitnessSettings:
    """One witness that cosigns the log's checkpoints (c2sp.org/tlog-witness, docs/audit.md)."""

    url: str = ""  # its submission prefix: `add-checkpoint` is POSTed to URL/add-checkpoint
    vkey: str = ""  # its cosignature key, NAME+KEYID+BASE64 (type 0x04), pinned here

    def problems(self) -> list[Problem]:
        found: list[Problem] = []
        try:
            parts = urlsplit(self.url)
            ok = parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.query
        except ValueError:
            ok = False
        if not ok:
            found.append(("url", "the witness's http(s) URL prefix, without a query"))
        key = self.vkey.strip()
        # Type 0x04 (Ed25519 cosignature/v1): the first byte of the key material.
        if not _VKEY.fullmatch(key) or _key_type(key) != 0x04:
            found.append(("vkey", "the witness's key: NAME+KEYID+BASE64 of type 0x04"))
        return found


def _key_type(vkey: str) -> int:
    try:
        return base64.b64decode(vkey.split("+", 2)[2], validate=True)[0]
    except (binascii.Error, ValueError, IndexError):
        return -1


@dataclass(frozen=True, slots=True)
class AuditSettings:
    """The tamper-evident audit log (docs/audit.md)."""

    dir: Path | None = None  # default: data_dir/audit
    origin: str = "zerogate.local/audit"  # the log's name in its signed checkpoints
    # The checkpoint key `zerogate audit verify` pins (a C2SP vkey); empty: the one in `dir`.
    public_key: str = ""
    checkpoint_interval_s: float = 60.0
    retention_days: float = 0.0  # 0 keeps entries forever
    retention_bytes: int = 0  # 0: no size limit
    segment_bytes: int = 64 * 1024 * 1024
    max_pending: int = 10_000  # appends waiting for the disk; more wait (back-pressure)
    mask: tuple[str, ...] = ()  # fields stored as "[masked]": principal, reason, attrs.ip, ...
    hash: tuple[str, ...] = ()  # fields stored as a SHA-256 pseudonym
    # GETs Envoy decides on a decision token: "denies" records the tokens it turns away from
    # the deny list; "all" also each GET it lets through (costs Envoy and us CPU per request).
    fast_path: str = "denies"
    # Witnesses that cosign every checkpoint off the log host (LOG-25), and how many must.
    witnesses: tuple[AuditWitnessSettings, ...] = ()
    witness_quorum: int = 0  # 0: all of them

    def problems(self) -> list[Problem]:
        found: list[Problem] = []
        witness_names = [w.vkey.partition("+")[0] for w in self.witnesses]
        if len(set(witness_names)) != len(witness_names) or self.origin in witness_names:
            found.append(("witnesses", "each witness has its own name, not the log's origin"))
        if not 0 <= self.witness_quorum <= len(self.witnesses):
            found.append(("witness_quorum", "between 0 (all) and the number of witnesses"))
        if not _AUDIT_ORIGIN.fullmatch(self.origin):
            found.append(("origin", "printable text without spaces or '+'"))
        if self.public_key and not _VKEY.fullmatch(self.public_key.strip()):
            found.append(("public_key", "a verifier key: NAME+KEYID+BASE64 (checkpoint.vkey)"))
        if not 0 <= self.checkpoint_interval_s <= 86_400:
            found.append(("checkpoint_interval_s", "between 0 (on demand only) and 86400"))
        if self.retention_days < 0 or self.retention_bytes < 0:
            key = "retention_days" if self.retention_days < 0 else "retention_bytes"
            found.append((key, "0 (no limit) or more"))
        if not 4096 <= self.segment_bytes <= 1 << 30:
            found.append(("segment_bytes", "between 4096 and 1073741824"))
        if not 1 <= self.max_pending <= 1_000_000:
            found.append(("max_pending", "between 1 and 1000000"))
        if self.fast_path not in ("denies", "all"):
            found.append(("fast_path", '"denies" (the default) or "all"'))
        for key, names in (("mask", self.mask), ("hash", self.hash)):
            for name in names:
                if name not in _AUDIT_MASKABLE and not _AUDIT_ATTR.fullmatch(name):
                    allowed = ", ".join(_AUDIT_MASKABLE)
                    found.append((key, f"{name!r}: one of {allowed} or attrs.NAME"))
        return found


_SERVICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}")


@dataclass(frozen=True, slots=True)
class TelemetrySettings:
    """OpenTelemetry traces of the gateway, the check and the PDP (docs/telemetry.md "Tracing")."""

    # The OTLP/gRPC collector both Envoy and Zerogate send spans to, `http://HOST:PORT` (plain
    # HTTP/2: a collector agent on this host or a sidecar); empty: no tracing, the default.
    otlp_endpoint: str = ""
    sample_ratio: float = 1.0  # the share of requests traced (0 to 1)
    service_name: str = "zerogate"  # Envoy's spans say "SERVICE_NAME-gateway"
    # Continue a client's `traceparent` at the gateway; off: the edge starts every trace itself.
    trust_client_traces: bool = False

    def problems(self) -> list[Problem]:
        found: list[Problem] = []
        if self.otlp_endpoint and not _is_host_port_url(self.otlp_endpoint):
            msg = "empty (no tracing) or http://HOST:PORT of an OTLP/gRPC collector"
            found.append(("otlp_endpoint", msg))
        if not 0 <= self.sample_ratio <= 1:  # NaN fails too
            found.append(("sample_ratio", "a number between 0 and 1"))
        if not _SERVICE_NAME.fullmatch(self.service_name):
            found.append(("service_name", "1-64 letters, digits or '_.:/-', no spaces"))
        return found

    @property
    def enabled(self) -> bool:
        return bool(self.otlp_endpoint)


def _is_host_port_url(url: str) -> bool:
    """`http://HOST:PORT` with an explicit port and nothing after it."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    extra = parts.username or parts.password or parts.query or parts.fragment
    return (
        parts.scheme == "http"
        and bool(parts.hostname)
        and port is not None
        and port > 0
        and parts.path in ("", "/")
        and not extra
    )


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
    oidc: OIDCSettings = field(default_factory=OIDCSettings)
    gateway: GatewaySettings = field(default_factory=GatewaySettings)
    audit: AuditSettings = field(default_factory=AuditSettings)
    telemetry: TelemetrySettings = field(default_factory=TelemetrySettings)
    # Applications behind the gateway by name (docs/gateway.md); none by default.
    routes: Mapping[str, RouteSettings] = field(default_factory=lambda: MappingProxyType({}))
    # Upstream OpenID providers by name (docs/federation.md); none by default.
    upstreams: Mapping[str, UpstreamSettings] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def store_url(self) -> str:
        """The effective store URL: the configured one, or SQLite inside `data_dir`."""
        return str(self.store.url) or f"sqlite:///{self.data_dir / 'zerogate.db'}"

    @property
    def audit_dir(self) -> Path:
        """Where the audit log lives: `[audit] dir`, or `audit` inside `data_dir`."""
        return self.audit.dir or self.data_dir / "audit"

    def problems(self) -> list[Problem]:
        """Checks across sections (the loader reports them with the other errors)."""
        return [(f"upstreams.{key}", msg) for key, msg in domain_owners(dict(self.upstreams))]
