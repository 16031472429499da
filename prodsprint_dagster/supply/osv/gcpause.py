"""Pause the cyclic garbage collector around bulk work that allocates no reference cycles.

Decoding tens of thousands of OSV records and matching thousands of components allocate
millions of short-lived containers; each allocation burst triggers collections that walk
every live object, which doubled load and match times in bench_osv.py. JSON trees and the
matcher's results hold no cycles (reference counting frees them), so the pause loses nothing.
Nested and concurrent pauses are counted: the collector is re-enabled only by the last one
to leave, and only if it was enabled before the first one entered.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
