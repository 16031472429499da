"""ProdSprint engine: plain Python that takes a service repository from import to prod.

Only ``definitions.py`` and ``partitions.py`` in this package may import Dagster; everything
else is usable from the ``prodsprint`` CLI and from tests without a Dagster instance.
"""

__version__ = "0.1.0"
