"""JUnit XML for policy test runs: one testsuite per YAML file, one testcase per case (CI reports)."""

from __future__ import annotations

import posixpath
import re
import xml.etree.ElementTree as ET

from zerogate.policy.testing._runner import CaseStatus, TestFileResult, TestRun

# XML 1.0 cannot carry most control characters, even escaped; Cedar messages could contain them.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def junit_xml(run: TestRun, *, path_prefix: str = "") -> str:
    """The run as a JUnit XML document (the de facto schema GitLab, Jenkins and GitHub read).

    `path_prefix` (the bundle directory) is put before file names in `file` attributes, so CI
    tools can link a failure to the YAML line in the repository.
    """
    root = ET.Element(
        "testsuites",
        {
            "name": "zerogate policy test",
            "tests": str(len(run.cases) + run.file_errors),
            "failures": str(run.count(CaseStatus.FAILED)),
            "errors": str(run.count(CaseStatus.ERROR) + run.file_errors),
            "skipped": "0",
            "time": _seconds(run.duration_s),
        },
    )
    for result in run.files:
        _suite(root, result, run, path_prefix)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _suite(root: ET.Element, result: TestFileResult, run: TestRun, prefix: str) -> None:
    path = posixpath.join(prefix, result.file) if prefix else result.file
    classname = _classname(result.file)
    load_error = 1 if result.errors else 0
    suite = ET.SubElement(
        root,
        "testsuite",
        {
            "name": result.file,
            "tests": str(len(result.cases) + load_error),
            "failures": str(result.count(CaseStatus.FAILED)),
            "errors": str(result.count(CaseStatus.ERROR) + load_error),
            "skipped": "0",
            "time": _seconds(sum(c.duration_s for c in result.cases)),
            "file": path,
        },
    )
    props = ET.SubElement(suite, "properties")
    _property(props, "zerogate.bundle_hash", run.bundle_hash)
    _property(props, "zerogate.policy_coverage", f"{run.coverage.percent_of(result.covered):.1f}")
    if result.errors:
        case = ET.SubElement(
            suite, "testcase", {"name": "(load test file)", "classname": classname}
        )
        error = ET.SubElement(
            case, "error", {"message": _clean(str(result.errors[0])), "type": result.errors[0].code}
        )
        error.text = _clean("\n".join(str(e) for e in result.errors))
    for r in result.cases:
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "name": _clean(r.name),
                "classname": classname,
                "file": path,
                "line": str(r.line),
                "time": _seconds(r.duration_s),
            },
        )
        if r.status is CaseStatus.PASSED:
            continue
        first = r.message.splitlines()[0] if r.message else r.status.value
        if r.status is CaseStatus.FAILED:
            element = ET.SubElement(case, "failure", {"message": _clean(first), "type": "failed"})
        else:
            code = r.errors[0].code if r.errors else "error"
            message = _clean(str(r.errors[0]) if r.errors else first)
            element = ET.SubElement(case, "error", {"message": message, "type": code})
        element.text = _clean(r.message)


def _property(props: ET.Element, name: str, value: str) -> None:
    ET.SubElement(props, "property", {"name": name, "value": value})


def _classname(file: str) -> str:
    """`tests/payroll.yaml` -> `tests.payroll`, the dotted form CI tools group by."""
    stem = file.rsplit(".", 1)[0]
    return stem.replace("/", ".")


def _seconds(value: float) -> str:
    return f"{value:.3f}"


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)
