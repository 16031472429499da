"""CI/CD workflows: one per stack, every gate present, valid against the GitHub schema."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pytest
import yaml

from prodsprint_dagster.plan import render_plan, render_workflows


@pytest.fixture(scope="module")
def workflow_schema() -> dict:
    path = resources.files("check_jsonschema") / "builtin_schemas/vendor/github-workflows.json"
    return json.loads(path.read_text())


@pytest.mark.parametrize(
    ("name", "stacks"),
    [("shop-api", {"python"}), ("compose", {"python"}), ("monorepo", {"go", "node"})],
)
def test_workflows_per_stack_validate(audit_reports, workflow_schema, name, stacks):
    files = render_workflows(audit_reports[name], repo=f"team__{name}")
    assert set(files) == {f".github/workflows/prodsprint-{s}.yml" for s in stacks}
    validator = jsonschema.Draft7Validator(workflow_schema)
    for path, text in files.items():
        doc = yaml.safe_load(text)
        errors = sorted(validator.iter_errors(doc), key=str)
        assert not errors, f"{path}: {errors[0].message}"
        assert set(doc["jobs"]) == {"lint", "test", "sast", "sbom", "image", "deploy"}
        steps = [s for job in doc["jobs"].values() for s in job["steps"]]
        uses = " ".join(s.get("uses", "") for s in steps)
        runs = "\n".join(s.get("run", "") for s in steps)
        assert "anchore/sbom-action" in uses and "aquasecurity/trivy-action" in uses
        assert "sigstore/cosign-installer" in uses and "cosign sign" in runs
        assert "prodsprint readiness" in runs and "prodsprint plan" in runs
        assert "curl --fail" in runs  # smoke test
        stack = path.rsplit("-", 1)[1].removesuffix(".yml")
        gate = {"python": "--cov-fail-under=80", "node": "80", "go": ">= 80"}[stack]
        assert gate in runs
        sast = {"python": "bandit", "node": "npm audit", "go": "gosec"}[stack]
        assert sast in runs


def test_monorepo_matrix_covers_each_service(audit_reports):
    files = render_workflows(audit_reports["monorepo"], repo="team__monorepo")
    node = yaml.safe_load(files[".github/workflows/prodsprint-node.yml"])
    services = node["jobs"]["image"]["strategy"]["matrix"]["service"]
    assert [s["name"] for s in services] == ["api", "web"]
    assert node["jobs"]["test"]["strategy"]["matrix"]["root"] == ["services/api", "services/web"]


def test_render_plan_includes_workflows(audit_reports):
    plan = render_plan(audit_reports["shop-api"], target="local", repo="r", commit="abc")
    assert ".github/workflows/prodsprint-python.yml" in plan["files"]
