"""The errors of coverage ingestion and test runs, each naming the file or command at fault."""

from __future__ import annotations

from prodsprint_dagster.errors import ProdSprintError


class CoverageReportError(ProdSprintError):
    """A coverage or JUnit report that cannot be read: corrupt, truncated, hostile or too big."""


class TestRunError(ProdSprintError):
    """A test command that could not run to completion: time limit, missing tool, bad setup."""

    __test__ = False  # not a pytest test class despite the name
