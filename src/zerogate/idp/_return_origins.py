"""The gateway origins a signed-in browser may be sent back to: an allowlist that can change.

`/continue` and `/handoff` follow a URL only when its origin is on the list, compared exactly
(standards OA-A2: the IdP must never become an open redirector). `zerogate up` replaces the list
when its routes change, so sign-in returns to a new route host without a restart.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from urllib.parse import urlsplit

from zerogate.idp._redirects import MAX_NEXT_CHARS


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of an absolute http(s) URL without userinfo, else None."""
    if len(url) > MAX_NEXT_CHARS or any(c.isspace() or c == "\\" for c in url):
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname.lower()
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default) else "")


class ReturnOrigins:
    """Exact origins (`https://wiki.example.com`, `http://localhost:8080`); URLs are reduced to
    their origin, and anything that is not an http(s) URL is left out."""

    __slots__ = ("_origins",)

    def __init__(self, origins: Iterable[str] = ()) -> None:
        self._origins = _origins(origins)

    def replace(self, origins: Iterable[str]) -> None:
        """Allow exactly `origins` from now on (one swap: a request sees the old or the new)."""
        self._origins = _origins(origins)

    def allows(self, url: str) -> str | None:
        """The origin of `url` when it is on the list, else None."""
        origin = origin_of(url)
        return origin if origin is not None and origin in self._origins else None

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._origins))

    def __repr__(self) -> str:
        return f"ReturnOrigins({sorted(self._origins)!r})"


def _origins(values: Iterable[str]) -> frozenset[str]:
    if isinstance(values, str):
        values = (values,)  # one origin, not its letters
    return frozenset(o for o in map(origin_of, values) if o is not None)
