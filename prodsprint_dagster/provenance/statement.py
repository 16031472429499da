"""in-toto Statement v1 carrying a SLSA Provenance v1 predicate.

Subjects are what a run produced (name + sha256); ``resolvedDependencies`` are what it
consumed (the commit as a ``gitCommit`` digest, the stored inputs by sha256). The payload is
serialised canonically (sorted keys, no spaces) so the same facts always sign the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from prodsprint_dagster import __version__
from prodsprint_dagster.provenance.errors import ProvenanceError

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
BUILDER_ID = "urn:prodsprint:builder:prodsprint-dagster"
PLAN_BUILD_TYPE = "urn:prodsprint:build-type:deploy-plan:v1"
RELEASE_BUILD_TYPE = "urn:prodsprint:build-type:release-apply:v1"

_SHA256 = re.compile(r"[0-9a-f]{64}")


def sha256_digest(data: bytes) -> dict[str, str]:
    return {"sha256": hashlib.sha256(data).hexdigest()}


def resource(name: str, digest: Mapping[str, str], **fields: Any) -> dict[str, Any]:
    """A SLSA ResourceDescriptor; empty optional fields are left out, as the spec asks."""
    return {"name": name, "digest": dict(digest), **{k: v for k, v in fields.items() if v}}


def build_statement(
    subjects: Iterable[Mapping[str, Any]],
    *,
    build_type: str,
    external_parameters: Mapping[str, Any],
    internal_parameters: Mapping[str, Any],
    resolved_dependencies: Iterable[Mapping[str, Any]],
    invocation_id: str | None,
    started_on: datetime,
    finished_on: datetime,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "startedOn": _timestamp(started_on),
        "finishedOn": _timestamp(finished_on),
    }
    if invocation_id:
        metadata["invocationId"] = invocation_id
    return {
        "_type": STATEMENT_TYPE,
        "subject": [dict(s) for s in subjects],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": build_type,
                "externalParameters": dict(external_parameters),
                "internalParameters": dict(internal_parameters),
                "resolvedDependencies": [dict(d) for d in resolved_dependencies],
            },
            "runDetails": {
                "builder": {"id": BUILDER_ID, "version": {"prodsprint-dagster": __version__}},
                "metadata": metadata,
            },
        },
    }


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def parse_statement(payload: bytes, *, source: str = "envelope") -> dict[str, Any]:
    """The statement in a verified payload, with the fields verification relies on checked."""
    try:
        statement = json.loads(payload)
    except ValueError as exc:
        raise ProvenanceError(f"{source}: payload is not JSON: {exc}") from None
    if not isinstance(statement, dict):
        raise ProvenanceError(f"{source}: payload is not an in-toto statement")
    if statement.get("_type") != STATEMENT_TYPE:
        raise ProvenanceError(f"{source}: _type is {statement.get('_type')!r}, "
                              f"expected {STATEMENT_TYPE!r}")  # fmt: skip
    if statement.get("predicateType") != PREDICATE_TYPE:
        raise ProvenanceError(f"{source}: predicateType is {statement.get('predicateType')!r}, "
                              f"expected {PREDICATE_TYPE!r}")  # fmt: skip
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or not subjects:
        raise ProvenanceError(f"{source}: statement has no subject")
    for i, s in enumerate(subjects):
        digest = s.get("digest") if isinstance(s, dict) else None
        if not isinstance(s.get("name") if digest else None, str) or not _SHA256.fullmatch(
            str((digest or {}).get("sha256", ""))
        ):
            raise ProvenanceError(f"{source}: subject[{i}] needs a name and a sha256 digest")
    if not isinstance(statement.get("predicate"), dict):
        raise ProvenanceError(f"{source}: statement has no predicate")
    return statement


def git_commit_of(statement: Mapping[str, Any]) -> str | None:
    """The commit a statement's run consumed (its ``gitCommit`` dependency)."""
    deps = statement["predicate"].get("buildDefinition", {}).get("resolvedDependencies") or []
    for dep in deps:
        if isinstance(dep, dict) and isinstance(dep.get("digest"), dict):
            commit = dep["digest"].get("gitCommit")
            if commit:
                return str(commit)
    return None


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
