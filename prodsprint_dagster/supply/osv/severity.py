"""Severity of an OSV record: the highest CVSS base score it carries, else what its database says.

CVSS v3.x and v4.0 vectors (and v2, which older records still carry) are scored with the
``cvss`` package, record-level and per-affected-package ``severity[]`` alike; the highest base
score wins and its vector is reported. A record with no scorable vector falls back to
``database_specific.severity`` (GitHub: LOW / MODERATE / HIGH / CRITICAL, MODERATE read as
MEDIUM), then to ``ecosystem_specific.severity``; otherwise it is UNKNOWN, never guessed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from cvss import CVSS2, CVSS3, CVSS4, CVSSError

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")
RANK = {name: len(SEVERITIES) - i for i, name in enumerate(SEVERITIES)}  # CRITICAL=5 .. UNKNOWN=1
_WORDS = {
    "CRITICAL": "CRITICAL",
    "HIGH": "HIGH",
    "IMPORTANT": "HIGH",
    "MODERATE": "MEDIUM",
    "MEDIUM": "MEDIUM",
    "LOW": "LOW",
    "NEGLIGIBLE": "LOW",
}


@dataclass(frozen=True)
class Severity:
    level: str  # one of SEVERITIES
    score: float | None = None
    vector: str | None = None

    def sort_key(self) -> tuple[int, float]:
        return (RANK[self.level], self.score if self.score is not None else -1.0)


UNKNOWN = Severity("UNKNOWN")


def level_for_score(score: float) -> str:
    """CVSS v3/v4 qualitative rating (0.0 "None" is reported as LOW, the lowest level here)."""
    if score >= 9.0:
        return "CRITICAL"
    if score >= 7.0:
        return "HIGH"
    if score >= 4.0:
        return "MEDIUM"
    return "LOW"


@functools.lru_cache(maxsize=8192)
def score_vector(kind: str, vector: str) -> Severity:
    """Score one ``severity[]`` entry; raises ValueError when the vector is not valid.

    Cached: a handful of vectors cover most advisories, and scoring one costs ~50 µs."""
    try:
        if kind == "CVSS_V3":
            score = float(CVSS3(vector).scores()[0])
        elif kind == "CVSS_V4":
            score = float(CVSS4(vector).base_score)
        elif kind == "CVSS_V2":
            score = float(CVSS2(vector).scores()[0])
        else:
            raise ValueError(f"severity type {kind!r} is not a CVSS vector")
    except CVSSError as exc:
        raise ValueError(f"invalid {kind} vector {vector!r}: {exc}") from None
    return Severity(level_for_score(score), score, vector)


def _entries(doc: dict[str, Any]) -> list[dict[str, Any]]:
    entries = [s for s in doc.get("severity") or [] if isinstance(s, dict)]
    for affected in doc.get("affected") or []:
        if isinstance(affected, dict):
            entries += [s for s in affected.get("severity") or [] if isinstance(s, dict)]
    return entries


def _word(value: Any) -> str | None:
    if isinstance(value, str):
        return _WORDS.get(value.strip().upper())
    return None


def record_severity(doc: dict[str, Any], warnings: list[str] | None = None) -> Severity:
    """The severity of one record (see the module docstring for the rule)."""
    best: Severity | None = None
    for entry in _entries(doc):
        kind, vector = entry.get("type"), entry.get("score")
        if not isinstance(vector, str) or kind not in ("CVSS_V2", "CVSS_V3", "CVSS_V4"):
            continue
        try:
            found = score_vector(kind, vector)
        except ValueError as exc:
            if warnings is not None:
                warnings.append(f"OSV record {doc.get('id')}: {exc}; vector ignored")
            continue
        if best is None or found.sort_key() > best.sort_key():
            best = found
    if best is not None:
        return best
    word = _word((doc.get("database_specific") or {}).get("severity"))
    for affected in doc.get("affected") or []:
        if word or not isinstance(affected, dict):
            break
        for block in ("database_specific", "ecosystem_specific"):
            word = word or _word((affected.get(block) or {}).get("severity"))
    return Severity(word) if word else UNKNOWN
