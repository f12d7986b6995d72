"""Why-denied explanations: fired forbids, closest permits and their failed conditions."""

from __future__ import annotations

from tests.policy._org import context, pdp, request, user
from zerogate.policy import Outcome, PartKind

PAT = user("pat", "payroll-admin")


def test_explain_lists_the_failed_conditions_of_the_closest_permit() -> None:
    decision = pdp().decide(request(PAT, "GET", "payroll-api", context(authn={"auth_age_s": 2000})))
    assert decision.outcome is Outcome.NO_PERMIT
    explanation = decision.explanation
    assert explanation is not None
    best = explanation.closest_permits[0]
    assert best.policy_id == "payroll-admins"
    assert best.location == "payroll.cedar:3"
    assert [c.text for c in best.failed] == ["context.authn.auth_age_s < 900"]
    assert best.failed[0].kind is PartKind.WHEN
    assert "context.authn.auth_age_s < 900" in explanation.summary


def test_explain_names_the_missing_group_for_a_non_member() -> None:
    outsider = user("olga", "employees")
    decision = pdp().decide(request(outsider, "GET", "payroll-api"))
    assert decision.explanation is not None
    best = decision.explanation.closest_permits[0]
    assert best.policy_id == "payroll-admins"
    assert [(c.kind, c.text) for c in best.failed] == [
        (PartKind.PRINCIPAL, 'principal in Group::"payroll-admin"')
    ]


def test_explain_reports_unless_and_guarded_conditions() -> None:
    decision = pdp().decide(request(PAT, "GET", "payroll-api", context(device=None)))
    assert decision.explanation is not None
    failed = decision.explanation.closest_permits[0].failed
    texts = [c.text for c in failed]
    assert "context has device" in texts
    # Conditions guarded by `has` cannot be evaluated alone: reported, with the error.
    guarded = [c for c in failed if c.text == "context.device.compliant"]
    assert guarded
    assert guarded[0].error is not None


def test_explain_names_the_forbid_and_its_reason() -> None:
    decision = pdp().decide(
        request(PAT, "GET", "payroll-api", context(network={"ip": "203.0.113.9"}))
    )
    assert decision.outcome is Outcome.FORBIDDEN
    assert decision.explanation is not None
    forbid = decision.explanation.forbids[0]
    assert forbid.policy_id == "block-refused-range"
    assert forbid.reason == "requests from the refused address range are blocked"
    assert "block-refused-range" in decision.explanation.summary


def test_explain_with_no_candidate_permits_says_so() -> None:
    decision = pdp().decide(request(user("x"), "GET", "nowhere"))
    assert decision.explanation is not None
    assert decision.explanation.closest_permits == ()
    assert "no policy grants access" in decision.explanation.summary


def test_explain_can_be_skipped_for_the_hot_path() -> None:
    decision = pdp().decide(request(user("x"), "GET", "nowhere"), explain=False)
    assert not decision.allowed
    assert decision.explanation is None
