"""Server-rendered pages: Jinja2 templates with autoescaping, and the one error page.

Every page is HTML from `templates/` with the security headers and `Cache-Control: no-store`
(sign-in pages must not be kept by the browser or a shared cache). Values are escaped by Jinja2;
the only markup we insert is the QR code's SVG, which we render ourselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup
from starlette.responses import HTMLResponse, Response

from zerogate.idp._headers import SECURITY_HEADERS

STATIC_FILES = {
    "zerogate.css": "text/css",
    "favicon.svg": "image/svg+xml",
    "passkey.js": "text/javascript",  # loaded only by pages that offer passkeys
}
_TEMPLATES = resources.files("zerogate.idp") / "templates"
_STATIC = resources.files("zerogate.idp") / "static"


class Pages:
    """Renders templates into responses; strict about undefined names so typos fail in tests."""

    def __init__(self, *, product: str) -> None:
        self._env = jinja2.Environment(
            loader=jinja2.FunctionLoader(_load_template),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.globals.update(product=product)
        # Read once: the few static files are tiny and never change while running.
        self.static = {name: (_STATIC / name).read_bytes() for name in STATIC_FILES}

    def render(
        self,
        template: str,
        *,
        status: int = 200,
        cookies: tuple[str, ...] = (),
        **context: Any,
    ) -> Response:
        """A page with the security headers, `no-store`, and any `Set-Cookie` values given."""
        body = self._env.get_template(template).render(**context)
        response = HTMLResponse(body, status_code=status, headers=_page_headers())
        for cookie in cookies:
            response.headers.append("set-cookie", cookie)
        return response

    def error(
        self, code: str, message: str, status: int, *, reference: str | None = None
    ) -> Response:
        """The error page: a stable code and a short message, never a traceback."""
        return self.render(
            "error.html",
            status=status,
            code=code,
            message=message,
            status_code=status,
            reference=reference,
        )


def trusted_svg(svg: str) -> Markup:
    """Mark SVG markup we generated ourselves (the TOTP QR code) as safe to insert."""
    return Markup(svg)  # noqa: S704 - produced by segno from our own URI, never from input


def see_other(location: str, *, cookies: tuple[str, ...] = ()) -> Response:
    """303 See Other: after a form post the browser GETs the next page (standards OA-A7)."""
    response = Response(
        status_code=303, headers={"location": location, "cache-control": "no-store"}
    )
    for cookie in cookies:
        response.headers.append("set-cookie", cookie)
    return response


def _page_headers() -> Mapping[str, str]:
    return {**SECURITY_HEADERS, "cache-control": "no-store"}


def _load_template(name: str) -> str | None:
    path = _TEMPLATES / name
    return path.read_text(encoding="utf-8") if path.is_file() else None


__all__ = ["STATIC_FILES", "Pages", "see_other", "trusted_svg"]
