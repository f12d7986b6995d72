"""The Access Evaluations (batch) API: defaults and overrides, the three semantics, item errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from authzen_support import EVALUATIONS, app, context, evaluation, locs, subject

from zerogate.authzen import MAX_EVALUATIONS

if TYPE_CHECKING:
    from starlette.testclient import TestClient


def _batch(*resources: str, semantic: str | None = None) -> dict[str, Any]:
    """alice (engineering) GETs each app in turn: `wiki` allows, `payroll` denies."""
    body: dict[str, Any] = {
        "subject": subject("alice"),
        "action": {"name": "GET"},
        "context": context(),
        "evaluations": [{"resource": app(r)} for r in resources],
    }
    if semantic is not None:
        body["options"] = {"evaluations_semantic": semantic}
    return body


def _decisions(client: TestClient, body: dict[str, Any]) -> list[bool]:
    response = client.post(EVALUATIONS, json=body)
    assert response.status_code == 200, response.text
    return [e["decision"] for e in response.json()["evaluations"]]


def test_evaluations_execute_all_by_default(client: TestClient) -> None:
    assert _decisions(client, _batch("wiki", "payroll", "wiki")) == [True, False, True]


def test_evaluations_execute_all_explicitly(client: TestClient) -> None:
    body = _batch("wiki", "payroll", "wiki", semantic="execute_all")

    assert _decisions(client, body) == [True, False, True]


def test_evaluations_deny_on_first_deny_stops_there(client: TestClient) -> None:
    body = _batch("wiki", "payroll", "wiki", semantic="deny_on_first_deny")

    assert _decisions(client, body) == [True, False]


def test_evaluations_permit_on_first_permit_stops_there(client: TestClient) -> None:
    body = _batch("payroll", "wiki", "payroll", semantic="permit_on_first_permit")

    assert _decisions(client, body) == [False, True]


def test_evaluations_items_override_defaults_whole(client: TestClient) -> None:
    body = _batch("wiki")
    body["evaluations"] += [
        {"action": {"name": "POST"}, "resource": app("wiki")},  # engineering may write
        {"subject": subject("carol", "contractors"), "resource": app("wiki")},
        {"resource": app("wiki"), "context": context(risk=99)},
    ]

    assert _decisions(client, body) == [True, True, False, False]


def test_evaluations_items_carry_their_own_context(client: TestClient) -> None:
    response = client.post(EVALUATIONS, json=_batch("wiki", "payroll"))

    first, second = response.json()["evaluations"]
    assert first["context"]["reason_admin"]["policies"] == ["wiki-read"]
    assert second["context"]["reason_admin"]["explanation"]["closest_permits"]
    assert first["context"]["id"] != second["context"]["id"]


def test_evaluations_without_array_answer_like_single_endpoint(client: TestClient) -> None:
    response = client.post(EVALUATIONS, json=evaluation("wiki"))

    assert response.status_code == 200
    body = response.json()
    assert body["decision"] is True
    assert "evaluations" not in body


def test_evaluations_pdp_refusal_denies_only_that_item(client: TestClient) -> None:
    body = _batch("wiki")
    body["evaluations"] += [{"resource": {"type": "Bogus", "id": "x"}}, {"resource": app("wiki")}]

    evaluations = client.post(EVALUATIONS, json=body).json()["evaluations"]

    assert [e["decision"] for e in evaluations] == [True, False, True]
    error = evaluations[1]["context"]["error"]
    assert error["status"] == 400
    assert error["code"] == "request_invalid"
    assert "Bogus" in error["errors"][0]["msg"]


def test_evaluations_pdp_refusal_counts_as_deny(client: TestClient) -> None:
    body = _batch("wiki", semantic="deny_on_first_deny")
    body["evaluations"] += [{"resource": {"type": "Bogus", "id": "x"}}, {"resource": app("wiki")}]

    assert _decisions(client, body) == [True, False]


def test_evaluations_report_missing_fields_per_item(client: TestClient) -> None:
    body = {"action": {"name": "GET"}, "evaluations": [{"resource": app("wiki")}, {}]}

    response = client.post(EVALUATIONS, json=body)

    assert response.status_code == 400
    assert locs(response.json()) == [
        "evaluations[0].subject",
        "evaluations[1].resource",
        "evaluations[1].subject",
    ]


def test_evaluations_report_a_bad_default_once(client: TestClient) -> None:
    body = _batch("wiki", "payroll")
    body["subject"] = {"type": "User"}

    response = client.post(EVALUATIONS, json=body)

    assert locs(response.json()) == ["subject.id"]


@pytest.mark.parametrize(
    ("options", "loc"),
    [
        ({"evaluations_semantic": "first_wins"}, "options.evaluations_semantic"),
        ({"evaluations_semantic": 1}, "options.evaluations_semantic"),
        ({"another_option": "value"}, "options.another_option"),
        ("execute_all", "options"),
    ],
)
def test_evaluations_reject_bad_options(client: TestClient, options: Any, loc: str) -> None:
    body = {**_batch("wiki"), "options": options}

    response = client.post(EVALUATIONS, json=body)

    assert response.status_code == 400
    assert locs(response.json()) == [loc]


def test_evaluations_reject_too_many(client: TestClient) -> None:
    body = _batch(*["wiki"] * (MAX_EVALUATIONS + 1))

    response = client.post(EVALUATIONS, json=body)

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"code": "request_invalid", "loc": "evaluations", "msg": "at most 256 allowed"}
    ]


def test_evaluations_reject_non_array(client: TestClient) -> None:
    response = client.post(EVALUATIONS, json={**_batch(), "evaluations": {"resource": {}}})

    assert locs(response.json()) == ["evaluations"]
