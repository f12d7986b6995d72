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


def test_explain_never_names_another_users_personal_grant() -> None:
    """A per-user grant of someone else is no candidate: naming it would leak who has access."""
    from zerogate.policy import Bundle, compile_bundle

    grants = (
        '@id("grant-bob") permit (principal == User::"bob", action, resource == Route::"doc") '
        "when { context.authn.mfa };\n"
        '@id("team") permit (principal in Group::"team", action, resource == Route::"doc");\n'
        '@id("share") permit (principal == ?principal, action, resource == ?resource);\n'
    )
    links = (
        '[{"id": "share-carol", "template": "share", "values": '
        '{"?principal": {"type": "User", "id": "carol"}, "?resource": {"type": "Route", "id": "doc"}}}]'
    )
    bundle = compile_bundle(Bundle({"p.cedar": grants, "links.json": links}))
    decision = pdp(bundle).decide(request(user("alice"), "GET", "doc"))
    assert decision.explanation is not None
    named = [p.policy_id for p in decision.explanation.closest_permits]
    assert named == ["team"]
    assert "bob" not in decision.explanation.summary
    # The owner of a personal grant is still told what their own grant needs.
    own = pdp(bundle).decide(request(user("bob"), "GET", "doc", context(authn={"mfa": False})))
    assert own.explanation is not None
    best = own.explanation.closest_permits[0]
    assert best.policy_id == "grant-bob"
    assert [c.text for c in best.failed] == ["context.authn.mfa"]
