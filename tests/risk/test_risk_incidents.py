"""Incident import (bad rows with their lines, good rows kept) and the rollback hook."""

import json
from datetime import UTC, datetime

import pytest

from prodsprint_dagster.release.incidents import record_incident
from prodsprint_dagster.release.state import Release
from prodsprint_dagster.risk import IncidentFileError, import_incidents, labelled_commits
from prodsprint_dagster.risk.mining import mine_repository
from prodsprint_dagster.store import ArtifactIO, HistoryStore, LocalArtifactStore
from tests.risk.gitbuild import DAY, T0, Builder

SHA = "a" * 40


def _rows(store):
    with store.connect(read_only=True) as con:
        return con.execute(
            "SELECT id, repo, severity, caused_by, caused_by_release, source, opened_at,"
            " resolved_at, title FROM incidents ORDER BY id"
        ).fetchall()


def test_csv_bad_rows_are_reported_with_their_line_and_good_rows_imported(tmp_path):
    path = tmp_path / "incidents.csv"
    path.write_text(
        "id,repo,service,opened_at,resolved_at,severity,caused_by,title,notes\n"
        f'INC-1,shop,api,2026-01-02T10:00:00Z,2026-01-02T11:00:00Z,SEV2,{SHA[:10]},"slow\n'
        'checkout",x\n'
        "INC-2,shop,api,2026-01-03T10:00:00Z,,urgent,,bad severity,\n"
        "INC-3,Shop Team,api,2026-01-03T10:00:00Z,,high,,bad repo,\n"
        "INC-4,shop,api,yesterday,,high,,bad date,\n"
        "INC-5,shop,api,2026-01-05T10:00:00,2026-01-04T10:00:00,low,,resolved first,\n"
        "INC-6,shop,api,1767607200,,critical,rel-7,released badly,\n"
        "INC-1,shop,api,2026-01-02T10:00:00Z,,high,,duplicate,\n"
        "INC-7,shop,api,2026-01-06T10:00:00Z,,low,not a sha!,bad cause,\n"
    )
    store = HistoryStore(tmp_path / "h.duckdb")
    result = import_incidents(store, path)
    assert result["imported"] == 2 and result["rejected"] == 6
    errors = {e["line"]: e["error"] for e in result["errors"]}
    assert sorted(errors) == [4, 5, 6, 7, 9, 10]
    assert "severity 'urgent'" in errors[4]
    assert "upper-case" in errors[5] or "spaces" in errors[5]
    assert "opened_at 'yesterday'" in errors[6]
    assert "resolved_at is before opened_at" in errors[7]
    assert "duplicate id 'INC-1' (first on line 2)" in errors[9]
    assert "neither a commit sha nor a release id" in errors[10]
    assert result["ignored_fields"] == ["notes"]
    rows = _rows(store)
    assert [r[0] for r in rows] == ["INC-1", "INC-6"]
    assert rows[0][2:6] == ("high", SHA[:10], None, "import")
    assert rows[0][8] == "slow\ncheckout"
    assert rows[1][2:5] == ("critical", None, "rel-7")
    # Re-importing updates instead of duplicating.
    assert import_incidents(store, path)["imported"] == 2
    assert len(_rows(store)) == 2


def test_json_array_and_json_lines_report_lines(tmp_path):
    store = HistoryStore(tmp_path / "h.duckdb")
    good = {"id": "J-1", "repo": "shop", "opened_at": "2026-02-01T00:00:00+01:00",
            "severity": "medium", "caused_by": SHA}  # fmt: skip
    path = tmp_path / "incidents.json"
    path.write_text("[\n" + json.dumps(good) + ",\n  {\"id\": \"J-2\",\n   \"repo\": \"shop\"},\n"
                    "  42\n]\n")  # fmt: skip
    result = import_incidents(store, path)
    assert result["imported"] == 1
    assert result["errors"] == [
        {"line": 3, "error": "severity is required"},
        {"line": 5, "error": "expected an object with id, repo, opened_at and severity"},
    ]
    lines = tmp_path / "incidents.jsonl"
    lines.write_text(json.dumps({**good, "id": "J-3"}) + "\n\n{broken\n")
    result = import_incidents(store, lines)
    assert result["imported"] == 1 and result["errors"][0]["line"] == 3


def test_unreadable_files_are_one_clear_error(tmp_path):
    store = HistoryStore(tmp_path / "h.duckdb")
    with pytest.raises(IncidentFileError, match="cannot be read"):
        import_incidents(store, tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("name,when\nx,y\n")
    with pytest.raises(IncidentFileError, match=r"lacks the column.*id, repo, opened_at, severity"):
        import_incidents(store, bad)
    broken = tmp_path / "broken.json"
    broken.write_text('[{"id": 1,}]')
    with pytest.raises(IncidentFileError, match="line 1: invalid JSON"):
        import_incidents(store, broken)


def test_a_rollback_records_an_incident_that_labels_the_commit(tmp_path):
    b = Builder(tmp_path / "repo")
    b.commit({"app.py": "x = 1\n"}, "start", when=T0)
    bad = b.commit({"app.py": "x = 2\n"}, "risky", when=T0 + DAY)
    store = HistoryStore(tmp_path / "h.duckdb")
    mine_repository(store, "shop", b.path)
    now = datetime(2026, 3, 1, tzinfo=UTC)
    release = Release(
        id="rel-3", repo="shop", commit_sha=bad, plan_hash="p", strategy="canary",
        rollout={"band": "medium", "steps": [{"weight": 5}, {"weight": 100}]}, state="rolled_back",
        step_index=0, target="local", environment="prod", created_at=now, updated_at=now,
        deadline_at=None, paused_until=None, last_run_id=None, previous_good=None,
    )  # fmt: skip
    artifacts = ArtifactIO(LocalArtifactStore(tmp_path / "artifacts"))
    incident = record_incident(
        store, artifacts, release, reason="error ratio 8 % > 1 %", actor="sensor", run_id="r1",
        verdict={"overall": "fail", "score": 10, "action": "rollback"},
        details={"service": "shop-api"}, now=now,
    )  # fmt: skip
    assert incident["id"] == "incident-rel-3"
    [row] = _rows(store)
    assert row[:6] == ("incident-rel-3", "shop", "high", bad, "rel-3", "rollback")
    frame = labelled_commits(store, repos=["shop"]).set_index("sha")
    assert frame.loc[bad, "label"] == 1 and frame.loc[bad, "label_source"] == "incident"
    assert store.query_audit(action="incident.recorded")[0]["commit_sha"] == bad
    # A later change to the same file, within 30 days of the incident, carries that history.
    later = b.commit({"app.py": "x = 3\n", "other.py": "y\n"}, "touch again",
                     when=int(now.timestamp()) + 2 * DAY)  # fmt: skip
    mine_repository(store, "shop", b.path)
    frame = labelled_commits(store, repos=["shop"]).set_index("sha")
    assert frame.loc[later, "incident_files_30d"] == 1
    assert frame.loc[bad, "incident_files_30d"] == 0
