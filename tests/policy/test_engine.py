"""The PDP against the example org: decisions, fail-closed errors, schema strictness."""

from __future__ import annotations

import orjson
import pytest
from cedarpy import _internal as cedar

from tests.policy._org import context, pdp, request, user
from zerogate.errors import InvalidInput
from zerogate.policy import Bundle, EntityUID, Outcome, Request, compile_bundle

PAT = user("pat", "payroll-admin")


def test_pdp_allows_payroll_admin_with_fresh_mfa_on_compliant_device() -> None:
    decision = pdp().decide(request(PAT, "GET", "payroll-api"))
    assert decision.allowed
    assert decision.outcome is Outcome.ALLOWED
    assert decision.policy_ids == ("payroll-admins",)
    assert decision.explanation is None
    assert len(decision.bundle_hash) == 64


@pytest.mark.parametrize(
    "ctx",
    [
        context(authn={"auth_age_s": 901}),
        context(device={"compliant": False}),
        context(device={"posture_age_s": 4000}),
        context(device=None),
    ],
    ids=["stale-mfa", "non-compliant", "stale-posture", "no-device"],
)
def test_pdp_denies_payroll_without_each_condition(ctx: dict[str, object]) -> None:
    decision = pdp().decide(request(PAT, "GET", "payroll-api", ctx))
    assert not decision.allowed
    assert decision.outcome is Outcome.NO_PERMIT


def test_pdp_forbid_overrides_permit_for_high_risk() -> None:
    decision = pdp().decide(request(PAT, "GET", "payroll-api", context(risk={"score": 81})))
    assert not decision.allowed
    assert decision.outcome is Outcome.FORBIDDEN
    assert decision.policy_ids == ("deny-high-risk",)


def test_pdp_fails_closed_when_a_forbid_errors_where_raw_cedar_allows() -> None:
    """The divested-accounts forbid needs the User entity; without it Cedar skips the forbid."""
    p = pdp()
    bundle = p.bundle
    wiki = Request(
        PAT.uid, EntityUID("Action", "GET"), EntityUID("Route", "wiki-web"), context(), ()
    )
    # Raw Cedar over the same guards plus an open permit skips the erroring forbid: Allow.
    open_bundle = compile_bundle(
        Bundle(
            {
                "p.cedar": '@id("open") permit (principal, action, resource);\n'
                + bundle.bundle.files["guards.cedar"],
            }
        )
    )
    ctx = {**context(), "time": {"hour": 10, "minute": 0, "weekday": 1, "zone": "UTC"}}
    raw = orjson.loads(
        cedar.is_authorized_batch(
            [
                {
                    "principal": {"type": "User", "id": "pat"},
                    "action": {"type": "Action", "id": "GET"},
                    "resource": {"type": "Route", "id": "wiki-web"},
                    "context": orjson.dumps(ctx).decode(),
                }
            ],
            open_bundle.base.full,
            cedar.Entities.from_json_str("[]", open_bundle.schema),
            open_bundle.schema,
            False,
        )[0]
    )
    assert raw["decision"] == "Allow"  # Cedar's skip-on-error
    for engine_pdp in (p, pdp(open_bundle)):
        decision = engine_pdp.decide(wiki)
        assert not decision.allowed
        assert decision.outcome is Outcome.POLICY_ERROR
        assert decision.policy_ids == ("divested-accounts",)
        assert decision.errors[0].policy_id == "divested-accounts"
        assert "does not exist" in decision.errors[0].message
        assert decision.explanation is not None
        assert "failing closed" in decision.explanation.summary


def test_pdp_permit_error_with_other_permit_allowing_still_reports_error() -> None:
    bundle = compile_bundle(
        Bundle(
            {
                "p.cedar": '@id("open") permit (principal, action, resource);\n'
                '@id("needs-email") permit (principal is User, action, resource) '
                'when { principal.email like "*@x" };'
            }
        )
    )
    decision = pdp(bundle).decide(request(EntityUID("User", "ghost"), "GET", "any"))
    assert decision.allowed
    assert decision.policy_ids == ("open",)
    assert [e.policy_id for e in decision.errors] == ["needs-email"]


def test_pdp_rejects_unknown_entity_type_with_code() -> None:
    bad = Request(
        EntityUID("Usr", "pat"), EntityUID("Action", "GET"), EntityUID("Route", "x"), context()
    )
    with pytest.raises(InvalidInput) as info:
        pdp().decide(bad)
    assert info.value.code == "request_invalid"
    assert "Usr" in str(info.value)


def test_pdp_rejects_context_missing_required_fields() -> None:
    with pytest.raises(InvalidInput) as info:
        pdp().decide(request(PAT, "GET", "payroll-api", context(risk=None)))
    assert info.value.code == "request_invalid"


def test_pdp_rejects_malformed_ip_in_context() -> None:
    with pytest.raises(InvalidInput):
        pdp().decide(request(PAT, "GET", "payroll-api", context(network={"ip": "not-an-ip"})))


def test_pdp_rejects_entity_not_matching_schema_and_names_it() -> None:
    from zerogate.policy import Entity

    bad = Entity(EntityUID("User", "pat"), {"email": 42}, ())
    with pytest.raises(InvalidInput) as info:
        pdp().decide(request(bad, "GET", "payroll-api"))
    assert info.value.code == "entity_invalid"
    assert 'User::"pat"' in info.value.details[0].loc


def test_pdp_fills_time_from_injected_clock_and_zone() -> None:
    from datetime import UTC, datetime

    from zerogate.clock import FixedClock

    contractor = user("cy", "contractors", "employees")
    # 2026-01-10 is a Saturday.
    saturday = FixedClock(at=datetime(2026, 1, 10, 10, 0, tzinfo=UTC))
    weekday_evening_utc = FixedClock(at=datetime(2026, 1, 5, 16, 30, tzinfo=UTC))
    weekday_morning = FixedClock(at=datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    req = Request(
        contractor.uid,
        EntityUID("Action", "GET"),
        EntityUID("Route", "wiki-web"),
        context(),
        (contractor,),
    )
    assert not pdp(clock=saturday).decide(req).allowed
    assert pdp(clock=weekday_morning).decide(req).allowed
    assert pdp(clock=weekday_evening_utc).decide(req).allowed
    # 16:30 UTC is 18:30 in Helsinki: outside working hours there.
    assert not pdp(clock=weekday_evening_utc, timezone="Europe/Helsinki").decide(req).allowed


def test_pdp_action_groups_resolve_from_schema() -> None:
    eng = user("eve", "engineering")
    assert pdp().decide(request(eng, "PUT", "wiki-web")).allowed
    assert not pdp().decide(request(eng, "PUT", "wiki-web", context(authn={"mfa": False}))).allowed


def test_pdp_decision_ids_are_unique() -> None:
    p = pdp()
    ids = {p.decide(request(PAT, "GET", "payroll-api")).decision_id for _ in range(50)}
    assert len(ids) == 50
