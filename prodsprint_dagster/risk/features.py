"""The 14 change features of Kamei et al. (TSE 2013), computed as of each commit.

Commits are applied in history order (parents first) to a running state: per file its line
count, last change time, the set of commits and of authors that touched it; per author the
commit count, commit times and commits per subsystem. A commit's features read the state
*before* the commit is applied, so no feature ever sees a later commit (no look-ahead).

Sets are Python ints used as bit sets (bit i = commit i or author i): the union over a
commit's files is an OR and its size a ``bit_count``, both in C, which keeps NUC, NDEV and
SEXP exact without the quadratic cost of merging Python sets for frequently touched files.

Definitions (docs/risk.md has the full table):

- NS, ND, NF: distinct subsystems (top-level directory; files at the root share one),
  directories and files modified.
- ENTROPY: -sum(p_k log2 p_k) over modified files, p_k = file churn / commit churn.
- LA, LD: lines added and deleted (binary files count 0). LT: lines of the modified files
  before the change (a file's running count; 0 for new and binary files).
- FIX: 1 when the message describes a fix (messages.read_message).
- NDEV: distinct authors who changed the modified files before.
- AGE: mean days since the previous change of each modified file that has one.
- NUC: distinct earlier commits that touched any modified file.
- EXP: earlier commits by the author. REXP: those commits weighted by 1 / (1 + age in
  years). SEXP: earlier commits by the author in any subsystem this commit modifies.

Merge commits do not change the state and have no file features (their changes are counted
once, on the side where they were made).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

KAMEI_FEATURES: tuple[str, ...] = (
    "ns", "nd", "nf", "entropy", "la", "ld", "lt", "fix",
    "ndev", "age", "nuc", "exp", "rexp", "sexp",
)  # fmt: skip
DAY = 86_400.0
YEAR = 365.25 * DAY


@dataclass(slots=True)
class _File:
    lines: int = 0
    last_change: int | None = None
    commits: int = 0  # bit set of commit ordinals
    authors: int = 0  # bit set of author ids


def split_path(path: str) -> tuple[str, str]:
    """(subsystem, directory) of a path; files at the repository root have '' for both."""
    directory, _, _ = path.rpartition("/")
    subsystem = path.split("/", 1)[0] if directory else ""
    return subsystem, directory


def entropy(churns: Sequence[int]) -> float:
    total = sum(churns)
    if total <= 0:
        return 0.0
    return -sum((c / total) * math.log2(c / total) for c in churns if c > 0) + 0.0


class FeatureState:
    """Running per-file and per-author state; :meth:`apply` adds one commit."""

    def __init__(self) -> None:
        self.files: dict[str, _File] = {}
        self.author_ids: dict[str, int] = {}
        self.author_counts: list[int] = []
        self.author_times: list[array] = []
        self.author_subsystems: dict[tuple[int, str], int] = {}
        self.ordinal = 0  # commits applied so far (merges included)

    def _author(self, key: str) -> int:
        aid = self.author_ids.get(key)
        if aid is None:
            aid = self.author_ids[key] = len(self.author_counts)
            self.author_counts.append(0)
            self.author_times.append(array("d"))
        return aid

    def apply(
        self,
        author: str,
        when: int,
        changes: Sequence[tuple[str, str | None, int, int, bool]],
        *,
        fix: bool,
        merge: bool = False,
    ) -> tuple[tuple, list[int]]:
        """Features of one commit as of the state before it, then the state after it.

        ``changes`` are (path, old_path, added, deleted, binary); returns the features in
        :data:`KAMEI_FEATURES` order and each file's line count before the change.
        """
        aid = self.author_ids.get(author)
        if aid is None:
            aid = self._author(author)
        bit = 1 << self.ordinal
        self.ordinal += 1
        exp = self.author_counts[aid]
        times = self.author_times[aid]
        if exp:
            ages = np.maximum(when - np.frombuffer(times, dtype=np.float64), 0.0)
            rexp = float((YEAR / (YEAR + ages)).sum())  # = sum of 1 / (1 + age in years)
        else:
            rexp = 0.0
        if merge or not changes:
            row = (0, 0, 0, 0.0, 0, 0, 0, int(fix), 0, 0.0, 0, exp, rexp, 0)
            return row, []

        files = self.files
        states: list[_File] = []
        before: list[int] = []
        subsystems: set[str] = set()
        directories: set[str] = set()
        la = ld = lt = 0
        churns: list[int] = []
        commits = authors = 0
        age_sum = 0.0
        aged = 0
        for path, old_path, added, deleted, _binary in changes:
            if old_path and old_path != path and old_path in files:
                files[path] = files.pop(old_path)
            st = files.get(path)
            if st is None:
                st = files[path] = _File()
            else:
                commits |= st.commits
                authors |= st.authors
                if st.last_change is not None:
                    age_sum += max(when - st.last_change, 0)
                    aged += 1
            states.append(st)
            before.append(st.lines)
            directory = path.rpartition("/")[0]
            subsystems.add(path[: path.find("/")] if directory else "")
            directories.add(directory)
            la += added
            ld += deleted
            lt += st.lines
            churns.append(added + deleted)
        sexp_bits = 0
        for subsystem in subsystems:
            sexp_bits |= self.author_subsystems.get((aid, subsystem), 0)
        row = (
            len(subsystems), len(directories), len(states),
            entropy(churns) if len(churns) > 1 else 0.0, la, ld, lt,
            int(fix), authors.bit_count(), (age_sum / aged / DAY) if aged else 0.0,
            commits.bit_count(), exp, rexp, sexp_bits.bit_count(),
        )  # fmt: skip

        abit = 1 << aid
        for st, (_path, _old, added, deleted, binary) in zip(states, changes, strict=True):
            if not binary:
                st.lines = max(st.lines + added - deleted, 0)
            st.last_change = when
            st.commits |= bit
            st.authors |= abit
        self.author_counts[aid] = exp + 1
        times.append(float(when))
        for subsystem in subsystems:
            key = (aid, subsystem)
            self.author_subsystems[key] = self.author_subsystems.get(key, 0) | bit
        return row, before
