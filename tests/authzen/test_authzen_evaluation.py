"""The Access Evaluation API: allows, denies with their reasons, entities, request ids."""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson
from authzen_support import EVALUATION, app, context, evaluation, subject

if TYPE_CHECKING:
    from starlette.testclient import TestClient

from zerogate.policy import PDP


def test_evaluation_allows_with_id_policies_and_bundle(client: TestClient, pdp: PDP) -> None:
    response = client.post(EVALUATION, json=evaluation("wiki"))

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["decision"] is True
    assert body["context"]["id"]
    assert body["context"]["reason_admin"] == {
        "outcome": "allowed",
        "policies": ["wiki-read"],
        "bundle": pdp.bundle_hash,
    }
    assert "reason_user" not in body["context"]


def test_evaluation_denies_with_closest_permit(client: TestClient, pdp: PDP) -> None:
    body = client.post(EVALUATION, json=evaluation("payroll")).json()

    assert body["decision"] is False
    ctx = body["context"]
    admin = ctx["reason_admin"]
    assert ctx["id"]
    assert admin["outcome"] == "no_permit"
    assert admin["policies"] == []
    assert admin["errors"] == []
    assert admin["bundle"] == pdp.bundle_hash
    closest = admin["explanation"]["closest_permits"][0]
    assert closest["policy_id"] == "payroll-admins"
    assert closest["effect"] == "permit"
    assert {"kind": "principal", "text": 'principal in Group::"payroll-admin"'} in [
        {"kind": c["kind"], "text": c["text"]} for c in closest["failed"]
    ]
    assert ctx["reason_user"]["en"] == admin["explanation"]["summary"]
    assert "payroll-admins" in ctx["reason_user"]["en"]


def test_evaluation_denies_by_forbid_with_its_policy(client: TestClient) -> None:
    body = client.post(EVALUATION, json=evaluation("wiki", risk=95)).json()

    admin = body["context"]["reason_admin"]
    assert body["decision"] is False
    assert admin["outcome"] == "forbidden"
    assert admin["policies"] == ["deny-high-risk"]
    forbid = admin["explanation"]["forbids"][0]
    assert forbid["policy_id"] == "deny-high-risk"
    assert forbid["reason"] == "the session's risk score is above 80"
    assert body["context"]["reason_user"]["en"].startswith("denied by forbid `deny-high-risk`")


def test_evaluation_decision_ids_are_unique(client: TestClient) -> None:
    ids = {client.post(EVALUATION, json=evaluation()).json()["context"]["id"] for _ in range(3)}

    assert len(ids) == 3


def test_evaluation_uses_subject_parents_from_properties(client: TestClient) -> None:
    body = evaluation("wiki", "POST")
    outsider = {**body, "subject": subject("carol", "contractors")}

    assert client.post(EVALUATION, json=body).json()["decision"] is True  # engineering writes
    assert client.post(EVALUATION, json=outsider).json()["decision"] is False


def test_evaluation_accepts_entities_extension(client: TestClient) -> None:
    body = {
        "subject": {"type": "User", "id": "dave"},
        "action": {"name": "GET"},
        "resource": app("wiki"),
        "context": context(),
        "entities": [
            {
                "uid": {"type": "User", "id": "dave"},
                "attrs": {"email": "dave@example.com"},
                "parents": [{"type": "Group", "id": "employees"}],
            }
        ],
    }

    response = client.post(EVALUATION, json=body)

    assert response.json()["decision"] is True


def test_evaluation_without_user_entity_fails_closed(client: TestClient) -> None:
    # `divested-accounts` reads principal.email; without the entity it errors and denies.
    body = {**evaluation("wiki"), "subject": {"type": "User", "id": "erin"}}

    admin = client.post(EVALUATION, json=body).json()["context"]["reason_admin"]

    assert admin["outcome"] == "policy_error"
    assert admin["policies"] == ["divested-accounts"]
    assert admin["errors"][0]["policy_id"] == "divested-accounts"


def test_evaluation_echoes_request_id(client: TestClient) -> None:
    headers = {"X-Request-ID": "bfe9eb29-ab87-4ca3-be83-a1d5d8305716"}

    ok = client.post(EVALUATION, json=evaluation(), headers=headers)
    bad = client.post(EVALUATION, json={}, headers=headers)

    assert ok.headers["x-request-id"] == headers["X-Request-ID"]
    assert bad.status_code == 400
    assert bad.headers["x-request-id"] == headers["X-Request-ID"]


def test_evaluation_without_request_id_sends_none(client: TestClient) -> None:
    assert "x-request-id" not in client.post(EVALUATION, json=evaluation()).headers


def test_evaluation_accepts_json_with_charset(client: TestClient) -> None:
    response = client.post(
        EVALUATION,
        content=orjson.dumps(evaluation()),
        headers={"content-type": "Application/JSON; charset=utf-8"},
    )

    assert response.status_code == 200
    assert response.json()["decision"] is True


def test_evaluation_drops_unreasonable_request_ids(client: TestClient) -> None:
    for bad_id in ("x" * 129, "has space", "tab\there"):
        response = client.post(EVALUATION, json=evaluation(), headers={"X-Request-ID": bad_id})
        assert response.status_code == 200
        assert "x-request-id" not in response.headers
