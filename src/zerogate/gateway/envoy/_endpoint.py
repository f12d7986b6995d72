"""Where Envoy connects: `http://host:port` URLs of upstreams and of the check service, parsed once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from ipaddress import IPv6Address, ip_address
from urllib.parse import urlsplit

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
# RFC 1123 host names; no underscores, so the cluster names derived from them stay unambiguous.
HOSTNAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A plain-HTTP destination: an IP literal (a STATIC cluster) or a DNS name (LOGICAL_DNS)."""

    host: str  # lowercase name, or the compressed IP literal without brackets
    port: int

    @property
    def is_ip(self) -> bool:
        try:
            ip_address(self.host)
        except ValueError:
            return False
        return True

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def slug(self) -> str:
        """`127.0.0.1:8080` -> `127_0_0_1_8080`: injective, since host names hold no `_`."""
        return re.sub(r"[^a-z0-9-]", "_", f"{self.host}_{self.port}")


def parse_endpoint(url: str) -> Endpoint | str:
    """The Endpoint `url` names, or why it is not one (a message for an ErrorDetail)."""
    expected = "an http://HOST:PORT URL (an IP address or a DNS name; no path, user or query)"
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return expected
    if parts.scheme != "http":
        return f"{expected}; https upstreams are not supported yet"
    if parts.username or parts.password or parts.query or parts.fragment:
        return expected
    if parts.path not in ("", "/") or not parts.hostname:
        return expected
    host = parts.hostname.lower()
    try:
        address = ip_address(host)
    except ValueError:
        if not HOSTNAME.fullmatch(host):
            return expected
    else:
        if isinstance(address, IPv6Address) and address.scope_id:
            return expected
        if address.is_unspecified or address.is_multicast:
            return f"{expected}; {host} is not a host to connect to"
        host = address.compressed
    if port is None:
        port = 80
    if not 0 < port < 65536:
        return expected
    return Endpoint(host=host, port=port)
