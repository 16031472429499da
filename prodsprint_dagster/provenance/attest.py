"""Attest plans and releases from what the artifact store holds, and verify them against it.

Digests are taken of the stored bytes, so verification re-reads exactly what a later stage
will use: if any subject changed after signing (a rendered file, the plan), verification
names it. The envelope sits next to what it describes:
``plan/<target>/provenance.intoto.json`` and ``release/<id>/provenance.intoto.json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from prodsprint_dagster.errors import InvalidNameError, StoreError
from prodsprint_dagster.names import validate_artifact_name
from prodsprint_dagster.provenance.dsse import parse_envelope, sign_envelope, verify_dsse
from prodsprint_dagster.provenance.errors import ProvenanceError
from prodsprint_dagster.provenance.keys import SigningKey
from prodsprint_dagster.provenance.statement import (
    PLAN_BUILD_TYPE,
    RELEASE_BUILD_TYPE,
    build_statement,
    canonical_json,
    git_commit_of,
    parse_statement,
    resource,
    sha256_digest,
)
from prodsprint_dagster.redact import redact_url
from prodsprint_dagster.store import ArtifactIO

# The stages' artifact names (stages/supply.py SBOM_DOCUMENT, stages/readiness.py EVIDENCE);
# repeated here because the stages call this package. tests/provenance checks they agree.
AUDIT = "audit.json"
SBOM = "sbom/cyclonedx.json"
READINESS_EVIDENCE = "readiness/evidence.json"
ENVELOPE = "provenance.intoto.json"

Reader = Callable[[str], bytes]


def plan_envelope_name(target: str) -> str:
    return f"plan/{target}/{ENVELOPE}"


def release_envelope_name(release_id: str) -> str:
    return f"release/{release_id}/{ENVELOPE}"


def attest_plan(
    io: ArtifactIO,
    key: SigningKey,
    *,
    repo: str,
    commit: str,
    target: str,
    repo_uri: str | None = None,
    run_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Sign the stored plan of ``commit``: subjects are plan.json and every rendered file."""
    plan_name = f"plan/{target}/plan.json"
    subjects = [plan_name] + [
        f"plan/{target}/files/{rel}" for rel in sorted(_stored_plan(io, repo, commit, plan_name))
    ]
    return _attest(
        io, key, repo=repo, commit=commit, subjects=subjects,
        inputs=[AUDIT, SBOM, READINESS_EVIDENCE], build_type=PLAN_BUILD_TYPE,
        external={"repo": repo, "commit": commit, "target": target},
        envelope_name=plan_envelope_name(target), repo_uri=repo_uri, run_id=run_id, now=now,
    )  # fmt: skip


def attest_release(
    io: ArtifactIO,
    key: SigningKey,
    *,
    repo: str,
    commit: str,
    target: str,
    release_id: str,
    repo_uri: str | None = None,
    run_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Sign what a release applied: the plan, its files and the apply record (when the
    conductor stored one); inputs add the readiness evidence and the plan's own attestation."""
    plan_name = f"plan/{target}/plan.json"
    subjects = [plan_name] + [
        f"plan/{target}/files/{rel}" for rel in sorted(_stored_plan(io, repo, commit, plan_name))
    ]
    applied = f"release/{release_id}/terraform.json"
    if io.store.exists(repo, commit, applied):
        subjects.append(applied)
    return _attest(
        io, key, repo=repo, commit=commit, subjects=subjects,
        inputs=[AUDIT, SBOM, READINESS_EVIDENCE, plan_envelope_name(target)],
        build_type=RELEASE_BUILD_TYPE,
        external={"repo": repo, "commit": commit, "target": target, "release": release_id},
        envelope_name=release_envelope_name(release_id), repo_uri=repo_uri, run_id=run_id,
        now=now,
    )  # fmt: skip


def verify_envelope(
    envelope: bytes | str | Mapping[str, Any],
    public_key: Ed25519PublicKey,
    *,
    read_subject: Reader | None = None,
    expect: Mapping[str, str] | None = None,
    source: str = "envelope",
) -> dict[str, Any]:
    """The verified statement; raises ProvenanceError naming what does not match.

    ``read_subject`` re-reads each subject by name and compares its sha256 with the signed
    one; ``expect`` pins external parameters (repo, commit, target, release) so an envelope
    valid for another commit cannot stand in for this one.
    """
    statement = parse_statement(verify_dsse(envelope, public_key, source=source), source=source)
    external = statement["predicate"].get("buildDefinition", {}).get("externalParameters") or {}
    for field, value in (expect or {}).items():
        if external.get(field) != value:
            raise ProvenanceError(
                f"{source}: attests {field} {external.get(field)!r}, expected {value!r}"
            )
    if expect and "commit" in expect and git_commit_of(statement) != expect["commit"]:
        raise ProvenanceError(f"{source}: gitCommit dependency is not {expect['commit']}")
    if read_subject is not None:
        problems = []
        for subject in statement["subject"]:
            name, signed = subject["name"], subject["digest"]["sha256"]
            try:
                actual = sha256_digest(read_subject(name))["sha256"]
            except (StoreError, InvalidNameError, OSError) as exc:
                problems.append(f"{name}: cannot be read ({exc})")
                continue
            if actual != signed:
                problems.append(f"{name}: sha256 is {actual[:16]}…, the attestation signs "
                                f"{signed[:16]}…")  # fmt: skip
        if problems:
            raise ProvenanceError(
                f"{source}: {len(problems)} subject(s) do not match: " + "; ".join(problems)
            )
    return statement


def verify_plan(
    io: ArtifactIO, public_key: Ed25519PublicKey, *, repo: str, commit: str, target: str
) -> dict[str, Any]:
    """Check the stored plan of ``commit`` against its attestation before anything applies it."""
    name = plan_envelope_name(target)
    source = f"{repo}@{commit[:12]} {name}"
    if not io.store.exists(repo, commit, name):
        raise ProvenanceError(
            f"{repo}@{commit[:12]}: the {target} plan has no provenance ({name}); "
            "materialize deploy_plan again to sign it"
        )
    return verify_envelope(
        io.store.get_bytes(repo, commit, name), public_key,
        read_subject=store_reader(io, repo, commit),
        expect={"repo": repo, "commit": commit, "target": target}, source=source,
    )  # fmt: skip


def store_reader(io: ArtifactIO, repo: str, commit: str) -> Reader:
    return lambda name: io.store.get_bytes(repo, commit, name)


def directory_reader(root: Path) -> Reader:
    """Subjects below ``root`` (a commit's artifact folder); names come from the envelope,
    so they are validated and may not leave ``root``, through '..' or a symlink."""
    base = Path(root).resolve()

    def read(name: str) -> bytes:
        path = (base / validate_artifact_name(name)).resolve()
        if not path.is_relative_to(base):
            raise InvalidNameError(f"{name} leaves {base}")
        return path.read_bytes()

    return read


def statement_summary(statement: Mapping[str, Any]) -> dict[str, Any]:
    """What `prodsprint verify` reports: who built what from which inputs."""
    definition = statement["predicate"].get("buildDefinition", {})
    return {
        "buildType": definition.get("buildType"),
        "parameters": definition.get("externalParameters"),
        "subjects": {s["name"]: s["digest"]["sha256"] for s in statement["subject"]},
        "inputs": [
            {"name": d.get("name"), "digest": d.get("digest")}
            for d in definition.get("resolvedDependencies") or []
        ],
    }


def _stored_plan(io: ArtifactIO, repo: str, commit: str, plan_name: str) -> list[str]:
    if not io.store.exists(repo, commit, plan_name):
        raise ProvenanceError(f"{repo}@{commit[:12]} has no {plan_name} to attest")
    plan = io.get_json(repo, commit, plan_name)
    files = plan.get("files") if isinstance(plan, dict) else None
    if not isinstance(files, dict):
        raise ProvenanceError(f"{repo}@{commit[:12]} {plan_name}: `files` is not a mapping")
    return list(files)


def _attest(
    io: ArtifactIO,
    key: SigningKey,
    *,
    repo: str,
    commit: str,
    subjects: list[str],
    inputs: list[str],
    build_type: str,
    external: dict[str, Any],
    envelope_name: str,
    repo_uri: str | None,
    run_id: str | None,
    now: datetime | None,
) -> dict[str, Any]:
    started = now or datetime.now(UTC)
    read = store_reader(io, repo, commit)
    subject_list = [resource(name, sha256_digest(read(name))) for name in subjects]
    source = resource(
        repo, {"gitCommit": commit}, uri=f"git+{redact_url(repo_uri)}" if repo_uri else None
    )
    dependencies = [source]
    missing = []
    for name in inputs:
        if io.store.exists(repo, commit, name):
            dependencies.append(resource(name, sha256_digest(read(name))))
        else:
            missing.append(name)
    statement = build_statement(
        subject_list, build_type=build_type, external_parameters=external,
        internal_parameters={"notMeasured": missing}, resolved_dependencies=dependencies,
        invocation_id=run_id, started_on=started, finished_on=now or datetime.now(UTC),
    )  # fmt: skip
    envelope = sign_envelope(canonical_json(statement), key)
    data = json.dumps(parse_envelope(envelope), indent=2).encode() + b"\n"
    uri = io.store.put_bytes(repo, commit, envelope_name, data)
    return {
        "envelope": uri,
        "name": envelope_name,
        "keyid": key.keyid,
        "subjects": len(subject_list),
        "inputs": [d["name"] for d in dependencies],
        "not_measured": missing,
    }
