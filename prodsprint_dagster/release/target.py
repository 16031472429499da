"""The one interface every deploy target offers (local processes, Kubernetes, AWS).

The release state machine, the canary judge and the Dagster layer talk to a target only
through :class:`DeployTarget`, so a release plan runs unchanged against any of them. A target
keeps its own state (a state file, the cluster, the ALB): a later process, e.g. the next
Dagster run or a sensor tick, builds a new target object and finds the versions an earlier
run deployed, which is why no method takes or returns live handles.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, TypedDict, runtime_checkable

from prodsprint_dagster.errors import ProdSprintError

# The response header naming the version that answered (the local proxy sets it; proxy.py
# repeats the name because it also runs as a standalone script).
VERSION_HEADER = "X-ProdSprint-Version"


class DeployError(ProdSprintError):
    """A deploy target could not deploy, route, promote, roll back or stop a version."""


class MetricSamples(TypedDict, total=False):
    """Per-version traffic as the canary judge consumes it (``judge.Samples.from_dict``).

    ``requests`` and ``errors_5xx`` count responses in the window (``errors`` repeats the 5xx
    count under the name the judge reads); ``latencies_ms`` are individual request latencies
    (a bounded recent sample, not necessarily every request). Targets may add keys
    (``status_classes``, ``truncated``); the judge ignores unknown ones.
    """

    requests: int
    errors_5xx: int
    errors: int
    latencies_ms: list[float]
    status_classes: dict[str, int]
    truncated: bool


@dataclass(frozen=True)
class VersionInfo:
    """What a deploy produced: where the version answers and target-specific details.

    ``endpoint`` reaches this version directly (bypassing traffic weights); ``details`` holds
    what only some targets know (local: port, pids, log file; kubernetes: pod names).
    """

    service: str
    version: str
    endpoint: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class DeployTarget(Protocol):
    """Deploy versions side by side, split traffic by weight, read per-version metrics.

    Weights are non-negative integers read relative to their sum (the release plan uses
    percentages: ``{"v1": 95, "v2": 5}``). ``since`` is a Unix timestamp (``time.time()``).
    """

    def deploy(
        self,
        service: str,
        version: str,
        *,
        env: dict[str, str],
        command: list[str],
        cwd: str,
        port_hint: int | None = None,
    ) -> VersionInfo:
        """Start ``version`` next to the running ones; it gets no traffic unless it is the first."""
        ...

    def set_weights(self, service: str, weights: dict[str, int]) -> None:
        """Route new requests by ``weights``; requests already in flight complete unchanged."""
        ...

    def metrics(self, service: str, since: float | None = None) -> dict[str, MetricSamples]:
        """Per-version samples since ``since`` (all that is retained when ``None``)."""
        ...

    def promote(self, service: str, version: str) -> None:
        """Send all traffic to ``version``, make it the stable one, retire the others."""
        ...

    def rollback(self, service: str) -> None:
        """Send all traffic back to the stable version and retire every other version."""
        ...

    def describe(self) -> dict[str, Any]:
        """A JSON-able view of every service, version, weight and process the target runs."""
        ...

    def stop(self, service: str | None = None) -> None:
        """Stop one service (all its versions) or, with ``None``, everything the target runs."""
        ...
