"""Errors of the policy engine: bad packs and refused approvals."""

from __future__ import annotations

from prodsprint_dagster.errors import ProdSprintError


class PolicyError(ProdSprintError):
    """A policy pack cannot be loaded or evaluated; the message names the file (and line)."""


class ApprovalRefused(ProdSprintError):
    """An approval was refused; ``blockers`` lists the gates that still stand unwaived."""

    def __init__(self, message: str, *, blockers: list[str], expired: list[str] = ()):
        super().__init__(message)
        self.blockers = list(blockers)
        self.expired = list(expired)
