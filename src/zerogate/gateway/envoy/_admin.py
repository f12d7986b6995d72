"""A small client for Envoy's admin API on loopback: readiness and stats, nothing that writes.

It talks to an httpx transport directly rather than through a client: it is polled every few
milliseconds while a reload settles, and a client would log each poll at INFO. A bare transport
also never consults HTTP(S)_PROXY from the environment.

`gateway_stats` reads what only Envoy sees, for the metrics: TLS handshakes on the listener and
the decisions Envoy takes without the check (docs/telemetry.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import httpx
import orjson

from zerogate.gateway.envoy._listener import STAT_PREFIX

_TIMEOUT_S = 2.0
STATS_TIMEOUT_S = 0.5  # a metrics scrape must not wait on a stuck Envoy

# Envoy's downstream TLS counters (listener.<address>.ssl.*), by the reason we report. A
# handshake that fails counts in exactly one of them; a client that refuses the gateway's own
# certificate just closes, which Envoy does not count at all.
TLS_FAILURES: Mapping[str, str] = MappingProxyType(
    {
        "connection_error": "protocol",  # not TLS, no common version or cipher, bad records
        "fail_verify_error": "client_certificate_untrusted",  # not from the client CA, expired
        "fail_verify_no_cert": "client_certificate_missing",  # required and not presented
        "fail_verify_san": "client_certificate_san",
        "fail_verify_cert_hash": "client_certificate_pinned",
    }
)
# The HTTP connection manager's filter counters (http.<prefix>.<filter>.<counter>).
_LOCAL_ALLOW = f"http.{STAT_PREFIX}.ext_authz.disabled"  # a decision token verified: no check
_LOCAL_DENY = f"http.{STAT_PREFIX}.rbac.denied"  # a token on the deny list: 307, checked again
_CHECK_ERROR = f"http.{STAT_PREFIX}.ext_authz.error"  # the check did not answer: 503
_TLS_STAT = r"listener\..+\.ssl\.(handshake|" + "|".join(TLS_FAILURES) + ")"
_TLS = re.compile(_TLS_STAT)
# Envoy matches the filter with RE2: only the counters above come back.
_GATEWAY_FILTER = (
    f"^({_TLS_STAT}|"
    + "|".join(re.escape(name) for name in (_LOCAL_ALLOW, _LOCAL_DENY, _CHECK_ERROR))
    + ")$"
)


@dataclass(frozen=True, slots=True)
class GatewayStats:
    """Envoy's own counts since it started (they restart from zero when Envoy does)."""

    tls_handshakes: int = 0  # completed downstream TLS handshakes
    tls_failures: Mapping[str, int] = field(default_factory=dict)  # by TLS_FAILURES reason
    local_allows: int = 0  # GETs Envoy let through on a decision token, without the check
    local_denies: int = 0  # decision tokens on the deny list, sent back through the check
    check_errors: int = 0  # checks that got no answer (Envoy answered 503)


async def gateway_stats(
    admin_url: str, *, timeout_s: float = STATS_TIMEOUT_S
) -> GatewayStats | None:
    """Envoy's TLS and local-decision counters from its admin API at `admin_url` (loopback),
    or None when it does not answer within `timeout_s` (starting, restarting, stuck)."""
    transport = httpx.AsyncHTTPTransport(retries=0)
    try:
        answer = await _call(
            transport,
            admin_url + "/stats",
            {"format": "json", "filter": _GATEWAY_FILTER},
            timeout_s=timeout_s,
        )
    finally:
        await transport.aclose()
    items = _stats_items(answer)
    return None if items is None else read_gateway_stats(items)


def read_gateway_stats(items: Iterable[object]) -> GatewayStats:
    """`GatewayStats` from the `stats` list of `/stats?format=json` (other entries ignored)."""
    counts: dict[str, int] = {}
    handshakes = 0
    failures = dict.fromkeys(TLS_FAILURES.values(), 0)
    for item in items:
        if not isinstance(item, dict):
            continue
        name, value = item.get("name"), item.get("value")
        if not isinstance(name, str) or not isinstance(value, int) or isinstance(value, bool):
            continue
        tls = _TLS.fullmatch(name)
        if tls is None:
            counts[name] = value
        elif tls.group(1) == "handshake":
            handshakes += value  # summed over the TLS listeners
        else:
            failures[TLS_FAILURES[tls.group(1)]] += value
    return GatewayStats(
        tls_handshakes=handshakes,
        tls_failures=failures,
        local_allows=counts.get(_LOCAL_ALLOW, 0),
        local_denies=counts.get(_LOCAL_DENY, 0),
        check_errors=counts.get(_CHECK_ERROR, 0),
    )


class EnvoyAdmin:
    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self._transport = httpx.AsyncHTTPTransport(retries=0)

    async def ready(self) -> bool:
        """`GET /ready` answers 200 once Envoy is LIVE (initial listeners and clusters loaded)."""
        answer = await self._get("/ready", {})
        return answer is not None and answer[0] == 200

    async def stats(self, names: Iterable[str]) -> dict[str, str] | None:
        """The current values of the named stats (text readouts and counters) as text, or None
        when the admin API does not answer (Envoy starting or restarting)."""
        wanted = set(names)
        pattern = "^(" + "|".join(sorted(n.replace(".", r"\.") for n in wanted)) + ")$"
        items = _stats_items(await self._get("/stats", {"format": "json", "filter": pattern}))
        if items is None:
            return None
        return {
            str(item["name"]): str(item.get("value", ""))
            for item in items
            if isinstance(item, dict) and item.get("name") in wanted
        }

    async def reopen_logs(self) -> bool:
        """`POST /reopen_logs`: Envoy closes its access log files and opens them again (by path:
        a renamed file stops growing). False when the admin API does not answer."""
        answer = await self._get("/reopen_logs", {}, method="POST")
        return answer is not None and answer[0] == 200

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def _get(
        self, path: str, params: dict[str, str], *, method: str = "GET"
    ) -> tuple[int, bytes] | None:
        return await _call(
            self._transport, self.url + path, params, method=method, timeout_s=_TIMEOUT_S
        )


async def _call(
    transport: httpx.AsyncHTTPTransport,
    url: str,
    params: dict[str, str],
    *,
    method: str = "GET",
    timeout_s: float,
) -> tuple[int, bytes] | None:
    """One admin API call: (status, body), or None when Envoy does not answer in time."""
    request = httpx.Request(
        method,
        httpx.URL(url, params=params),
        extensions={"timeout": httpx.Timeout(timeout_s).as_dict()},
    )
    try:
        response = await transport.handle_async_request(request)
        try:
            body = await response.aread()
        finally:
            await response.aclose()
    except httpx.HTTPError:
        return None
    return response.status_code, body


def _stats_items(answer: tuple[int, bytes] | None) -> list[object] | None:
    """The `stats` list of a `/stats?format=json` answer, or None for no or a bad answer."""
    if answer is None or answer[0] != 200:
        return None
    try:
        items = orjson.loads(answer[1]).get("stats", [])
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return items if isinstance(items, list) else None
