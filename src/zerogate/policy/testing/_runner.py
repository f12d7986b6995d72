"""Runs a bundle's YAML tests through its PDP on a pinned clock: pass/fail with expected vs actual.

Each case is decided by a `PDP` over the compiled bundle with a `FixedClock` set to the case's
`now`, in the case's time zone, without a decision cache, exactly as the running service would
decide it (slicing, fail-closed forbids, explanations).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from zerogate._types import BundleHash, PolicyID
from zerogate.clock import FixedClock
from zerogate.errors import ErrorDetail, InvalidInput
from zerogate.policy._bundle import CompiledBundle
from zerogate.policy._model import Decision
from zerogate.policy._pdp import PDP
from zerogate.policy.testing._coverage import Coverage, measure_coverage
from zerogate.policy.testing._file import Expectation, TestCase, TestFile, load_test_file
from zerogate.policy.testing._message import failure_message, request_text


class CaseStatus(StrEnum):
    """How a test case ended; stable, shows in JSON and JUnit output."""

    PASSED = "passed"
    FAILED = "failed"  # decided, but not as expected
    ERROR = "error"  # could not be decided: a bad case or a request the schema rejects


@dataclass(frozen=True, slots=True)
class TestCaseResult:
    """One case's result: the decision it got and, unless it passed, a message saying why not."""

    __test__ = False

    case: TestCase
    status: CaseStatus
    decision: Decision | None = None
    message: str = ""
    errors: tuple[ErrorDetail, ...] = ()
    duration_s: float = 0.0

    @property
    def file(self) -> str:
        return self.case.file

    @property
    def name(self) -> str:
        return self.case.name

    @property
    def line(self) -> int:
        return self.case.line

    @property
    def location(self) -> str:
        return self.case.location

    @property
    def expected(self) -> Expectation | None:
        return self.case.expect

    @property
    def passed(self) -> bool:
        return self.status is CaseStatus.PASSED


@dataclass(frozen=True, slots=True)
class TestFileResult:
    """The results of one test file; `errors` are file-level problems (its cases did not run)."""

    __test__ = False

    file: str
    cases: tuple[TestCaseResult, ...]
    errors: tuple[ErrorDetail, ...] = ()
    covered: tuple[PolicyID, ...] = ()
    description: str | None = None

    def count(self, status: CaseStatus) -> int:
        return sum(1 for c in self.cases if c.status is status)

    @property
    def ok(self) -> bool:
        return not self.errors and all(c.passed for c in self.cases)


@dataclass(frozen=True, slots=True)
class TestRun:
    """A whole `policy test` run: every file's results and the bundle's policy coverage."""

    __test__ = False

    bundle_hash: BundleHash
    files: tuple[TestFileResult, ...]
    coverage: Coverage
    name_filter: str | None = None
    duration_s: float = 0.0
    cases: tuple[TestCaseResult, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cases", tuple(c for f in self.files for c in f.cases))

    def count(self, status: CaseStatus) -> int:
        return sum(1 for c in self.cases if c.status is status)

    @property
    def file_errors(self) -> int:
        """Files that could not be read at all (each counts as one error)."""
        return sum(1 for f in self.files if f.errors)

    @property
    def ok(self) -> bool:
        """Every case passed and every file could be read (vacuously true for an empty run)."""
        return all(f.ok for f in self.files)

    @property
    def empty(self) -> bool:
        """Nothing ran: no cases (after filtering) and no unreadable files."""
        return not self.cases and not self.file_errors


def run_tests(
    compiled: CompiledBundle,
    *,
    name_filter: str | None = None,
    timer: Callable[[], float] = time.perf_counter,
) -> TestRun:
    """Run the bundle's test files (`Bundle.test_files`); cases whose name lacks `name_filter`
    (case-insensitive) are left out. Never raises for bad test files: they come back as errors."""
    files = [load_test_file(name, text) for name, text in compiled.bundle.test_files]
    return run_test_files(compiled, files, name_filter=name_filter, timer=timer)


def run_test_files(
    compiled: CompiledBundle,
    files: Sequence[TestFile],
    *,
    name_filter: str | None = None,
    timer: Callable[[], float] = time.perf_counter,
) -> TestRun:
    """Run already-parsed test files against `compiled`."""
    started = timer()
    runner = _Runner(compiled, timer)
    needle = name_filter.casefold() if name_filter else None
    results = []
    for test_file in files:
        cases = [c for c in test_file.cases if needle is None or needle in c.name.casefold()]
        if not cases and not test_file.errors:
            continue
        # A file with file-level problems runs nothing: its defaults or clock cannot be trusted.
        ran = () if test_file.errors else tuple(runner.run(c) for c in cases)
        covered = {p for r in ran if r.decision is not None for p in r.decision.policy_ids}
        results.append(
            TestFileResult(
                test_file.name,
                ran,
                test_file.errors,
                tuple(sorted(covered)),
                test_file.description,
            )
        )
    hits: dict[PolicyID, list[str]] = {}
    for result in results:
        for case in result.cases:
            for pid in case.decision.policy_ids if case.decision else ():
                hits.setdefault(pid, []).append(case.file)
    coverage = measure_coverage(compiled.base, hits)
    return TestRun(compiled.hash, tuple(results), coverage, name_filter, timer() - started)


class _Runner:
    """One PDP per time zone over the same bundle; the shared FixedClock is set per case."""

    def __init__(self, compiled: CompiledBundle, timer: Callable[[], float]) -> None:
        self._compiled = compiled
        self._timer = timer
        self._clock = FixedClock()
        self._pdps: dict[str, PDP] = {}

    def run(self, case: TestCase) -> TestCaseResult:
        started = self._timer()
        result = self._run(case)
        duration = max(0.0, self._timer() - started)
        return TestCaseResult(
            result.case, result.status, result.decision, result.message, result.errors, duration
        )

    def _run(self, case: TestCase) -> TestCaseResult:
        expect = case.expect
        if case.errors or case.request is None or expect is None:
            return _error(case, case.errors)
        unknown = self._unknown_policies(case, expect.policies or ())
        if unknown:
            return _error(case, unknown)
        pdp = self._pdps.get(case.timezone)
        if pdp is None:
            pdp = self._pdps[case.timezone] = PDP(
                self._compiled, clock=self._clock, timezone=case.timezone, cache=None
            )
        self._clock.at = case.now
        try:
            decision = pdp.decide(case.request, explain=True)
        except InvalidInput as exc:
            details = exc.details or (ErrorDetail(exc.code, "request", exc.message),)
            located = tuple(
                ErrorDetail(d.code, case.location, f"{d.loc}: {d.msg}" if d.loc else d.msg)
                for d in details
            )
            return _error(case, located)
        if _meets(expect, decision):
            return TestCaseResult(case, CaseStatus.PASSED, decision)
        message = failure_message(case, expect, decision, self._compiled.base)
        return TestCaseResult(case, CaseStatus.FAILED, decision, message)

    def _unknown_policies(self, case: TestCase, ids: Iterable[PolicyID]) -> tuple[ErrorDetail, ...]:
        base = self._compiled.base
        found = []
        for pid in ids:
            if pid in base.effects:
                continue
            what = (
                "a template; name one of its links" if pid in base.sources else "not in the bundle"
            )
            found.append(
                ErrorDetail("test_policy_unknown", case.location, f"policy {pid!r} is {what}")
            )
        return tuple(found)


def _meets(expect: Expectation, decision: Decision) -> bool:
    if decision.allowed != expect.allowed:
        return False
    if expect.outcome is not None and decision.outcome is not expect.outcome:
        return False
    return expect.policies is None or set(expect.policies) == set(decision.policy_ids)


def _error(case: TestCase, errors: tuple[ErrorDetail, ...]) -> TestCaseResult:
    lines = [f"request: {request_text(case.request)}"] if case.request else []
    lines += [str(e) for e in errors]
    return TestCaseResult(case, CaseStatus.ERROR, None, "\n".join(lines), errors)
