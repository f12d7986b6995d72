"""Translation of AuthZEN bodies into `policy.Request`s, without HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from authzen_support import app, context, evaluation, subject

from zerogate.authzen import EvaluationsSemantic, translate_evaluation, translate_evaluations
from zerogate.errors import InvalidInput
from zerogate.policy import Entity, EntityUID


def _locs(raw: Any) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        translate_evaluation(raw)
    assert caught.value.code == "request_invalid"
    return [d.loc for d in caught.value.details]


def test_translate_maps_the_four_tuple() -> None:
    request = translate_evaluation(evaluation("wiki", "read"))

    assert request.principal == EntityUID("User", "alice")
    assert request.action == EntityUID("Action", "read")
    assert request.resource == EntityUID("App", "wiki")
    assert request.context == context()
    assert request.entities == (
        Entity(
            EntityUID("User", "alice"),
            {"email": "alice@example.com"},
            (EntityUID("Group", "engineering"),),
        ),
    )


def test_translate_properties_without_entity_keys_add_no_entity() -> None:
    body = {**evaluation(), "subject": {"type": "User", "id": "alice", "properties": {}}}

    assert translate_evaluation(body).entities == ()


def test_translate_context_defaults_to_empty() -> None:
    body = evaluation()
    del body["context"]

    assert translate_evaluation(body).context == {}


def test_translate_resource_properties_describe_the_resource() -> None:
    body = {**evaluation(), "resource": {**app("intranet"), "properties": {"attrs": {}}}}

    assert translate_evaluation(body).entities[1] == Entity(EntityUID("App", "intranet"), {}, ())


def test_translate_rejects_bad_properties() -> None:
    body = evaluation()
    body["subject"]["properties"] = {
        "attrs": [],
        "parents": [{"type": "Group"}, "admins"],
        "department": "Sales",
    }

    assert _locs(body) == [
        "subject.properties.attrs",
        "subject.properties.department",
        "subject.properties.parents[0]",
        "subject.properties.parents[1]",
    ]


def test_translate_rejects_action_properties() -> None:
    body = {**evaluation(), "action": {"name": "GET", "properties": {"method": "GET"}}}

    assert _locs(body) == ["action.properties"]


def test_translate_rejects_bad_entities() -> None:
    body = {
        **evaluation(),
        "entities": [
            {"attrs": {}},
            {"uid": {"type": "User", "id": "bob"}, "extra": 1},
            {"uid": {"type": "User", "id": "alice"}},
        ],
    }

    assert _locs(body) == ["entities[0]", "entities[1]", "entities[2]"]


def test_translate_rejects_an_entity_described_twice() -> None:
    dave = {"uid": {"type": "User", "id": "dave"}}
    body = {**evaluation(), "entities": [dave, {"uid": {"type": "Group", "id": "x"}}, dave]}

    assert _locs(body) == ["entities[2]"]


def test_translate_rejects_entities_that_are_not_a_list() -> None:
    assert _locs({**evaluation(), "entities": {}}) == ["entities"]


def test_translate_rejects_a_resource_described_twice() -> None:
    body = {**evaluation(), "resource": subject("alice")}

    assert _locs(body) == ["resource.properties"]


@pytest.mark.parametrize("empty", ["type", "id"])
def test_translate_rejects_empty_identifiers(empty: str) -> None:
    body = evaluation()
    body["resource"][empty] = ""

    assert _locs(body) == [f"resource.{empty}"]


def test_translate_evaluations_defaults_apply_to_each_item() -> None:
    batch = translate_evaluations(
        {
            "subject": subject("alice"),
            "action": {"name": "GET"},
            "options": {"evaluations_semantic": "permit_on_first_permit"},
            "evaluations": [{"resource": app("wiki")}, {"resource": app("payroll")}],
        }
    )

    assert batch.batch is True
    assert batch.semantic is EvaluationsSemantic.PERMIT_ON_FIRST_PERMIT
    assert [r.resource.id for r in batch.requests] == ["wiki", "payroll"]
    assert {r.principal for r in batch.requests} == {EntityUID("User", "alice")}


def test_translate_evaluations_empty_array_is_a_single_request() -> None:
    batch = translate_evaluations({**evaluation(), "evaluations": []})

    assert batch.batch is False
    assert len(batch.requests) == 1
