"""The admin API's operations: reads for the pages, and the audited actions behind the buttons.

Every action runs the same code as its CLI command (`zerogate session revoke`, `user disable`,
`client disable`, `policy push`), so its change feed event reaches every gateway and PDP, and
runs inside `audited` (intent, action, outcome in the audit log before the answer).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from zerogate._types import BundleHash
from zerogate.admin._actions import audited
from zerogate.admin._console import Console
from zerogate.admin._fields import Field
from zerogate.admin._revisions import activation_json, revision_diff
from zerogate.admin._routing import Call, Operation
from zerogate.admin._shapes import (
    client_json,
    group_json,
    safe_text,
    session_json,
    user_json,
)
from zerogate.audit import EventKind, Outcome, Search
from zerogate.errors import Conflict

T = TypeVar("T")
MAX_SESSIONS = 500  # listed at once; the count on the overview covers all of them
_ID_MAX = 256  # ids from a path, as they go into the audit log
MAX_CURSOR = 2**53 - 1  # a feed cursor stays exact in JavaScript

REASON = Field(
    "reason",
    description="Recorded with the change and in the audit log.",
    pattern=r"[!-~]([ -~]{0,98}[!-~])?",
    max_length=100,
    default="revoked by an administrator",
    example="laptop reported stolen",
)
# Path parameters are bounded so that a whole address stays within the check's limit.
USERNAME = Field(
    "username", max_length=254, description="A username or email address.", example="ada"
)
GROUP = Field("group", max_length=64, description="A group name.", example="employees")
SESSION_ID = Field(
    "session_id",
    description="A session id (SHA-256 hex) or its first 8 or more hex digits.",
    pattern=r"[0-9a-f]{8,64}",
    example="3f2a9c1d",
)
CLIENT_ID = Field(
    "client_id",
    max_length=100,
    description="An OpenID Connect client id.",
    example="zg-0123456789abcdef",
)
BUNDLE = Field(
    "bundle", max_length=128, description="A stored policy bundle's hash.", example="0" * 64
)
MEMBER = Field(
    "user", required=True, max_length=254, description="A username or email address.", example="eve"
)


def _resource(kind: str, ident: str) -> str:
    return f'{kind}::"{safe_text(ident[:_ID_MAX])}"'


async def _act(
    c: Console,
    call: Call,
    action: str,
    resource: str,
    run: Callable[[], Awaitable[T]],
    **attrs: str,
) -> tuple[T, dict[str, Any]]:
    value, intent, outcome = await audited(
        c.audit, call.actor, action=action, resource=resource, attrs=attrs, act=run
    )
    done = {"action": action, "resource": resource, "audit": {"intent": intent, "outcome": outcome}}
    return value, done


# Overview and the live feed


async def overview(c: Console, call: Call) -> dict[str, Any]:
    now = c.clock.now()
    users = await c.directory.list_users()
    bundle = c.pdp.bundle
    return {
        "rates": c.window.rates().as_dict(),
        "active_sessions": await c.sessions.count_active(now=now),
        "users": len(users),
        "disabled_users": sum(1 for u in users if u.disabled),
        "policy": {"bundle": bundle.hash, "policies": len(bundle.base.sources)},
        "decisions_seen": c.feed.latest,
    }


async def decisions(c: Console, call: Call) -> dict[str, Any]:
    page = c.feed.after(call.query["after"], limit=call.query["limit"])
    return {
        "latest": page.latest,
        "missed": page.missed,
        "entries": [e.as_dict() for e in page.entries],
    }


# People


async def users(c: Console, call: Call) -> dict[str, Any]:
    now = c.clock.now()
    memberships = await _memberships(c)
    found = await c.directory.list_users()
    return {"users": [user_json(u, memberships.get(u.username, []), now) for u in found]}


async def _memberships(c: Console) -> dict[str, list[str]]:
    by_user: dict[str, list[str]] = {}
    for group in await c.directory.list_groups():
        for member in await c.directory.members_of(group.name):
            by_user.setdefault(member.username, []).append(group.name)
    return by_user


async def disable_user(c: Console, call: Call) -> dict[str, Any]:
    name = call.path["username"]

    async def run() -> None:
        user = await c.directory.get_user(name)
        if user.username == call.actor.username:
            raise Conflict("you cannot disable your own account here", code="admin_self_lockout")
        await c.directory.disable_user(user.username, now=c.clock.now())

    _, done = await _act(c, call, "user.disable", _resource("User", name), run)
    return done


async def enable_user(c: Console, call: Call) -> dict[str, Any]:
    name = call.path["username"]

    async def run() -> None:
        await c.directory.enable_user(name, now=c.clock.now())

    _, done = await _act(c, call, "user.enable", _resource("User", name), run)
    return done


async def revoke_user_sessions(c: Console, call: Call) -> dict[str, Any]:
    name, reason = call.path["username"], call.body["reason"]

    async def run() -> int:
        change = await c.sessions.revoke_all(name, reason=reason, now=c.clock.now())
        return len(change.session_ids)

    count, done = await _act(
        c, call, "user.sessions.revoke", _resource("User", name), run, reason=safe_text(reason)
    )
    return {**done, "sessions_revoked": count}


async def groups(c: Console, call: Call) -> dict[str, Any]:
    found = []
    for group in await c.directory.list_groups():
        members = [u.username for u in await c.directory.members_of(group.name)]
        found.append(group_json(group, members))
    return {"groups": found}


async def add_member(c: Console, call: Call) -> dict[str, Any]:
    group, user = call.path["group"], call.body["user"]

    async def run() -> None:
        await c.directory.add_member(group, user, now=c.clock.now())

    resource = _resource("Group", group)
    _, done = await _act(c, call, "group.member.add", resource, run, user=safe_text(user))
    return done


async def remove_member(c: Console, call: Call) -> dict[str, Any]:
    group, user = call.path["group"], call.path["username"]

    async def run() -> None:
        await c.directory.remove_member(group, user, now=c.clock.now())

    resource = _resource("Group", group)
    _, done = await _act(c, call, "group.member.remove", resource, run, user=safe_text(user))
    return done


async def sessions(c: Console, call: Call) -> dict[str, Any]:
    now, user = c.clock.now(), call.query["user"]
    if user is None:
        found = await c.sessions.list_active(now=now, limit=MAX_SESSIONS)
    else:
        found = await c.sessions.list_for(user, now=now)
    return {"sessions": [session_json(s) for s in found]}


async def revoke_session(c: Console, call: Call) -> dict[str, Any]:
    ident, reason = call.path["session_id"], call.body["reason"]

    async def run() -> tuple[str, ...]:
        change = await c.sessions.revoke(ident, reason=reason, now=c.clock.now())
        return change.session_ids

    revoked, done = await _act(
        c, call, "session.revoke", _resource("Session", ident), run, reason=safe_text(reason)
    )
    return {**done, "sessions_revoked": len(revoked)}


# OpenID Connect clients


async def clients(c: Console, call: Call) -> dict[str, Any]:
    return {"clients": [client_json(x) for x in await c.clients.list()]}


async def disable_client(c: Console, call: Call) -> dict[str, Any]:
    ident = call.path["client_id"]

    async def run() -> None:
        await c.clients.disable(ident, now=c.clock.now())

    _, done = await _act(c, call, "client.disable", _resource("Client", ident), run)
    return done


async def enable_client(c: Console, call: Call) -> dict[str, Any]:
    ident = call.path["client_id"]

    async def run() -> None:
        await c.clients.enable(ident)

    _, done = await _act(c, call, "client.enable", _resource("Client", ident), run)
    return done


# Policy revisions


async def policies(c: Console, call: Call) -> dict[str, Any]:
    history = await c.policies.history(limit=call.query["limit"])
    return {"running": c.pdp.bundle_hash, "activations": [activation_json(a) for a in history]}


async def policy_diff(c: Console, call: Call) -> dict[str, Any]:
    against = call.query["against"] or c.pdp.bundle_hash
    return await revision_diff(c.policies, BundleHash(against), BundleHash(call.path["bundle"]))


async def activate_policy(c: Console, call: Call) -> dict[str, Any]:
    bundle = BundleHash(call.path["bundle"])

    async def run() -> int:
        activation = await c.policies.activate(bundle, actor=call.actor.principal)
        return activation.id

    activation, done = await _act(
        c, call, "policy.activate", _resource("PolicyBundle", bundle), run
    )
    return {**done, "activation": activation}


# The audit log


async def audit_search(c: Console, call: Call) -> dict[str, Any]:
    q = call.query
    query = Search(
        kind=EventKind(q["kind"]) if q["kind"] else None,
        decision=Outcome(q["decision"]) if q["decision"] else None,
        principal=q["principal"],
        resource=q["resource"],
        decision_id=q["decision_id"],
        trace_id=q["trace_id"],
        since=q["since"],
        until=q["until"],
    )
    found = await c.audit_view.search(query, limit=q["limit"])
    return {"records": [r.as_dict() for r in found]}


async def audit_verification(c: Console, call: Call) -> dict[str, Any]:
    return (await c.audit_view.verification()).as_dict()


_LIMIT = Field("limit", kind="integer", minimum=1, maximum=500, default=100)
_TEXT = 128  # a filter's longest value (the address stays within the check's limit)
AUDIT_QUERY = (
    Field("kind", choices=tuple(k.value for k in EventKind)),
    Field("decision", choices=tuple(o.value for o in Outcome)),
    Field("principal", max_length=_TEXT, example='User::"ada"'),
    Field("resource", max_length=_TEXT, example='Route::"wiki-web"'),
    Field("decision_id", max_length=_TEXT),
    Field("trace_id", max_length=_TEXT),
    Field("since", kind="date-time"),
    Field("until", kind="date-time"),
    _LIMIT,
)
_ACTION = (404, 409)  # and, as state changes, 413, 415 and 503 (see _openapi)

OPERATIONS: tuple[Operation, ...] = (
    Operation("GET", "/overview", "getOverview", "Decision rates, sessions, users, policy",
              "overview", overview, "Overview"),
    Operation("GET", "/decisions", "listDecisions", "Recent decisions after a cursor",
              "decisions", decisions, "DecisionPage",
              query=(Field("after", kind="integer", minimum=0, maximum=MAX_CURSOR, default=0,
                           description="The `latest` of the previous answer (0: from the start)."),
                     Field("limit", kind="integer", minimum=1, maximum=500, default=100)),
              errors=(400,)),
    Operation("GET", "/users", "listUsers", "Every user, with groups and status",
              "users", users, "UserList"),
    Operation("POST", "/users/{username}/disable", "disableUser",
              "Stop a user signing in; their sessions are revoked",
              "users", disable_user, "ActionResult", path_params=(USERNAME,), body=(),
              errors=_ACTION),
    Operation("POST", "/users/{username}/enable", "enableUser",
              "Let a disabled or locked-out user sign in again",
              "users", enable_user, "ActionResult", path_params=(USERNAME,), body=(),
              errors=_ACTION),
    Operation("POST", "/users/{username}/sessions/revoke", "revokeUserSessions",
              "Revoke every session of a user",
              "users", revoke_user_sessions, "SessionsRevoked", path_params=(USERNAME,),
              body=(REASON,), errors=_ACTION),
    Operation("GET", "/groups", "listGroups", "Every group and its members",
              "groups", groups, "GroupList"),
    Operation("POST", "/groups/{group}/members", "addGroupMember", "Add a user to a group",
              "groups", add_member, "ActionResult", path_params=(GROUP,), body=(MEMBER,),
              errors=_ACTION),
    Operation("POST", "/groups/{group}/members/{username}/remove", "removeGroupMember",
              "Remove a user from a group",
              "groups", remove_member, "ActionResult", path_params=(GROUP, USERNAME), body=(),
              errors=_ACTION),
    Operation("GET", "/sessions", "listSessions", "Live sessions, most recently seen first",
              "sessions", sessions, "SessionList",
              query=(Field("user", max_length=254,
                           description="Only this user's (a username or email address)."),),
              errors=(400, 404)),
    Operation("POST", "/sessions/{session_id}/revoke", "revokeSession", "Revoke one session",
              "sessions", revoke_session, "SessionsRevoked", path_params=(SESSION_ID,),
              body=(REASON,), errors=_ACTION),
    Operation("GET", "/clients", "listClients", "OpenID Connect clients",
              "clients", clients, "ClientList"),
    Operation("POST", "/clients/{client_id}/disable", "disableClient",
              "Refuse a client and revoke every token it holds",
              "clients", disable_client, "ActionResult", path_params=(CLIENT_ID,), body=(),
              errors=_ACTION),
    Operation("POST", "/clients/{client_id}/enable", "enableClient", "Accept a client again",
              "clients", enable_client, "ActionResult", path_params=(CLIENT_ID,), body=(),
              errors=_ACTION),
    Operation("GET", "/policies", "listPolicyActivations",
              "Policy activations, newest (the active bundle) first",
              "policies", policies, "PolicyHistory",
              query=(Field("limit", kind="integer", minimum=1, maximum=200, default=20),),
              errors=(400,)),
    Operation("GET", "/policies/{bundle}/diff", "diffPolicy",
              "What changes from one stored bundle to another",
              "policies", policy_diff, "PolicyDiff", path_params=(BUNDLE,),
              query=(Field("against", max_length=128,
                           description="The bundle to compare from (default: the running one)."),),
              errors=(400, 404)),
    Operation("POST", "/policies/{bundle}/activate", "activatePolicy",
              "Make a stored bundle the active one on every PDP",
              "policies", activate_policy, "PolicyActivated", path_params=(BUNDLE,), body=(),
              errors=_ACTION),
    Operation("GET", "/audit", "searchAudit", "Audit entries matching every filter, newest first",
              "audit", audit_search, "AuditRecords", query=AUDIT_QUERY, errors=(400,)),
    Operation("GET", "/audit/verification", "verifyAudit",
              "Whether the audit log verifies against its signed checkpoints",
              "audit", audit_verification, "AuditVerification"),
)  # fmt: skip

__all__ = ["AUDIT_QUERY", "MAX_SESSIONS", "OPERATIONS"]
