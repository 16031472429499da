"""Shared fixtures: the three audit reports, built once per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from plan_fixtures import audits


@pytest.fixture(scope="session")
def audit_reports(tmp_path_factory) -> dict[str, dict]:
    return audits(tmp_path_factory.mktemp("plan-audits"))
