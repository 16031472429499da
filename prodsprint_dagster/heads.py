"""Which registered repositories have a new branch head since the last look.

The new-commit sensor calls :func:`find_new_heads` once per tick. Head look-ups run in a
bounded thread pool because they are subprocess- and network-bound; an unreachable remote
becomes a skip message for that repository and never stops the others.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from prodsprint_dagster.config import RepoConfig
from prodsprint_dagster.errors import ProdSprintError
from prodsprint_dagster.git import GitClient


@dataclass(frozen=True)
class HeadScan:
    """One tick's outcome: new heads to build, repositories skipped, and the next cursor."""

    new: tuple[tuple[RepoConfig, str], ...]
    skipped: tuple[tuple[str, str], ...]  # (repo name, reason)
    cursor: dict[str, str] = field(default_factory=dict)


def find_new_heads(
    repos: Iterable[RepoConfig], cursor: Mapping[str, str], git: GitClient, *, workers: int = 16
) -> HeadScan:
    repos = list(repos)

    def look(repo: RepoConfig) -> tuple[RepoConfig, str | None, str | None]:
        try:
            return repo, git.branch_head(repo.url, repo.branch), None
        except ProdSprintError as exc:
            return repo, None, str(exc)

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(repos) or 1))) as pool:
        results = list(pool.map(look, repos))

    new, skipped = [], []
    next_cursor = {r.name: s for r, s in ((r, cursor.get(r.name)) for r in repos) if s}
    for repo, sha, error in results:
        if error is not None:
            skipped.append((repo.name, error))
        elif sha != cursor.get(repo.name):
            new.append((repo, sha))
            next_cursor[repo.name] = sha
    return HeadScan(tuple(new), tuple(skipped), next_cursor)


def parse_cursor(raw: str | None) -> dict[str, str]:
    """The sensor cursor is a JSON object {repo: sha}; anything else restarts from empty."""
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def dump_cursor(cursor: Mapping[str, str]) -> str:
    return json.dumps(dict(sorted(cursor.items())), separators=(",", ":"))
