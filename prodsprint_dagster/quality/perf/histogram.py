"""An HDR-style latency histogram: constant relative precision, tiny, mergeable, storable.

Latencies are recorded in whole microseconds into log-linear buckets, the layout of Gil Tene's
HdrHistogram with 8 bits of sub-bucket resolution: values below 256 µs get a bucket each;
above, every power-of-two range [2^k, 2^(k+1)) is split into 128 equal buckets. A bucket's
width is therefore at most 1/128 of its lower bound, and reporting its midpoint is within
**0.4 %** (1/256) of any value recorded in it (±0.5 µs below 256 µs), at every magnitude
from a microsecond to hours. That is two significant decimal digits and better, the precision
wrk and k6 report at.

Why not the ``hdrhistogram`` package: recording here is one ``bit_length`` and a list
increment (~0.2 µs, several times faster in CPython), merging is adding lists, and the sparse
counts are a small JSON document the history store keeps so that a later run can be compared
with this one (Mann-Whitney U on the bucket values, see ``budgets``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

SUB_BITS = 8
_HALF = 1 << (SUB_BITS - 1)
MAX_BITS = 40  # 2^40 µs is 12.7 days: anything longer is clamped into the last bucket
SIZE = (MAX_BITS - SUB_BITS + 1) * _HALF + _HALF
MAX_VALUE_US = (1 << MAX_BITS) - 1
RELATIVE_PRECISION = 1 / (1 << SUB_BITS)
FORMAT = f"loglinear-{SUB_BITS}"


def bucket_of(micros: int) -> int:
    """The bucket index of a value in microseconds (negative values count as 0)."""
    if micros <= 0:
        return 0
    if micros > MAX_VALUE_US:
        micros = MAX_VALUE_US
    shift = micros.bit_length() - SUB_BITS
    if shift <= 0:
        return micros
    return (shift << (SUB_BITS - 1)) + (micros >> shift)


def bucket_bounds(index: int) -> tuple[int, int]:
    """[low, high) of bucket ``index`` in microseconds."""
    if index < (1 << SUB_BITS):
        return index, index + 1
    shift = (index >> (SUB_BITS - 1)) - 1
    top = index - (shift << (SUB_BITS - 1))
    return top << shift, (top + 1) << shift


def bucket_value_ms(index: int) -> float:
    """The value a bucket stands for, in milliseconds: its midpoint (its value when exact)."""
    low, high = bucket_bounds(index)
    if high - low == 1:
        return low / 1000.0
    return (low + high) / 2000.0


class LatencyHistogram:
    """Counts of latencies per log-linear bucket, plus the exact count, sum, min and max."""

    __slots__ = ("counts", "max_us", "min_us", "sum_us", "total")

    def __init__(self) -> None:
        self.counts: list[int] = [0] * SIZE
        self.total = 0
        self.sum_us = 0
        self.min_us: int | None = None
        self.max_us = 0

    # -- recording -------------------------------------------------------------------------

    def record_us(self, micros: int) -> None:
        micros = int(micros)
        self.counts[bucket_of(micros)] += 1
        self.total += 1
        self.sum_us += max(micros, 0)
        if self.min_us is None or micros < self.min_us:
            self.min_us = max(micros, 0)
        if micros > self.max_us:
            self.max_us = micros

    def record_seconds(self, seconds: float) -> None:
        self.record_us(round(seconds * 1_000_000))

    def record_many_ms(self, values_ms: Iterable[float]) -> None:
        for value in values_ms:
            self.record_us(round(value * 1000))

    def merge(self, other: LatencyHistogram) -> LatencyHistogram:
        """Add ``other``'s counts into this histogram (returns self)."""
        if not other.total:
            return self
        mine = self.counts
        for index, count in enumerate(other.counts):
            if count:
                mine[index] += count
        self.total += other.total
        self.sum_us += other.sum_us
        if other.min_us is not None and (self.min_us is None or other.min_us < self.min_us):
            self.min_us = other.min_us
        self.max_us = max(self.max_us, other.max_us)
        return self

    # -- reading ---------------------------------------------------------------------------

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile in ms (0 when empty): the smallest bucket holding it.

        The 100th percentile is the exact maximum, the 0th the exact minimum.
        """
        if not self.total:
            return 0.0
        if q >= 100:
            return self.max_us / 1000.0
        if q <= 0:
            return (self.min_us or 0) / 1000.0
        rank = max(1, math.ceil(self.total * q / 100 - 1e-9))  # nearest-rank definition
        seen = 0
        for index, count in enumerate(self.counts):
            if count:
                seen += count
                if seen >= rank:
                    value = bucket_value_ms(index)
                    # Never report beyond what was seen: the midpoint of the top bucket may be.
                    return min(max(value, (self.min_us or 0) / 1000.0), self.max_us / 1000.0)
        return self.max_us / 1000.0

    def percentiles(self, qs: Iterable[float] = (50, 95, 99)) -> dict[float, float]:
        return {q: self.percentile(q) for q in qs}

    @property
    def mean_ms(self) -> float:
        return self.sum_us / self.total / 1000.0 if self.total else 0.0

    def values_ms(self, limit: int | None = None) -> Any:
        """The recorded values at bucket resolution (a numpy array, ascending).

        With ``limit``, at most that many evenly spaced order statistics: the distribution's
        shape is kept, the test statistics stay cheap.
        """
        import numpy as np

        indices = [i for i, c in enumerate(self.counts) if c]
        if not indices:
            return np.zeros(0)
        values = np.array([bucket_value_ms(i) for i in indices])
        counts = np.array([self.counts[i] for i in indices], dtype=np.int64)
        if limit is None or self.total <= limit:
            return np.repeat(values, counts)
        ranks = np.linspace(0, self.total - 1, limit).round().astype(np.int64)
        return values[np.searchsorted(np.cumsum(counts), ranks, side="right")]

    # -- storage ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Sparse, JSON-ready: ``{"format", "total", "sum_us", "min_us", "max_us", "counts"}``."""
        return {
            "format": FORMAT,
            "total": self.total,
            "sum_us": self.sum_us,
            "min_us": self.min_us,
            "max_us": self.max_us,
            "counts": [[i, c] for i, c in enumerate(self.counts) if c],
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> LatencyHistogram:
        if not isinstance(doc, Mapping) or doc.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} histogram document")
        hist = cls()
        for pair in doc.get("counts") or []:
            index, count = int(pair[0]), int(pair[1])
            if not 0 <= index < SIZE or count < 0:
                raise ValueError(f"histogram bucket {index} out of range")
            hist.counts[index] += count
        hist.total = sum(hist.counts)
        hist.sum_us = int(doc.get("sum_us") or 0)
        hist.min_us = None if doc.get("min_us") is None else int(doc["min_us"])
        hist.max_us = int(doc.get("max_us") or 0)
        return hist

    def __len__(self) -> int:
        return self.total
