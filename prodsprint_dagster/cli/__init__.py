"""`prodsprint`: the engine from a shell or a CI pipeline (see ``base`` for the conventions).

Each module registers its commands on :data:`main`; importing them here assembles the CLI.
"""

from prodsprint_dagster.cli import core, perf, provenance, quality, risk, supply  # noqa: F401  (registers commands)
from prodsprint_dagster.cli.base import main

__all__ = ["main"]

if __name__ == "__main__":  # pragma: no cover
    main()
