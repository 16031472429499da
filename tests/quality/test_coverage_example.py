"""The example service's own pytest suite, run under coverage in its own virtualenv."""

from pathlib import Path

from prodsprint_dagster.audit import audit_repository
from prodsprint_dagster.quality.coverage import (
    coverage_document,
    measure_checkout,
    results_document,
)
from tests.quality.test_coverage_support import RUNTIME_HOME

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shop-api"


def test_the_example_service_tests_run_with_coverage():
    audit = audit_repository(EXAMPLE, repo_name="shop")
    assert [t["command"] for t in audit["tests"]] == ["pytest"]
    m = measure_checkout(EXAMPLE, audit["tests"], home=RUNTIME_HOME, run=True, timeout=300)

    assert "venv from requirements.txt, requirements-dev.txt" in m.source
    tests = results_document(m)
    assert (tests["total"], tests["passed"], tests["failed"], tests["errors"]) == (5, 5, 0, 0)
    coverage = coverage_document(m, None)
    files = {f["path"]: f for f in coverage["files"]}
    assert {"shop/app.py", "shop/db.py", "tests/test_app.py"} <= set(files)
    assert coverage["percent"] >= 80 and coverage["branch_percent"] is not None
    assert files["shop/app.py"]["missing"]  # e.g. `__main__` and the untested /inventory route
    # Per-test coverage: the health test ran the app module.
    assert "shop/app.py" in m.covers["tests.test_app::test_health"]
    # Nothing was written into the example folder.
    assert not (EXAMPLE / ".coverage").exists() and not (EXAMPLE / "shop.db").exists()
