"""`sbom`, `vulnerability_report` and their blocking checks on a real repository, and the
`no_plaintext_secrets` check on the audit, as the readiness chain runs them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg

from assets import audit_report, repo_snapshot, sbom, vulnerability_report
from assets.supply_chain import no_plaintext_secrets
from prodsprint_dagster.config import load_config
from prodsprint_dagster.policy import Waiver, WaiverStore
from prodsprint_dagster.registry import add_repo, set_if_absent
from prodsprint_dagster.store import HistoryStore

OSV_DB = Path(__file__).resolve().parents[2] / "examples" / "osv-db"
APP = "import os\nfrom flask import Flask\napp = Flask(__name__)\nPORT = os.environ.get('PORT')\n"


def checks(result) -> dict[str, dg.AssetCheckEvaluation]:
    return {c.check_name: c for c in result.get_asset_check_evaluations()}


def chain(instance, resources, *extra):
    return dg.materialize(
        [repo_snapshot, audit_report, sbom, vulnerability_report, *extra], instance=instance,
        resources=resources(), partition_key="shop", raise_on_error=False,
    )  # fmt: skip


def registered(project, make_repo, files: dict[str, str]):
    repo = make_repo("shop", commits=0)
    for name, text in files.items():
        repo.commit(name, text)
    add_repo(project, "shop", str(repo.path))
    set_if_absent(project, "supply", "osv_db", str(OSV_DB))
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("repos", ["shop"])
    return repo, instance


def test_a_critical_vulnerability_blocks_until_waived(project, resources, make_repo):
    pins = "flask==3.0.3\nPyYAML==5.3.1\nrequests==2.32.3\n"
    _, instance = registered(project, make_repo, {"app.py": APP, "requirements.txt": pins})
    result = chain(instance, resources)
    report = result.output_for_node("vulnerability_report")
    [finding] = report["findings"]
    assert (finding["id"], finding["package"], finding["fixed_version"]) == (
        "CVE-2020-14343", "PyYAML", "5.4"
    )  # fmt: skip
    assert {"PYSEC-2021-142", "GHSA-8q59-q68h-6hv4"} <= set(finding["ids"])  # aliases merged
    evaluations = checks(result)
    assert evaluations["sbom_is_present_and_valid"].passed
    blocked = evaluations["no_unwaived_high_or_critical_vulnerabilities"]
    assert not blocked.passed and blocked.severity == dg.AssetCheckSeverity.ERROR
    assert "CVE-2020-14343" in blocked.metadata["blocking"].value
    assert evaluations["licences_are_allowed"].passed
    summary = result.output_for_node("sbom")
    assert summary["components"] == 3 and summary["by_ecosystem"] == {"PyPI": 3}
    assert Path(summary["document"].removeprefix("file://")).is_file()

    history = HistoryStore(load_config(project).history_path)
    expires = datetime.now(UTC) + timedelta(days=3)
    WaiverStore(history).add(Waiver(
        repo="shop", gate="vulnerabilities", finding="GHSA-8q59-q68h-6hv4", reason="not loaded",
        ticket="SEC-7", owner="alice", expires_at=expires))  # fmt: skip
    again = chain(instance, resources)
    assert checks(again)["no_unwaived_high_or_critical_vulnerabilities"].passed
    [waived] = again.output_for_node("vulnerability_report")["findings"]
    assert waived["waived"] is True  # an alias of the finding is enough to name it


def test_a_committed_secret_stops_the_chain_at_the_audit(project, resources, make_repo):
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    leak = f"AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\nAWS_SECRET_ACCESS_KEY={secret}\n"
    files = {"app.py": APP, "requirements.txt": "flask==3.0.3\n", "deploy.env": leak}
    _, instance = registered(project, make_repo, files)
    result = chain(instance, resources, no_plaintext_secrets)
    failed = checks(result)["no_plaintext_secrets"]
    assert not failed.passed and "deploy.env:1" in failed.metadata["secrets"].value
    materialized = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert "audit_report" in materialized and "sbom" not in materialized  # blocked downstream
    assert secret not in str(failed.metadata) and "AKIAIOSFODNN7EXAMPLE" not in str(failed.metadata)
