"""The local deploy target: supervised processes behind a weighted reverse proxy.

``target`` is the :class:`LocalTarget` itself; ``supervisor`` and ``proxy`` are the two
long-lived helper programs it starts (each a ``python -m`` entry point); ``procs`` holds the
process plumbing (pid + start-time identity, detached spawn, atomic JSON) they share; ``stats``
the proxy's per-version counters, histogram and sample ring.
"""

from prodsprint_dagster.release.local.target import LocalTarget

__all__ = ["LocalTarget"]
