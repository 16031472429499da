"""The bundled example service as a real git repository with a realistic history."""

from prodsprint_dagster.demo.history import DEMO_REPO_NAME, build_example_repo, examples_dir

__all__ = ["DEMO_REPO_NAME", "build_example_repo", "examples_dir"]
