"""The pages the OpenID Connect endpoints need a person for: consent, and confirming a logout.

Both are forms with CSRF tokens bound to the session (see `_csrf`), so another site can neither
approve a client in the user's name (OA-A12) nor sign the user out (OA-A13).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from starlette.requests import Request
from starlette.responses import Response

from zerogate.identity import ActiveSession, parse_session_cookie
from zerogate.identity.oidc import AUTHORIZE_PATH, ConsentRequired, EndSession, OIDCRequest
from zerogate.idp._csrf import session_anchor
from zerogate.idp._oidc_routes import OIDCRoutes
from zerogate.idp._pages import see_other
from zerogate.idp._redirects import login_path, safe_next
from zerogate.idp._site import Site, read_form

CONSENT_PURPOSE = "oidc-consent"
END_SESSION_PURPOSE = "oidc-end-session"
CONSENT_PATH = AUTHORIZE_PATH + "/consent"
SCOPE_LABELS = {
    "openid": "who you are (an identifier)",
    "profile": "your username and name",
    "email": "your email address",
    "groups": "the groups you belong to",
}


class OIDCPages:
    """Consent (GET via the authorization endpoint, POST /authorize/consent) and logout confirm."""

    def __init__(self, site: Site) -> None:
        self._site = site
        self.routes: OIDCRoutes | None = None  # set by create_app once both exist

    async def consent(
        self, request: Request, outcome: ConsentRequired, session: ActiveSession
    ) -> Response:
        token = parse_session_cookie(request.headers.get("cookie")) or ""
        return self._site.pages.render(
            "consent.html",
            client_name=outcome.client.name,
            username=session.username,
            scopes=list(outcome.scopes),
            scope_labels=SCOPE_LABELS,
            return_to=outcome.return_to,
            csrf=self._site.csrf.token(CONSENT_PURPOSE, session_anchor(token)),
        )

    async def submit_consent(self, request: Request) -> Response:
        site, routes = self._site, self.routes
        assert routes is not None
        form = await read_form(request)
        signed = await site.signed_in(request)
        if signed is None:
            site.csrf.check_origin(request)
            return see_other(login_path())
        site.csrf.check(request, form, purpose=CONSENT_PURPOSE, anchor=session_anchor(signed.token))
        return_to = safe_next(form.get("return_to"))
        parts = urlsplit(return_to)
        if parts.path != AUTHORIZE_PATH:
            return site.pages.error("consent_invalid", "This approval is not for a sign-in.", 400)
        query = tuple(parse_qsl(parts.query, keep_blank_values=True))
        req = OIDCRequest("GET", routes.public_url + return_to, {}, query)
        outcome = await routes.provider.consent(
            req, signed.session, approved=form.get("decision") == "allow", now=site.now()
        )
        return await routes.answer(request, outcome, signed.session)

    async def confirm_logout(
        self, request: Request, ended: EndSession, params: tuple[tuple[str, str], ...]
    ) -> Response | None:
        """The confirmation page for a logout without a usable hint (GET), or None once the
        user confirmed it with a valid CSRF token (POST) and it may proceed."""
        site = self._site
        signed = await site.signed_in(request)
        if signed is None:
            return None  # nobody to sign out
        anchor = session_anchor(signed.token)
        if request.method == "POST":
            site.csrf.check(request, dict(params), purpose=END_SESSION_PURPOSE, anchor=anchor)
            return None
        keep = tuple((k, v) for k, v in params if k != "csrf")
        return site.pages.render(
            "end_session.html",
            client_name=ended.client.name if ended.client else None,
            username=signed.session.username,
            params=keep,
            csrf=site.csrf.token(END_SESSION_PURPOSE, anchor),
        )
