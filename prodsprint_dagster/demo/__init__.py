"""The bundled example service as a real git repository with a realistic history."""

from prodsprint_dagster.demo.history import (
    BAD_CHANGE,
    DEMO_REPO_NAME,
    GOOD_CHANGE,
    build_example_repo,
    commit_change,
    examples_dir,
)

__all__ = [
    "BAD_CHANGE",
    "DEMO_REPO_NAME",
    "GOOD_CHANGE",
    "build_example_repo",
    "commit_change",
    "examples_dir",
]
