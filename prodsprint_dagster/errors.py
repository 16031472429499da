"""One exception family, so the CLI and the Dagster layer can report any engine failure cleanly.

Every message names the thing that is wrong (a file, a key, a repository) and the problem,
because the person reading it is usually not the person who wrote the input.
"""

from prodsprint_dagster.redact import redact_url


class ProdSprintError(Exception):
    """Base class: a failure the user can act on (shown without a traceback).

    Messages often quote URLs from the user's config; credentials in them are redacted here,
    once, so that no caller can forget to.
    """

    def __init__(self, message: str):
        super().__init__(redact_url(str(message)))


class ConfigError(ProdSprintError):
    """prodsprint.yaml (or a value passed in its place) is malformed."""


class InvalidNameError(ProdSprintError):
    """A repository name, URL, branch or commit id was refused before reaching git or a path."""


class GitError(ProdSprintError):
    """A git operation failed: unreachable remote, missing branch, unknown commit, time-out."""


class StoreError(ProdSprintError):
    """The history store or the artifact store cannot be read or written."""
