"""Cost estimate against a hand-computed sum, unknown prices, cost diff and the plan diff."""

from __future__ import annotations

import copy

import pytest

from prodsprint_dagster.plan import (
    cost_diff,
    diff_plans,
    estimate_cost,
    load_catalogue,
    render_plan,
)


def _res(address: str, attributes: dict) -> dict:
    type_, name = address.split(".", 1)
    return {
        "address": address,
        "type": type_,
        "name": name,
        "service": None,
        "attributes": attributes,
    }


def test_cost_equals_hand_computed_sum():
    cat = load_catalogue()
    assert cat["source"] and cat["as_of"]
    plan = {
        "options": {"region": "us-east-1"},
        "resources": [
            _res("aws_nat_gateway.nat_0", {}),
            _res(
                "aws_db_instance.main",
                {
                    "engine": "postgres",
                    "instance_class": "db.t4g.small",
                    "allocated_storage": 20,
                    "multi_az": True,
                },
            ),
            _res("aws_ecs_task_definition.api", {"cpu": "512", "memory": "1024"}),
            _res(
                "aws_ecs_service.api",
                {"task_definition": "${aws_ecs_task_definition.api.arn}", "desired_count": 2},
            ),
            _res("aws_secretsmanager_secret.env_token", {}),
            _res("aws_vpc.main", {}),
        ],
    }
    usage = {
        "resource_type_default_usage": {
            "aws_nat_gateway": {"monthly_processed_gb": 100},
            "aws_secretsmanager_secret": {"monthly_api_calls": 0},
        }
    }
    # us-east-1 catalogue: NAT 0.045/h + 0.045/GB; RDS postgres db.t4g.small 0.032/h, gp3
    # 0.115/GB-month, Multi-AZ doubles both; Fargate 0.04048/vCPU-h, 0.004445/GB-h; secret 0.40.
    nat = 730 * 0.045 + 100 * 0.045
    rds = 2 * 730 * 0.032 + 2 * 20 * 0.115
    fargate = 730 * 2 * (0.5 * 0.04048 + 1.0 * 0.004445)
    secret = 0.40
    cost = estimate_cost(plan, usage=usage)
    assert cost["currency"] == "USD" and cost["unknown"] == []
    assert cost["monthly_total"] == pytest.approx(nat + rds + fargate + secret, abs=0.01)
    by = {r["address"]: r["monthly"] for r in cost["resources"]}
    assert by["aws_vpc.main"] == 0 and by["aws_nat_gateway.nat_0"] == pytest.approx(nat)


def test_missing_price_is_unknown_not_zero():
    plan = {
        "options": {"region": "us-east-1"},
        "resources": [
            _res(
                "aws_db_instance.main",
                {"engine": "postgres", "instance_class": "db.x9.huge", "allocated_storage": 20},
            ),
            _res("aws_kinesis_stream.events", {}),
            _res("aws_eip.nat_0", {}),
        ],
    }
    cost = estimate_cost(plan)
    rows = {r["address"]: r for r in cost["resources"]}
    assert rows["aws_db_instance.main"]["monthly"] is None
    assert "db.x9.huge" in rows["aws_db_instance.main"]["unknown_reason"]
    assert rows["aws_kinesis_stream.events"]["monthly"] is None
    assert cost["unknown"] == ["aws_db_instance.main", "aws_kinesis_stream.events"]
    assert cost["monthly_total"] == pytest.approx(730 * 0.005)


def test_region_aware(audit_reports):
    audit = audit_reports["compose"]
    us = estimate_cost(
        render_plan(audit, target="aws", repo="r", commit="a", options={"region": "us-east-1"})
    )
    eu = estimate_cost(
        render_plan(audit, target="aws", repo="r", commit="a", options={"region": "eu-west-1"})
    )
    assert us["unknown"] == [] and eu["unknown"] == []
    assert eu["monthly_total"] > us["monthly_total"] > 0
    far = estimate_cost(
        render_plan(audit, target="aws", repo="r", commit="a", options={"region": "ap-south-2"})
    )
    assert "aws_nat_gateway.nat_0" in far["unknown"]
    assert "aws_vpc.main" not in far["unknown"]  # free everywhere


def test_kubernetes_and_local_costs(audit_reports):
    k8s = estimate_cost(
        render_plan(audit_reports["monorepo"], target="kubernetes", repo="r", commit="a")
    )
    assert k8s["unknown"] == [] and k8s["monthly_total"] > 0
    local = estimate_cost(
        render_plan(audit_reports["monorepo"], target="local", repo="r", commit="a")
    )
    assert local["monthly_total"] == 0 and local["unknown"] == []


def test_cost_diff(audit_reports):
    audit = audit_reports["compose"]
    old = estimate_cost(render_plan(audit, target="aws", repo="r", commit="a"))
    new = estimate_cost(
        render_plan(
            audit,
            target="aws",
            repo="r",
            commit="a",
            options={"db_instance_class": "db.t4g.medium"},
        )
    )
    diff = cost_diff(new, old)
    assert diff["delta"] == pytest.approx(2 * 730 * (0.065 - 0.032), abs=0.02)
    assert [r["address"] for r in diff["resources"]] == ["aws_db_instance.main"]
    first = cost_diff(new, None)
    assert first["monthly_total_old"] == 0 and first["delta"] == new["monthly_total"]


def test_diff_finds_changes_and_risks(audit_reports):
    audit = audit_reports["compose"]
    old = render_plan(audit, target="aws", repo="r", commit="a")
    grown = copy.deepcopy(audit)
    grown["env_vars"].append(
        {
            "name": "NEW_API_TOKEN",
            "services": ["web"],
            "evidence": ["app.py:1"],
            "secret_like": True,
            "default": None,
        }
    )
    new = render_plan(
        grown,
        target="aws",
        repo="r",
        commit="a",
        options={"db_instance_class": "db.m6g.large", "cdn_waf": True},
    )
    diff = diff_plans(new, old)
    assert "aws_db_instance.main" in diff["summary"]["changed"]
    assert "aws_secretsmanager_secret.env_new_api_token" in diff["summary"]["added"]
    assert "+++ b/terraform/aws/data.tf" in diff["unified"]
    assert "+  instance_class " in diff["unified"] or "-  instance_class " in diff["unified"]
    codes = {(n["code"], n["address"]) for n in diff["risk_notes"]}
    assert ("instance_class_change", "aws_db_instance.main") in codes
    assert ("secret_added", "aws_secretsmanager_secret.env_new_api_token") in codes
    assert ("new_public_ingress", "aws_cloudfront_distribution.main") in codes

    no_db = copy.deepcopy(audit)
    no_db["datastores"] = [d for d in no_db["datastores"] if d["engine"] != "postgres"]
    gone = diff_plans(render_plan(no_db, target="aws", repo="r", commit="a"), old)
    assert "aws_db_instance.main" in gone["summary"]["destroyed"]
    assert ("destructive_database_change", "aws_db_instance.main") in {
        (n["code"], n["address"]) for n in gone["risk_notes"]
    }
    engine = copy.deepcopy(old)
    db = next(r for r in engine["resources"] if r["address"] == "aws_db_instance.main")
    db["attributes"]["engine"] = "mysql"
    replaced = diff_plans(old, engine)
    assert any(
        n["code"] == "destructive_database_change" and "replaced" in n["message"]
        for n in replaced["risk_notes"]
    )


def test_diff_against_nothing_adds_everything(audit_reports):
    plan = render_plan(audit_reports["shop-api"], target="local", repo="r", commit="a")
    diff = diff_plans(plan, None)
    assert diff["summary"]["added"] == [r["address"] for r in plan["resources"]]
    assert diff["summary"]["changed"] == diff["summary"]["destroyed"] == []
    assert diff["unified"].count("--- /dev/null") == len(plan["files"])
    same = diff_plans(plan, plan)
    assert same["unified"] == "" and same["risk_notes"] == []
