"""One Hyperscan pass over each file: the secret plugins' anchors and the readers' probes.

Readers decide whether to run a regex by asking ``"environ" in text`` or by a cheaper regex
first; over tens of thousands of files each such test is a pass over the text. Hyperscan
finds every probe and every secrets anchor in a single pass over the file's bytes. An ASCII
literal occurs in the bytes exactly when it occurs in the decoded text (invalid UTF-8
becomes U+FFFD, never ASCII), so ``literal in present`` answers the same as
``literal in text``; regex probes are written as supersets of the regexes they guard.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import hyperscan

from prodsprint_dagster.audit.secrets import Gate


@dataclass(frozen=True)
class Probe:
    gate: Gate
    names: tuple[str, ...]
    database: hyperscan.Database = field(repr=False)
    _handler: Callable = field(repr=False)
    # Hyperscan scratch space serves one scan at a time: one per thread (audits may run in
    # several threads of one process; forked workers inherit the parent's).
    _local: threading.local = field(default_factory=threading.local, repr=False)

    def scan(self, data: bytes) -> tuple[list[tuple[int, int]], set[str]]:
        """(id, end offset) of every match of the gate's expressions, and the names of the
        named patterns that match ``data``."""
        anchors: list[tuple[int, int]] = []
        present: set[str] = set()
        if data:
            scratch = getattr(self._local, "scratch", None)
            if scratch is None:
                scratch = self._local.scratch = hyperscan.Scratch(self.database)
            self.database.scan(
                data, match_event_handler=self._handler, context=(anchors, present), scratch=scratch
            )
        return anchors, present


# A named pattern: (name, Hyperscan expression over the bytes, caseless).
Named = tuple[str, bytes, bool]
_PROBES: dict[tuple, Probe] = {}


def build(gate: Gate, named: tuple[Named, ...]) -> Probe:
    """The probe for ``gate`` and ``named``, compiled once per process."""
    key = (gate.plugins, named)
    probe = _PROBES.get(key)
    if probe is not None and probe.gate is gate:
        return probe
    n = gate.size
    names = tuple(name for name, _, _ in named)
    expressions = [*gate.expressions, *(pattern for _, pattern, _ in named)]
    single = hyperscan.HS_FLAG_SINGLEMATCH
    flags = [
        *gate.flags,
        *(single | (hyperscan.HS_FLAG_CASELESS if fold else 0) for _, _, fold in named),
    ]
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    database.compile(
        expressions=expressions,
        ids=list(range(len(expressions))),
        elements=len(expressions),
        flags=flags,
    )

    def on_match(pattern: int, _start: int, end: int, _flags: int, found: tuple) -> None:
        if pattern < n:
            found[0].append((pattern, end))
        else:
            found[1].add(names[pattern - n])

    probe = Probe(gate, names, database, on_match)
    _PROBES[key] = probe
    return probe
