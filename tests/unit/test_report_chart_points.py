"""The charts' point reduction (issue 13): a series without NaN or inf (every equity curve) is reduced
bucket by bucket, without temporaries the size of the series, to the same points as the vectorised
path that handles NaN and inf."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from trading_runtime.report.svg import _reduce_finite, _reduce_masked, reduce_points


@pytest.mark.parametrize("seed", range(6))
def test_the_finite_path_keeps_the_points_of_the_masked_path(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2_000, 50_000))
    # ties on purpose: a flat stretch, values on a coarse tick, -0.0 next to 0.0
    y = np.round(np.cumsum(rng.normal(size=n)), 0 if seed % 2 else 1)
    y[n // 3: n // 2] = y[n // 3]
    y[:5] = [0.0, -0.0, 0.0, -0.0, 0.0]
    x = np.arange(n, dtype=np.float64) * 60.0 + 1.7e9
    buckets = int(rng.integers(50, 1200))
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    starts, stops = edges[:-1], edges[1:]
    filled = stops > starts
    starts, stops = starts[filled], stops[filled]
    fx, fy = _reduce_finite(x, y, starts.tolist(), stops.tolist())
    mx, my = _reduce_masked(x, y, starts, stops, np.isfinite(y))
    np.testing.assert_array_equal(fx, mx)
    np.testing.assert_array_equal(np.signbit(fy), np.signbit(my))
    np.testing.assert_array_equal(fy, my)
    rx, ry = reduce_points(x, y, buckets)
    np.testing.assert_array_equal(rx, fx)
    np.testing.assert_array_equal(ry, fy)


def test_reducing_an_equity_curve_makes_no_copy_of_it() -> None:
    n = 1_000_000
    x = np.arange(n, dtype=np.float64) * 60.0 + 1.7e9
    y = 1e5 + np.cumsum(np.sin(np.arange(n) / 977.0))
    tracemalloc.start()
    try:
        reduce_points(x, y, 1050)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # the isfinite mask (1 MB) and the kept points; the masked path made ~5 arrays of 8 MB
    assert peak < 2 * 2**20, peak / 2**20


@pytest.mark.parametrize("seed", range(4))
def test_the_finite_path_keeps_the_points_of_buckets_of_any_lengths(seed: int) -> None:
    """Buckets of unequal lengths (not only linspace's q and q + 1): each bucket's values after the shortest
    bucket's length are compared one column at a time, and the first min and max are still kept."""
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(5_000, 40_000))
    y = np.round(np.cumsum(rng.normal(size=n)), 0)  # many ties
    y[-50:] = y[-50]
    x = np.arange(n, dtype=np.float64)
    inner = np.unique(rng.integers(1, n, int(rng.integers(3, 400))))
    edges = np.concatenate(([0], inner, [n])).astype(np.int64)
    starts, stops = edges[:-1], edges[1:]
    fx, fy = _reduce_finite(x, y, starts, stops)
    mx, my = _reduce_masked(x, y, starts, stops, np.isfinite(y))
    np.testing.assert_array_equal(fx, mx)
    np.testing.assert_array_equal(fy, my)
