"""`zerogate policy test`: YAML test files, the runner, policy coverage and JUnit reports."""

from zerogate.policy.testing._coverage import Coverage, PolicyCoverage, TemplateCoverage
from zerogate.policy.testing._file import Expectation, TestCase, TestFile, load_test_file
from zerogate.policy.testing._junit import junit_xml
from zerogate.policy.testing._runner import (
    CaseStatus,
    TestCaseResult,
    TestFileResult,
    TestRun,
    run_test_files,
    run_tests,
)
from zerogate.policy.testing._values import parse_entities, parse_uid

__all__ = [
    "CaseStatus",
    "Coverage",
    "Expectation",
    "PolicyCoverage",
    "TemplateCoverage",
    "TestCase",
    "TestCaseResult",
    "TestFile",
    "TestFileResult",
    "TestRun",
    "junit_xml",
    "load_test_file",
    "parse_entities",
    "parse_uid",
    "run_test_files",
    "run_tests",
]
