"""Mined commits joined to their labels: the rows the model trains on and scores.

A commit is labelled 1 (defect- or incident-inducing) when an SZZ link names it or an
incident names it (directly, or through the release that shipped it). ``known_at`` keeps
only what was known at that time (links from fixes committed before it, incidents opened
before it), which is how an evaluation trains without labels from its own future.

One extra feature is joined here because it needs the incidents: ``incident_files_30d``,
how many of the commit's files were changed by an incident-causing commit whose incident
opened in the 30 days before this commit (never after it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from prodsprint_dagster.risk.features import KAMEI_FEATURES
from prodsprint_dagster.store import HistoryStore

INCIDENT_WINDOW_DAYS = 30
MODEL_COLUMNS: tuple[str, ...] = (*KAMEI_FEATURES, "incident_files_30d")

# Only constants are interpolated (column names, the window); values are parameters.
_QUERY = f"""
WITH inc AS (
    SELECT i.repo, epoch(i.opened_at) AS opened_ts, coalesce(i.caused_by, r.commit_sha) AS cause
    FROM incidents i LEFT JOIN releases r ON r.id = i.caused_by_release AND r.repo = i.repo
    WHERE coalesce(i.caused_by, r.commit_sha) IS NOT NULL
),
inc_commits AS (
    SELECT DISTINCT c.repo, c.sha, inc.opened_ts
    FROM inc JOIN commits c ON c.repo = inc.repo AND starts_with(c.sha, inc.cause)
),
inc_files AS (
    SELECT DISTINCT f.repo, f.path, ic.opened_ts
    FROM inc_commits ic JOIN commit_files f ON f.repo = ic.repo AND f.sha = ic.sha
),
touched AS (
    SELECT cf.repo, cf.sha, count(DISTINCT cf.path) AS n
    FROM commit_files cf
    JOIN commits c ON c.repo = cf.repo AND c.sha = cf.sha
    JOIN inc_files x ON x.repo = cf.repo AND x.path = cf.path
    WHERE x.opened_ts < c.committed_ts
      AND x.opened_ts >= c.committed_ts - {INCIDENT_WINDOW_DAYS * 86400}
    GROUP BY cf.repo, cf.sha
),
szz AS (
    SELECT repo, inducing_sha AS sha, min(fix_ts) AS first_ts, string_agg(DISTINCT source, ',')
        AS sources
    FROM szz_links WHERE $known_at IS NULL OR fix_ts < $known_at
    GROUP BY repo, inducing_sha
),
caused AS (
    SELECT ic.repo, ic.sha, min(ic.opened_ts) AS first_ts
    FROM inc_commits ic WHERE $known_at IS NULL OR ic.opened_ts < $known_at
    GROUP BY ic.repo, ic.sha
)
SELECT c.repo, c.sha, c.seq, c.committed_ts AS date, c.is_bot,
    {", ".join(f"c.{f}" for f in KAMEI_FEATURES)},
    coalesce(t.n, 0) AS incident_files_30d,
    (s.sha IS NOT NULL OR k.sha IS NOT NULL)::INTEGER AS label,
    concat_ws(',', s.sources, CASE WHEN k.sha IS NOT NULL THEN 'incident' END) AS label_source
FROM commits c
LEFT JOIN touched t ON t.repo = c.repo AND t.sha = c.sha
LEFT JOIN szz s ON s.repo = c.repo AND s.sha = c.sha
LEFT JOIN caused k ON k.repo = c.repo AND k.sha = c.sha
WHERE NOT c.is_merge AND ($repos IS NULL OR list_contains($repos, c.repo))
ORDER BY c.committed_ts, c.repo, c.seq
"""  # noqa: S608


def labelled_commits(
    store: HistoryStore, *, repos: list[str] | None = None, known_at: float | None = None
) -> pd.DataFrame:
    """Non-merge commits with features, ``date`` (unix seconds), ``label``, ``label_source``."""
    columns = ["repo", "sha", "seq", "date", "is_bot", *MODEL_COLUMNS, "label", "label_source"]
    if not store.path.exists():
        return pd.DataFrame(columns=columns)
    with store.connect(read_only=True) as con:
        frame = con.execute(
            _QUERY, {"repos": repos, "known_at": None if known_at is None else float(known_at)}
        ).df()
    for column in MODEL_COLUMNS:
        frame[column] = frame[column].astype(np.float64)
    frame["label"] = frame["label"].astype(np.int64)
    frame["label_source"] = frame["label_source"].replace("", None)
    return frame.loc[:, columns]


def settled(frame: pd.DataFrame, settle_days: float) -> pd.DataFrame:
    """Rows old enough for their label to be trusted: per repository, ``settle_days`` before
    its newest commit (a recent change has had no time to be fixed yet)."""
    if frame.empty or settle_days <= 0:
        return frame
    newest = frame.groupby("repo")["date"].transform("max")
    return frame[frame["date"] <= newest - settle_days * 86400]
