"""The CLI's JSON shapes for decisions, explanations and test runs (stable keys, sorted lists)."""

from __future__ import annotations

from typing import Any

from zerogate.policy import (
    CaseStatus,
    Coverage,
    Decision,
    Expectation,
    Explanation,
    Request,
    TestCaseResult,
    TestFileResult,
    TestRun,
)


def request_json(request: Request) -> dict[str, Any]:
    return {
        "principal": str(request.principal),
        "action": str(request.action),
        "resource": str(request.resource),
    }


def decision_json(decision: Decision) -> dict[str, Any]:
    return {
        "decision": "allow" if decision.allowed else "deny",
        "allowed": decision.allowed,
        "outcome": decision.outcome.value,
        "policies": list(decision.policy_ids),
        "errors": [e.as_dict() for e in decision.errors],
        "explanation": explanation_json(decision.explanation),
        "bundle_hash": decision.bundle_hash,
        "decision_id": decision.decision_id,
    }


def explanation_json(explanation: Explanation | None) -> dict[str, Any] | None:
    return None if explanation is None else explanation.as_dict()


def run_json(run: TestRun, *, coverage: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ok": run.ok,
        "bundle_hash": run.bundle_hash,
        "filter": run.name_filter,
        "summary": {
            "total": len(run.cases),
            "passed": run.count(CaseStatus.PASSED),
            "failed": run.count(CaseStatus.FAILED),
            "errors": run.count(CaseStatus.ERROR) + run.file_errors,
            "files": len(run.files),
            "duration_s": round(run.duration_s, 6),
        },
        "files": [_file_json(f, run.coverage) for f in run.files],
    }
    if coverage:
        body["coverage"] = coverage_json(run.coverage)
    return body


def _file_json(result: TestFileResult, coverage: Coverage) -> dict[str, Any]:
    return {
        "file": result.file,
        "description": result.description,
        "passed": result.count(CaseStatus.PASSED),
        "failed": result.count(CaseStatus.FAILED),
        "errors": [e.as_dict() for e in result.errors],
        "covered": list(result.covered),
        "coverage_percent": round(coverage.percent_of(result.covered), 1),
        "cases": [case_json(c) for c in result.cases],
    }


def case_json(result: TestCaseResult) -> dict[str, Any]:
    decision = result.decision
    return {
        "name": result.name,
        "file": result.file,
        "line": result.line,
        "status": result.status.value,
        "expected": _expected_json(result.expected),
        "actual": None
        if decision is None
        else {
            "decision": "allow" if decision.allowed else "deny",
            "outcome": decision.outcome.value,
            "policies": list(decision.policy_ids),
            "errors": [e.as_dict() for e in decision.errors],
            "explanation": explanation_json(decision.explanation) if not result.passed else None,
        },
        "message": result.message,
        "errors": [e.as_dict() for e in result.errors],
        "duration_s": round(result.duration_s, 6),
    }


def _expected_json(expect: Expectation | None) -> dict[str, Any] | None:
    if expect is None:
        return None
    return {
        "decision": expect.decision,
        "policies": None if expect.policies is None else list(expect.policies),
        "outcome": None if expect.outcome is None else expect.outcome.value,
    }


def coverage_json(coverage: Coverage) -> dict[str, Any]:
    return {
        "covered": coverage.covered,
        "total": coverage.total,
        "percent": round(coverage.percent, 1),
        "uncovered": list(coverage.uncovered),
        "policies": [
            {
                "policy_id": p.policy_id,
                "effect": p.effect,
                "location": p.location,
                "template": p.template,
                "hits": p.hits,
                "files": list(p.files),
            }
            for p in coverage.policies
        ],
        "templates": [
            {
                "template_id": t.template_id,
                "location": t.location,
                "links": list(t.links),
                "covered_links": list(t.covered_links),
            }
            for t in coverage.templates
        ],
    }
