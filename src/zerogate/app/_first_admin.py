"""The first administrator: `zerogate up` on an empty directory creates one and shows the
password once, so there is someone to sign in as (and, later, to run the admin console).

Only when the directory has no users at all; never again afterwards. The password is random
(144 bits), stored only as its argon2id hash, and printed to the terminal that started
Zerogate: the person who could read the data directory anyway.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass

from zerogate.app.admin import directory
from zerogate.clock import Clock
from zerogate.config import Settings
from zerogate.errors import Conflict
from zerogate.store import Store

ADMIN_USERNAME = "admin"
ADMIN_EMAIL = "admin@zerogate.localhost"
ADMIN_GROUP = "admins"  # the example policies' administrators


@dataclass(frozen=True, slots=True)
class FirstAdmin:
    username: str
    password: str  # shown once, never stored in clear

    def __repr__(self) -> str:  # never in a log line or a traceback
        return f"FirstAdmin(username={self.username!r}, password=<hidden>)"


async def ensure_first_admin(
    store: Store, settings: Settings, *, clock: Clock
) -> FirstAdmin | None:
    """Create the first administrator if no user exists yet; None when someone does."""
    people = directory(store, settings)
    if await people.list_users():
        return None
    now = clock.now()
    with contextlib.suppress(Conflict):  # made by hand before anyone was
        await people.add_group(ADMIN_GROUP, description="administrators", now=now)
    password = secrets.token_urlsafe(18)
    try:
        await people.add_user(
            ADMIN_USERNAME, ADMIN_EMAIL, password=password, groups=(ADMIN_GROUP,), now=now
        )
    except Conflict:
        return None  # another replica made it first
    return FirstAdmin(ADMIN_USERNAME, password)
