"""The console's pages: server-rendered with Jinja2 from the same reads the API serves.

Pages only read. Every button and form on them calls the JSON API from `static/admin.js`
(our own file: no CDN, works offline), so every change goes through the audited actions.
The pages allow scripts from their own origin only (CSP), never inline.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from importlib import resources
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from zerogate.admin import _api as api
from zerogate.admin._console import Console
from zerogate.admin._fields import Field, parse_query
from zerogate.admin._http import Actor
from zerogate.admin._routing import API_PREFIX, Call
from zerogate.errors import ZerogateError

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; connect-src 'self'; style-src 'self'; "
    "img-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cache-control": "no-store",
}
NAV = (
    ("", "Overview"),
    ("decisions", "Decisions"),
    ("users", "Users"),
    ("groups", "Groups"),
    ("sessions", "Sessions"),
    ("clients", "Clients"),
    ("policies", "Policies"),
    ("audit", "Audit"),
)
FEED_SHOWN = 100  # decisions rendered with the page; the script keeps adding newer ones
_TEMPLATES = resources.files("zerogate.admin") / "templates"
log = logging.getLogger("zerogate.admin")

PageHandler = Callable[[Console, Request, Actor], Awaitable[tuple[str, dict[str, Any]]]]


class Pages:
    """Renders the console's templates (autoescaped; undefined names fail loudly in tests)."""

    def __init__(self) -> None:
        self._env = jinja2.Environment(
            loader=jinja2.FunctionLoader(_load_template),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(self, template: str, *, status: int = 200, **context: Any) -> Response:
        body = self._env.get_template(template).render(**context)
        return HTMLResponse(body, status_code=status, headers=PAGE_HEADERS)


def page_routes(console: Console, pages: Pages) -> list[Route]:
    """One route per page, relative to the console's mount."""
    handlers: dict[str, PageHandler] = {
        "": _overview,
        "decisions": _decisions,
        "users": _users,
        "groups": _groups,
        "sessions": _sessions,
        "clients": _clients,
        "policies": _policies,
        "audit": _audit,
    }
    return [
        Route(f"/{name}", _page(console, pages, name, handler), methods=["GET"])
        for name, handler in handlers.items()
    ]


def _page(
    console: Console, pages: Pages, name: str, handler: PageHandler
) -> Callable[[Request], Awaitable[Response]]:
    async def page(request: Request) -> Response:
        base = request.scope.get("root_path", "")
        common = {"base": base, "api": base + API_PREFIX, "nav": NAV, "current": name}
        try:
            actor = Actor.of(request)
            template, context = await handler(console, request, actor)
        except ZerogateError as exc:
            return pages.render(
                "error.html", status=exc.status, user="", code=exc.code, message=exc.message,
                **common,
            )  # fmt: skip
        except Exception:
            log.exception("admin page %r failed", name)
            return pages.render(
                "error.html", status=500, user="", code="internal_error",
                message="The page could not be built; see the server's log.", **common,
            )  # fmt: skip
        return pages.render(template, user=actor.username, **common, **context)

    return page


def _call(request: Request, actor: Actor, query: Mapping[str, Any] | None = None) -> Call:
    return Call(request, {}, dict(query or {}), {}, actor)


def _query(request: Request, fields: tuple[Field, ...]) -> dict[str, Any]:
    return parse_query({f.name: request.query_params.getlist(f.name) for f in fields}, fields)


async def _overview(c: Console, request: Request, actor: Actor) -> tuple[str, dict[str, Any]]:
    return "overview.html", {"overview": await api.overview(c, _call(request, actor))}


async def _decisions(c: Console, request: Request, actor: Actor) -> tuple[str, dict[str, Any]]:
    page = c.feed.after(max(0, c.feed.latest - FEED_SHOWN), limit=FEED_SHOWN)
    entries = [e.as_dict() for e in reversed(page.entries)]  # newest first
    return "decisions.html", {"entries": entries, "latest": page.latest}


async def _users(c: Console, request: Request, actor: Actor) -> tuple[str, dict[str, Any]]:
    return "users.html", await api.users(c, _call(request, actor))


async def _groups(c: Console, request: Request, actor: Actor) -> tuple[str, dict[str, Any]]:
    return "groups.html", await api.groups(c, _call(request, actor))


async def _sessions(c: Console, request: Request, actor: Actor) -> tuple[str, dict[str, Any]]:
    query = _query(request, (Field("user", max_length=254),))
    found = await api.sessions(c, _call(request, actor, query))
    return "sessions.html", {**found, "user_filter": query["user"] or ""}


async def _clients(c: Console, request: Request, actor: Actor) -> tuple[str, dict[str, Any]]:
    return "clients.html", await api.clients(c, _call(request, actor))


async def _policies(c: Console, request: Request, actor: Actor) -> tuple[str, dict[str, Any]]:
    fields = (Field("diff", max_length=128), Field("against", max_length=128))
    query = _query(request, fields)
    history = await api.policies(c, _call(request, actor, {"limit": 50}))
    diff = None
    if query["diff"]:
        call = Call(request, {"bundle": query["diff"]}, {"against": query["against"]}, {}, actor)
        diff = await api.policy_diff(c, call)
    return "policies.html", {**history, "diff": diff}


async def _audit(c: Console, request: Request, actor: Actor) -> tuple[str, dict[str, Any]]:
    filled = {k: v for k, v in request.query_params.items() if v}  # an empty box: no filter
    given = {f.name: [filled[f.name]] if f.name in filled else [] for f in api.AUDIT_QUERY}
    query = parse_query(given, api.AUDIT_QUERY)
    found = await api.audit_search(c, _call(request, actor, query))
    verification = await c.audit_view.verification()
    return "audit.html", {
        **found,
        "filters": {k: filled.get(k, "") for k in (f.name for f in api.AUDIT_QUERY)},
        "kinds": api.AUDIT_QUERY[0].choices,
        "outcomes": api.AUDIT_QUERY[1].choices,
        "verification": verification.as_dict(),
        "log_dir": str(c.audit_view.directory),
    }


def _load_template(name: str) -> str | None:
    path = _TEMPLATES / name
    return path.read_text(encoding="utf-8") if path.is_file() else None


__all__ = ["CONTENT_SECURITY_POLICY", "PAGE_HEADERS", "Pages", "page_routes"]
