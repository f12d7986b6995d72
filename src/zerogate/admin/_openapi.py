"""The admin API's OpenAPI 3.1 document, written from the route table (`_api.OPERATIONS`).

Paths, methods, parameters and request bodies come from the operations themselves; the response
schemas are written here, one per shape in `_shapes` and the handlers. The test suite runs
schemathesis against this document to keep both honest.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from zerogate._version import __version__
from zerogate.admin._fields import body_schema
from zerogate.admin._routing import API_PREFIX, Operation
from zerogate.audit import EventKind, Outcome
from zerogate.gateway.check import Verdict
from zerogate.identity import SESSION_COOKIE_NAME

OPENAPI_PATH = "/openapi.json"  # under the API prefix
# Every operation may get these from Zerogate's check, which decides each request first.
_FROM_THE_CHECK = (400, 401, 403, 414, 431)
# And every state change these: its JSON body, and the audit entry it must leave first.
_STATE_CHANGE = (413, 415, 503)
_STATUS_TEXT = {
    400: "The input is invalid (`query_invalid`, `body_invalid`, `json_invalid`, "
    "`invalid_input`), or the check found the request malformed (`request_invalid`).",
    401: "Not signed in, the credentials are not valid, or a second factor is needed (from "
    "Zerogate's check).",
    403: "Refused by policy (the check), or a state change from another origin "
    "(`origin_mismatch`).",
    404: "No such user, group, session, client or bundle.",
    409: "The change conflicts with the current state (`member_exists`, "
    "`admin_self_lockout`, `session_id_ambiguous`).",
    413: "The body is too large (`request_too_large`).",
    414: "The address is too long for the check (`uri_too_long`).",
    431: "A header or the cookies are too large for the check (`request_header_too_large`).",
    415: "The body is not `application/json` (`unsupported_media_type`).",
    503: "The audit log could not record the action (`audit_unavailable`); the message says "
    "whether it was done.",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(props: dict[str, Any], *, optional: Sequence[str] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": props,
        "required": [p for p in props if p not in optional],
        "additionalProperties": False,
    }


_STR = {"type": "string"}
_INT = {"type": "integer"}
_NUM = {"type": "number"}
_BOOL = {"type": "boolean"}
_TIME = {"type": "string", "format": "date-time"}
_STR_OR_NULL = {"type": ["string", "null"]}
_NUM_OR_NULL = {"type": ["number", "null"]}
_STRS = {"type": "array", "items": _STR}


def _list_of(key: str, item: str) -> dict[str, Any]:
    return _obj({key: {"type": "array", "items": _ref(item)}})


_ACTION_RESULT = {
    "action": _STR,
    "resource": _STR,
    "audit": _obj({"intent": _INT, "outcome": _INT}),
}

SCHEMAS: dict[str, Any] = {
    "Error": _obj(
        {
            "code": _STR,
            "message": _STR,
            "errors": {
                "type": "array",
                "items": _obj({"code": _STR, "loc": _STR, "msg": _STR}),
            },
        },
        optional=("errors",),
    ),
    "CheckRefusal": _obj(
        {"error": _STR, "error_description": _STR, "decision_id": _STR},
        optional=("error_description", "decision_id"),
    ),
    "Rates": _obj(
        {
            "window_s": _NUM_OR_NULL,
            "decisions_per_s": _NUM_OR_NULL,
            "deny_ratio": _NUM_OR_NULL,
            "p95_latency_ms": _NUM_OR_NULL,
            "decisions_total": _INT,
        }
    ),
    "Overview": _obj(
        {
            "rates": _ref("Rates"),
            "active_sessions": _INT,
            "users": _INT,
            "disabled_users": _INT,
            "policy": _obj({"bundle": _STR, "policies": _INT}),
            "decisions_seen": _INT,
        }
    ),
    "Decision": _obj(
        {
            "seq": _INT,
            "at": _TIME,
            "decision_id": _STR,
            "verdict": {"type": "string", "enum": [v.value for v in Verdict]},
            "reason": _STR,
            "status": _INT,
            "route": _STR_OR_NULL,
            "action": _STR,
            "principal": _STR_OR_NULL,
            "client_ip": _STR_OR_NULL,
            "policies": _STRS,
            "explanation": _STR_OR_NULL,
            "bundle": _STR_OR_NULL,
            "cached": _BOOL,
            "latency_ms": _NUM,
        }
    ),
    "DecisionPage": _obj(
        {"latest": _INT, "missed": _INT, "entries": {"type": "array", "items": _ref("Decision")}}
    ),
    "User": _obj(
        {
            "username": _STR,
            "email": _STR,
            "display_name": _STR_OR_NULL,
            "status": {"type": "string", "enum": ["active", "disabled", "locked"]},
            "has_password": _BOOL,
            "groups": _STRS,
            "created_at": _TIME,
        }
    ),
    "UserList": _list_of("users", "User"),
    "Group": _obj({"name": _STR, "description": _STR_OR_NULL, "members": _STRS}),
    "GroupList": _list_of("groups", "Group"),
    "Session": _obj(
        {
            "id": _STR,
            "username": _STR,
            "created_at": _TIME,
            "last_seen_at": _TIME,
            "expires_at": _TIME,
            "auth_time": _TIME,
            "amr": _STRS,
            "mfa": _BOOL,
            "ip": _STR_OR_NULL,
            "user_agent": _STR_OR_NULL,
        }
    ),
    "SessionList": _list_of("sessions", "Session"),
    "Client": _obj(
        {
            "client_id": _STR,
            "name": _STR,
            "public": _BOOL,
            "redirect_uris": _STRS,
            "scopes": _STRS,
            "disabled": _BOOL,
            "created_at": _TIME,
        }
    ),
    "ClientList": _list_of("clients", "Client"),
    "ActionResult": _obj(_ACTION_RESULT),
    "SessionsRevoked": _obj({**_ACTION_RESULT, "sessions_revoked": _INT}),
    "PolicyActivated": _obj({**_ACTION_RESULT, "activation": _INT}),
    "Activation": _obj(
        {"id": _INT, "bundle": _STR, "activated_at": _TIME, "activated_by": _STR_OR_NULL}
    ),
    "PolicyHistory": _obj(
        {"running": _STR, "activations": {"type": "array", "items": _ref("Activation")}}
    ),
    "PolicyDiff": _obj(
        {
            "from": _STR,
            "to": _STR,
            "files": {
                "type": "array",
                "items": _obj(
                    {
                        "name": _STR,
                        "change": {"type": "string", "enum": ["added", "removed", "changed"]},
                        "diff": _STR,
                    }
                ),
            },
        }
    ),
    "AuditRecord": _obj(
        {
            "seq": _INT,
            "time": _STR,
            "kind": {"type": "string", "enum": [k.value for k in EventKind]},
            "decision": {"type": "string", "enum": [o.value for o in Outcome]},
            "decision_id": _STR,
            "trace_id": _STR,
            "principal": _STR,
            "resource": _STR,
            "action": _STR,
            "reason": _STR,
            "policy_revision": _STR,
            "policies": _STRS,
            "posture_age_s": _NUM,
            "latency_us": _INT,
            "attrs": {"type": "object", "additionalProperties": _STR},
        },
        optional=(
            "decision_id",
            "trace_id",
            "principal",
            "resource",
            "action",
            "reason",
            "policy_revision",
            "policies",
            "posture_age_s",
            "latency_us",
            "attrs",
        ),
    ),
    "AuditRecords": _list_of("records", "AuditRecord"),
    "AuditVerification": _obj(
        {
            "status": {"type": "string", "enum": ["verified", "failed"]},
            "key_source": {"type": "string", "enum": ["pinned", "log_directory", "none"]},
            "checked_at": _TIME,
            "size": _INT,
            "start": _INT,
            "checkpoint_size": {"type": ["integer", "null"]},
            "checkpoints": _INT,
            "unsigned": _INT,
            "error_code": _STR_OR_NULL,
            "error": _STR_OR_NULL,
        }
    ),
}


def openapi_document(operations: Sequence[Operation], *, prefix: str) -> dict[str, Any]:
    """The document for `operations` served under `prefix` (the console's mount, `/admin`)."""
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(prefix + API_PREFIX + op.path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Zerogate admin API",
            "version": __version__,
            "description": "What the admin console's pages and buttons call (docs/admin.md). "
            "Every action is written to the audit log before it is answered.",
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE_NAME},
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            },
        },
        "security": [{"session": []}, {"bearer": []}],
    }


def _operation(op: Operation) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
        "responses": {"200": _json("OK", _ref(op.response))},
    }
    if op.description:
        doc["description"] = op.description
    params = [
        {"name": f.name, "in": "path", "required": True, "schema": f.schema()}
        for f in op.path_params
    ]
    params += [
        {"name": f.name, "in": "query", "required": f.required, "schema": f.schema()}
        for f in op.query
    ]
    if params:
        doc["parameters"] = params
    if op.body is not None:
        doc["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body_schema(op.body)}},
        }
    changes = _STATE_CHANGE if op.changes_state else ()
    for status in sorted({*op.errors, *changes, *_FROM_THE_CHECK}):
        doc["responses"][str(status)] = _error(status)
    return doc


def _error(status: int) -> dict[str, Any]:
    text = _STATUS_TEXT[status]
    if status in (400, 401, 403):  # from the check in front, or from the console itself
        return _json(text, {"anyOf": [_ref("Error"), _ref("CheckRefusal")]})
    if status in (414, 431):  # only the check refuses these
        return _json(text, _ref("CheckRefusal"))
    return _json(text, _ref("Error"))


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


__all__ = ["OPENAPI_PATH", "SCHEMAS", "openapi_document"]
