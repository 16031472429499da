"""A real rendered plan of examples/shop-api, stored the way the plan stage stores it."""

from __future__ import annotations

from pathlib import Path

import pytest

from prodsprint_dagster.audit import audit_repository
from prodsprint_dagster.plan import render_plan
from prodsprint_dagster.store import ArtifactIO, LocalArtifactStore

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shop-api"
REPO = "acme__shop"
COMMIT = "3f2c" + "a" * 36
TARGET = "aws"


@pytest.fixture(scope="session")
def rendered() -> tuple[dict, dict]:
    audit = audit_repository(EXAMPLE)
    return audit, render_plan(audit, target=TARGET, repo=REPO, commit=COMMIT)


@pytest.fixture
def stored(tmp_path: Path, rendered) -> ArtifactIO:
    audit, plan = rendered
    io = ArtifactIO(LocalArtifactStore(tmp_path / "artifacts"))
    io.put_json(REPO, COMMIT, "audit.json", audit)
    io.put_json(REPO, COMMIT, "sbom/cyclonedx.json", {"bomFormat": "CycloneDX", "components": []})
    io.put_json(REPO, COMMIT, f"plan/{TARGET}/plan.json", plan)
    for rel, text in plan["files"].items():
        io.put_text(REPO, COMMIT, f"plan/{TARGET}/files/{rel}", text)
    return io
