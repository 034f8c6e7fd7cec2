"""summarize(): the fast walk agrees with hdrh's own (slow) percentile and mean."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from state.metrics import PERCENTILES, _histogram, summarize


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=3_600_000_000), min_size=1, max_size=300))
def test_percentiles_and_max_match_hdrh(values: list[int]) -> None:
    hist = _histogram()
    for value in values:
        hist.record_value(value)
    summary = summarize(hist)
    assert summary["count"] == len(values)
    for pct in PERCENTILES:
        assert summary[f"p{pct:g}_ms"] == round(hist.get_value_at_percentile(pct) / 1000, 3)
    assert summary["max_ms"] == round(hist.get_max_value() / 1000, 3)
    assert summary["mean_ms"] == pytest.approx(hist.get_mean_value() / 1000, abs=0.002, rel=1e-3)


def test_an_empty_histogram_has_only_a_count() -> None:
    assert summarize(_histogram()) == {"count": 0}


def test_a_skewed_distribution() -> None:
    rng = random.Random(7)
    hist = _histogram()
    for _ in range(20_000):
        hist.record_value(max(1, int(rng.lognormvariate(6, 1.5))))
    summary = summarize(hist)
    assert summary["p50_ms"] <= summary["p95_ms"] <= summary["p99_ms"] <= summary["max_ms"]
