"""JUnit XML from the common tools, and the tests.json verdict: retries, quarantine, flaky."""

import pytest

from prodsprint_dagster.quality.coverage import CoverageReportError, Report
from prodsprint_dagster.quality.testresults import (
    TestCase,
    clean_message,
    is_quarantined,
    parse_junit,
    summarize,
)

PYTEST_XUNIT1 = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest"
 errors="1" failures="1" skipped="1" tests="5" time="0.31" timestamp="2024-06-26T10:00:00"
 hostname="ci"><testcase classname="tests.test_app" name="test_health" file="tests/test_app.py"
 line="12" time="0.004" /><testcase classname="tests.test_app.TestOrders" name="test_create[apple]"
 file="tests/test_app.py" line="20" time="0.010"><failure message="assert 400 == 201">def
 test_create(client):
&gt;       assert r.status_code == 201
E       assert 400 == 201</failure></testcase><testcase classname="tests.test_app"
 name="test_db" file="tests/test_app.py" line="30" time="0.001"><error message="failed on setup
 with &quot;OperationalError: could not connect&quot;">conn refused</error></testcase><testcase
 classname="tests.test_app" name="test_slow" file="tests/test_app.py" line="40" time="0.000">
 <skipped type="pytest.skip" message="needs network">tests/test_app.py:40: needs network</skipped>
 </testcase><testcase classname="tests.test_app" name="test_inventory" file="tests/test_app.py"
 line="50" time="0.002"><system-out>ok</system-out></testcase></testsuite></testsuites>"""

SUREFIRE = """<?xml version="1.0" encoding="UTF-8"?>
<testsuite xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" name="com.acme.CartTest"
  time="0.52" tests="3" errors="0" skipped="0" failures="0">
  <properties><property name="java.version" value="21"/></properties>
  <testcase name="addsItems" classname="com.acme.CartTest" time="0.01"/>
  <testcase name="talksToPayments" classname="com.acme.CartTest" time="0.3">
    <flakyFailure message="Connection reset" type="java.net.SocketException">
      <stackTrace>java.net.SocketException: Connection reset</stackTrace>
    </flakyFailure>
  </testcase>
  <testcase name="totals" classname="com.acme.CartTest" time="0.02">
    <rerunFailure message="expected 3 but was 4" type="org.opentest4j.AssertionFailedError"/>
  </testcase>
</testsuite>"""

NODE_TEST = """<?xml version="1.0" encoding="utf-8"?>
<testsuites>
\t<testsuite name="cart" time="0.01" disabled="0" errors="0" tests="2" failures="1" skipped="0">
\t\t<testcase name="adds" time="0.001" classname="test"/>
\t\t<testcase name="totals" time="0.002" classname="test" failure="3 !== 4">
\t\t\t<failure type="testCodeFailure" message="Expected values to be strictly equal:3 !== 4">
[Error [ERR_TEST_FAILURE]: Expected values to be strictly equal:
3 !== 4
]</failure>
\t\t</testcase>
\t</testsuite>
\t<testcase name="top level" time="0.001" classname="test"/>
\t<!-- tests 3 -->
</testsuites>"""

GO_JUNIT = """<testsuites tests="2" failures="0"><testsuite name="github.com/acme/shop/cart"
 tests="2" failures="0" errors="0" id="0" hostname="ci" time="0.004"
 timestamp="2024-06-26T10:00:00Z"><properties><property name="go.version" value="go1.22.4">
 </property></properties><testcase name="TestAdd" classname="github.com/acme/shop/cart"
 time="0.000"></testcase><testcase name="TestTotal/with_tax" classname="github.com/acme/shop/cart"
 time="0.001"></testcase></testsuite></testsuites>"""

JEST_JUNIT = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="jest tests" tests="2" failures="1" errors="0" time="1.2">
  <testsuite name="cart" errors="0" failures="1" skipped="0" timestamp="2024-06-26T10:00:00"
    time="0.9" tests="2">
    <testcase classname="cart adds items" name="cart adds items" time="0.002"/>
    <testcase classname="cart calls the API" name="cart calls the API" time="0.5">
      <failure>Error: connect ECONNREFUSED https://deploy:hunter2@api.internal/v1
    at Object.&lt;anonymous&gt; (cart.test.js:10:5) API_TOKEN=abcd1234</failure>
    </testcase>
  </testsuite>
</testsuites>"""


def parse(text, name="junit.xml", attempt=0):
    return parse_junit(Report(name, text.encode()), attempt=attempt)


def test_pytest_junit_outcomes_files_and_messages():
    cases = {c.id: c for c in parse(PYTEST_XUNIT1)}
    assert {k: c.outcome for k, c in cases.items()} == {
        "tests.test_app::test_health": "passed",
        "tests.test_app.TestOrders::test_create[apple]": "failed",
        "tests.test_app::test_db": "error",
        "tests.test_app::test_slow": "skipped",
        "tests.test_app::test_inventory": "passed",
    }
    failed = cases["tests.test_app.TestOrders::test_create[apple]"]
    assert failed.file == "tests/test_app.py" and failed.message == "assert 400 == 201"
    assert "OperationalError" in cases["tests.test_app::test_db"].message


def test_surefire_flaky_reruns_node_nested_suites_go_and_jest():
    surefire = {c.name: c for c in parse(SUREFIRE)}
    assert all(c.outcome == "passed" for c in surefire.values())
    assert surefire["talksToPayments"].reruns_failed == 1
    assert surefire["totals"].reruns_failed == 1
    assert summarize(surefire.values())["flaky"] == [
        "com.acme.CartTest::talksToPayments", "com.acme.CartTest::totals",
    ]  # fmt: skip

    node = parse(NODE_TEST)
    assert [(c.name, c.outcome) for c in node] == [
        ("adds", "passed"), ("totals", "failed"), ("top level", "passed"),
    ]  # fmt: skip
    assert node[1].message.startswith("Expected values to be strictly equal")

    go = parse(GO_JUNIT)
    assert [c.id for c in go] == ["github.com/acme/shop/cart::TestAdd",
                                  "github.com/acme/shop/cart::TestTotal/with_tax"]  # fmt: skip

    [_, api] = parse(JEST_JUNIT)
    assert api.outcome == "failed"
    assert "hunter2" not in api.message and "abcd1234" not in api.message
    assert "https://***@api.internal" in api.message and "API_TOKEN=***" in api.message


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (PYTEST_XUNIT1[:400], "not well-formed XML"),
        ("<coverage/>", "not a JUnit report"),
        ("<testsuite><testcase classname='x'/></testsuite>", "has no name"),
    ],
)
def test_broken_junit_is_refused_naming_the_file(text, problem):
    with pytest.raises(CoverageReportError, match=rf"^reports/junit.xml: .*{problem}"):
        parse(text, "reports/junit.xml")


def case(name, outcome, attempt=0, message=None):
    return TestCase(f"tests.t::{name}", name, "tests.t", "tests/t.py", outcome, 0.1, message,
                    attempt)  # fmt: skip


def test_summary_counts_the_last_attempt_and_lists_retried_passes_as_flaky():
    cases = [
        case("ok", "passed"),
        case("wobbly", "failed", 0, "timeout"), case("wobbly", "passed", 1),
        case("broken", "failed", 0, "boom"), case("broken", "failed", 1, "boom"),
        case("crashy", "error", 0, "fixture"),
        case("later", "skipped"),
    ]  # fmt: skip
    doc = summarize(cases)
    assert {k: doc[k] for k in ("total", "passed", "failed", "errors", "skipped")} == {
        "total": 5, "passed": 2, "failed": 1, "errors": 1, "skipped": 1,
    }  # fmt: skip
    assert doc["flaky"] == ["tests.t::wobbly"]
    assert doc["attempts"] == 2
    assert [(f["name"], f["attempts"], f["quarantined"]) for f in doc["failures"]] == [
        ("tests.t::broken", 2, False), ("tests.t::crashy", 1, False),
    ]  # fmt: skip


def test_quarantined_failures_are_reported_but_do_not_count():
    cases = [case("broken", "failed", 0, "boom"), case("crashy", "error"), case("ok", "passed")]
    doc = summarize(cases, quarantine=["tests.t::brok*", "crashy"], known_flaky=["tests.t::ok"])
    assert (doc["failed"], doc["errors"], doc["passed"], doc["total"]) == (0, 0, 1, 3)
    assert doc["quarantined"] == ["tests.t::broken", "tests.t::crashy"]
    assert all(f["quarantined"] for f in doc["failures"])
    assert doc["flaky"] == ["tests.t::ok"]
    # A quarantined test that passes is simply passed; an unlisted failure still counts.
    assert summarize([case("broken", "passed")], quarantine=["*broken"])["quarantined"] == []
    assert summarize([case("other", "failed")], quarantine=["*broken"])["failed"] == 1


def test_quarantine_patterns_and_message_cleaning():
    assert is_quarantined("tests.test_app::test_x[1]", ["tests.test_app::test_x*"])
    assert is_quarantined("tests.test_app::test_x", ["test_x"])
    assert not is_quarantined("tests.test_app::test_xy", ["test_x"])
    long = "password=s3cr3t " + "x" * 1000
    cleaned = clean_message(long)
    assert "s3cr3t" not in cleaned and len(cleaned) <= 303
    assert clean_message("line one\n\n  line two  \nthree\nfour\nfive") == (
        "line one line two three four"
    )
