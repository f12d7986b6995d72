"""The small HTML page a browser sees when the gateway says no (403, 400, 503), every value escaped."""

from __future__ import annotations

import base64
import hashlib
import html

_STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2430}"
    "main{max-width:34rem;margin:12vh auto;padding:2rem;background:#fff;border-radius:8px;"
    "box-shadow:0 1px 3px #0002}h1{font-size:1.4rem;margin:0 0 1rem}"
    "code{background:#eef0f3;padding:.1rem .3rem;border-radius:4px;word-break:break-all}"
    ".id{color:#5a6475;font-size:.9rem}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode("ascii")).digest()).decode("ascii")
# No script, no framing, nothing loaded: the page is one document with one hashed style block.
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS: tuple[tuple[str, str], ...] = (
    ("content-type", "text/html; charset=utf-8"),
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
)


def render_page(title: str, message: str, decision_id: str, *, hint: str) -> bytes:
    """A self-contained page: what happened, why (for people), and the id to quote to an admin."""
    e = html.escape
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{e(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main><h1>{e(title)}</h1><p>{e(message)}</p><p>{e(hint)}</p>"
        f'<p class="id">Decision id: <code>{e(decision_id)}</code></p>'
        "</main></body></html>\n"
    ).encode()


__all__ = ["CONTENT_SECURITY_POLICY", "PAGE_HEADERS", "render_page"]
