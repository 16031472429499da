"""JUnit XML results: parsing the variants tools write, and the verdict the tests gate reads.

pytest, Maven Surefire/Gradle, go-junit-report, jest-junit and ``node --test`` all write JUnit
XML, each a little differently (nested suites, ``file`` attributes, Surefire's
``flakyFailure``/``rerunFailure``). Every test case becomes a :class:`TestCase`; retries of one
run are attempts 1..n of the same test.

The summary (``tests.json``) counts a test by its last attempt: a test that failed and then
passed on retry is passed *and* listed as flaky. Failures of tests on the policy's quarantine
list are reported (``quarantined``, ``failures[].quarantined``) but excluded from ``failed`` and
``errors``, which are what the tests gate blocks on.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from prodsprint_dagster.quality.coverage.source import Report, local_name
from prodsprint_dagster.redact import redact_url

PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"
MAX_MESSAGE = 300
MAX_FAILURES_LISTED = 200
_SECRETISH = re.compile(
    r"(?i)\b([\w-]*(?:password|passwd|secret|token|api[_-]?key|access[_-]?key)[\w-]*)"
    r"(\s*[=:]\s*)(['\"]?)[^\s'\",;]+"
)


@dataclass(frozen=True)
class TestCase:
    __test__ = False  # not a pytest test class despite the name

    id: str
    name: str
    classname: str
    file: str | None
    outcome: str
    duration: float
    message: str | None = None
    attempt: int = 0
    reruns_failed: int = 0  # Surefire's flakyFailure/rerunFailure inside one result

    @property
    def bad(self) -> bool:
        return self.outcome in (FAILED, ERROR)


def clean_message(text: str | None) -> str | None:
    """First lines of a failure message, shortened, with URL credentials and secrets masked."""
    if not text:
        return None
    text = " ".join([line.strip() for line in text.strip().splitlines() if line.strip()][:4])
    text = _SECRETISH.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)}***", redact_url(text))
    return text[:MAX_MESSAGE] + ("..." if len(text) > MAX_MESSAGE else "")


def parse_junit(report: Report, *, attempt: int = 0) -> list[TestCase]:
    """Every ``<testcase>`` of a JUnit XML report (any nesting of suites)."""
    root = report.xml()
    if local_name(root.tag) not in ("testsuites", "testsuite"):
        raise report.fail(f"not a JUnit report (root element <{local_name(root.tag)}>)")
    cases: list[TestCase] = []
    for suite_or_case in root.iter():
        if local_name(suite_or_case.tag) != "testcase":
            continue
        case = suite_or_case
        name = case.get("name")
        if not name:
            raise report.fail("a <testcase> has no name attribute")
        classname = case.get("classname") or ""
        outcome, message, reruns = PASSED, None, 0
        for child in case:
            tag = local_name(child.tag)
            if tag in ("flakyFailure", "flakyError", "rerunFailure", "rerunError"):
                reruns += 1
            elif tag == "error":
                outcome, message = ERROR, child.get("message") or child.text
            elif tag == "failure" and outcome != ERROR:
                outcome, message = FAILED, child.get("message") or child.text
            elif tag == "skipped" and outcome == PASSED:
                outcome, message = SKIPPED, child.get("message") or child.text
        try:
            duration = max(float(case.get("time") or 0), 0.0)
        except ValueError:
            duration = 0.0
        cases.append(
            TestCase(
                id=f"{classname}::{name}" if classname else name,
                name=name,
                classname=classname,
                file=case.get("file"),
                outcome=outcome,
                duration=duration,
                message=clean_message(message),
                attempt=attempt,
                reruns_failed=reruns,
            )
        )
    return cases


def is_quarantined(case_id: str, patterns: Sequence[str]) -> bool:
    """Whether a test id (``classname::name``) or its bare name matches a quarantine pattern."""
    name = case_id.rsplit("::", 1)[-1]
    return any(fnmatch.fnmatchcase(case_id, p) or fnmatch.fnmatchcase(name, p) for p in patterns)


def final_results(cases: Iterable[TestCase]) -> dict[str, list[TestCase]]:
    """Test id -> its attempts, first to last."""
    by_id: dict[str, list[TestCase]] = {}
    for case in sorted(cases, key=lambda c: c.attempt):
        by_id.setdefault(case.id, []).append(case)
    return by_id


def summarize(
    cases: Iterable[TestCase],
    *,
    quarantine: Sequence[str] = (),
    known_flaky: Iterable[str] = (),
) -> dict[str, Any]:
    """The ``tests.json`` document: counts that block, quarantined and flaky tests, failures."""
    by_id = final_results(cases)
    known = set(known_flaky)
    counts = {PASSED: 0, FAILED: 0, ERROR: 0, SKIPPED: 0}
    quarantined: list[str] = []
    flaky: set[str] = set()
    failures: list[dict[str, Any]] = []
    for case_id in sorted(by_id):
        attempts = by_id[case_id]
        last = attempts[-1]
        if (any(a.bad for a in attempts) and not last.bad) or last.reruns_failed:
            flaky.add(case_id)
        if case_id in known:
            flaky.add(case_id)
        held = last.bad and is_quarantined(case_id, quarantine)
        if held:
            quarantined.append(case_id)
        else:
            counts[last.outcome] += 1
        if last.bad:
            failures.append({
                "name": case_id,
                "outcome": last.outcome,
                "message": last.message,
                "attempts": len(attempts),
                "quarantined": held,
            })  # fmt: skip
    return {
        "total": len(by_id),
        "passed": counts[PASSED],
        "failed": counts[FAILED],
        "errors": counts[ERROR],
        "skipped": counts[SKIPPED],
        "quarantined": quarantined,
        "flaky": sorted(flaky),
        "failures": failures[:MAX_FAILURES_LISTED],
        "failures_total": len(failures),
        "attempts": max((len(a) for a in by_id.values()), default=0),
    }
