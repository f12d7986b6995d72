"""The admin console and admin API (docs/admin.md).

`create_admin_app(Console(...), checker=...)` is the console: server-rendered pages and a JSON
API (OpenAPI 3.1 at `/admin/api/v1/openapi.json`), protected by Zerogate's own check as the
Cedar route `Route::"zerogate-admin"`; `admin_mount` puts it at `/admin`. Every action is
written to the audit log before it is answered. `DecisionFeed` is the live decision feed: a
`DecisionRecorder` to give the check beside the audit log and the metrics.
"""

from zerogate.admin._app import (
    ADMIN_PATH,
    ADMIN_ROUTE,
    STATIC_FILES,
    admin_mount,
    admin_openapi,
    create_admin_app,
)
from zerogate.admin._audit_view import AuditView, Verification
from zerogate.admin._console import Console
from zerogate.admin._feed import FEED_SIZE, DecisionFeed, FeedEntry, FeedPage
from zerogate.admin._overview import WINDOW_S, MetricsWindow, Rates

__all__ = [
    "ADMIN_PATH",
    "ADMIN_ROUTE",
    "FEED_SIZE",
    "STATIC_FILES",
    "WINDOW_S",
    "AuditView",
    "Console",
    "DecisionFeed",
    "FeedEntry",
    "FeedPage",
    "MetricsWindow",
    "Rates",
    "Verification",
    "admin_mount",
    "admin_openapi",
    "create_admin_app",
]
