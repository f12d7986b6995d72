"""`/continue?to=URL`: back to an application behind the gateway after signing in.

The sign-in pages only follow same-origin `next` paths (the open-redirect guard). Applications
behind the gateway live at other origins, so the gateway sends people to
`/login?next=/continue?to=<their URL>`; this page then follows `to` only when its origin is one
the deployment lists (the gateway's, `ReturnOrigins`), and only for a signed-in browser
(standards OA-A2).
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from zerogate.idp._pages import see_other
from zerogate.idp._redirects import HOME, login_path
from zerogate.idp._return_origins import ReturnOrigins
from zerogate.idp._site import Site

CONTINUE_PATH = "/continue"


def continue_path(to: str) -> str:
    """The relative URL that returns to `to` after sign-in (for `login_path(next)`)."""
    return f"{CONTINUE_PATH}?{urlencode({'to': to})}"


class ContinuePage:
    """GET /continue: follow `to` to an allowed origin, once signed in."""

    def __init__(self, site: Site, origins: ReturnOrigins) -> None:
        self._site = site
        self._origins = origins  # read on every request: it may change while we run

    async def follow(self, request: Request) -> Response:
        to = request.query_params.get("to", "")
        if self._origins.allows(to) is None:
            return see_other(HOME)  # not ours to send people to: stay on the account page
        if await self._site.signed_in(request) is None:
            return see_other(login_path(continue_path(to)))
        return see_other(to)
