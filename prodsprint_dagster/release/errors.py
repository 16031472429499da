"""Errors of the release engine: illegal or raced state changes, and malformed inputs."""

from __future__ import annotations

from prodsprint_dagster.errors import ProdSprintError


class ReleaseError(ProdSprintError):
    """A release cannot be created, found or changed; the message names the release."""


class IllegalTransition(ReleaseError):
    """The state machine has no edge from ``from_state`` to ``to_state`` (or the step is wrong)."""

    def __init__(self, message: str, *, from_state: str, to_state: str):
        super().__init__(message)
        self.from_state = from_state
        self.to_state = to_state


class ConcurrentTransition(ReleaseError):
    """The release moved since the caller read it: someone else transitioned it first."""

    def __init__(
        self,
        message: str,
        *,
        expected: tuple[str | None, int | None],
        actual: tuple[str, int | None],
    ):
        super().__init__(message)
        self.expected = expected
        self.actual = actual
