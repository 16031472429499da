"""The policy pack settings the coverage stage reads, checked with a message naming the key.

``coverage_min``/``patch_coverage_min`` are the gate thresholds (validated by the pack loader
too); the ``tests_*`` keys steer the run: retries of failed tests, the time limit, and the
quarantine (test ids ``classname::name`` or bare names, shell-style patterns allowed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prodsprint_dagster.errors import ProdSprintError

MAX_RETRIES = 5


@dataclass(frozen=True)
class QualitySettings:
    coverage_min: float = 80.0
    patch_coverage_min: float = 80.0
    quarantine: tuple[str, ...] = ()
    quarantine_flaky: bool = False
    retries: int = 1
    timeout: float = 900.0

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], where: str = "policy pack"
    ) -> QualitySettings:
        def number(key: str, default: float, low: float, high: float) -> float:
            value = settings.get(key, default)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not (low <= value <= high)
            ):
                raise ProdSprintError(
                    f"{where}: setting `{key}` must be a number from {low:g} to {high:g}"
                )
            return float(value)

        quarantine = settings.get("tests_quarantine") or []
        if not isinstance(quarantine, list) or not all(
            isinstance(p, str) and p.strip() for p in quarantine
        ):
            raise ProdSprintError(f"{where}: setting `tests_quarantine` must be a list of test ids")
        flaky = settings.get("tests_quarantine_flaky", False)
        if not isinstance(flaky, bool):
            raise ProdSprintError(f"{where}: setting `tests_quarantine_flaky` must be true/false")
        retries = settings.get("tests_retries", 1)
        if (
            isinstance(retries, bool)
            or not isinstance(retries, int)
            or not (0 <= retries <= MAX_RETRIES)
        ):
            raise ProdSprintError(
                f"{where}: setting `tests_retries` must be an integer from 0 to {MAX_RETRIES}"
            )
        return cls(
            coverage_min=number("coverage_min", 80.0, 0, 100),
            patch_coverage_min=number("patch_coverage_min", 80.0, 0, 100),
            quarantine=tuple(p.strip() for p in quarantine),
            quarantine_flaky=flaky,
            retries=retries,
            timeout=number("tests_timeout_seconds", 900.0, 1, 24 * 3600),
        )
