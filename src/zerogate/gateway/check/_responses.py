"""Every answer the check gives, as a `CheckResult`: allow headers, redirects, challenges, pages.

Browsers (GET/HEAD accepting HTML) are redirected to sign in; API clients get `401` with a
`WWW-Authenticate: Bearer` challenge (RFC 6750 §3, RFC 9470 for step-up). Denials are a page for
browsers and JSON for the rest. Every answer carries `x-zerogate-decision-id` and `no-store`.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

import orjson

from zerogate._types import DecisionID
from zerogate.errors import ConfigError, ErrorDetail
from zerogate.gateway.check._authn import Identity
from zerogate.gateway.check._model import CheckRequest, CheckResult, Verdict
from zerogate.gateway.check._page import PAGE_HEADERS, render_page
from zerogate.gateway.check._stepup import StepUp, StepUpKind

DECISION_ID_HEADER = "x-zerogate-decision-id"
UPSTREAM_HEADERS = ("x-zerogate-user", "x-zerogate-email", "x-zerogate-groups", DECISION_ID_HEADER)
REALM = "zerogate"
_HINT = "If you think you should have access, give this decision id to your administrator."
_TITLES = {400: "Bad request", 403: "Access denied", 405: "Method not allowed"}
_TITLES |= {431: "Request too large", 503: "Access could not be checked"}


# The IdP pages that return a signed-in browser to an allowlisted origin (zerogate.idp):
# `/continue` when the origin shares the sign-in host's cookie, `/handoff` when it has its own.
IDP_CONTINUE_PATH = "/continue"
IDP_HANDOFF_PATH = "/handoff"


class SignInURLs:
    """Where browsers go to sign in and to step up, with `next` = where they were going.

    `next` is the original URL when the request is on the login page's own origin; otherwise
    the IdP's `/continue?to=<original URL>`, which sends a signed-in browser back only to
    origins the IdP allowlists (the gateway's), since `next` itself is same-origin only.
    """

    def __init__(self, login_url: str, step_up_url: str | None, *, handoff: bool = False) -> None:
        problems = [p for p in (_url_problem("login_url", login_url),) if p]
        step_up = step_up_url or login_url.rstrip("/") + "/mfa"
        if step_up_url is not None and (problem := _url_problem("step_up_url", step_up_url)):
            problems.append(problem)
        if problems:
            raise ConfigError("invalid sign-in URLs for the check service", details=problems)
        self.login_url = login_url
        self.step_up_url = step_up
        self._return_path = IDP_HANDOFF_PATH if handoff else IDP_CONTINUE_PATH
        parts = urlsplit(login_url)
        self._origin = (parts.scheme, parts.netloc.lower())

    def login(self, req: CheckRequest, *, again: bool = False) -> str:
        query = {"next": self._next(req)}
        if again:
            query["prompt"] = "login"  # the IdP shows the form even to a signed-in user
        return f"{self.login_url}?{urlencode(query)}"

    def step_up(self, req: CheckRequest) -> str:
        return f"{self.step_up_url}?{urlencode({'next': self._next(req)})}"

    def _next(self, req: CheckRequest) -> str:
        if (req.proto, req.host.lower()) == self._origin:
            return f"{req.path}?{req.query}" if req.query else req.path
        return f"{self._return_path}?{urlencode({'to': req.url})}"


def allow(
    identity: Identity, decision_id: DecisionID, *, extra: tuple[tuple[str, str], ...] = ()
) -> CheckResult:
    """200, with who the user is for the upstream (Envoy overwrites any client copies)."""
    p = identity.principal
    headers = (
        ("x-zerogate-user", p.username),
        ("x-zerogate-email", p.email),
        ("x-zerogate-groups", ",".join(p.groups)),
        (DECISION_ID_HEADER, decision_id),
        *extra,
    )
    return CheckResult.allow(headers, decision_id)


def unauthenticated(
    req: CheckRequest,
    urls: SignInURLs,
    decision_id: DecisionID,
    reason: str,
    *,
    bearer_error: bool = False,
) -> CheckResult:
    """No usable credentials: browsers to the sign-in page, API clients a Bearer challenge."""
    if req.wants_html and not bearer_error:
        return _redirect(urls.login(req), decision_id, Verdict.UNAUTHENTICATED, reason)
    challenge = f'Bearer realm="{REALM}"'
    if bearer_error:
        challenge += ', error="invalid_token", error_description="the access token is not valid"'
    body = {"error": "invalid_token" if bearer_error else "unauthenticated"}
    return _json(req, 401, body, decision_id, Verdict.UNAUTHENTICATED, reason, challenge)


def step_up(
    req: CheckRequest, urls: SignInURLs, step: StepUp, decision_id: DecisionID, *, bearer: bool
) -> CheckResult:
    """A stronger or fresher sign-in is needed: redirect a browser, challenge an API (RFC 9470).

    A bearer-token client is never redirected, whatever it accepts. Reason `mfa_required` (a
    second factor now) or `reauthentication_required` (sign in again).
    """
    again = step.kind is StepUpKind.REAUTHENTICATE
    reason = "reauthentication_required" if again else "mfa_required"
    if req.wants_html and not bearer:
        location = urls.login(req, again=True) if again else urls.step_up(req)
        return _redirect(location, decision_id, Verdict.STEP_UP, reason)
    challenge = (
        f'Bearer realm="{REALM}", error="insufficient_user_authentication", '
        'error_description="a stronger or more recent authentication is required"'
    )
    if step.acr is not None:
        challenge += f', acr_values="{step.acr}"'
    if step.max_age is not None:
        challenge += f', max_age="{step.max_age}"'
    body = {"error": "insufficient_user_authentication"}
    return _json(req, 401, body, decision_id, Verdict.STEP_UP, reason, challenge)


def refusal(
    req: CheckRequest,
    status: int,
    message: str,
    decision_id: DecisionID,
    verdict: Verdict,
    reason: str,
    extra: tuple[tuple[str, str], ...] = (),
) -> CheckResult:
    """A no that signing in would not change: a page for browsers, JSON for the rest."""
    title = _TITLES.get(status, "Access denied")
    if "text/html" in (req.accept or ""):
        body = b"" if req.method == "HEAD" else render_page(title, message, decision_id, hint=_HINT)
        headers = (*PAGE_HEADERS, *_common(decision_id), *extra)
        return CheckResult(status, headers, body, decision_id, verdict, reason)
    error = {"error": reason, "error_description": message, "decision_id": decision_id}
    return _json(req, status, error, decision_id, verdict, reason, None, extra)


def _redirect(location: str, decision_id: DecisionID, verdict: Verdict, reason: str) -> CheckResult:
    headers = (("location", location), *_common(decision_id))
    return CheckResult(302, headers, b"", decision_id, verdict, reason)


def _json(
    req: CheckRequest,
    status: int,
    body: dict[str, str],
    decision_id: DecisionID,
    verdict: Verdict,
    reason: str,
    challenge: str | None,
    extra: tuple[tuple[str, str], ...] = (),
) -> CheckResult:
    headers = [("content-type", "application/json"), *_common(decision_id), *extra]
    if challenge is not None:
        headers.append(("www-authenticate", challenge))
    payload = b"" if req.method == "HEAD" else orjson.dumps(body)
    return CheckResult(status, tuple(headers), payload, decision_id, verdict, reason)


def _common(decision_id: DecisionID) -> tuple[tuple[str, str], ...]:
    return (("cache-control", "no-store"), (DECISION_ID_HEADER, decision_id))


def _url_problem(loc: str, url: str) -> ErrorDetail | None:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
        return ErrorDetail(
            "config_invalid", loc, "must be an absolute URL without query or fragment"
        )
    return None


__all__ = [
    "DECISION_ID_HEADER",
    "REALM",
    "UPSTREAM_HEADERS",
    "SignInURLs",
    "allow",
    "refusal",
    "step_up",
    "unauthenticated",
]
