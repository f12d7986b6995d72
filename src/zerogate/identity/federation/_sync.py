"""Group synchronisation at each federated sign-in, through `Directory` so every change is recorded.

Only the groups the upstream's rules name are managed: the user is added to those its claims
grant and removed from those they no longer grant. Memberships in any other group (set by an
administrator, or by another upstream's rules) are never touched. A group a rule names but that
does not exist yet is created, so a new upstream group works without a second step.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from zerogate.errors import Conflict, NotFound
from zerogate.identity import Directory, User
from zerogate.identity.federation._rules import GroupRule, managed_groups, map_groups

log = logging.getLogger("zerogate.identity.federation")


async def sync_groups(
    directory: Directory,
    user: User,
    *,
    upstream: str,
    rules: tuple[GroupRule, ...],
    claims: Mapping[str, Any],
    now: datetime,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Bring `user`'s managed memberships in line with `claims`; returns (added, removed)."""
    managed = managed_groups(rules)
    if not managed:
        return (), ()
    wanted = map_groups(rules, claims)
    current = {g.name for g in await directory.groups_of(user.username)} & managed
    added = []
    for name in sorted(wanted - current):
        await _ensure_group(directory, name, upstream=upstream, now=now)
        try:
            await directory.add_member(name, user.username, now=now)
        except Conflict:
            continue  # added concurrently: the outcome we wanted
        added.append(name)
    removed = []
    for name in sorted(current - wanted):
        try:
            await directory.remove_member(name, user.username, now=now)
        except NotFound:
            continue  # removed (or the group deleted) concurrently
        removed.append(name)
    if added or removed:
        log.info(
            "federated groups synchronised",
            extra={"upstream": upstream, "user_id": user.id, "added": added, "removed": removed},
        )
    return tuple(added), tuple(removed)


async def _ensure_group(directory: Directory, name: str, *, upstream: str, now: datetime) -> None:
    try:
        await directory.get_group(name)
        return
    except NotFound:
        pass
    try:
        await directory.add_group(name, description=f"Mapped from upstream {upstream}", now=now)
    except Conflict:
        return  # created concurrently
    log.info("federated group created", extra={"upstream": upstream, "group": name})


__all__ = ["sync_groups"]
