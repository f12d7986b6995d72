"""The route model: which hosts and paths go to which upstream, and which of them skip the check.

`Gateway` is the only thing the builders accept, and it exists only when valid: constructing one
checks every route and every field and raises one ConfigError listing all the problems.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import KW_ONLY, dataclass, field
from ipaddress import ip_address
from urllib.parse import urlsplit

from zerogate.errors import ConfigError, ErrorDetail
from zerogate.gateway.envoy._cookies import COOKIE_NAME
from zerogate.gateway.envoy._endpoint import HOSTNAME, parse_endpoint
from zerogate.gateway.envoy._headers import is_header_name, is_spoofable
from zerogate.gateway.envoy._local_decisions import LocalDecisions
from zerogate.gateway.envoy._sds import TlsFiles
from zerogate.gateway.envoy._tracing import Tracing

MAX_ROUTES = 1000
MAX_HOSTS_PER_ROUTE = 100
MAX_TIMEOUT_S = 3600.0
MAX_CONCURRENCY = 64
CHECK_PROTOCOLS = ("http", "grpc")  # ext_authz's http_service or grpc_service
MAX_CHECK_BODY_BYTES = 8 << 20  # Envoy holds the body in memory until the check answers

# Route names appear in Envoy stats and logs; resource ids travel in a request header.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_RESOURCE_ID = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,128}")  # visible ASCII, no '"' or '\'
# A path prefix: RFC 3986 pchars and '/', no percent-escapes (Envoy normalises paths before it
# matches, so an escaped or dotted prefix would never match anything).
_PATH = re.compile(r"/[A-Za-z0-9\-._~!$&'()*+,;=:@/]{0,1023}")
_UNSTRIPPABLE = frozenset({"host", "content-length", "transfer-encoding", "connection", "upgrade"})


@dataclass(frozen=True, slots=True)
class Route:
    """One application behind the gateway.

    `hosts` are exact names or `*.suffix` wildcards (ports are ignored on matching). Within a host
    the longest `path_prefix` wins; `/app` matches `/app` and `/app/...` but not `/apple`.
    `allow_public` routes never call the check service: that is explicit, never a default.
    `pass_headers` are extra request headers sent to the check service (for every route: Envoy's
    list is per listener); `strip_headers` are removed before the request goes upstream (after
    the check, so the check still sees them: e.g. `authorization` for an app that must not).
    `check_body_max_bytes` > 0 sends the request body to the check service (webhook routes sign
    it): whole, or never, as a larger body gets 413 from Envoy and reaches no one.
    """

    name: str
    _: KW_ONLY
    hosts: tuple[str, ...]
    upstream: str
    path_prefix: str = "/"
    resource_id: str = ""  # the Cedar `Route` entity id; empty: the route's name
    allow_public: bool = False
    timeout_s: float = 30.0
    websockets: bool = False
    pass_headers: tuple[str, ...] = ()
    strip_headers: tuple[str, ...] = ()
    check_body_max_bytes: int = 0

    def __post_init__(self) -> None:
        def lowered(values: Iterable[str]) -> tuple[str, ...]:
            items = (values,) if isinstance(values, str) else values  # one name, not its letters
            return tuple(str(v).strip().lower() for v in items)

        object.__setattr__(self, "hosts", lowered(self.hosts))
        object.__setattr__(self, "pass_headers", lowered(self.pass_headers))
        object.__setattr__(self, "strip_headers", lowered(self.strip_headers))
        if not self.resource_id:
            object.__setattr__(self, "resource_id", self.name)


@dataclass(frozen=True, slots=True, kw_only=True)
class Gateway:
    """One Envoy: where it listens, the check service it asks, and its routes. Always valid."""

    listen_host: str = "127.0.0.1"
    listen_port: int
    admin_port: int  # Envoy's admin API: always bound to 127.0.0.1
    authz_url: str  # the check service, `http://127.0.0.1:PORT`
    # More check-service replicas (IP URLs): Envoy balances round robin over these and authz_url
    authz_replicas: tuple[str, ...] = ()
    authz_path_prefix: str = "/check"
    authz_timeout_s: float = 2.0
    routes: tuple[Route, ...] = field(default=())
    concurrency: int = 1  # Envoy worker threads: size it to the cores (docs/gateway.md)
    # How ext_authz asks the check service: "http" (the measured faster default) or "grpc"
    check_protocol: str = "http"
    # Envoy verifies the check's decision tokens on GETs itself (docs/gateway.md "Local decisions")
    local_decisions: LocalDecisions | None = None
    # Cookies removed from every request before it goes upstream (after the check sees them)
    strip_cookies: tuple[str, ...] = ()
    # TLS on the listener, its certificate from an SDS file (docs/gateway.md "Local TLS")
    tls: TlsFiles | None = None
    # OpenTelemetry traces of every request, to an OTLP/gRPC collector (docs/telemetry.md)
    tracing: Tracing | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "routes", tuple(self.routes))
        object.__setattr__(self, "authz_replicas", tuple(self.authz_replicas))
        problems = _gateway_problems(self)
        for index, route in enumerate(self.routes):
            problems += _route_problems(route, _route_loc(self.routes, index))
        problems += _duplicates(self.routes)
        if self.local_decisions is not None:
            problems += _local_problems(self.local_decisions)
        problems += _tracing_problems(self.tracing)
        object.__setattr__(self, "strip_cookies", tuple(self.strip_cookies))
        problems += [
            ErrorDetail("gateway_invalid", f"strip_cookies[{i}]", "a cookie name (RFC 6265 token)")
            for i, name in enumerate(self.strip_cookies)
            if not isinstance(name, str) or not COOKIE_NAME.fullmatch(name)
        ]
        if problems:
            raise ConfigError(f"{len(problems)} gateway configuration error(s)", details=problems)


def _gateway_problems(gateway: Gateway) -> list[ErrorDetail]:
    found: list[ErrorDetail] = []

    def problem(loc: str, msg: str, code: str = "gateway_invalid") -> None:
        found.append(ErrorDetail(code, loc, msg))

    try:
        ip_address(gateway.listen_host)
    except ValueError:
        problem("listen_host", "an IP address to listen on, such as 127.0.0.1 or 0.0.0.0")
    for loc, port in (("listen_port", gateway.listen_port), ("admin_port", gateway.admin_port)):
        if not 0 < port < 65536:
            problem(loc, "a TCP port between 1 and 65535")
    if gateway.listen_port == gateway.admin_port:
        problem("admin_port", "must differ from listen_port")
    endpoint = parse_endpoint(gateway.authz_url)
    if isinstance(endpoint, str):
        problem("authz_url", endpoint, "gateway_authz_invalid")
    prefix = gateway.authz_path_prefix
    if not _PATH.fullmatch(prefix) or prefix.endswith("/") or "//" in prefix:
        problem("authz_path_prefix", "a path such as /check (no trailing slash)")
    if not 0 < gateway.authz_timeout_s <= 60:
        problem("authz_timeout_s", "between 0 and 60 seconds")
    if not 1 <= gateway.concurrency <= MAX_CONCURRENCY:
        problem("concurrency", f"between 1 and {MAX_CONCURRENCY}")
    for index, url in enumerate(gateway.authz_replicas):
        replica = parse_endpoint(url)
        if isinstance(replica, str) or not replica.is_ip:
            msg = "an http://IP:PORT URL of another check-service replica"
            problem(f"authz_replicas[{index}]", msg, "gateway_authz_invalid")
    if gateway.authz_replicas and not isinstance(endpoint, str) and not endpoint.is_ip:
        msg = "an IP address when there are authz_replicas (one STATIC cluster holds them all)"
        problem("authz_url", msg, "gateway_authz_invalid")
    if gateway.check_protocol not in CHECK_PROTOCOLS:
        problem("check_protocol", '"http" or "grpc": how ext_authz asks the check service')
    if gateway.tls is not None and not isinstance(gateway.tls, TlsFiles):
        problem("tls", "TlsFiles (the SDS directory) or None for plain HTTP")
    if len(gateway.routes) > MAX_ROUTES:
        problem("routes", f"at most {MAX_ROUTES} routes")
    if not all(isinstance(r, Route) for r in gateway.routes):
        problem("routes", "Route values only")
    return found


def _local_problems(local: LocalDecisions) -> list[ErrorDetail]:
    found = [
        ErrorDetail("gateway_invalid", f"local_decisions.{key}", msg)
        for key, msg in local.problems()
    ]
    parts = urlsplit(local.jwks_url)
    endpoint = parse_endpoint(f"{parts.scheme}://{parts.netloc}")
    if isinstance(endpoint, str) or not parts.path.startswith("/") or parts.fragment:
        msg = "an http://HOST:PORT/PATH URL where Envoy fetches the signing keys (a JWKS)"
        found.append(ErrorDetail("gateway_invalid", "local_decisions.jwks_url", msg))
    return found


def _tracing_problems(tracing: Tracing | None) -> list[ErrorDetail]:
    if tracing is None:
        return []
    if not isinstance(tracing, Tracing):
        return [ErrorDetail("gateway_invalid", "tracing", "Tracing or None (no traces)")]
    return [ErrorDetail("gateway_invalid", f"tracing.{k}", msg) for k, msg in tracing.problems()]


def _route_loc(routes: tuple[Route, ...], index: int) -> str:
    """`routes.NAME` when the name is valid and unique, else `routes[INDEX]`."""
    name = getattr(routes[index], "name", "")
    unique = sum(getattr(r, "name", None) == name for r in routes) == 1
    return f"routes.{name}" if _NAME.fullmatch(name) and unique else f"routes[{index}]"


def _route_problems(route: Route, loc: str) -> list[ErrorDetail]:
    if not isinstance(route, Route):
        return []
    found: list[ErrorDetail] = []

    def problem(code: str, key: str, msg: str) -> None:
        found.append(ErrorDetail(code, f"{loc}.{key}", msg))

    if not _NAME.fullmatch(route.name):
        problem("route_invalid", "name", "1-64 letters, digits, '.', '_' or '-'")
    if not route.hosts:
        problem("route_host_invalid", "hosts", "at least one host name")
    if len(route.hosts) > MAX_HOSTS_PER_ROUTE:
        problem("route_host_invalid", "hosts", f"at most {MAX_HOSTS_PER_ROUTE} hosts")
    for i, host in enumerate(route.hosts):
        message = _host_problem(host)
        if message:
            problem("route_host_invalid", f"hosts[{i}]", message)
        elif host in route.hosts[:i]:
            problem("route_host_invalid", f"hosts[{i}]", f"{host} is listed twice")
    if not _PATH.fullmatch(route.path_prefix) or _has_dot_or_empty_segment(route.path_prefix):
        problem(
            "route_path_invalid",
            "path_prefix",
            "a path starting with /, without //, '.' or '..' segments, '%', '?' or '#'",
        )
    endpoint = parse_endpoint(route.upstream)
    if isinstance(endpoint, str):
        problem("route_upstream_invalid", "upstream", endpoint)
    name_reported = route.resource_id == route.name and not _NAME.fullmatch(route.name)
    if not _RESOURCE_ID.fullmatch(route.resource_id) and not name_reported:
        problem("route_invalid", "resource_id", "1-128 visible ASCII characters, no quotes")
    if not 0 < route.timeout_s <= MAX_TIMEOUT_S:
        problem("route_invalid", "timeout_s", f"between 0 and {MAX_TIMEOUT_S:g} seconds")
    if not 0 <= route.check_body_max_bytes <= MAX_CHECK_BODY_BYTES:
        msg = f"0 (no body to the check) up to {MAX_CHECK_BODY_BYTES} bytes"
        problem("route_invalid", "check_body_max_bytes", msg)
    elif route.check_body_max_bytes and route.allow_public:
        problem("route_invalid", "check_body_max_bytes", "a public route is never checked")
    for key, names in (
        ("pass_headers", route.pass_headers),
        ("strip_headers", route.strip_headers),
    ):
        for i, name in enumerate(names):
            if not is_header_name(name):
                problem("route_header_invalid", f"{key}[{i}]", "an HTTP header name")
            elif key == "pass_headers" and is_spoofable(name):
                problem(
                    "route_header_invalid",
                    f"{key}[{i}]",
                    f"{name} is removed from every client request; it cannot be passed",
                )
            elif key == "strip_headers" and name in _UNSTRIPPABLE:
                problem("route_header_invalid", f"{key}[{i}]", f"{name} cannot be removed")
    return found


def _host_problem(host: str) -> str:
    if host == "*":
        return "a bare * is not allowed: requests for unknown hosts get 404, never an upstream"
    name = host[2:] if host.startswith("*.") else host
    if not HOSTNAME.fullmatch(name):
        return "a host name (app.example.com) or a wildcard (*.example.com), without a port"
    # `*.localhost` is the one single-label wildcard: every such name is loopback (RFC 6761 §6.3).
    if host.startswith("*.") and "." not in name and name != "localhost":
        return "a wildcard needs a domain with a dot: *.example.com (or *.localhost)"
    return ""


def _has_dot_or_empty_segment(path: str) -> bool:
    segments = path[1:].split("/")
    inner = segments[:-1] if path.endswith("/") else segments
    return path != "/" and any(s in ("", ".", "..") for s in inner)


def _duplicates(routes: tuple[Route, ...]) -> list[ErrorDetail]:
    found: list[ErrorDetail] = []
    names: set[str] = set()
    owners: dict[tuple[str, str], str] = {}
    for index, route in enumerate(routes):
        if not isinstance(route, Route):
            continue
        loc = _route_loc(routes, index)
        if route.name in names:
            found.append(ErrorDetail("route_duplicate", f"{loc}.name", f"{route.name} is taken"))
        names.add(route.name)
        for host in dict.fromkeys(h for h in route.hosts if not _host_problem(h)):
            key = (host, route.path_prefix)
            if key in owners:
                msg = f"{host}{route.path_prefix} is already routed by {owners[key]}"
                found.append(ErrorDetail("route_duplicate", f"{loc}.path_prefix", msg))
            else:
                owners[key] = route.name
    return found
