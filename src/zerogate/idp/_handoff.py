"""`/handoff?to=URL`: sign a browser in to a gateway host other than this one.

The session cookie never leaves this host. A signed-in browser asking for `to` on an allowlisted
gateway origin gets a one-minute, single-use code sealed for that origin and naming its session
(by id, never by token), delivered to `<origin>/.zerogate/handoff`, where the gateway's check
service turns it into a cookie for that host (zerogate.gateway.check `_handoff`).
"""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from zerogate.idp._pages import see_other
from zerogate.idp._redirects import HOME, login_path
from zerogate.idp._return_origins import ReturnOrigins
from zerogate.idp._site import Site
from zerogate.tokens import seal_mac

HANDOFF_PAGE = "/handoff"
GATEWAY_HANDOFF_PATH = "/.zerogate/handoff"  # where each gateway host redeems the code
HANDOFF_PURPOSE = "zerogate.gateway.handoff"  # the MAC purpose both sides use
HANDOFF_TTL_S = 60


class HandoffPage:
    def __init__(self, site: Site, origins: ReturnOrigins, key: bytes) -> None:
        self._site = site
        self._origins = origins  # read on every request: it may change while we run
        self._key = key

    async def give(self, request: Request) -> Response:
        to = request.query_params.get("to", "")
        origin = self._origins.allows(to)
        if origin is None:
            return see_other(HOME)  # not a gateway of ours: never a redirect elsewhere (OA-A2)
        signed = await self._site.signed_in(request)
        if signed is None:
            return see_other(login_path(f"{HANDOFF_PAGE}?{urlencode({'to': to})}"))
        now = int(self._site.now().timestamp())
        payload = {
            "sid": signed.session.id,
            "o": origin,
            "n": secrets.token_urlsafe(12),
            "exp": now + HANDOFF_TTL_S,
        }
        code = seal_mac(payload, key=self._key, purpose=HANDOFF_PURPOSE)
        path = to[len(origin) :] or "/"
        query = urlencode({"code": code, "to": path if path.startswith("/") else "/"})
        return see_other(f"{origin}{GATEWAY_HANDOFF_PATH}?{query}")
