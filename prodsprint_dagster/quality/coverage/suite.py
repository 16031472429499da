"""What running one test suite produced, whatever its language."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prodsprint_dagster.quality.coverage.model import CoverageData
from prodsprint_dagster.quality.testresults import TestCase


@dataclass
class SuiteResult:
    root: str  # the suite's folder, relative to the repository
    command: str  # shown to people; the run itself used an argument list
    data: CoverageData = field(default_factory=CoverageData)
    cases: list[TestCase] = field(default_factory=list)
    covers: dict[str, list[str]] | None = None  # test id -> files it covered
    returncode: int | None = None
    duration: float = 0.0
    output_tail: str = ""
    gaps: list[dict[str, Any]] = field(default_factory=list)

    def gap(self, code: str, message: str) -> None:
        self.gaps.append({"code": code, "root": self.root, "message": message})

    def summary(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "command": self.command,
            "returncode": self.returncode,
            "duration_seconds": round(self.duration, 3),
            "tests": len({c.id for c in self.cases}),
            "output_tail": self.output_tail,
        }
