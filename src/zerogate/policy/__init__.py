"""The policy decision point: Cedar policies, bundles, decisions with explanations, and a cache."""

from zerogate.policy._bundle import (
    Bundle,
    CompiledBundle,
    compile_bundle,
    default_schema_text,
    entity_from_json,
    uid_from_json,
)
from zerogate.policy._cache import CacheStats, DecisionCache
from zerogate.policy._coverage import Coverage, PolicyCoverage, TemplateCoverage
from zerogate.policy._fmt import format_policy_text
from zerogate.policy._junit import junit_xml
from zerogate.policy._model import (
    ConditionCheck,
    Decision,
    Entity,
    EntityUID,
    Explanation,
    Outcome,
    PartKind,
    PolicyEvalError,
    PolicyExplanation,
    Request,
)
from zerogate.policy._pdp import PDP
from zerogate.policy._testfile import Expectation, TestCase, TestFile, load_test_file
from zerogate.policy._testing import (
    CaseStatus,
    TestCaseResult,
    TestFileResult,
    TestRun,
    run_test_files,
    run_tests,
)
from zerogate.policy._testvalues import parse_entities, parse_uid

__all__ = [
    "PDP",
    "Bundle",
    "CacheStats",
    "CaseStatus",
    "CompiledBundle",
    "ConditionCheck",
    "Coverage",
    "Decision",
    "DecisionCache",
    "Entity",
    "EntityUID",
    "Expectation",
    "Explanation",
    "Outcome",
    "PartKind",
    "PolicyCoverage",
    "PolicyEvalError",
    "PolicyExplanation",
    "Request",
    "TemplateCoverage",
    "TestCase",
    "TestCaseResult",
    "TestFile",
    "TestFileResult",
    "TestRun",
    "compile_bundle",
    "default_schema_text",
    "entity_from_json",
    "format_policy_text",
    "junit_xml",
    "load_test_file",
    "parse_entities",
    "parse_uid",
    "run_test_files",
    "run_tests",
    "uid_from_json",
]
