"""The log-linear histogram: its documented precision, merging and storage."""

import math
import random

import numpy as np
import pytest

from prodsprint_dagster.quality.perf.histogram import (
    RELATIVE_PRECISION,
    SIZE,
    LatencyHistogram,
    bucket_bounds,
    bucket_of,
)


def test_every_value_lands_in_a_bucket_that_contains_it():
    for micros in [0, 1, 255, 256, 257, 511, 512, 1000, 65_535, 10**6, 3 * 10**7, 2**39]:
        low, high = bucket_bounds(bucket_of(micros))
        assert low <= micros < high
        assert (high - low) <= max(1, low * 2 * RELATIVE_PRECISION)
    assert bucket_of(2**60) == SIZE - 1  # clamped, never out of range


@pytest.mark.parametrize("scale_us", [50, 2_000, 300_000, 20_000_000])
def test_percentiles_are_within_the_documented_precision(scale_us):
    rng = random.Random(scale_us)
    values = [int(rng.lognormvariate(0, 0.8) * scale_us) + 1 for _ in range(20_000)]
    hist = LatencyHistogram()
    for v in values:
        hist.record_us(v)
    ordered = sorted(values)
    for q in (50, 90, 95, 99, 99.9):
        exact = ordered[max(0, math.ceil(len(ordered) * q / 100 - 1e-9) - 1)] / 1000
        got = hist.percentile(q)
        assert abs(got - exact) <= max(exact * RELATIVE_PRECISION, 0.0005) + 1e-9, (q, got, exact)
    assert hist.percentile(100) == max(values) / 1000
    assert hist.mean_ms == pytest.approx(np.mean(values) / 1000)


def test_merge_equals_recording_everything_in_one_histogram():
    a, b, both = LatencyHistogram(), LatencyHistogram(), LatencyHistogram()
    for i, v in enumerate(range(1, 50_000, 7)):
        (a if i % 3 else b).record_us(v)
        both.record_us(v)
    merged = LatencyHistogram().merge(a).merge(b)
    assert merged.counts == both.counts
    assert (merged.total, merged.min_us, merged.max_us) == (both.total, both.min_us, both.max_us)


def test_stored_form_round_trips_and_rejects_foreign_documents():
    hist = LatencyHistogram()
    hist.record_many_ms([0.2, 1.5, 1.5, 80.0, 2500.0])
    doc = hist.to_dict()
    assert len(doc["counts"]) == 4  # sparse: only the buckets in use
    again = LatencyHistogram.from_dict(doc)
    assert again.counts == hist.counts and again.percentile(95) == hist.percentile(95)
    with pytest.raises(ValueError):
        LatencyHistogram.from_dict({"format": "hdr-v2", "counts": []})
    with pytest.raises(ValueError):
        LatencyHistogram.from_dict({**doc, "counts": [[SIZE + 5, 1]]})


def test_values_keep_the_shape_when_thinned():
    hist = LatencyHistogram()
    for v in range(1, 100_001):
        hist.record_us(v)
    full, thin = hist.values_ms(), hist.values_ms(limit=1000)
    assert full.size == 100_000 and thin.size == 1000
    assert np.all(np.diff(thin) >= 0)
    assert np.percentile(thin, 95) == pytest.approx(np.percentile(full, 95), rel=0.01)
