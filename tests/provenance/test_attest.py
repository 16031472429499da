"""Plan and release attestations against a real artifact store and a real rendered plan."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime

import pytest

from prodsprint_dagster.errors import InvalidNameError
from prodsprint_dagster.provenance import (
    PREDICATE_TYPE,
    STATEMENT_TYPE,
    ProvenanceError,
    attest_plan,
    attest_release,
    directory_reader,
    load_or_create_signing_key,
    plan_envelope_name,
    release_envelope_name,
    store_reader,
    verify_envelope,
    verify_plan,
)
from prodsprint_dagster.provenance import attest as attest_module
from prodsprint_dagster.stages import readiness, supply
from tests.provenance.conftest import COMMIT, REPO, TARGET

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def sha(io, name: str) -> str:
    return hashlib.sha256(io.store.get_bytes(REPO, COMMIT, name)).hexdigest()


def statement_of(io, name: str) -> dict:
    env = json.loads(io.store.get_bytes(REPO, COMMIT, name))
    return json.loads(base64.b64decode(env["payload"]))


def sign_plan(io, tmp_path):
    key = load_or_create_signing_key(tmp_path / "home")
    result = attest_plan(io, key, repo=REPO, commit=COMMIT, target=TARGET,
                         repo_uri="https://bot:s3cret@git.example.test/acme/shop.git",
                         run_id="run-1", now=NOW)  # fmt: skip
    return key, result


def test_artifact_names_agree_with_the_stages():
    assert attest_module.SBOM == supply.SBOM_DOCUMENT
    assert attest_module.READINESS_EVIDENCE == readiness.EVIDENCE
    assert readiness.GATE_ARTIFACTS["audit"] == attest_module.AUDIT


def test_plan_round_trip_records_subjects_and_inputs(stored, rendered, tmp_path):
    key, result = sign_plan(stored, tmp_path)
    _, plan = rendered
    assert result["keyid"] == key.keyid and result["name"] == plan_envelope_name(TARGET)
    statement = verify_plan(stored, key.public_key, repo=REPO, commit=COMMIT, target=TARGET)
    assert statement == statement_of(stored, plan_envelope_name(TARGET))
    assert statement["_type"] == STATEMENT_TYPE and statement["predicateType"] == PREDICATE_TYPE
    subjects = {s["name"]: s["digest"]["sha256"] for s in statement["subject"]}
    expected = [f"plan/{TARGET}/plan.json"] + [f"plan/{TARGET}/files/{r}" for r in plan["files"]]
    assert sorted(subjects) == sorted(expected) and len(plan["files"]) > 5
    assert all(subjects[n] == sha(stored, n) for n in expected)
    definition = statement["predicate"]["buildDefinition"]
    deps = {d["name"]: d for d in definition["resolvedDependencies"]}
    assert deps[REPO]["digest"] == {"gitCommit": COMMIT}
    assert deps[REPO]["uri"] == "git+https://***@git.example.test/acme/shop.git"  # no secret
    assert deps["audit.json"]["digest"]["sha256"] == sha(stored, "audit.json")
    assert deps["sbom/cyclonedx.json"]["digest"]["sha256"] == sha(stored, "sbom/cyclonedx.json")
    assert definition["internalParameters"] == {"notMeasured": ["readiness/evidence.json"]}
    assert definition["externalParameters"] == {"repo": REPO, "commit": COMMIT, "target": TARGET}
    run = statement["predicate"]["runDetails"]
    assert run["metadata"] == {"invocationId": "run-1", "startedOn": "2026-11-01T12:00:00Z",
                               "finishedOn": "2026-11-01T12:00:00Z"}  # fmt: skip
    assert "s3cret" not in stored.store.get_bytes(REPO, COMMIT, plan_envelope_name(TARGET)).decode()


def test_a_tampered_rendered_file_is_named(stored, tmp_path):
    key, _ = sign_plan(stored, tmp_path)
    name = f"plan/{TARGET}/files/terraform/aws/ecs.tf"
    stored.put_text(REPO, COMMIT, name, stored.get_text(REPO, COMMIT, name) + "\n# extra\n")
    with pytest.raises(ProvenanceError, match=r"1 subject\(s\) do not match: "
                       r"plan/aws/files/terraform/aws/ecs.tf: sha256 is") as err:  # fmt: skip
        verify_plan(stored, key.public_key, repo=REPO, commit=COMMIT, target=TARGET)
    assert "plan.json" not in str(err.value)


def test_a_tampered_or_missing_plan_is_named(stored, tmp_path):
    key, _ = sign_plan(stored, tmp_path)
    plan = stored.get_json(REPO, COMMIT, f"plan/{TARGET}/plan.json")
    plan["files"]["terraform/aws/ecs.tf"] = 'resource "aws_instance" "miner" {}'
    stored.put_json(REPO, COMMIT, f"plan/{TARGET}/plan.json", plan)
    (stored.store.base / REPO / COMMIT / "plan/aws/files/terraform/aws/alb.tf").unlink()
    with pytest.raises(ProvenanceError) as err:
        verify_plan(stored, key.public_key, repo=REPO, commit=COMMIT, target=TARGET)
    assert "2 subject(s)" in str(err.value) and "plan/aws/plan.json: sha256 is" in str(err.value)
    assert "plan/aws/files/terraform/aws/alb.tf: cannot be read" in str(err.value)


def test_a_tampered_payload_fails_the_signature(stored, tmp_path):
    key, _ = sign_plan(stored, tmp_path)
    name = plan_envelope_name(TARGET)
    env = json.loads(stored.store.get_bytes(REPO, COMMIT, name))
    statement = json.loads(base64.b64decode(env["payload"]))
    statement["subject"][0]["digest"]["sha256"] = "0" * 64  # cover up a changed plan
    env["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    stored.put_json(REPO, COMMIT, name, env)
    with pytest.raises(ProvenanceError, match="does not match the payload"):
        verify_plan(stored, key.public_key, repo=REPO, commit=COMMIT, target=TARGET)


def test_a_wrong_key_and_a_missing_envelope_are_refused(stored, tmp_path):
    sign_plan(stored, tmp_path)
    other = load_or_create_signing_key(tmp_path / "other-home")
    with pytest.raises(ProvenanceError, match=f"not signed by key {other.keyid[:16]}"):
        verify_plan(stored, other.public_key, repo=REPO, commit=COMMIT, target=TARGET)
    with pytest.raises(ProvenanceError, match="the local plan has no provenance"):
        verify_plan(stored, other.public_key, repo=REPO, commit=COMMIT, target="local")


def test_an_envelope_of_another_commit_cannot_stand_in(stored, tmp_path):
    key, _ = sign_plan(stored, tmp_path)
    envelope = stored.store.get_bytes(REPO, COMMIT, plan_envelope_name(TARGET))
    other = "b" * 40
    with pytest.raises(ProvenanceError, match=f"attests commit '{COMMIT}', expected '{other}'"):
        verify_envelope(envelope, key.public_key, read_subject=store_reader(stored, REPO, COMMIT),
                        expect={"repo": REPO, "commit": other})  # fmt: skip


def test_release_attests_the_applied_plan_with_readiness_evidence(stored, tmp_path):
    key, _ = sign_plan(stored, tmp_path)
    stored.put_json(REPO, COMMIT, "readiness/evidence.json", {"verdict": "ready"})
    stored.put_json(REPO, COMMIT, "release/rel-1/terraform.json", {"files": {}, "summary": {}})
    result = attest_release(stored, key, repo=REPO, commit=COMMIT, target=TARGET,
                            release_id="rel-1", run_id="run-2", now=NOW)  # fmt: skip
    assert result["name"] == release_envelope_name("rel-1") and result["not_measured"] == []
    envelope = stored.store.get_bytes(REPO, COMMIT, release_envelope_name("rel-1"))
    statement = verify_envelope(
        envelope, key.public_key, read_subject=store_reader(stored, REPO, COMMIT),
        expect={"repo": REPO, "commit": COMMIT, "release": "rel-1"},
    )  # fmt: skip
    names = [s["name"] for s in statement["subject"]]
    assert names[0] == "plan/aws/plan.json" and names[-1] == "release/rel-1/terraform.json"
    deps = {d["name"]: d["digest"] for d in
            statement["predicate"]["buildDefinition"]["resolvedDependencies"]}  # fmt: skip
    assert deps["readiness/evidence.json"]["sha256"] == sha(stored, "readiness/evidence.json")
    assert deps[plan_envelope_name(TARGET)]["sha256"] == sha(stored, plan_envelope_name(TARGET))
    stored.put_json(REPO, COMMIT, "release/rel-1/terraform.json", {"files": {"x": "y"}})
    with pytest.raises(ProvenanceError, match=r"release/rel-1/terraform\.json: sha256 is"):
        verify_envelope(envelope, key.public_key, read_subject=store_reader(stored, REPO, COMMIT))


def test_attesting_without_a_plan_is_a_clear_error(stored, tmp_path):
    key = load_or_create_signing_key(tmp_path / "home")
    with pytest.raises(ProvenanceError, match=r"has no plan/local/plan\.json to attest"):
        attest_plan(stored, key, repo=REPO, commit=COMMIT, target="local")


def test_directory_reader_stays_inside_its_root(tmp_path):
    root = tmp_path / "root"
    (root / "plan").mkdir(parents=True)
    (tmp_path / "secret.txt").write_text("outside")
    (root / "plan" / "link").symlink_to(tmp_path / "secret.txt")
    read = directory_reader(root)
    for name in ("../secret.txt", "/etc/passwd", "plan/link"):
        with pytest.raises(InvalidNameError, match=r"leaves|relative path"):
            read(name)
