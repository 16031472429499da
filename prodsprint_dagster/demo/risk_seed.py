"""The demo's change-risk history: the example's commits mined, and a few past incidents.

Five commits are far too few to train a model, so the demo's scores come from the public-data
prior (``method: prior``), explained feature by feature; the incidents are what a real team
would import (``prodsprint incidents import``), attributed to commits of the example's history
by subject, so the commit ids never need to be written down.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from prodsprint_dagster.demo.history import DEMO_REPO_NAME
from prodsprint_dagster.errors import ProdSprintError
from prodsprint_dagster.risk.incidents import store_incidents
from prodsprint_dagster.risk.mining import mine_repository
from prodsprint_dagster.risk.szz import label_repository
from prodsprint_dagster.store import HistoryStore

# (id, subject of the causing commit, severity, opened at, resolved at, title)
DEMO_INCIDENTS: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("INC-101", "Start shop-api: orders service skeleton", "medium", "2026-09-10T07:40:00+02:00",
     "2026-09-10T09:05:00+02:00", "GET /orders returned 500 for an empty order list"),
    ("INC-102", "Add alembic migration for the orders table", "high", "2026-09-09T08:30:00+02:00",
     "2026-09-09T08:52:00+02:00", "orders migration locked the table for four minutes"),
    ("INC-103", "Containerize the service", "low", "2026-09-16T09:10:00+08:00",
     "2026-09-16T09:30:00+08:00", "container started without DATABASE_URL"),
)  # fmt: skip


def seed_demo_risk(
    store: HistoryStore, repo_path: Path, repo: str = DEMO_REPO_NAME
) -> dict[str, Any]:
    """Mine the demo repository and record its incidents (idempotent: ids are fixed)."""
    mined = mine_repository(store, repo, Path(repo_path))
    labels = label_repository(store, repo, Path(repo_path))
    with store.connect(read_only=True) as con:
        by_subject = dict(
            con.execute("SELECT subject, sha FROM commits WHERE repo = ?", [repo]).fetchall()
        )
    incidents = []
    for incident_id, subject, severity, opened, resolved, title in DEMO_INCIDENTS:
        if subject not in by_subject:
            raise ProdSprintError(f"demo history has no commit {subject!r} for {incident_id}")
        incidents.append(
            {
                "repo": repo, "id": incident_id, "service": "shop-api",
                "opened_at": datetime.fromisoformat(opened),
                "resolved_at": datetime.fromisoformat(resolved), "severity": severity,
                "caused_by": by_subject[subject], "caused_by_release": None, "title": title,
            }
        )  # fmt: skip
    store_incidents(store, incidents, source="import")
    return {
        "commits": mined["commits"],
        "new_commits": mined["new_commits"],
        "szz_links": labels["links"],
        "incidents": len(incidents),
    }
