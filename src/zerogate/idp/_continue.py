"""`/continue?to=URL`: back to an application behind the gateway after signing in.

The sign-in pages only follow same-origin `next` paths (the open-redirect guard). Applications
behind the gateway live at other origins, so the gateway sends people to
`/login?next=/continue?to=<their URL>`; this page then follows `to` only when its origin is one
the deployment lists (the gateway's), and only for a signed-in browser (standards OA-A2).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import Response

from zerogate.idp._pages import see_other
from zerogate.idp._redirects import HOME, MAX_NEXT_CHARS, login_path
from zerogate.idp._site import Site

CONTINUE_PATH = "/continue"


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


def continue_path(to: str) -> str:
    """The relative URL that returns to `to` after sign-in (for `login_path(next)`)."""
    return f"{CONTINUE_PATH}?{urlencode({'to': to})}"


class ContinuePage:
    """GET /continue: follow `to` to an allowed origin, once signed in."""

    def __init__(self, site: Site, origins: Iterable[str]) -> None:
        self._site = site
        self._origins = frozenset(o for o in (origin_of(x) for x in origins) if o)

    async def follow(self, request: Request) -> Response:
        to = request.query_params.get("to", "")
        if origin_of(to) not in self._origins:
            return see_other(HOME)  # not ours to send people to: stay on the account page
        if await self._site.signed_in(request) is None:
            return see_other(login_path(continue_path(to)))
        return see_other(to)
