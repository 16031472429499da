"""The demo's risk seed: its history mined, incidents recorded, a change scored and explained."""

from prodsprint_dagster.demo import GOOD_CHANGE, build_example_repo, commit_change
from prodsprint_dagster.demo.risk_seed import seed_demo_risk
from prodsprint_dagster.risk import (
    current_model,
    labelled_commits,
    mine_repository,
    score_commits,
)
from prodsprint_dagster.store import HistoryStore


def test_seed_then_score_the_demo_change(tmp_path):
    repo = build_example_repo(tmp_path / "shop-api")
    store = HistoryStore(tmp_path / "h.duckdb")
    first = seed_demo_risk(store, repo)
    assert first == {"commits": 5, "new_commits": 5, "szz_links": 0, "incidents": 3}
    again = seed_demo_risk(store, repo)
    assert again["new_commits"] == 0 and again["incidents"] == 3
    with store.connect(read_only=True) as con:
        assert con.execute("SELECT count(*) FROM incidents").fetchone()[0] == 3

    good = commit_change(repo, GOOD_CHANGE)
    mine_repository(store, "demo__shop-api", repo)
    frame = labelled_commits(store).set_index("sha")
    assert frame["label"].sum() == 3  # the three commits the incidents name
    assert frame.loc[good, "incident_files_30d"] == 1  # shop/app.py, INC-101 three weeks ago

    doc = score_commits(store, "demo__shop-api", [good], current_model(store),
                        {"medium": 0.3, "high": 0.7})  # fmt: skip
    assert doc["method"] == "prior" and doc["band"] == "low"
    assert doc["top_features"] and "median substitution" in doc["explanation_method"]
