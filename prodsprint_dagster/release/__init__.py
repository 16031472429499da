"""Release engine: the canary judge, the release state machine and risk-shaped rollouts.

Plain Python (never dagster): the release jobs, the release sensor and the CLI call these.
Deploy targets live in ``prodsprint_dagster.release.local`` (and siblings) and are imported
from there, not re-exported here, so that judging or reading a release never starts one.
"""

from __future__ import annotations

from prodsprint_dagster.release.conductor import Conductor, Outcome, ServiceSpec
from prodsprint_dagster.release.errors import (
    ConcurrentTransition,
    IllegalTransition,
    ReleaseError,
)
from prodsprint_dagster.release.judge import (
    METRICS,
    JudgePolicy,
    MetricVerdict,
    Samples,
    Verdict,
    hodges_lehmann,
    judge,
)
from prodsprint_dagster.release.plan import (
    BAND_PROFILES,
    deadline_for,
    judge_policy_for,
    release_plan,
    step_deadline,
)
from prodsprint_dagster.release.state import (
    ACTIONS,
    STATES,
    TERMINAL,
    Action,
    Release,
    ReleaseStep,
    ReleaseStore,
    next_action,
)

__all__ = [
    "ACTIONS",
    "BAND_PROFILES",
    "METRICS",
    "STATES",
    "TERMINAL",
    "Action",
    "ConcurrentTransition",
    "Conductor",
    "IllegalTransition",
    "JudgePolicy",
    "MetricVerdict",
    "Outcome",
    "Release",
    "ReleaseError",
    "ReleaseStep",
    "ReleaseStore",
    "Samples",
    "ServiceSpec",
    "Verdict",
    "deadline_for",
    "hodges_lehmann",
    "judge",
    "judge_policy_for",
    "next_action",
    "release_plan",
    "step_deadline",
]
