"""`prodsprint verify ARTIFACT [--key PUB]` on envelopes in a project's artifact store."""

from __future__ import annotations

import json

from click.testing import CliRunner

import prodsprint_dagster.cli.provenance  # noqa: F401  (registers `verify` on main)
from prodsprint_dagster.cli.base import main
from prodsprint_dagster.config import load_config
from prodsprint_dagster.provenance import (
    attest_plan,
    load_or_create_signing_key,
    plan_envelope_name,
    public_key_path,
)
from prodsprint_dagster.store import ArtifactIO, LocalArtifactStore
from tests.provenance.conftest import COMMIT, REPO, TARGET


def signed_project(project, rendered):
    cfg = load_config(project)
    io = ArtifactIO(LocalArtifactStore(cfg.artifacts_path))
    audit, plan = rendered
    io.put_json(REPO, COMMIT, "audit.json", audit)
    io.put_json(REPO, COMMIT, f"plan/{TARGET}/plan.json", plan)
    for rel, text in plan["files"].items():
        io.put_text(REPO, COMMIT, f"plan/{TARGET}/files/{rel}", text)
    attest_plan(io, load_or_create_signing_key(cfg.home_path), repo=REPO, commit=COMMIT,
                target=TARGET)  # fmt: skip
    return cfg, cfg.artifacts_path / REPO / COMMIT / plan_envelope_name(TARGET)


def test_verify_with_the_homes_key(project, rendered):
    cfg, envelope = signed_project(project, rendered)
    result = CliRunner().invoke(main, ["verify", str(envelope), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["key"] == str(public_key_path(cfg.home_path))
    assert report["root"] == str((cfg.artifacts_path / REPO / COMMIT).resolve())
    assert f"plan/{TARGET}/plan.json" in report["subjects"]
    human = CliRunner().invoke(main, ["verify", str(envelope)])
    assert (
        human.exit_code == 0 and "verified" in human.stdout and "subject(s) match" in human.stdout
    )


def test_verify_fails_on_a_changed_file_and_on_another_key(project, rendered, tmp_path):
    cfg, envelope = signed_project(project, rendered)
    changed = cfg.artifacts_path / REPO / COMMIT / "plan/aws/files/terraform/aws/ecs.tf"
    changed.write_text(changed.read_text() + "# sneaked in\n")
    result = CliRunner().invoke(main, ["verify", str(envelope), "--json"])
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert "plan/aws/files/terraform/aws/ecs.tf: sha256 is" in error
    other = load_or_create_signing_key(tmp_path / "other")
    result = CliRunner().invoke(
        main, ["verify", str(envelope), "--key", str(other.public_path), "--json"]
    )
    assert result.exit_code == 1
    assert f"not signed by key {other.keyid[:16]}" in json.loads(result.stdout)["error"]


def test_verify_outside_the_store_needs_root(project, rendered, tmp_path):
    cfg, envelope = signed_project(project, rendered)
    copy = tmp_path / "envelope.json"
    copy.write_bytes(envelope.read_bytes())
    result = CliRunner().invoke(main, ["verify", str(copy), "--json"])
    assert result.exit_code == 1 and "pass --root" in json.loads(result.stdout)["error"]
    root = cfg.artifacts_path / REPO / COMMIT
    result = CliRunner().invoke(main, ["verify", str(copy), "--root", str(root), "--json"])
    assert result.exit_code == 0, result.output
